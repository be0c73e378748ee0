#!/usr/bin/env bash
# XADD and BZPOPMIN side by side in one run: redis-server, HyperCache on Deno and on Bun (bullmq's
# hot commands: its events stream and its workers' marker). XADD appends to one stream with `*`
# IDs; BZPOPMIN pops from a sorted set filled beforehand with more members than it pops, so it never
# waits (the blocking path's cost when data is there). Pipelines of 16; each test runs ROUNDS times
# (default 3) on each server, the order rotating; median ops/s, ratio to redis-server and server CPU
# per operation.
# Usage: [ROUNDS=3] bash bench/blocking_stream_bench.sh [requests] (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${ROUNDS:-3}
SERVERS=(redis deno bun)
CLK_TCK=$(getconf CLK_TCK)
source bench/_lib.sh

for name in "${SERVERS[@]}"; do start_server "$name"; done

declare -A ops cpu ratio
for test in xadd bzpopmin; do
  for round in $(seq "$ROUNDS"); do
    declare -A round_ops=()
    order=("${SERVERS[@]:$(((round - 1) % 3))}" "${SERVERS[@]:0:$(((round - 1) % 3))}")
    for name in "${order[@]}"; do
      p=${port[$name]}
      redis-cli -p "$p" DEL events z >/dev/null
      if [ "$test" = xadd ]; then
        cmd=(xadd events '*' name job data '__rand_int__')
      else
        # Members m:0 .. m:(3N-1) at random: far more distinct ones than N pops take.
        redis-benchmark -p "$p" -n $((N * 4)) -P 16 -r $((N * 3)) -q zadd z __rand_int__ m:__rand_int__ >/dev/null
        cmd=(bzpopmin z 1)
      fi
      before=$(cpu_ticks "${pid[$name]}")
      csv=$(redis-benchmark -p "$p" -n "$N" -P 16 -r 100000 -q --csv "${cmd[@]}" 2>&1)
      after=$(cpu_ticks "${pid[$name]}")
      if grep -qi error <<<"$csv"; then echo "$name $test: $csv" >&2; exit 1; fi
      rps=$(tail -n 1 <<<"$csv" | awk -F'","' '{ print $2 }')
      round_ops[$name]=$rps
      ops[$name,$test]+=" $rps"
      cpu[$name,$test]+=" $(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$N" 'BEGIN { printf "%.3f", t / hz * 1e6 / n }')"
    done
    for name in deno bun; do
      ratio[$name,$test]+=" $(awk -v a="${round_ops[$name]}" -v r="${round_ops[redis]}" 'BEGIN { printf "%.3f", a / r }')"
    done
  done
done

echo "$(nproc) CPUs; redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), $(deno --version | head -1), bun $(bun --version)"
echo "redis-benchmark -P 16 -n $N, median of $ROUNDS rounds"
echo
echo "| test | redis ops/s | deno ops/s | deno/redis | bun ops/s | bun/redis | CPU us/op redis | deno | bun |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for test in xadd bzpopmin; do
  awk -v t="$test" -v r="$(median <<<"${ops[redis,$test]}")" -v d="$(median <<<"${ops[deno,$test]}")" \
    -v dr="$(median <<<"${ratio[deno,$test]}")" -v b="$(median <<<"${ops[bun,$test]}")" -v br="$(median <<<"${ratio[bun,$test]}")" \
    -v cr="$(median <<<"${cpu[redis,$test]}")" -v cd="$(median <<<"${cpu[deno,$test]}")" -v cb="$(median <<<"${cpu[bun,$test]}")" \
    'BEGIN { printf "| %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.2f | %.2f | %.2f |\n", t, r, d, dr, b, br, cr, cd, cb }'
done
