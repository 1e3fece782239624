#!/usr/bin/env bash
# SHA-256 throughput in the dev profile (the one `cargo xtask` runs): the median of 5 digests of
# 64 MiB, from an ignored unit test. Rerun to reproduce.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo test --quiet --package xtask --lib publish::sha256::tests::throughput -- --ignored --nocapture 2>&1 |
  grep 'sha256 throughput'
