#!/usr/bin/env bash
# The quick start: generates a LlamaIndex-shaped sample monorepo under target/rehearsal and runs
# the release tool on it. Needs no network beyond the package registries, and no credentials.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/bootstrap.sh
cargo build --quiet --package xtask
xtask=target/debug/xtask
sample=target/rehearsal/monorepo
"$xtask" sample "$sample" --packages "${PACKAGES:-60}" --prs "${PRS:-40}" --force
echo
echo "== cargo xtask pkg info --all"
"$xtask" --root "$sample" pkg info --all
echo
echo "== cargo xtask pkg changed --base-ref v0.14.12 --dependants"
"$xtask" --root "$sample" pkg changed --base-ref v0.14.12 --dependants
echo
echo "The sample monorepo is in $sample; point any command at it with --root $sample."
