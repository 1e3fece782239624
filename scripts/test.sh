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
cargo test --workspace --locked "$@"
