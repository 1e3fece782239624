#!/usr/bin/env bash
# Kept for people and workflows that still call it: publishing is `cargo xtask publish` now
# (dependency order, one build per package, retries, resumable). Arguments pass through, e.g.
# `scripts/publish_packages.sh --changed-since origin/main` or a list of package directories.
cd "$(dirname "${BASH_SOURCE[0]}")/.." && exec cargo xtask publish "$@"
