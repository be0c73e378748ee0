#!/usr/bin/env bash
# everysec against no persistence, interleaved: ROUNDS rounds of (off, everysec) per runtime, each
# a fresh node and redis-benchmark -t set -c 64 -P 16 -r 100000 -d 100 -n $REQUESTS. Prints every
# round and the medians of ops/s and of server CPU per SET (utime+stime of the node process), so
# one noisy round on the shared machine does not decide the ratio.
# redis-server configured the same way runs as a third contender: what the machine itself loses
# to the AOF (its write(2) and the kernel's writeback share the two cores with the benchmark).
# Usage: bash bench/everysec_ab.sh [requests] [rounds] [servers]   (defaults 400000 5 "redis deno bun")
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:-400000}
ROUNDS=${2:-5}
RUNTIMES=${3:-redis deno bun}
CLK_TCK=$(getconf CLK_TCK)
source bench/_lib.sh

run_once() { # runtime mode -> "ops cpu_us_per_op"
  local cmd persist port pid c0 c1 ops
  rm -rf "$tmp/data"
  port=$(free_port)
  if [ "$1" = redis ]; then
    persist=(--appendonly no)
    [ "$2" != off ] && persist=(--appendonly yes --appendfsync "$2" --auto-aof-rewrite-percentage 0)
    mkdir -p "$tmp/data"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --dir "$tmp/data" "${persist[@]}" >"$tmp/node.log" 2>&1 &
  else
    if [ "$1" = deno ]; then cmd=("${DENO_NODE[@]}"); else cmd=(bun src/main.ts); fi
    persist=(--appendonly no)
    [ "$2" != off ] && persist=(--appendonly yes --appendfsync "$2" --snapshot-every-writes 0 --snapshot-interval 0 --auto-rewrite-min-size 1000gb)
    "${cmd[@]}" --port "$port" --http false --data-dir "$tmp/data" "${persist[@]}" >"$tmp/node.log" 2>&1 &
  fi
  pid=$!; pids+=("$pid")
  wait_ready "$port"
  c0=$(cpu_ticks "$pid")
  ops=$(redis-benchmark -p "$port" -t set -c 64 -P 16 -r 100000 -d 100 -n "$REQUESTS" -q --csv 2>/dev/null | awk -F'","' '/^"SET"/ {printf "%.0f", $2}')
  c1=$(cpu_ticks "$pid")
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  awk -v o="$ops" -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$REQUESTS" 'BEGIN { printf "%s %.2f\n", o, t / hz * 1e6 / n }'
}

echo "redis-benchmark -t set -c 64 -P 16 -r 100000 -d 100 -n $REQUESTS, $ROUNDS interleaved rounds"
echo
echo "| runtime | round | off SET/s | everysec SET/s | ratio | off CPU us/op | everysec CPU us/op |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for runtime in $RUNTIMES; do
  : >"$tmp/ratios"; : >"$tmp/off_ops"; : >"$tmp/es_ops"; : >"$tmp/off_cpu"; : >"$tmp/es_cpu"
  for round in $(seq "$ROUNDS"); do
    read -r off_ops off_cpu < <(run_once "$runtime" off)
    read -r es_ops es_cpu < <(run_once "$runtime" everysec)
    ratio=$(awk -v a="$es_ops" -v b="$off_ops" 'BEGIN { printf "%.2f", a / b }')
    echo "$ratio" >>"$tmp/ratios"; echo "$off_ops" >>"$tmp/off_ops"; echo "$es_ops" >>"$tmp/es_ops"
    echo "$off_cpu" >>"$tmp/off_cpu"; echo "$es_cpu" >>"$tmp/es_cpu"
    echo "| $runtime | $round | $off_ops | $es_ops | $ratio | $off_cpu | $es_cpu |"
  done
  echo "| $runtime | median | $(median <"$tmp/off_ops") | $(median <"$tmp/es_ops") | $(median <"$tmp/ratios") | $(median <"$tmp/off_cpu") | $(median <"$tmp/es_cpu") |"
done
