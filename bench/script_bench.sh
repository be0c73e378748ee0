#!/usr/bin/env bash
# Lua scripting side by side in one run: redis-server, HyperCache on Deno and on Bun. Each server
# loads a short script (`return redis.call('get', KEYS[1])`) with SCRIPT LOAD, then
# redis-benchmark sends EVALSHA of it and, as the baseline, the GET it wraps, on random keys with
# pipelines of 16. Each test runs ROUNDS times (default 3) on each server, the order rotating each
# round; it reports median ops/s, the ratio to redis-server, server CPU per operation, and the
# per-call cost of the script over its GET (CPU us/op of EVALSHA minus that of GET).
# Usage: [ROUNDS=3] bash bench/script_bench.sh [requests] (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${ROUNDS:-3}
SERVERS=(redis deno bun)
CLK_TCK=$(getconf CLK_TCK)
source bench/_lib.sh
SCRIPT="return redis.call('get', KEYS[1])"

declare -A sha
for name in "${SERVERS[@]}"; do
  start_server "$name"
  sha[$name]=$(redis-cli -p "${port[$name]}" SCRIPT LOAD "$SCRIPT")
  redis-benchmark -p "${port[$name]}" -t set -r 100000 -n 200000 -P 16 -q >/dev/null
  redis-benchmark -p "${port[$name]}" -n 50000 -P 16 -r 100000 -q evalsha "${sha[$name]}" 1 'key:__rand_int__' >/dev/null
done

declare -A ops cpu ratio
for test in get evalsha; do
  for round in $(seq "$ROUNDS"); do
    declare -A round_ops=()
    order=("${SERVERS[@]:$(((round - 1) % 3))}" "${SERVERS[@]:0:$(((round - 1) % 3))}")
    for name in "${order[@]}"; do
      if [ "$test" = get ]; then cmd=(get 'key:__rand_int__'); else cmd=(evalsha "${sha[$name]}" 1 'key:__rand_int__'); fi
      before=$(cpu_ticks "${pid[$name]}")
      csv=$(redis-benchmark -p "${port[$name]}" -n "$N" -P 16 -r 100000 -q --csv "${cmd[@]}" 2>&1)
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
echo "redis-benchmark -P 16 -r 100000 -n $N, median of $ROUNDS rounds; script: $SCRIPT"
echo
echo "| test | redis ops/s | deno ops/s | deno/redis | bun ops/s | bun/redis | CPU us/op redis | deno | bun |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
declare -A med
for test in get evalsha; do
  for name in "${SERVERS[@]}"; do
    med[$name,$test,ops]=$(median <<<"${ops[$name,$test]}")
    med[$name,$test,cpu]=$(median <<<"${cpu[$name,$test]}")
  done
  awk -v t="$test" -v r="${med[redis,$test,ops]}" -v d="${med[deno,$test,ops]}" \
    -v dr="$(median <<<"${ratio[deno,$test]}")" -v b="${med[bun,$test,ops]}" -v br="$(median <<<"${ratio[bun,$test]}")" \
    -v cr="${med[redis,$test,cpu]}" -v cd="${med[deno,$test,cpu]}" -v cb="${med[bun,$test,cpu]}" \
    'BEGIN { printf "| %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.2f | %.2f | %.2f |\n", t, r, d, dr, b, br, cr, cd, cb }'
done
echo
for name in "${SERVERS[@]}"; do
  awk -v n="$name" -v e="${med[$name,evalsha,cpu]}" -v g="${med[$name,get,cpu]}" \
    'BEGIN { printf "script cost over its GET, %s: %.2f us CPU per call\n", n, e - g }'
done
