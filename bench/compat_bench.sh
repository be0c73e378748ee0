#!/usr/bin/env bash
# Side by side in one run: redis-server, HyperCache on Deno and HyperCache on Bun, for the command
# mix of issue 4 at two settings:
#   -P 1 -c 50                     (one command per round trip, 50 clients)
#   -P 16 -r 100000 -d 100         (pipelines of 16, 100k random keys, 100-byte values)
# The three servers run at once, each warmed up first, and each test runs ROUNDS times (default 3)
# on each server in turn, the order rotating each round, so that a noisy stretch of the shared
# machine hits all three alike. Tests run in the order below on every server, so GET finds the keys
# SET wrote. For each test it reports the median ops/s, the median of the per-round ratios to
# redis-server and the median server CPU time per operation (utime+stime of the server process
# from /proc/<pid>/stat, before and after the run, divided by the operations it sent; lrange_100
# also counts the LPUSH that fills the list).
# Usage: [ROUNDS=3] [TESTS="set get"] bash bench/compat_bench.sh [requests at -P 1] [requests at -P 16]
#        (default 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${1:-100000}
N16=${2:-1000000}
ROUNDS=${ROUNDS:-3}
read -ra TESTS <<<"${TESTS:-set get incr lpush lpop sadd hset zadd lrange_100 mset}"
SERVERS=(redis deno bun)
CLK_TCK=$(getconf CLK_TCK)
source bench/_lib.sh




declare -A ops cpu ratio
run_setting() { # label, requests, redis-benchmark options...
  local label=$1 requests=$2
  shift 2
  for test in "${TESTS[@]}"; do
    declare -A round_ops=()
    for round in $(seq "$ROUNDS"); do
      # Rotate the order: round 1 redis deno bun, round 2 deno bun redis, ...
      local order=("${SERVERS[@]:$(((round - 1) % 3))}" "${SERVERS[@]:0:$(((round - 1) % 3))}")
      for name in "${order[@]}"; do
        local before after csv rows rps
        before=$(cpu_ticks "${pid[$name]}")
        csv=$(redis-benchmark -p "${port[$name]}" -t "$test" -n "$requests" "$@" -q --csv 2>&1)
        after=$(cpu_ticks "${pid[$name]}")
        if grep -qi error <<<"$csv"; then echo "$name $label $test: $csv" >&2; exit 1; fi
        rows=$(grep -c '^"[A-Z]' <<<"$csv")
        # The last row is the test itself (lrange_100 is preceded by its LPUSH fill).
        rps=$(tail -n 1 <<<"$csv" | awk -F'","' '{ print $2 }')
        round_ops[$name]=$rps
        ops[$label,$name,$test]+=" $rps"
        cpu[$label,$name,$test]+=" $(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n=$((requests * rows)) \
          'BEGIN { printf "%.3f", t / hz * 1e6 / n }')"
      done
      for name in deno bun; do
        ratio[$label,$name,$test]+=" $(awk -v a="${round_ops[$name]}" -v r="${round_ops[redis]}" 'BEGIN { printf "%.3f", a / r }')"
      done
    done
  done
}

report() { # label, title
  local label=$1
  echo
  echo "redis-benchmark $2, median of $ROUNDS rounds"
  echo
  echo "| test | redis ops/s | deno ops/s | deno/redis | bun ops/s | bun/redis | CPU us/op redis | deno | bun |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for test in "${TESTS[@]}"; do
    local m=()
    for series in "ops[$label,redis,$test]" "ops[$label,deno,$test]" "ratio[$label,deno,$test]" \
      "ops[$label,bun,$test]" "ratio[$label,bun,$test]" "cpu[$label,redis,$test]" "cpu[$label,deno,$test]" \
      "cpu[$label,bun,$test]"; do
      m+=("$(median <<<"${!series}")")
    done
    awk -v t="$test" -v r="${m[0]}" -v d="${m[1]}" -v dr="${m[2]}" -v b="${m[3]}" -v br="${m[4]}" \
      -v cr="${m[5]}" -v cd="${m[6]}" -v cb="${m[7]}" \
      'BEGIN { printf "| %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.2f | %.2f | %.2f |\n", t, r, d, dr, b, br, cr, cd, cb }'
  done
  echo
  echo "per-round ratios (deno; bun):"
  for test in set get; do echo "  $test: ${ratio[$label,deno,$test]};${ratio[$label,bun,$test]}"; done
}

for name in "${SERVERS[@]}"; do
  start_server "$name"
  # Warm up, so that the first test does not carry the JIT's start (a server runs long).
  redis-benchmark -p "${port[$name]}" -t set,get,lpush,hset -n 50000 -P 4 -q >/dev/null
done
run_setting p1 "$N1" -P 1 -c 50
run_setting p16 "$N16" -P 16 -r 100000 -d 100
echo "$(nproc) CPUs; redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), $(deno --version | head -1), bun $(bun --version)"
report p1 "-t ${TESTS[*]} -P 1 -c 50 -n $N1"
report p16 "-t ${TESTS[*]} -P 16 -r 100000 -d 100 -n $N16"
