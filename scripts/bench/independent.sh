#!/usr/bin/env bash
# Benchmarks of a monorepo of independent packages: `release prepare PATH --dry-run` (the bump,
# the wave, the package's notes) and `changelog --package PATH --dry-run --offline` on a
# generated 2,000-package independent sample with 20,000 commits (targets: median under 1 s
# each). The package is the store, which 1,000 packages depend on, so the wave is at its widest.
#
# A package's notes read the commits that touched its directory. Git answers that from its
# changed-path filters when the clone has them (`git commit-graph write --reachable
# --changed-paths`, once; `git gc` and `git maintenance` keep them when they rewrite the graph)
# and otherwise diffs the trees of every commit of the range. The xtask never writes them
# itself: a dry run changes nothing, and in a fresh CI clone writing them costs more than the
# one walk it would save. The targets are measured with them; the same commands without them
# (`core.commitGraph=false`) are measured for comparison (BASELINE_RUNS, default 3; 0 skips).
# Prints medians; rerun to reproduce. RUNS sets the repetitions (default 11).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
runs=${RUNS:-11}
baseline_runs=${BASELINE_RUNS:-3}

cargo build --quiet --release --package xtask
xtask=target/release/xtask
repo=target/bench/independent-2000
if [ ! -f "$repo/.git/xtask-sample" ] || [ "$(git -C "$repo" rev-list --count HEAD)" -lt 20000 ]; then
  rm -rf "$repo"
  "$xtask" sample "$repo" --shape independent --packages 2000 --prs 20000 2>/dev/null
fi
echo "sample: $(git -C "$repo" ls-files '*pyproject.toml' | wc -l) packages, $(git -C "$repo" rev-list --count HEAD) commits"
if grep -qs BIDX "$repo/.git/objects/info/commit-graph"; then
  echo "changed-path filters: written by an earlier run"
else
  start=$(date +%s%N)
  git -C "$repo" commit-graph write --reachable --changed-paths --no-progress
  echo "git commit-graph write --reachable --changed-paths (once per clone): $(( ($(date +%s%N) - start) / 1000000 )) ms"
fi

# bench RUNS LABEL ARGS...: the median of `xtask --root SAMPLE ARGS...`, printed with LABEL.
bench() {
  local n=$1 label=$2; shift 2
  echo "$*: median $(median_ms "$n" "$xtask" --root "$repo" "$@") ms over $n runs (release build, $label)"
}
prepare=(release prepare libs/store --bump major --dry-run --offline --date 2026-02-01)
notes=(changelog --package libs/store --dry-run --offline --date 2026-02-01)
bench "$runs" "with changed-path filters" "${prepare[@]}"
bench "$runs" "with changed-path filters" release prepare libs/client --bump auto --dry-run --offline --date 2026-02-01
bench "$runs" "with changed-path filters" "${notes[@]}"
if [ "$baseline_runs" -gt 0 ]; then
  # Git reads no commit-graph at all, as in a clone that never had one.
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.commitGraph GIT_CONFIG_VALUE_0=false
  bench "$baseline_runs" "no commit-graph" "${prepare[@]}"
  bench "$baseline_runs" "no commit-graph" "${notes[@]}"
fi
