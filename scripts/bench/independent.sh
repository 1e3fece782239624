#!/usr/bin/env bash
# Benchmarks of a monorepo of independent packages: `release prepare PATH --dry-run` (the bump,
# the wave, the package's notes) and `changelog --package PATH --dry-run --offline` on a
# generated 2,000-package independent sample with 20,000 commits (targets: median under 1 s
# each). The package is the store, which 1,000 packages depend on, so the wave is at its widest.
# Prints medians; rerun to reproduce. RUNS sets the repetitions (default 11).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
runs=${RUNS:-11}

cargo build --quiet --release --package xtask
xtask=target/release/xtask
repo=target/bench/independent-2000
if [ ! -f "$repo/.git/xtask-sample" ] || [ "$(git -C "$repo" rev-list --count HEAD)" -lt 20000 ]; then
  rm -rf "$repo"
  "$xtask" sample "$repo" --shape independent --packages 2000 --prs 20000 2>/dev/null
fi
echo "sample: $(git -C "$repo" ls-files '*pyproject.toml' | wc -l) packages, $(git -C "$repo" rev-list --count HEAD) commits"

prepare=$(median_ms "$runs" "$xtask" --root "$repo" release prepare libs/store --bump major --dry-run --offline --date 2026-02-01)
echo "release prepare libs/store --bump major --dry-run --offline: median $prepare ms over $runs runs (release build)"
auto=$(median_ms "$runs" "$xtask" --root "$repo" release prepare libs/client --bump auto --dry-run --offline --date 2026-02-01)
echo "release prepare libs/client --bump auto --dry-run --offline: median $auto ms over $runs runs (release build)"
notes=$(median_ms "$runs" "$xtask" --root "$repo" changelog --package libs/store --dry-run --offline --date 2026-02-01)
echo "changelog --package libs/store --dry-run --offline: median $notes ms over $runs runs (release build)"
