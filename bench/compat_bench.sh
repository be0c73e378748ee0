#!/usr/bin/env bash
# Side by side in one run: redis-server, HyperCache on Deno and HyperCache on Bun, for the command
# mix of issue 4 at two settings:
#   -P 1 -c 50                     (one command per round trip, 50 clients)
#   -P 16 -r 100000 -d 100         (pipelines of 16, 100k random keys, 100-byte values)
# For each test it reports ops/s, the ratio to redis-server and the server's CPU time per
# operation (utime+stime of the server process from /proc/<pid>/stat, before and after the test,
# divided by the operations the test sent; lrange_100 also counts the LPUSH that fills the list).
# Usage: bash bench/compat_bench.sh [requests at -P 1] [requests at -P 16]   (default 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${1:-100000}
N16=${2:-1000000}
TESTS=(set get incr lpush lpop sadd hset zadd lrange_100 mset)
SERVERS=(redis deno bun)
CLK_TCK=$(getconf CLK_TCK)
source bench/_lib.sh


start_server() { # name -> sets PORT and PID
  local name=$1
  PORT=$(free_port)
  case $name in
    redis) redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/$name.log" 2>&1 & ;;
    deno) "${DENO_NODE[@]}" --port "$PORT" --http false --data-dir "$tmp/$name" >"$tmp/$name.log" 2>&1 & ;;
    bun) bun src/main.ts --port "$PORT" --http false --data-dir "$tmp/$name" >"$tmp/$name.log" 2>&1 & ;;
  esac
  PID=$!
  pids+=("$PID")
  wait_ready "$PORT"
}

declare -A ops cpu
run_setting() { # label, requests, redis-benchmark options...
  local label=$1 requests=$2
  shift 2
  for name in "${SERVERS[@]}"; do
    start_server "$name"
    for test in "${TESTS[@]}"; do
      local before after csv rows rps
      before=$(cpu_ticks "$PID")
      csv=$(redis-benchmark -p "$PORT" -t "$test" -n "$requests" "$@" -q --csv 2>&1)
      after=$(cpu_ticks "$PID")
      if grep -qi error <<<"$csv"; then echo "$name $label $test: $csv" >&2; exit 1; fi
      rows=$(grep -c '^"[A-Z]' <<<"$csv")
      # The last row is the test itself (lrange_100 is preceded by its LPUSH fill).
      rps=$(tail -n 1 <<<"$csv" | awk -F'","' '{ print $2 }')
      ops[$label,$name,$test]=$rps
      cpu[$label,$name,$test]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n=$((requests * rows)) \
        'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    done
    kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  done
}

report() { # label, title
  local label=$1
  echo
  echo "redis-benchmark $2"
  echo
  echo "| test | redis ops/s | deno ops/s | deno/redis | bun ops/s | bun/redis | CPU us/op redis | deno | bun |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for test in "${TESTS[@]}"; do
    local r=${ops[$label,redis,$test]} d=${ops[$label,deno,$test]} b=${ops[$label,bun,$test]}
    awk -v t="$test" -v r="$r" -v d="$d" -v b="$b" -v cr="${cpu[$label,redis,$test]}" \
      -v cd="${cpu[$label,deno,$test]}" -v cb="${cpu[$label,bun,$test]}" \
      'BEGIN { printf "| %s | %.0f | %.0f | %.2f | %.0f | %.2f | %s | %s | %s |\n", t, r, d, d / r, b, b / r, cr, cd, cb }'
  done
}

run_setting p1 "$N1" -P 1 -c 50
run_setting p16 "$N16" -P 16 -r 100000 -d 100
echo "$(nproc) CPUs; redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), $(deno --version | head -1), bun $(bun --version)"
report p1 "-t ${TESTS[*]} -P 1 -c 50 -n $N1"
report p16 "-t ${TESTS[*]} -P 16 -r 100000 -d 100 -n $N16"
