#!/usr/bin/env bash
# HTTP API throughput, side by side in one run: wrk -t1 -c50 on GET /api/cache/{key} (100-byte
# value), on POST /pipeline with 100 GETs per request, on a bare hello server and on a bare server
# sending the GET's body and headers (bench/http_hello.ts headers), and on one that also does
# what the request-id and secure-headers middleware make the runtime do (http_hello.ts
# middleware), on Deno and Bun.
# Each runtime's four runs repeat ROUNDS times (default 1), one line per round.
# Usage: [ROUNDS=1] bench/http.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
ROUNDS="${ROUNDS:-1}"
PORT_RESP=16390 PORT_HTTP=18090 PORT_HELLO=18091 PORT_HEADERS=18092 PORT_BOUND=18093
VALUE=$(printf 'v%.0s' $(seq 1 100))

rps() { wrk -t1 -c50 -d"${DURATION}s" "$@" | awk '/Requests\/sec/ {print $2}'; }

wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; return 1; }

for runtime in deno bun; do
  if [ "$runtime" = deno ]; then run=(deno run --allow-all); else run=(bun run); fi
  "${run[@]}" src/main.ts --port "$PORT_RESP" --http-port "$PORT_HTTP" --data-dir /tmp/hc-bench >/dev/null 2>&1 &
  node_pid=$!
  "${run[@]}" bench/http_hello.ts "$PORT_HELLO" >/dev/null 2>&1 &
  hello_pid=$!
  "${run[@]}" bench/http_hello.ts "$PORT_HEADERS" headers >/dev/null 2>&1 &
  headers_pid=$!
  "${run[@]}" bench/http_hello.ts "$PORT_BOUND" middleware >/dev/null 2>&1 &
  bound_pid=$!
  wait_port "$PORT_HTTP"; wait_port "$PORT_HELLO"; wait_port "$PORT_HEADERS"; wait_port "$PORT_BOUND"
  curl -s -X PUT -H 'Content-Type: application/json' -d "{\"value\":\"$VALUE\"}" \
    "http://127.0.0.1:$PORT_HTTP/api/cache/bench:key" >/dev/null
  wrk -t1 -c50 -d2s "http://127.0.0.1:$PORT_HTTP/api/cache/bench:key" >/dev/null # warm-up
  wrk -t1 -c50 -d2s "http://127.0.0.1:$PORT_HELLO/" >/dev/null
  wrk -t1 -c50 -d2s "http://127.0.0.1:$PORT_HEADERS/" >/dev/null
  wrk -t1 -c50 -d2s "http://127.0.0.1:$PORT_BOUND/" >/dev/null
  for _ in $(seq 1 "$ROUNDS"); do
    hello=$(rps "http://127.0.0.1:$PORT_HELLO/")
    headers=$(rps "http://127.0.0.1:$PORT_HEADERS/")
    bound=$(rps "http://127.0.0.1:$PORT_BOUND/")
    get=$(rps "http://127.0.0.1:$PORT_HTTP/api/cache/bench:key")
    pipeline=$(rps -s bench/http_pipeline.lua "http://127.0.0.1:$PORT_HTTP/pipeline")
    echo "$runtime hello=$hello headers=$headers middleware=$bound get=$get pipeline=$pipeline" \
      "get/hello=$(awk "BEGIN {printf \"%.2f\", $get / $hello}")" \
      "get/headers=$(awk "BEGIN {printf \"%.2f\", $get / $headers}")" \
      "get/middleware=$(awk "BEGIN {printf \"%.2f\", $get / $bound}")" \
      "pipeline_gets_per_s=$(awk "BEGIN {printf \"%.0f\", $pipeline * 100}")"
  done
  kill "$node_pid" "$hello_pid" "$headers_pid" "$bound_pid" 2>/dev/null || true
  wait "$node_pid" "$hello_pid" "$headers_pid" "$bound_pid" 2>/dev/null || true
done
