#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the pinned tools, then runs every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
cargo test --workspace --locked "$@"
