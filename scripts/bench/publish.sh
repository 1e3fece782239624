#!/usr/bin/env bash
# Benchmark of `cargo xtask publish`, side by side in one run, for generated monorepos of 40 and
# 200 packages (core, integrations on core, vector stores on embeddings, packs on vector stores)
# published to a fresh local pypiserver each time:
#   - the original script's sequential loop (lock, build, upload, one package after the other)
#     with its sleeps removed, core's cache fill included;
#   - plain `uv build` of the same packages one after another (no lock, no upload, no hooks);
#   - `xtask publish --no-build-frontend`: one `uv build` process per package (before issue 20);
#   - `xtask publish`: the build frontend, one Python process per worker.
# Each from a fresh copy of the monorepo; medians, and where the time goes (hooks, builds,
# checks, uploads, waits) from the xtask's `time:` line. Under load, absolute times are noise:
# compare the ratios of one run.
# RUNS (default 3) runs of each; SIZES (default "40 200"); OLD_RUNS (default RUNS) runs of the
# old loop, which takes minutes per run (its `uv lock`s); OLD_MAX (default 200): no old loop
# for larger sizes; PLAIN_MAX (default 200): no plain `uv build` loop for larger sizes;
# NO_FRONTEND_MAX (default 200): no `--no-build-frontend` run for larger sizes. The two loops
# loops go one package after another, so for a size past their maximum, the figure is
# extrapolated (per package, times the packages) from the median of the last size they ran for,
# in this run or an earlier one (kept in target/bench/publish-loops.txt), and said to be.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
runs=${RUNS:-3}
old_runs=${OLD_RUNS:-$runs}
old_max=${OLD_MAX:-200}
plain_max=${PLAIN_MAX:-200}
no_frontend_max=${NO_FRONTEND_MAX:-200}
sizes=${SIZES:-40 200}
root=$(pwd)
tools=$root/target/tools/bin

