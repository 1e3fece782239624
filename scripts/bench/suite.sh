#!/usr/bin/env bash
# The test suite's time: each test binary's wall time, run one after another as `cargo test`
# runs them, and the slowest tests. Run after `scripts/bootstrap.sh` (the pinned tools); the
# build is not timed. Per-test times come from libtest's JSON report, which stable Rust gives
# only with RUSTC_BOOTSTRAP (set for the test binaries here, never for the build).
#   scripts/bench/suite.sh            # every binary
#   scripts/bench/suite.sh publish    # binaries whose name starts with `publish`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
only=${1:-}
slowest=${SLOWEST:-5}

out=target/bench/suite
rm -rf "$out" && mkdir -p "$out"
cargo test --workspace --locked --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
         | "\(.target.name)\t\(.executable)"' | sort >"$out/binaries"

total=0
failed=0
printf '%-22s %8s %6s\n' binary seconds tests
while IFS=$'\t' read -r name exe; do
  [[ -n "$only" && "$name" != "$only"* ]] && continue
  start=$(date +%s%N)
  # cargo runs each test binary from the package's directory.
  (cd xtask && RUSTC_BOOTSTRAP=1 "$exe" -Z unstable-options --format json --report-time) \
    >"$out/$name.json" 2>"$out/$name.stderr" || failed=$((failed + 1))
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  total=$((total + ms))
  tests=$(jq -s '[.[] | select(.type == "test" and (.event == "ok" or .event == "failed" or .event == "ignored"))] | length' "$out/$name.json")
  printf '%-22s %8.1f %6d\n' "$name" "$(bc <<<"scale=1; $ms / 1000")" "$tests"
done <"$out/binaries"
printf '%-22s %8.1f\n' total "$(bc <<<"scale=1; $total / 1000")"

echo
echo "slowest $slowest tests (seconds; tests of one binary run in parallel):"
for f in "$out"/*.json; do
  jq -r --arg bin "$(basename "$f" .json)" \
    'select(.type == "test" and .exec_time != null) | "\(.exec_time)\t\($bin)::\(.name)\t\(.event)"' "$f"
done | sort -rn | head -n "$slowest" | awk -F'\t' '{ printf "%8.1f  %s%s\n", $1, $2, ($3 == "ok" ? "" : "  (" $3 ")") }'
if ((failed > 0)); then
  echo "$failed test binar$([[ $failed == 1 ]] && echo y || echo ies) failed; see $out/*.json" >&2
  exit 1
fi
