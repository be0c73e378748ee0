# Shared by the side-by-side benchmark scripts: temporary directory, process clean-up, free ports,
# readiness and process figures. Source it after `cd` to the repository root.
# A node on Deno runs as `deno task start` runs it: --expose-gc for MEMORY PURGE, and a 4 MB
# semi-space (V8's default lets the young generation grow to tens of MB: about 50 bytes per key
# of RSS with 1M keys, for no measured throughput gain).
DENO_NODE=(deno run -A --v8-flags=--expose-gc,--max-semi-space-size=4 src/main.ts)
tmp=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# A free TCP port on loopback.
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# Waits until a RESP server answers PING on port $1 (10 s at most).
wait_ready() { for _ in $(seq 100); do redis-cli -p "$1" PING >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }
# Resident set size of process $1, in KiB.
rss_kb() { ps -o rss= -p "$1" | tr -d ' '; }
# utime + stime of process $1, in clock ticks (fields 14 and 15; the name in field 2 may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# The median of the numbers on standard input (separated by spaces or newlines).
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Starts redis-server, or a node on Deno or Bun ($1: redis | deno | bun) on a free port, and waits
# until it answers; sets port[$1] and pid[$1].
declare -A port pid
start_server() { # name
  local name=$1
  port[$name]=$(free_port)
  case $name in
    redis) redis-server --port "${port[$name]}" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/$name.log" 2>&1 & ;;
    deno) "${DENO_NODE[@]}" --port "${port[$name]}" --http false --data-dir "$tmp/$name" >"$tmp/$name.log" 2>&1 & ;;
    bun) bun src/main.ts --port "${port[$name]}" --http false --data-dir "$tmp/$name" >"$tmp/$name.log" 2>&1 & ;;
  esac
  pid[$name]=$!
  pids+=("${pid[$name]}")
  wait_ready "${port[$name]}"
}
