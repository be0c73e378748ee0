#!/usr/bin/env bash
# Write throughput by durability mode, side by side with redis-server configured the same way:
# redis-benchmark -t set -c 64 -P 16 -r 100000 -d 100 -n $REQUESTS; then recovery time of the
# resulting data (kill -9, restart, time to ready).
# Usage: bash bench/persistence.sh [requests] [runtime: deno|bun]   (defaults 1000000 deno)
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-1000000}
RUNTIME=${2:-deno}
tmp=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_ready() { for _ in $(seq 600); do redis-cli -p "$1" PING 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done; exit 1; }
ours() { # dir mode port
  if [ "$RUNTIME" = deno ]; then cmd=(deno run -A src/main.ts); else cmd=(bun src/main.ts); fi
  local persist=(--appendonly no)
  [ "$2" != off ] && persist=(--appendonly yes --appendfsync "$2")
  "${cmd[@]}" --port "$3" --http false --data-dir "$1" "${persist[@]}" >"$1.log" 2>&1 &
  PID=$!; pids+=("$PID")
}
theirs() { # dir mode port
  local persist=(--appendonly no)
  [ "$2" != off ] && persist=(--appendonly yes --appendfsync "$2")
  mkdir -p "$1"; redis-server --port "$3" --bind 127.0.0.1 --save '' --dir "$1" "${persist[@]}" >"$1.log" 2>&1 &
  PID=$!; pids+=("$PID")
}
rate() { redis-benchmark -p "$1" -t set -c 64 -P 16 -r 100000 -d 100 -n "$REQUESTS" -q --csv 2>/dev/null | awk -F'","' '/^"SET"/ {printf "%.0f", $2}'; }
echo "| mode | hypercache ($RUNTIME) SET/s | redis-server SET/s | ratio | hypercache recovery ms | redis load ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for mode in off no everysec always; do
  port=$(free_port); ours "$tmp/ours-$mode" "$mode" "$port"; wait_ready "$port"
  a=$(rate "$port"); kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  rec="-"
  if [ "$mode" != off ]; then
    start=$(date +%s%N); ours "$tmp/ours-$mode" "$mode" "$port"; wait_ready "$port"; rec=$(( ($(date +%s%N) - start) / 1000000 ))
    kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  fi
  port=$(free_port); theirs "$tmp/redis-$mode" "$mode" "$port"; wait_ready "$port"
  b=$(rate "$port"); kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  load="-"
  if [ "$mode" != off ]; then
    start=$(date +%s%N); theirs "$tmp/redis-$mode" "$mode" "$port"; wait_ready "$port"; load=$(( ($(date +%s%N) - start) / 1000000 ))
    kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  fi
  echo "| $mode | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a/b}') | $rec | $load |"
done
