#!/usr/bin/env bash
# Benchmarks of the compatibility wave and the pull request check on a generated 2,000-package
# monorepo: `prepare --bump minor` (a real run, files written) when 1,900 packages need the
# wave, and `check --bumps` over a 40-pull-request range. Prints medians; rerun to reproduce.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
runs=${RUNS:-11}

cargo build --quiet --release --package xtask
xtask=target/release/xtask
repo=target/bench/monorepo-2000-wave
"$xtask" sample "$repo" --packages 2000 --prs 40 --force 2>/dev/null
# Every integration requires `llama-index-core>=0.14.0,<0.15`; make 98 of them admit 0.15
# already, so that the wave is 1,900 packages, as in a real minor release (583 of 663).
mapfile -t pyprojects < <(cd "$repo" && git grep -l 'llama-index-core.*<0.15"' -- '*/pyproject.toml')
for f in "${pyprojects[@]:0:98}"; do
  sed -i '/llama-index-core/s/,<0.15"/,<0.16"/' "$repo/$f"
done
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit --quiet -am "Admit core 0.15 in 98 packages"
wave=$("$xtask" --root "$repo" prepare --bump minor --dry-run --json 2>/dev/null | grep -c '"changelog"')
echo "the wave of prepare --bump minor: $wave packages"

# One real run: reset the tree, then time the prepare alone.
prepare_ms() {
  git -C "$repo" checkout --quiet -- .
  # The reset's own writes reach the disk first, so that the run's fsyncs do not pay for them.
  sync
  local start end
  start=$(date +%s%N)
  "$xtask" --root "$repo" prepare --bump minor >/dev/null 2>&1
  end=$(date +%s%N)
  echo $(( (end - start) / 1000 ))
}
prepare_ms >/dev/null
times=()
for ((i = 0; i < runs; i++)); do times+=("$(prepare_ms)"); done
git -C "$repo" checkout --quiet -- .
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m / 1000}')
echo "prepare --bump minor (writes $((wave + 2)) files): median $median ms over $runs runs"
echo "prepare --bump minor --dry-run: median $(median_ms "$runs" "$xtask" --root "$repo" prepare --bump minor --dry-run) ms over $runs runs"

# The 40 pull requests after the last release tag, as a pull request branch would hold them.
echo "check --bumps --base-ref v0.14.12 (40 PRs): median $(median_ms "$runs" sh -c "'$xtask' --root '$repo' check --bumps --base-ref v0.14.12 || true") ms over $runs runs"
