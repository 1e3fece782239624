#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the pinned tools, checks the code with clippy
# (its rules in xtask/clippy.toml, warnings are errors), then runs every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
if ! cargo clippy --version >/dev/null 2>&1; then
  # A toolchain installed with rustup's minimal profile has no clippy.
  rustup component add clippy
fi
cargo clippy --workspace --all-targets --locked -- -D warnings
# The integration tests spend most of their time waiting on uv, pytest and the package index, so
# twice as many test threads as cores keeps both cores busy (a RUST_TEST_THREADS set by the caller wins).
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-$((2 * $(nproc)))}
cargo test --workspace --locked "$@"
