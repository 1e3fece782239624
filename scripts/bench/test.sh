#!/usr/bin/env bash
# Benchmark of `cargo xtask test -j 2` against the original's steps in a sequential loop (per
# package: `uv sync`, `uv pip install -U <the changed package's directory>`, `uv run --no-sync --
# pytest`), side by side in one run: 30 dependants with real tests (most call core) and a change
# to core, their internal dependencies served by a local pypiserver (the rest of the index behind
# it). Each run starts from a fresh copy of the monorepo (no .venv, no uv.lock), with a cold uv
# cache (an empty UV_CACHE_DIR) and with a warm one. Prints medians and where the time goes.
# RUNS (default 3), PACKAGES (dependants, default 30) and JOBS (default 2) tune it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs=${RUNS:-3}
wanted=${PACKAGES:-30}
jobs=${JOBS:-2}
root=$(pwd)
tools=$root/target/tools/bin
uv=$tools/uv

scripts/bootstrap.sh
cargo build --quiet --release --package xtask
xtask=$root/target/release/xtask
work=$root/target/bench/test
rm -rf "$work"
mkdir -p "$work"
"$xtask" sample "$work/template" --packages 64 --prs 0 --force 2>/dev/null
git -C "$work/template" tag base

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/index"
"$tools/pypi-server" run -i 127.0.0.1 -p "$port" -a . -P . "$work/index" >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT
index=http://127.0.0.1:$port
until curl -sf "$index/" >/dev/null; do sleep 0.1; done
export UV_DEFAULT_INDEX=$index/simple NO_COLOR=1 UV_PUBLISH_USERNAME=bench UV_PUBLISH_PASSWORD=bench

# The index holds every package as released (what dependants' `uv sync` installs).
mapfile -t all < <("$xtask" --root "$work/template" pkg info --all --json |
  python3 -c 'import json, sys; [print(p["path"]) for p in json.load(sys.stdin) if p["path"] != "."]')
"$xtask" --root "$work/template" publish "${all[@]}" --index-url "$index" --publish-url "$index/" >/dev/null 2>"$work/publish.log"

# A change to core that breaks nothing, committed.
printf '\n\ndef count(text):\n    return len(text)\n' >>"$work/template/llama-index-core/llama_index/core/base.py"
git -C "$work/template" -c user.name=Bench -c user.email=bench@example.com commit -qam "Core counts text (#999)"

# The first $wanted dependants with tests and a `[project]` table (the original runs `uv sync`).
mapfile -t dirs < <("$xtask" --root "$work/template" test --base-ref base --dry-run --json | python3 -c '
import json, os, sys
root, wanted = sys.argv[1], int(sys.argv[2])
picked = []
for p in json.load(sys.stdin)["packages"]:
    d = os.path.join(root, p["path"])
    if p["reason"] == "dependant" and os.path.isdir(os.path.join(d, "tests")) and "[project]" in open(os.path.join(d, "pyproject.toml")).read():
        picked.append(p["path"])
print("\n".join(picked[:wanted]))' "$work/template" "$wanted")
uses_core=$(cd "$work/template" && grep -l "import chunk" -r "${dirs[@]}" | wc -l)
echo "packages: ${#dirs[@]} dependants of core with tests ($uses_core of them call core), -j $jobs, $runs runs"

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }
fresh_copy() { rm -rf "$work/repo" && cp -a "$work/template" "$work/repo"; }

old_loop() { # the original's steps, one package after the other; sums its phases into $sync $install $pytest
  local d a b c e
  for d in "${dirs[@]}"; do
    cd "$work/repo/$d"
    a=$(now); env -u VIRTUAL_ENV "$uv" sync -q >/dev/null 2>&1 || { echo "uv sync failed in $d" >&2; exit 1; }
    b=$(now); env -u VIRTUAL_ENV "$uv" pip install -q -U "$work/repo/llama-index-core" >/dev/null 2>&1 || { echo "install failed in $d" >&2; exit 1; }
    c=$(now); env -u VIRTUAL_ENV "$uv" run --no-sync -- pytest -q --disable-warnings >/dev/null 2>&1 || { echo "pytest failed in $d" >&2; exit 1; }
    e=$(now)
    sync=$((sync + b - a)); install=$((install + c - b)); pytest=$((pytest + e - c))
  done
  cd "$root"
}

for cache in cold warm; do
  old=(); new=(); sync=0; install=0; pytest=0; phases=
  if [[ $cache == warm ]]; then # fill the cache outside the measurements
    export UV_CACHE_DIR=$work/cache-warm
    fresh_copy; old_loop; fresh_copy
    "$xtask" --root "$work/repo" test --base-ref base -j "$jobs" "${dirs[@]}" >/dev/null 2>&1
    sync=0; install=0; pytest=0
  fi
  for ((r = 1; r <= runs; r++)); do
    [[ $cache == cold ]] && export UV_CACHE_DIR=$work/cache-cold-old-$r
    fresh_copy
    t0=$(now); old_loop; old+=("$(ms "$t0" "$(now)")")

    [[ $cache == cold ]] && export UV_CACHE_DIR=$work/cache-cold-new-$r
    fresh_copy
    t0=$(now)
    "$xtask" --root "$work/repo" test --base-ref base -j "$jobs" "${dirs[@]}" >"$work/xtask.out" 2>"$work/xtask.log" ||
      { echo "cargo xtask test failed:" >&2; cat "$work/xtask.out" "$work/xtask.log" >&2; exit 1; }
    new+=("$(ms "$t0" "$(now)")")
    phases+="    run $r: $(grep '^time:' "$work/xtask.log")"$'\n'
    [[ $cache == cold ]] && rm -rf "$work/cache-cold-old-$r" "$work/cache-cold-new-$r"
  done
  old_median=$(printf '%s\n' "${old[@]}" | median)
  new_median=$(printf '%s\n' "${new[@]}" | median)
  echo "== $cache uv cache"
  echo "  original's steps in a sequential loop: median ${old_median}s (${old[*]} ms)"
  echo "    summed over all runs: uv sync $((sync / 1000000)) ms, uv pip install -U core $((install / 1000000)) ms, pytest $((pytest / 1000000)) ms"
  echo "  cargo xtask test -j $jobs: median ${new_median}s (${new[*]} ms)"
  printf '%s' "$phases"
  echo "  speed-up: $(python3 -c "print(f'{$old_median / $new_median:.1f}x')")"
done
