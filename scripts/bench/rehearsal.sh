#!/usr/bin/env bash
# Benchmark of the quick start: `scripts/rehearse.sh` on a clean clone of HEAD, the first run
# (bootstrap of the pinned tools and the clean build included) and then RUNS more runs in the
# same clone (median). Prints where the time goes: the phases the rehearsal announces with `==>`.
# Needs the network to the package registries for the first run's bootstrap and build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs=${RUNS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/xtask-bench-rehearsal.XXXXXX")
trap 'rm -rf "$work"' EXIT
git clone --quiet --no-hardlinks . "$work/clone"

# run N: the rehearsal, with every stderr line stamped, then one line per phase: "name seconds".
run() {
  local out=$work/run-$1.log
  local start; start=$(date +%s%N)
  (cd "$work/clone" && env -u CARGO_TARGET_DIR -u XTASK_TOOLS_DIR NO_COLOR=1 scripts/rehearse.sh 2>&1 >/dev/null) |
    while IFS= read -r line; do printf '%s %s\n' "$(date +%s%N)" "$line"; done > "$out"
  awk -v start="$start" '
    function flush(t) { if (name != "") printf "%s\t%.1f\n", name, (t - from) / 1e9 }
    { t = $1; $1 = ""; sub(/^ /, "") }
    NR == 1 { name = "bootstrap and build"; from = start }
    /^==> / { flush(t); name = substr($0, 5); from = t }
    END { flush(t); printf "total\t%.1f\n", (t - start) / 1e9 }
  ' "$out"
}

echo "first run (clean clone: bootstrap of the tools and a clean build included):"
run 1 | tee "$work/first.tsv" | awk -F'\t' '{printf "  %8.1f s  %s\n", $2, $1}'
for ((i = 2; i <= runs + 1; i++)); do run "$i" > "$work/again-$i.tsv"; done
echo "second run (tools and build in place), median of $runs runs:"
cat "$work"/again-*.tsv | cut -f1 | awk '!seen[$0]++' | while IFS= read -r phase; do
  med=$(awk -F'\t' -v p="$phase" '$1 == p {print $2}' "$work"/again-*.tsv | sort -n |
    awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
  printf '  %8.1f s  %s\n' "$med" "$phase"
done
