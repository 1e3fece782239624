#!/usr/bin/env bash
# The quick start: a whole release of a generated LlamaIndex-shaped monorepo against a real local
# package index and the GitHub stand-in. Needs no network beyond the package registries, and no
# credentials. Results land in target/rehearsal.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
cargo build --quiet --package xtask --package standin
exec "${CARGO_TARGET_DIR:-target}/debug/xtask" rehearse "$@"