cargo build --quiet --release --package xtask
xtask=$root/target/release/xtask
work=$root/target/bench/publish
loops=$root/target/bench/publish-loops.txt # "old|plain PACKAGES MEDIAN_S DATE" per line, the latest last
rm -rf "$work"
mkdir -p "$work"

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
stop_server() { [[ -z $server_pid ]] || { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }; server_pid=; }
trap stop_server EXIT
fresh_copy() { rm -rf "$work/repo" && cp -a "$work/template" "$work/repo"; }
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }
uploaded_all() { [[ $(ls "$work/packages" | wc -l) == $(( 2 * ${#dirs[@]} )) ]] || { echo "$1 did not upload everything" >&2; exit 1; }; }
export UV_PUBLISH_USERNAME=bench UV_PUBLISH_PASSWORD=bench NO_COLOR=1

core_cache_fill() { # core's cache fill, as the release workflow ran it (xtask runs it as core's build hook)
  "$tools/uv" sync -q >/dev/null 2>&1
  for code in "from llama_index.core.utils import globals_helper; print(globals_helper.stopwords); print(globals_helper.punkt_tokenizer)" \
    "from llama_index.core.utils import get_tokenizer; print(get_tokenizer())" \
    "from llama_index.core.utils import get_tokenizer; print(get_tokenizer('gpt-5-mini'))"; do
    "$tools/uv" run -q python -c "$code" >/dev/null 2>&1
  done
}

old_loop() { # appends the total ms to $old; adds to $lock, $build, $upload (no subshell: it sets them)
  local t0 a b c e
  t0=$(now)
  for d in "${dirs[@]}"; do
    cd "$work/repo/$d"
    [[ $d != llama-index-core ]] || core_cache_fill
    # uv cannot lock the legacy `[tool.poetry]` packages (no `[project]`); it fails at once.
    a=$(now); "$tools/uv" lock -q >/dev/null 2>&1 || true; b=$(now); "$tools/uv" build -q -o dist >/dev/null 2>&1; c=$(now)
    "$tools/uv" publish -q --publish-url "$index/" dist/* >/dev/null 2>&1; e=$(now)
    lock=$((lock + b - a)); build=$((build + c - b)); upload=$((upload + e - c))
  done
  cd "$root"
  old+=("$(ms "$t0" "$(now)")")
}

plain_builds() { # plain `uv build` of every package, one after another; prints the total ms
  local t0
  t0=$(now)
  for d in "${dirs[@]}"; do (cd "$work/repo/$d" && "$tools/uv" build -q -o "$work/plain" >/dev/null 2>&1); done
  ms "$t0" "$(now)"
}

xtask_publish() { # xtask publish with extra flags $@; prints "total_ms<TAB>time line"
  local t0 total
  t0=$(now)
  "$xtask" --root "$work/repo" publish "${dirs[@]}" --index-url "$index" --publish-url "$index/" "$@" >/dev/null 2>"$work/xtask.log" ||
    { cat "$work/xtask.log" >&2; exit 1; }
  total=$(ms "$t0" "$(now)")
  printf '%s\t%s\n' "$total" "$(grep -m1 'time:' "$work/xtask.log")"
}

# The medians of the `time:` lines of one way, one figure per part.
breakdown() {
  python3 -c '
import re, statistics, sys
rows = [l.rstrip("\n").split("\t", 1) for l in sys.stdin if l.strip()]
def num(pattern, text):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else float("nan")
parts = {
    "total": [int(t) / 1000 for t, _ in rows],
    "building": [num(r"\) ([\d.]+)s \(summed", l) for _, l in rows],
    "hooks": [num(r"hooks ([\d.]+)s", l) for _, l in rows],
    "frontend builds": [num(r"by the build frontend ([\d.]+)s", l) for _, l in rows],
    "uv builds": [num(r"by the tool.s command ([\d.]+)s", l) for _, l in rows],
    "checks": [num(r"checking ([\d.]+)s", l) for _, l in rows],
    "uploading+waiting": [num(r"waves? ([\d.]+)s", l) for _, l in rows],
    "uploads": [num(r"uploads? ([\d.]+)s, waits", l) for _, l in rows],
    "waits": [num(r"waits ([\d.]+)s", l) for _, l in rows],
}
counts = re.search(r"(\d+) by the build frontend .*?(\d+) by the tool", rows[0][1])
med = {k: statistics.median(v) for k, v in parts.items()}
m = [med[k] for k in ("total", "building", "hooks", "frontend builds", "uv builds", "checks", "uploading+waiting", "uploads", "waits")]
print(("median %.1fs; building %.1fs wall (summed over workers: hooks %.1fs, {0} frontend builds %.1fs, {1} uv builds %.1fs); "
       "checks %.1fs; uploading and waiting %.1fs wall (summed: uploads %.1fs, waits %.1fs)").format(counts.group(1), counts.group(2)) % tuple(m))
print("  runs (s): " + " ".join(f"{t:.1f}" for t in parts["total"]))
'
}
building() { python3 -c 'import re, statistics, sys; print(statistics.median(float(re.search(r"\) ([\d.]+)s \(summed", l).group(1)) for l in sys.stdin if l.strip()))'; }
ratio() { python3 -c "print(f'{$1 / $2:.1f}x')"; }
# The latest measured median of loop $1 ("old" or "plain"): "PACKAGES MEDIAN_S DATE", or nothing.
measured() { [[ -f $loops ]] && grep "^$1 " "$loops" | tail -1 | cut -d' ' -f2- || true; }
# Loop $1's median for $2 packages, extrapolated from `measured`; sets $extrapolated and $from.
extrapolate() {
  local m
  m=$(measured "$1")
  extrapolated=; from=
  [[ -n $m ]] || return 0
  read -r n t d <<<"$m"
  extrapolated=$(python3 -c "print(f'{$t / $n * $2:.1f}')")
  from="extrapolated from its median of ${t}s for $n packages ($d): $(python3 -c "print(f'{$t / $n:.2f}')")s per package"
}

for packages in $sizes; do
  rm -rf "$work/template"
  "$xtask" sample "$work/template" --packages "$packages" --prs 5 --force 2>/dev/null
  fresh_copy
  start_server
  # The packages without the umbrella, in the dependency order (the old loop gets the best order).
  mapfile -t dirs < <("$xtask" --root "$work/template" publish --all --dry-run --json --index-url "$index" --publish-url "$index/" 2>/dev/null |
    python3 -c 'import json, sys; r = json.load(sys.stdin); [print(p["path"]) for p in r["packages"] if p["path"] != "."]')
  [[ ${#dirs[@]} -gt 0 ]] || { echo "found no packages to publish in the sample" >&2; exit 1; }
  waves=$("$xtask" --root "$work/template" publish "${dirs[@]}" --dry-run --json --index-url "$index" --publish-url "$index/" 2>/dev/null |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["waves"]))')
  do_old=$(( packages <= old_max ? old_runs : 0 ))
  # Warm uv's caches (the backends; with the old loop, the locks' metadata) outside the measurements.
  # Without the old loop, a few packages warm the backends as well as all of them would.
  warm=("${dirs[@]}")
  [[ $do_old != 0 ]] || warm=("${dirs[@]:0:8}")
  for d in "${warm[@]}"; do
    (cd "$work/repo/$d" && { [[ $do_old == 0 ]] || "$tools/uv" lock -q || true; } && "$tools/uv" build -q -o "$work/warm") >/dev/null 2>&1
  done
  stop_server

  old=(); plain=(); before=(); after=(); lock=0; build=0; upload=0
  for ((r = 1; r <= runs; r++)); do
    if ((r <= do_old)); then
      fresh_copy; start_server; old_loop; uploaded_all "the old loop"; stop_server
    fi
    if ((packages <= plain_max)); then fresh_copy; rm -rf "$work/plain"; plain+=("$(plain_builds)"); fi
    if ((packages <= no_frontend_max)); then
      fresh_copy; start_server; before+=("$(xtask_publish --no-build-frontend)"); uploaded_all "xtask publish --no-build-frontend"; stop_server
    fi
    fresh_copy; start_server; after+=("$(xtask_publish)"); uploaded_all "xtask publish"; stop_server
  done

  before_median=; ((${#before[@]} == 0)) || before_median=$(printf '%s\n' "${before[@]}" | cut -f1 | median)
  after_median=$(printf '%s\n' "${after[@]}" | cut -f1 | median)
  echo "== ${#dirs[@]} packages in $waves waves, -j $(nproc), $runs runs =="
  old_median=; plain_median=
  if ((do_old > 0)); then
    old_median=$(printf '%s\n' "${old[@]}" | median)
    echo "old $packages $old_median $(date -u +%FT%TZ)" >>"$loops"
    echo "old sequential loop (uv lock + uv build + uv publish per package): median ${old_median}s over $do_old runs (${old[*]} ms)"
    echo "  summed over its runs: lock $((lock / 1000000)) ms, build $((build / 1000000)) ms, upload $((upload / 1000000)) ms"
  else
    extrapolate old "$packages"
    old_median=$extrapolated
    echo "old sequential loop: not run for $packages packages (OLD_MAX=$old_max)${from:+; ${old_median}s, $from}"
  fi
  if ((packages <= plain_max)); then
    plain_median=$(printf '%s\n' "${plain[@]}" | median)
    echo "plain $packages $plain_median $(date -u +%FT%TZ)" >>"$loops"
    echo "plain \`uv build\`, one package after another: median ${plain_median}s (${plain[*]} ms)"
  else
    extrapolate plain "$packages"
    plain_median=$extrapolated
    echo "plain \`uv build\` loop: not run for $packages packages (PLAIN_MAX=$plain_max)${from:+; ${plain_median}s, $from}"
  fi
  if [[ -n $before_median ]]; then
    echo "xtask publish --no-build-frontend (a \`uv build\` per package): $(printf '%s\n' "${before[@]}" | breakdown)"
  else
    echo "xtask publish --no-build-frontend: not run for $packages packages (NO_FRONTEND_MAX=$no_frontend_max)"
  fi
  echo "xtask publish (build frontend): $(printf '%s\n' "${after[@]}" | breakdown)"
  b_after=$(printf '%s\n' "${after[@]}" | cut -f2 | building)
  echo "ratios of medians:"
  if [[ -n $before_median ]]; then
    b_before=$(printf '%s\n' "${before[@]}" | cut -f2 | building)
    echo "  building phase, per-package \`uv build\` / frontend: $(ratio "$b_before" "$b_after")"
  fi
  estimated() { (($1)) && echo "" || echo " (extrapolated)"; }
  [[ -z $plain_median ]] ||
    echo "  publish: plain \`uv build\` loop$(estimated $((packages <= plain_max))) / xtask publish: $(ratio "$plain_median" "$after_median")"
  [[ -z $old_median ]] ||
    echo "  publish: old sequential loop$(estimated $((do_old > 0))) / xtask publish: $(ratio "$old_median" "$after_median")"
  [[ -z $before_median ]] || echo "  publish: --no-build-frontend / xtask publish: $(ratio "$before_median" "$after_median")"
done
