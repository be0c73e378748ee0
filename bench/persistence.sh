#!/usr/bin/env bash
# Persistence, side by side with redis-server configured the same way, in one run.
#  1. Write throughput by durability mode: redis-benchmark -t set -c 64 -P 16 -r 100000 -d 100
#     -n $REQUESTS with persistence off, appendfsync no, everysec and always; each mode's ratio
#     to our own no-persistence figure and to redis-server in the same mode.
#  2. Recovery of 1M keys (16-byte keys, 100-byte values): load them with redis-cli --pipe, take
#     a snapshot (BGREWRITEAOF: our snapshot, Redis's RDB preamble), write $AOF_KEYS more keys to
#     the AOF after it, kill -9, restart, and time start to ready (PING answered); the servers'
#     own "loaded" lines are shown too.
# Usage: bash bench/persistence.sh [requests] [runtime: deno|bun]   (defaults 1000000 deno)
#        KEYS=1000000 AOF_KEYS=100000 to change the recovery data set.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-1000000}
RUNTIME=${2:-deno}
KEYS=${KEYS:-1000000}
AOF_KEYS=${AOF_KEYS:-100000}
source bench/_lib.sh
# Waits for PONG. The old version piped redis-cli into `grep -q` under pipefail and gave up
# silently after 30 s: a node that had exited (say, a working tree that did not start) looked
# like a slow one. Now a dead server fails at once, with its log.
wait_ready() { # port pid log
  for _ in $(seq 1200); do
    [ "$(redis-cli -p "$1" PING 2>/dev/null)" = PONG ] && return 0
    if ! kill -0 "$2" 2>/dev/null; then echo "server on port $1 exited; its log:" >&2; cat "$3" >&2; exit 1; fi
    sleep 0.025
  done
  echo "server on port $1 not ready after 30 s; its log:" >&2; cat "$3" >&2; exit 1
}
ours() { # dir mode port
  if [ "$RUNTIME" = deno ]; then cmd=("${DENO_NODE[@]}"); else cmd=(bun src/main.ts); fi
  local persist=(--appendonly no)
  [ "$2" != off ] && persist=(--appendonly yes --appendfsync "$2" --snapshot-every-writes 0 --snapshot-interval 0 --auto-rewrite-min-size 1000gb)
  "${cmd[@]}" --port "$3" --http false --data-dir "$1" "${persist[@]}" >>"$1.log" 2>&1 &
  PID=$!; pids+=("$PID"); LOG="$1.log"
}
theirs() { # dir mode port
  local persist=(--appendonly no)
  [ "$2" != off ] && persist=(--appendonly yes --appendfsync "$2" --auto-aof-rewrite-percentage 0)
  mkdir -p "$1"; redis-server --port "$3" --bind 127.0.0.1 --save '' --dir "$1" "${persist[@]}" >>"$1.log" 2>&1 &
  PID=$!; pids+=("$PID"); LOG="$1.log"
}
stop() { kill -9 "$PID"; wait "$PID" 2>/dev/null || true; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
rate() { redis-benchmark -p "$1" -t set -c 64 -P 16 -r 100000 -d 100 -n "$REQUESTS" -q --csv 2>/dev/null | awk -F'","' '/^"SET"/ {printf "%.0f", $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "## Write throughput ($RUNTIME): redis-benchmark -t set -c 64 -P 16 -r 100000 -d 100 -n $REQUESTS"
echo
echo "| mode | hypercache SET/s | vs own no-persistence | redis-server SET/s | vs redis-server |"
echo "| --- | ---: | ---: | ---: | ---: |"
declare -A mine
for mode in off no everysec always; do
  port=$(free_port); ours "$tmp/ours-$mode" "$mode" "$port"; wait_ready "$port" "$PID" "$LOG"
  a=$(rate "$port"); stop
  port=$(free_port); theirs "$tmp/redis-$mode" "$mode" "$port"; wait_ready "$port" "$PID" "$LOG"
  b=$(rate "$port"); stop
  mine[$mode]=$a
  echo "| $mode | $a | $(ratio "$a" "${mine[off]}") | $b | $(ratio "$a" "$b") |"
done

# 1M SET commands in RESP: key:NNNNNNNNNNNN (16 bytes), 100-byte value; then AOF_KEYS more.
gen() { # first count
  node -e '
const [first, n] = process.argv.slice(1).map(Number); const v = "x".repeat(100); let out = [];
for (let i = first; i < first + n; i++) { const k = "key:" + String(i).padStart(12, "0");
  out.push(`*3\r\n$3\r\nSET\r\n$16\r\n${k}\r\n$100\r\n${v}\r\n`);
  if (out.length === 10000) { process.stdout.write(out.join("")); out = []; } }
process.stdout.write(out.join(""));' "$1" "$2"
}
gen 0 "$KEYS" >"$tmp/base.resp"
gen "$KEYS" "$AOF_KEYS" >"$tmp/tail.resp"
recovery() { # start-function dir
  local port; port=$(free_port)
  "$1" "$2" everysec "$port"; wait_ready "$port" "$PID" "$LOG"
  redis-cli -p "$port" --pipe <"$tmp/base.resp" >/dev/null
  redis-cli -p "$port" BGREWRITEAOF >/dev/null
  for _ in $(seq 600); do
    redis-cli -p "$port" INFO persistence | grep -q 'aof_rewrite_in_progress:0' && break; sleep 0.1
  done
  sleep 1 # redis: the rewrite's child exits before its result is installed
  redis-cli -p "$port" --pipe <"$tmp/tail.resp" >/dev/null
  sleep 1.5 # everysec: let the last second reach the disk
  keys=$(redis-cli -p "$port" DBSIZE)
  stop
  local start; start=$(now_ms)
  "$1" "$2" everysec "$port"; wait_ready "$port" "$PID" "$LOG"
  READY_MS=$(( $(now_ms) - start ))
  LOADED=$(redis-cli -p "$port" DBSIZE)
  SIZE=$(du -sh "$2" | cut -f1)
  stop
  [ "$LOADED" = "$keys" ] || { echo "recovered $LOADED of $keys keys" >&2; exit 1; }
}
echo
echo "## Recovery ($RUNTIME): $KEYS keys in a snapshot + $AOF_KEYS SETs in the AOF after it, kill -9, restart"
echo
echo "| server | keys | data dir | start to ready ms | its own report |"
echo "| --- | ---: | ---: | ---: | --- |"
recovery ours "$tmp/ours-recovery"
echo "| hypercache ($RUNTIME) | $LOADED | $SIZE | $READY_MS | $(grep -o 'loaded .* ms' "$tmp/ours-recovery.log" | tail -1) |"
recovery theirs "$tmp/redis-recovery"
echo "| redis-server | $LOADED | $SIZE | $READY_MS | $(grep -o 'DB loaded from .*' "$tmp/redis-recovery.log" | tail -1 | tr -d '\r') |"
