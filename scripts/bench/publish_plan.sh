#!/usr/bin/env bash
# Benchmark of the artifact check's cost in `cargo xtask publish`'s plan: 40 generated packages
# whose previous releases are on a local pypiserver, each with a finished build of its next
# version in target/publish; the plan (`--dry-run`) with the check (it downloads each previous
# release's wheel and sdist, reads them and compares) against the plan without it
# (`--no-artifact-check`): with the download cache a real run leaves under target/publish/cache
# (what a rerun or the real run after a dry run finds), and without it (the first plan; dry runs
# never write the cache). Prints medians and the ratios. RUNS (default 5) and PACKAGES (default
# 40) tune it.
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
# The next release: every version bumped.
"$xtask" --root "$work/repo" pkg bump --all --bump patch >/dev/null 2>&1
git -C "$work/repo" -c user.name=b -c user.email=b@example.com commit -qam "Bump every package"
plan=("$xtask" --root "$work/repo" publish --all --dry-run --index-url "$index" --publish-url "$index/")
# The builds, and the download cache of the previous releases, as a real run leaves them: a run
# that reads the index but uploads to a scratch one (it ends waiting in vain for visibility).
serve "$work/scratch"; scratch=$url
"$xtask" --root "$work/repo" publish --all --index-url "$index" --publish-url "$scratch/" --wait 1s >/dev/null 2>"$work/builds.log" || true

"${plan[@]}" >"$work/plan.txt" 2>&1
checked=$(grep -c 'artifact check against' "$work/plan.txt" || true)
[[ $checked -gt 0 ]] || { echo "the plan checked no package; see $work/plan.txt" >&2; exit 1; }
without=$(median_ms "$runs" "${plan[@]}" --no-artifact-check)
with=$(median_ms "$runs" "${plan[@]}")
mv "$work/repo/target/publish/cache" "$work/cache-aside"
uncached=$(median_ms "$runs" "${plan[@]}")
mv "$work/cache-aside" "$work/repo/target/publish/cache"
pct() { python3 -c "print(f'{($1 - $2) / $2 * 100:.0f} %')"; }
echo "packages: $checked compared with their previous release (wheel and sdist each)"
echo "plan without the artifact check:        median ${without} ms over $runs runs"
echo "plan with the artifact check:           median ${with} ms over $runs runs (previous releases cached, as a rerun finds them)"
echo "plan with the artifact check, no cache: median ${uncached} ms over $runs runs (downloads $((2 * checked)) files each time)"
echo "cost of the check: $(pct "$with" "$without") with the cache, $(pct "$uncached" "$without") without it"
