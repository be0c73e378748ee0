#!/usr/bin/env bash
# Side by side in one run: redis-server, HyperCache on Deno and HyperCache on Bun.
#  1. redis-benchmark -t set,get -P 16 -r 100000 -d 100 -n $REQUESTS against each, with the ratio
#     of each to redis-server.
#  2. Resident memory per key after loading 1M keys (16-byte keys, 100-byte values).
# Usage: bash bench/vs_redis.sh [requests]   (default 2000000)
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-2000000}
KEYS=${KEYS:-1000000}
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

# 1M SET commands in RESP: key:NNNNNNNNNNN (16 bytes), 100-byte value.
node -e '
const n = Number(process.argv[1]); const v = "x".repeat(100); let out = [];
for (let i = 0; i < n; i++) { const k = "key:" + String(i).padStart(12, "0");
  out.push(`*3\r\n$3\r\nSET\r\n$16\r\n${k}\r\n$100\r\n${v}\r\n`);
  if (out.length === 10000) { process.stdout.write(out.join("")); out = []; } }
process.stdout.write(out.join(""));' "$KEYS" >"$tmp/load.resp"

declare -A ops_set ops_get bytes_per_key purged_per_key
for name in redis deno bun; do
  start_server "$name"
  csv=$(redis-benchmark -p "$PORT" -t set,get -P 16 -r 100000 -d 100 -n "$REQUESTS" -q --csv 2>/dev/null)
  ops_set[$name]=$(echo "$csv" | awk -F'","' '/^"SET"/ {print $2}')
  ops_get[$name]=$(echo "$csv" | awk -F'","' '/^"GET"/ {print $2}')
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  start_server "$name"
  sleep 1
  before=$(rss_kb "$PID")
  redis-cli -p "$PORT" --pipe <"$tmp/load.resp" >/dev/null
  sleep 2
  after=$(rss_kb "$PID")
  dbsize=$(redis-cli -p "$PORT" DBSIZE)
  bytes_per_key[$name]=$(( (after - before) * 1024 / dbsize ))
  # MEMORY PURGE: a full collection on our side, jemalloc's purge on Redis's.
  redis-cli -p "$PORT" MEMORY PURGE >/dev/null
  sleep 1
  purged=$(rss_kb "$PID")
  purged_per_key[$name]=$(( (purged - before) * 1024 / dbsize ))
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "redis-benchmark -t set,get -P 16 -r 100000 -d 100 -n $REQUESTS; memory after $KEYS keys (16 B keys, 100 B values)"
printf "| server | SET ops/s | SET vs redis | GET ops/s | GET vs redis | RSS bytes/key | after MEMORY PURGE |\n"
printf "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
for name in redis deno bun; do
  printf "| %s | %.0f | %s | %.0f | %s | %s | %s |\n" "$name" "${ops_set[$name]}" "$(ratio "${ops_set[$name]}" "${ops_set[redis]}")" \
    "${ops_get[$name]}" "$(ratio "${ops_get[$name]}" "${ops_get[redis]}")" "${bytes_per_key[$name]}" "${purged_per_key[$name]}"
done
