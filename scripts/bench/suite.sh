#!/usr/bin/env bash
# The test suite's time: each test binary's wall time, run one after another as `cargo test`
# runs them, and the slowest tests. The integration tests are one binary (`it`) with a module per
# area: each area is run on its own (its tests by exact name), so areas can be compared with
# each other and with earlier runs; `WHOLE=1` runs `it` once instead, as `cargo test` does
# (areas then share the two cores, so that total is lower than the sum of the areas).
# Run after `scripts/bootstrap.sh` (the pinned tools); the build is not timed. Per-test times
# come from libtest's JSON report, which stable Rust gives only with RUSTC_BOOTSTRAP (set for
# the test binaries here, never for the build).
#   scripts/bench/suite.sh            # every binary, `it` area by area
#   scripts/bench/suite.sh publish    # binaries or areas whose name starts with `publish`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
only=${1:-}
slowest=${SLOWEST:-5}
whole=${WHOLE:-0}
# As scripts/test.sh runs the tests: twice as many test threads as cores.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-$((2 * $(nproc)))}

out=target/bench/suite
rm -rf "$out" && mkdir -p "$out"
cargo test --workspace --locked --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
         | (if .target.kind[0] == "test" then .target.name else "\(.target.name)-\(.target.kind[0])" end) as $name
         | "\($name)\t\(.executable)\t\(.manifest_path)"' | sort >"$out/binaries"

total=0
failed=0
# Runs one binary (name, executable, package directory, tests…) and prints its line.
run() {
  local name=$1 exe=$2 dir=$3
  shift 3
  [[ -n "$only" && "$name" != "$only"* && "$name" != "it::$only"* ]] && return 0
  local start end ms tests
  start=$(date +%s%N)
  # cargo runs each test binary from its package's directory.
  (cd "$dir" && RUSTC_BOOTSTRAP=1 "$exe" -Z unstable-options --format json --report-time "$@") \
    >"$out/$name.json" 2>"$out/$name.stderr" || failed=$((failed + 1))
  end=$(date +%s%N)
  ms=$(((end - start) / 1000000))
  total=$((total + ms))
  tests=$(jq -s '[.[] | select(.type == "test" and (.event == "ok" or .event == "failed" or .event == "ignored"))] | length' "$out/$name.json")
  printf '%-26s %8.1f %6d\n' "$name" "$(bc <<<"scale=1; $ms / 1000")" "$tests"
}

printf '%-26s %8s %6s\n' binary seconds tests
while IFS=$'\t' read -r name exe manifest; do
  dir=$(dirname "$manifest")
  if [[ "$name" != it || "$whole" == 1 ]]; then
    run "$name" "$exe" "$dir"
    continue
  fi
  # One run per area: the module before the first `::` of each test's name.
  mapfile -t names < <(cd "$dir" && "$exe" --list --format terse | sed -n 's/: test$//p')
  for area in $(printf '%s\n' "${names[@]}" | cut -d: -f1 | sort -u); do
    mapfile -t tests < <(printf '%s\n' "${names[@]}" | grep "^$area::")
    run "it::$area" "$exe" "$dir" --exact "${tests[@]}"
  done
done <"$out/binaries"
printf '%-26s %8.1f\n' total "$(bc <<<"scale=1; $total / 1000")"

echo
echo "slowest $slowest tests (seconds; tests of one run run in parallel):"
for f in "$out"/*.json; do
  jq -r --arg bin "$(basename "$f" .json | sed "s/::.*//")" \
    'select(.type == "test" and .exec_time != null) | "\(.exec_time)\t\($bin)::\(.name)\t\(.event)"' "$f"
done | sort -rn | head -n "$slowest" | awk -F'\t' '{ printf "%8.1f  %s%s\n", $1, $2, ($3 == "ok" ? "" : "  (" $3 ")") }'
if ((failed > 0)); then
  echo "$failed test run$([[ $failed == 1 ]] && echo "" || echo s) failed; see $out/*.json" >&2
  exit 1
fi
