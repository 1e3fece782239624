#!/usr/bin/env bash
# Benchmark of the artifact check's cost in `cargo xtask publish`'s plan: 40 generated packages
# whose previous releases are on a local pypiserver, each with a finished build of its next
# version in target/publish; the plan (`--dry-run`) with the check (it downloads each previous
# release's wheel and sdist, reads them and compares) against the plan without it
# (`--no-artifact-check`). Dry runs never write the download cache, so every measured plan
# downloads again: the uncached cost. Prints medians and the ratio. RUNS (default 5) and
# PACKAGES (default 40) tune it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
runs=${RUNS:-5}
packages=${PACKAGES:-40}
root=$(pwd)
tools=$root/target/tools/bin

cargo build --quiet --release --package xtask
xtask=$root/target/release/xtask
work=$root/target/bench/publish-plan
rm -rf "$work"
mkdir -p "$work"
"$xtask" sample "$work/repo" --packages "$packages" --prs 5 --force 2>/dev/null
printf '/target\n' >> "$work/repo/.gitignore"

pids=()
serve() { # serve DIR: a pypiserver of DIR on a free port; sets $url
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$1"
  "$tools/pypi-server" run -i 127.0.0.1 -p "$port" -a . -P . "$1" >"$1.log" 2>&1 &
  pids+=($!)
  url=http://127.0.0.1:$port
  until curl -sf "$url/" >/dev/null; do sleep 0.1; done
}
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
export UV_PUBLISH_USERNAME=bench UV_PUBLISH_PASSWORD=bench NO_COLOR=1

# The previous releases: every package as generated, published to the index.
serve "$work/index"; index=$url
"$xtask" --root "$work/repo" publish --all --index-url "$index" --publish-url "$index/" >/dev/null 2>"$work/previous.log"
# The next release: every version bumped; its builds made by a publish to a scratch index, so
# that target/publish holds them and the plan can compare them without building.
"$xtask" --root "$work/repo" pkg bump --all --bump patch >/dev/null 2>&1
git -C "$work/repo" -c user.name=b -c user.email=b@example.com commit -qam "Bump every package"
serve "$work/scratch"; scratch=$url
"$xtask" --root "$work/repo" publish --all --index-url "$scratch" --publish-url "$scratch/" --no-artifact-check >/dev/null 2>"$work/builds.log"

plan=("$xtask" --root "$work/repo" publish --all --dry-run --index-url "$index" --publish-url "$index/")
"${plan[@]}" >"$work/plan.txt" 2>&1
checked=$(grep -c 'artifact check against' "$work/plan.txt" || true)
[[ $checked -gt 0 ]] || { echo "the plan checked no package; see $work/plan.txt" >&2; exit 1; }
with=$(median_ms "$runs" "${plan[@]}")
without=$(median_ms "$runs" "${plan[@]}" --no-artifact-check)
echo "packages: $checked compared with their previous release (wheel and sdist each)"
echo "plan without the artifact check: median ${without} ms over $runs runs"
echo "plan with the artifact check:    median ${with} ms over $runs runs (downloads, reads and compares $((2 * checked)) files)"
echo "cost of the check: $(python3 -c "print(f'{($with - $without) / $without * 100:.0f} %')") of the plan"
