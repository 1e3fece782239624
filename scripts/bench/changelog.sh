#!/usr/bin/env bash
# Benchmarks of `cargo xtask changelog` on a generated 2,000-package monorepo with a 500-PR range:
# offline (target: median under 200 ms), and online against the GitHub stand-in with 100 ms of
# latency per request (target: under 3 s), side by side with one `gh pr view` per pull request,
# the method of the tool this replaces (target: at least 30x slower than ours).
# Prints medians; rerun to reproduce. RUNS sets the repetitions (default 15 offline, 5 online).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source scripts/bench/lib.sh
runs=${RUNS:-15}
online_runs=${ONLINE_RUNS:-5}

cargo build --quiet --release --package xtask --package standin
xtask=target/release/xtask
standin=target/release/standin
gh=target/tools/bin/gh
repo=target/bench/changelog-2000
work=target/bench/changelog-work
rm -rf "$work" && mkdir -p "$work"
# 600 commits after the release tag: 500 pull requests, plus reverts and direct pushes.
"$xtask" sample "$repo" --packages 2000 --prs 600 --force 2>/dev/null
prs=$("$xtask" --root "$repo" changelog --dry-run --offline --json --date 2026-01-21 2>/dev/null | grep -m1 '"pull_requests": [0-9]' | tr -dc 0-9)
echo "range: $prs pull requests on $(git -C "$repo" ls-files '*pyproject.toml' | wc -l) pyproject files"

offline=$(median_ms "$runs" "$xtask" --root "$repo" changelog --dry-run --offline --date 2026-01-21)
echo "offline changelog, $prs PRs, 2,000 packages: median $offline ms over $runs runs (release build)"

# The stand-in, on a free port, with 100 ms added to every request.
"$standin" --any-pull --latency-ms 100 --log "$work/requests.jsonl" >"$work/standin.out" &
standin_pid=$!
trap 'kill $standin_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$work/standin.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$work/standin.out")
export GH_HOST=github.localhost HTTP_PROXY="http://$addr" NO_PROXY= no_proxy= GH_CONFIG_DIR="$work/gh-config" GH_TOKEN=bench-token \
  GH_NO_UPDATE_NOTIFIER=1 GH_PROMPT_DISABLED=1

online=$(median_ms "$online_runs" "$xtask" --root "$repo" changelog --dry-run --date 2026-01-21)
queries=$(( $(wc -l <"$work/requests.jsonl") / (online_runs + 1) ))
echo "online changelog, $prs PRs, 100 ms latency: median $online ms over $online_runs runs ($queries GraphQL queries per run)"

# The original's method: one `gh pr view` per pull request, one after the other.
numbers=$("$xtask" --root "$repo" changelog --dry-run --offline --json 2>/dev/null | grep -o '"number": [0-9]*' | tr -dc '0-9\n' | sort -un)
start=$(date +%s%N)
for n in $numbers; do
  "$gh" pr view "$n" --repo github.localhost/run-llama/llama_index --json number,title,url,files >/dev/null
done
end=$(date +%s%N)
per_pr=$(( (end - start) / 1000000 ))
echo "one gh pr view per PR ($(echo "$numbers" | wc -l) runs, sequential): $per_pr ms"
awk -v a="$per_pr" -v b="$online" 'BEGIN { printf "online speed-up over gh pr view per PR: %.1fx\n", a / b }'
