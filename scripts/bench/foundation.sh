#!/usr/bin/env bash
# Benchmarks of the foundation: `pkg info --all --json` on a 2,000-package monorepo, and the
# xtask's clean and incremental build times. Prints medians; rerun to reproduce.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
runs=${RUNS:-15}

cargo build --quiet --release --package xtask
cargo build --quiet --package xtask
xtask=target/release/xtask
repo=target/bench/monorepo-2000
"$xtask" sample "$repo" --packages 2000 --prs 500 --force 2>/dev/null
count=$("$xtask" --root "$repo" pkg info --all --json | grep -c '"name"')
for build in release debug; do
  echo "pkg info --all --json, $count packages: median $(median_ms "$runs" "target/$build/xtask" --root "$repo" pkg info --all --json) ms over $runs runs ($build build)"
done
# BASELINE=path/to/another/xtask: the same measurement of another build (an older commit's
# release binary, say), for a side-by-side figure on the same machine and load.
if [[ -n "${BASELINE:-}" ]]; then
  echo "pkg info --all --json, $count packages: median $(median_ms "$runs" "$BASELINE" --root "$repo" pkg info --all --json) ms over $runs runs (BASELINE)"
  echo "pkg info --all --json, $count packages: median $(median_ms "$runs" target/release/xtask --root "$repo" pkg info --all --json) ms over $runs runs (release build, again)"
fi

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
  target=target/bench/clean-build
  rm -rf "$target"
  start=$(date +%s%N)
  CARGO_TARGET_DIR=$target cargo build --quiet --package xtask
  end=$(date +%s%N)
  echo "clean debug build of the xtask: $(( (end - start) / 1000000 )) ms"
  # The library holds the code; main.rs only calls it.
  touch xtask/src/lib.rs
  start=$(date +%s%N)
  CARGO_TARGET_DIR=$target cargo build --quiet --package xtask
  end=$(date +%s%N)
  echo "incremental debug build after touching lib.rs: $(( (end - start) / 1000000 )) ms"
  echo "cargo tree lines: $(cargo tree --package xtask --edges normal,build | wc -l)"
fi
