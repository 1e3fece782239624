#!/usr/bin/env bash
# Benchmark of `cargo xtask publish`: 40 generated packages (core, integrations on core, vector
# stores on embeddings, packs on vector stores) published to a local pypiserver, against the
# original script's sequential loop (lock, build, upload, one package after the other) with its
# sleeps removed, run with the same tool (uv), core's cache fill included on both sides. Each run starts from a fresh copy of the monorepo
# and an empty index; prints medians and where the time goes. RUNS (default 3) and PACKAGES
# (default 40) tune it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
runs=${RUNS:-3}
packages=${PACKAGES:-40}
root=$(pwd)
tools=$root/target/tools/bin

cargo build --quiet --release --package xtask
xtask=$root/target/release/xtask
work=$root/target/bench/publish
rm -rf "$work"
mkdir -p "$work"
"$xtask" sample "$work/template" --packages "$packages" --prs 5 --force 2>/dev/null

server_pid=
start_server() { # a fresh, empty index on a free port; sets $index
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  rm -rf "$work/packages" && mkdir -p "$work/packages"
  "$tools/pypi-server" run -i 127.0.0.1 -p "$port" -a . -P . "$work/packages" >"$work/server.log" 2>&1 &
  server_pid=$!
  index=http://127.0.0.1:$port
  until curl -sf "$index/" >/dev/null; do sleep 0.1; done
}
stop_server() { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
trap stop_server EXIT
fresh_copy() { rm -rf "$work/repo" && cp -a "$work/template" "$work/repo"; }
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }

export UV_PUBLISH_USERNAME=bench UV_PUBLISH_PASSWORD=bench NO_COLOR=1
fresh_copy; start_server
# The packages without the umbrella, in the dependency order (the old loop gets the best order).
mapfile -t dirs < <("$xtask" --root "$work/template" publish --all --dry-run --json --index-url "$index" --publish-url "$index/" 2>/dev/null |
  python3 -c 'import json, sys; r = json.load(sys.stdin); [print(p["path"]) for p in r["packages"] if p["path"] != "."]')
waves=$("$xtask" --root "$work/template" publish "${dirs[@]}" --dry-run --json --index-url "$index" --publish-url "$index/" 2>/dev/null |
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)["waves"]))')
[[ ${#dirs[@]} -gt 0 ]] || { echo "found no packages to publish in the sample" >&2; exit 1; }
echo "packages: ${#dirs[@]} in $waves waves"

# Warm uv's caches (hatchling, poetry-core, the lock's metadata) outside the measurements.
for d in "${dirs[@]}"; do (cd "$work/repo/$d" && { "$tools/uv" lock -q || true; } && "$tools/uv" build -q -o "$work/warm") >/dev/null 2>&1; done
stop_server

old=(); new=(); lock=0; build=0; upload=0; phases=
for ((r = 1; r <= runs; r++)); do
  # The old script's loop, sleeps removed: lock, build, upload, package after package.
  fresh_copy; start_server
  t0=$(now)
  for d in "${dirs[@]}"; do
    cd "$work/repo/$d"
    # Core's cache fill, as the release workflow ran it (xtask runs it as core's build hook).
    if [[ $d == llama-index-core ]]; then
      "$tools/uv" sync -q >/dev/null 2>&1
      for code in "from llama_index.core.utils import globals_helper; print(globals_helper.stopwords); print(globals_helper.punkt_tokenizer)" \
        "from llama_index.core.utils import get_tokenizer; print(get_tokenizer())" \
        "from llama_index.core.utils import get_tokenizer; print(get_tokenizer('gpt-5-mini'))"; do
        "$tools/uv" run -q python -c "$code" >/dev/null 2>&1
      done
    fi
    # uv cannot lock the legacy `[tool.poetry]` packages (no `[project]`); it fails at once.
    a=$(now); "$tools/uv" lock -q >/dev/null 2>&1 || true; b=$(now); "$tools/uv" build -q -o dist >/dev/null 2>&1; c=$(now)
    "$tools/uv" publish -q --publish-url "$index/" dist/* >/dev/null 2>&1; e=$(now)
    lock=$((lock + b - a)); build=$((build + c - b)); upload=$((upload + e - c))
  done
  cd "$root"
  old+=("$(ms "$t0" "$(now)")")
  [[ $(ls "$work/packages" | wc -l) == $(( 2 * ${#dirs[@]} )) ]] || { echo "the old loop did not upload everything" >&2; exit 1; }
  stop_server

  fresh_copy; start_server
  t0=$(now)
  "$xtask" --root "$work/repo" publish "${dirs[@]}" --index-url "$index" --publish-url "$index/" >/dev/null 2>"$work/xtask.log"
  new+=("$(ms "$t0" "$(now)")")
  phases+="  run $r: $(grep '^time:' "$work/xtask.log")"$'\n'
  [[ $(ls "$work/packages" | wc -l) == $(( 2 * ${#dirs[@]} )) ]] || { echo "xtask publish did not upload everything" >&2; exit 1; }
  stop_server
done

old_median=$(printf '%s\n' "${old[@]}" | median)
new_median=$(printf '%s\n' "${new[@]}" | median)
echo "old sequential loop (uv lock + uv build + uv publish per package): median ${old_median}s over $runs runs (${old[*]} ms)"
echo "  of which, summed over all runs: lock $((lock / 1000000)) ms, build $((build / 1000000)) ms, upload $((upload / 1000000)) ms"
echo "cargo xtask publish (-j $(nproc)): median ${new_median}s over $runs runs (${new[*]} ms)"
printf '%s' "$phases"
echo "speed-up: $(python3 -c "print(f'{$old_median / $new_median:.1f}x')")"
# One build and one upload alone, for the per-package cost the parallel run divides among cores.
fresh_copy; start_server
cd "$work/repo/${dirs[0]}"
echo "one \`uv build\` of ${dirs[0]} alone: median $(median_ms 5 "$tools/uv" build -q -o "$work/one") ms"
echo "one \`uv publish\` of its two files alone: median $(median_ms 5 "$tools/uv" publish -q --publish-url "$index/" --check-url "$index/simple/" "$work"/one/*) ms (files already there: the request and uv's start-up)"
cd "$root"
