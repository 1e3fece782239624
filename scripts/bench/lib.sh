# Shared helpers of the benchmark scripts: wall-clock medians over repeated runs.

# median_ms RUNS CMD...: runs CMD RUNS times (after one warm-up) and prints the median wall time in ms.
median_ms() {
  local runs=$1; shift
  "$@" >/dev/null 2>&1 || { echo "benchmark command failed: $*" >&2; "$@"; return 1; }
  local times=()
  for ((i = 0; i < runs; i++)); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m / 1000}'
}
