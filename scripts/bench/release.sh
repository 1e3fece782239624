#!/usr/bin/env bash
# Benchmark of `cargo xtask release --dry-run` (both phases, offline) on a generated
# 2,000-package monorepo with a 40-PR range. Prints medians; rerun to reproduce.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
runs=${RUNS:-11}

# Without upload credentials the dry run fails, as the real run would; a dry run uploads
# nothing, so any value does.
export UV_PUBLISH_TOKEN=bench-not-a-token

cargo build --quiet --release --package xtask
cargo build --quiet --package xtask
repo=target/bench/monorepo-2000-40
target/release/xtask sample "$repo" --packages 2000 --prs 40 --force 2>/dev/null
for build in release debug; do
  echo "release --dry-run --offline, 2,000 packages, 40 PRs ($build build): median $(median_ms "$runs" "target/$build/xtask" --root "$repo" release --dry-run --offline) ms over $runs runs"
done
