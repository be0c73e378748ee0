#!/usr/bin/env bash
# A 3-master Redis Cluster against 3-node HyperCache clusters (Deno, Bun), side by side in one run.
# Every cluster is started once, on free loopback ports, and stays up for the whole run:
#   - Redis Cluster: redis-server --cluster-enabled yes --appendonly no --save '' x3, then
#     redis-cli --cluster create ... --cluster-replicas 0.
#   - HyperCache: the default configuration (persistence.appendonly yes, appendfsync everysec,
#     cluster.failure_timeout 15s), config files and fresh data dirs in a temp dir.
# In each of ROUNDS rounds, in an order that rotates from round to round, every cluster gets:
#   1. redis-benchmark --cluster -t set, then -t get (-P 16 -r 100000 -d 100 -n REQUESTS): ops/s,
#      and CPU per request (utime+stime of the cluster's three server processes, /proc/<pid>/stat,
#      before and after, divided by REQUESTS).
#   2. HyperCache only: the same without --cluster, a plain client through node 1 (the node
#      forwards the 2/3 of keys it does not own), with PLAIN_REQUESTS requests.
#   3. bench/cluster_latency.ts through node 1: sequential GETs (one in flight) of a key node 1
#      owns (local) and of a key another node owns (forwarded), p50/p99; on Redis Cluster local
#      GETs only (it answers the others with -MOVED), as the client's own baseline.
# Then recovery, ROUNDS times per HyperCache cluster (runtimes alternating): FLUSHALL, load
# RECOVERY_KEYS keys through node 1 with redis-cli --pipe, kill -9 a node (node 1, 2, 3 in turn),
# restart it at once with the same config and data dir, and time from the kill until every node
# says cluster_state:ok with cluster_slots_ok:16384 and a GET of a key the killed node owns returns
# its value through another node and through the restarted node (polled every ~50 ms; each poll
# runs five redis-cli, so the resolution is about 0.1 s). The key count is checked afterwards.
# Prints every measurement as it is taken and a summary table of medians at the end.
#
# redis-benchmark --cluster runs one thread per master, and a threaded run only stops on its 250 ms
# throughput timer: the elapsed time is rounded up to a multiple of 250 ms, so ops/s is quantized
# and under-reported (at -n 200000, Redis Cluster's 0.3-0.5 s runs all print ~400k). A warning is
# printed when a run was shorter than 2.5 s (a bucket over 10%); use --requests 2000000 or more for
# figures to compare.
#
# Usage: bash bench/cluster_bench.sh [--runtime deno|bun|both] [--rounds N] [--requests N]
#   (defaults: both, 3, 200000). Environment: LAT_COUNT (GETs of each kind, 20000),
#   PLAIN_REQUESTS (REQUESTS/4, at most 100000),
#   RECOVERY_KEYS (100000), DENO_BIN, BUN_BIN, CLUSTER_BENCH_LOGS (a directory to copy the
#   servers' logs and each recovery's poll timeline into before the temp dir is removed).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNTIME=both
ROUNDS=3
REQUESTS=200000
LAT_COUNT=${LAT_COUNT:-20000}
RECOVERY_KEYS=${RECOVERY_KEYS:-100000}
PLAIN_REQUESTS=${PLAIN_REQUESTS:-}
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --runtime) RUNTIME=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $RUNTIME in
  deno) RUNTIMES=(deno) ;;
  bun) RUNTIMES=(bun) ;;
  both) RUNTIMES=(deno bun) ;;
  *) echo "--runtime must be deno, bun or both" >&2; exit 2 ;;
esac
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $REQUESTS =~ ^[1-9][0-9]*$ ]] || { echo "--rounds and --requests take positive integers" >&2; exit 2; }
if [ -z "$PLAIN_REQUESTS" ]; then PLAIN_REQUESTS=$((REQUESTS / 4)); [ "$PLAIN_REQUESTS" -le 100000 ] || PLAIN_REQUESTS=100000; fi

first_of() { for f in "$@"; do if [ -x "$f" ]; then echo "$f"; return; fi; done; }
DENO_BIN=${DENO_BIN:-$(first_of "$(command -v deno || true)" .ci/.tools/node_modules/.bin/deno .tools/node_modules/.bin/deno)}
BUN_BIN=${BUN_BIN:-$(first_of "$(command -v bun || true)" .ci/.tools/node_modules/bun/bin/bun.exe .tools/node_modules/bun/bin/bun.exe)}
[ -n "$DENO_BIN" ] || { echo "no deno binary (set DENO_BIN)" >&2; exit 1; }
if [[ " ${RUNTIMES[*]} " == *" bun "* && -z "$BUN_BIN" ]]; then echo "no bun binary (set BUN_BIN)" >&2; exit 1; fi
for tool in redis-server redis-cli redis-benchmark node setsid timeout jq; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

source bench/_lib.sh # tmp, pids, free_port, wait_ready, cpu_ticks, median
# Every server runs in its own process group (setsid); clean-up kills the groups with SIGKILL.
cleanup() {
  for pid in "${pids[@]}"; do kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${CLUSTER_BENCH_LOGS:-}" ]; then
    mkdir -p "$CLUSTER_BENCH_LOGS"
    (cd "$tmp" && find . \( -name '*.log' -o -name '*.timeline' -o -name '*.probes' -o -name '*.yaml' -o -name '*.err' \) \
      -exec cp --parents {} "$CLUSTER_BENCH_LOGS" \;) || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
CLK_TCK=$(getconf CLK_TCK)
VALUE=$(printf 'x%.0s' $(seq 100))
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Ports: $1 ports whose port+10000 is free too (Redis Cluster's bus), then $2 more; all held open
# together while they are picked, so none is handed out twice.
pick_ports() {
  node -e '
const net = require("net");
const [withBus, plain] = process.argv.slice(1).map(Number);
const held = [], out = [];
const listen = (p) => new Promise((r) => { const s = net.createServer(); s.once("error", () => r(null));
  s.listen(p, "127.0.0.1", () => { held.push(s); r(s.address().port); }); });
(async () => {
  for (let tries = 0; out.length < withBus && tries < 1000; tries++) {
    const p = await listen(0);
    if (p === null || p + 10000 > 65535) continue;
    if (await listen(p + 10000) !== null) out.push(p);
  }
  while (out.length < withBus + plain) { const p = await listen(0); if (p !== null) out.push(p); }
  console.log(out.join(" ")); held.forEach((s) => s.close());
})();' "$1" "$2"
}

declare -A PORT PID LOGF CFG   # by "cluster:index", index 1-3
CLUSTERS=(redis "${RUNTIMES[@]}")
read -r -a ports <<<"$(pick_ports 3 $((12 * ${#RUNTIMES[@]})))"

# Waits until every node of cluster $1 reports cluster_state:ok and all 16384 slots ok ($2 s at most).
cluster_ok() {
  local c=$1 i info
  for i in 1 2 3; do
    info=$(timeout 2 redis-cli -p "${PORT[$c:$i]}" cluster info 2>/dev/null) || return 1
    [[ $info == *cluster_state:ok* && $info == *cluster_slots_ok:16384* ]] || return 1
  done
}
wait_cluster_ok() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do cluster_ok "$1" && return 0; sleep 0.1; done
  echo "cluster $1 did not reach cluster_state:ok in $2 s" >&2; exit 1
}

start_redis_cluster() {
  local i p dir
  for i in 1 2 3; do
    p=${ports[$((i - 1))]}; PORT[redis:$i]=$p; dir=$tmp/redis/$i; mkdir -p "$dir"
    setsid redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "$dir/nodes.conf" --dir "$dir" --appendonly no --save '' \
      >"$dir/server.log" 2>&1 &
    PID[redis:$i]=$!; pids+=("$!")
  done
  for i in 1 2 3; do wait_ready "${PORT[redis:$i]}"; done
  timeout 60 redis-cli --cluster create "127.0.0.1:${PORT[redis:1]}" "127.0.0.1:${PORT[redis:2]}" \
    "127.0.0.1:${PORT[redis:3]}" --cluster-replicas 0 --cluster-yes >"$tmp/redis/create.log" 2>&1
  wait_cluster_ok redis 60
}

# A HyperCache node: its config file, as config/cluster/node1.yaml with this run's ports.
write_config() { # runtime index port http bus gossip seeds
  cat >"$tmp/$1/node$2.yaml" <<EOF
node_id: node$2
bind: 127.0.0.1
port: $3
data_dir: $tmp/$1/data$2
http:
  port: $4
persistence:
  appendonly: yes
  appendfsync: everysec
cluster:
  enabled: yes
  bus_port: $5
  gossip_port: $6
  seeds: [$7]
  bootstrap_expect: 3
EOF
}
start_node() { # runtime index: starts it (does not wait); a restart gets a new log file
  local c=$1 i=$2 n
  n=$(ls "$tmp/$c" | grep -c "^node$i\..*log$" || true)
  LOGF[$c:$i]=$tmp/$c/node$i.$n.log
  if [ "$c" = deno ]; then
    setsid "$DENO_BIN" run -A --v8-flags=--expose-gc,--max-semi-space-size=4 src/main.ts \
      --config "${CFG[$c:$i]}" >"${LOGF[$c:$i]}" 2>&1 &
  else
    setsid "$BUN_BIN" run src/main.ts --config "${CFG[$c:$i]}" >"${LOGF[$c:$i]}" 2>&1 &
  fi
  PID[$c:$i]=$!; pids+=("$!")
}
wait_node_ready() { # runtime index
  local deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    grep -q "ready, RESP on" "${LOGF[$1:$2]}" 2>/dev/null && return 0
    kill -0 "${PID[$1:$2]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "$1 node $2 did not start:" >&2; cat "${LOGF[$1:$2]}" >&2; exit 1
}
start_hc_cluster() { # runtime k (its ports begin at ports[3 + 12k])
  local c=$1 base=$((3 + 12 * $2)) i j seeds
  mkdir -p "$tmp/$c"
  for i in 1 2 3; do
    PORT[$c:$i]=${ports[$((base + i - 1))]}
  done
  for i in 1 2 3; do
    seeds=""
    for j in 1 2 3; do
      [ "$j" = "$i" ] || seeds+="${seeds:+, }\"127.0.0.1:${ports[$((base + 8 + j))]}\""
    done
    CFG[$c:$i]=$tmp/$c/node$i.yaml
    write_config "$c" "$i" "${PORT[$c:$i]}" "${ports[$((base + 2 + i))]}" "${ports[$((base + 5 + i))]}" \
      "${ports[$((base + 8 + i))]}" "$seeds"
  done
  for i in 1 2 3; do start_node "$c" "$i"; done
  for i in 1 2 3; do wait_node_ready "$c" "$i"; done
  wait_cluster_ok "$c" 60
}

cluster_cpu() { # cluster -> ticks of its three server processes
  local t=0 i
  for i in 1 2 3; do t=$((t + $(cpu_ticks "${PID[$1:$i]}"))); done
  echo "$t"
}
us_per_op() { awk -v t="$1" -v hz="$CLK_TCK" -v n="$2" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }'; }

# redis-benchmark against cluster $1: test $2 (set|get), extra options in the rest.
# Prints "rps cpu_us_per_request"; rps is "-" when redis-benchmark gave no figure.
bench() {
  local c=$1 t=$2 n=$3 c0 c1 csv rps; shift 3
  c0=$(cluster_cpu "$c")
  csv=$(timeout 300 redis-benchmark "$@" -h 127.0.0.1 -p "${PORT[$c:1]}" -t "$t" -P 16 -r 100000 -d 100 \
    -n "$n" -q --csv 2>>"$tmp/benchmark.err") || true
  c1=$(cluster_cpu "$c")
  rps=$(echo "$csv" | awk -F'","' -v t="\"${t^^}" '$1 == t { printf "%.0f", $2 }')
  if [ -n "$rps" ] && [[ " $* " == *" --cluster "* ]] && [ $((n * 10 / rps)) -lt 25 ] && [ ! -e "$tmp/warned" ]; then
    touch "$tmp/warned"
    echo "warning: $c ${t^^} --cluster ran $(awk -v n="$n" -v r="$rps" 'BEGIN { printf "%.2f", n / r }') s: ops/s is quantized by 250 ms (use more --requests; warned once)" >&2
  fi
  echo "${rps:--} $(us_per_op $((c1 - c0)) "$n")"
}

latency() { # cluster -> "local_p50 local_p99 fwd_p50 fwd_p99 wrong"
  local extra=() json
  [ "$1" = redis ] && extra=(--local-only)
  json=$(timeout 300 "$DENO_BIN" run -A bench/cluster_latency.ts --port "${PORT[$1:1]}" \
    --count "$LAT_COUNT" --json "${extra[@]}" 2>>"$tmp/latency.err" | tail -1) || true
  if [ -z "$json" ]; then echo "- - - - -"; return; fi
  echo "$json" | jq -r '[.local.p50_us, .local.p99_us, (.forwarded.p50_us // "-"), (.forwarded.p99_us // "-"), .wrong_replies] | map(tostring) | join(" ")'
}

record() { echo "$2" >>"$tmp/res.$1"; } # name value

echo "cluster_bench: runtimes ${RUNTIMES[*]}, $ROUNDS rounds, -n $REQUESTS (plain client $PLAIN_REQUESTS), latency $LAT_COUNT GETs of each kind, recovery with $RECOVERY_KEYS keys"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); redis $(redis-server --version | grep -o 'v=[0-9.]*'), deno $("$DENO_BIN" --version | head -1 | cut -d' ' -f2)${BUN_BIN:+, bun $("$BUN_BIN" --version)}"
start_redis_cluster
k=0
for c in "${RUNTIMES[@]}"; do start_hc_cluster "$c" "$k"; k=$((k + 1)); done
echo "clusters up: $(for c in "${CLUSTERS[@]}"; do printf '%s %s,%s,%s  ' "$c" "${PORT[$c:1]}" "${PORT[$c:2]}" "${PORT[$c:3]}"; done)"

# What each idle cluster costs the machine (gossip, Raft heartbeats), over 5 s.
declare -A idle0
for c in "${CLUSTERS[@]}"; do idle0[$c]=$(cluster_cpu "$c"); done
sleep 5
for c in "${CLUSTERS[@]}"; do
  record "$c.idle" "$(awk -v t=$(($(cluster_cpu "$c") - ${idle0[$c]})) -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", t / hz / 5 * 100 }')"
done

echo
echo "| round | cluster | SET ops/s | SET CPU us/op | GET ops/s | GET CPU us/op | plain SET ops/s (CPU) | plain GET ops/s (CPU) | local p50/p99 us | forwarded p50/p99 us |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for round in $(seq "$ROUNDS"); do
  order=()
  for j in $(seq 0 $((${#CLUSTERS[@]} - 1))); do order+=("${CLUSTERS[$(((j + round - 1) % ${#CLUSTERS[@]}))]}"); done
  for c in "${order[@]}"; do
    read -r set_rps set_cpu < <(bench "$c" set "$REQUESTS" --cluster)
    read -r get_rps get_cpu < <(bench "$c" get "$REQUESTS" --cluster)
    record "$c.set" "$set_rps"; record "$c.setcpu" "$set_cpu"
    record "$c.get" "$get_rps"; record "$c.getcpu" "$get_cpu"
    plain_set="-"; plain_get="-"
    if [ "$c" != redis ]; then
      read -r p_set p_set_cpu < <(bench "$c" set "$PLAIN_REQUESTS")
      read -r p_get p_get_cpu < <(bench "$c" get "$PLAIN_REQUESTS")
      record "$c.pset" "$p_set"; record "$c.psetcpu" "$p_set_cpu"
      record "$c.pget" "$p_get"; record "$c.pgetcpu" "$p_get_cpu"
      plain_set="$p_set ($p_set_cpu)"; plain_get="$p_get ($p_get_cpu)"
    fi
    read -r lp50 lp99 fp50 fp99 wrong < <(latency "$c")
    record "$c.lp50" "$lp50"; record "$c.lp99" "$lp99"
    if [ "$c" != redis ]; then record "$c.fp50" "$fp50"; record "$c.fp99" "$fp99"; fi
    [ "$wrong" = 0 ] || [ "$wrong" = "-" ] || echo "warning: $c: $wrong GET replies were not the value set" >&2
    echo "| $round | $c | $set_rps | $set_cpu | $get_rps | $get_cpu | $plain_set | $plain_get | $lp50/$lp99 | $fp50/$fp99 |"
  done
done

# Recovery after kill -9.
owned_key() { # runtime index -> a recovery key that node holds (SCAN is per node)
  local cursor=0 out key
  for _ in $(seq 200); do
    out=$(redis-cli -p "${PORT[$1:$2]}" scan "$cursor" match 'rec:*' count 1000)
    cursor=$(echo "$out" | head -1)
    key=$(echo "$out" | sed -n 2p)
    if [ -n "$key" ]; then echo "$key"; return; fi
    [ "$cursor" = 0 ] && break
  done
  echo "no recovery key on $1 node $2" >&2; exit 1
}
total_keys() { local t=0 i; for i in 1 2 3; do t=$((t + $(redis-cli -p "${PORT[$1:$i]}" dbsize))); done; echo "$t"; }
node -e '
const n = Number(process.argv[1]), v = "x".repeat(100); let out = [];
for (let i = 0; i < n; i++) { const k = "rec:" + String(i).padStart(12, "0");
  out.push(`*3\r\n$3\r\nSET\r\n$16\r\n${k}\r\n$100\r\n${v}\r\n`);
  if (out.length === 10000) { process.stdout.write(out.join("")); out = []; } }
process.stdout.write(out.join(""));' "$RECOVERY_KEYS" >"$tmp/recovery.resp"
for c in "${RUNTIMES[@]}"; do
  for i in 1 2 3; do redis-cli -p "${PORT[$c:$i]}" flushall >/dev/null; done
  t0=$(now_ms)
  timeout 300 redis-cli -p "${PORT[$c:1]}" --pipe <"$tmp/recovery.resp" >"$tmp/$c/load.log" 2>&1 || { cat "$tmp/$c/load.log" >&2; exit 1; }
  loaded=$(total_keys "$c")
  echo "$c: loaded $loaded keys through node 1 (plain client, --pipe) in $(($(now_ms) - t0)) ms"
  [ "$loaded" = "$RECOVERY_KEYS" ] || echo "warning: $c holds $loaded keys after loading $RECOVERY_KEYS" >&2
done
sleep 2 # past one everysec fsync of the last writes

echo
echo "| round | cluster | node killed (Raft role) | ready line ms | all slots served ms | longest GET wait ms (its reply) | keys after |"
echo "| ---: | --- | --- | ---: | ---: | --- | ---: |"
for round in $(seq "$ROUNDS"); do
  i=$(((round - 1) % 3 + 1)); other=$((i % 3 + 1))
  order=()
  for j in $(seq 0 $((${#RUNTIMES[@]} - 1))); do order+=("${RUNTIMES[$(((j + round - 1) % ${#RUNTIMES[@]}))]}"); done
  for c in "${order[@]}"; do
    wait_cluster_ok "$c" 60
    key=$(owned_key "$c" "$i")
    role=$(redis-cli -p "${PORT[$c:$i]}" info cluster | tr -d '\r' | awk -F: '$1 == "cluster_raft_role" { print $2 }')
    t0=$(now_ms)
    kill -9 -- "-${PID[$c:$i]}"
    wait "${PID[$c:$i]}" 2>/dev/null || true
    start_node "$c" "$i"
    ready_ms="-"; served_ms="-"; ok_ms="-"; other_ms="-"; self_ms="-"
    timeline=$tmp/$c/recovery.$round.timeline; probes=$tmp/$c/recovery.$round.probes; prev=""
    echo "# $c round $round: kill -9 node$i ($role) at 0 ms, restarted at once; GET $key" >"$timeline"
    : >"$probes"
    probe_pids=()
    while [ $(($(now_ms) - t0)) -lt 120000 ]; do
      [ "$ready_ms" = "-" ] && grep -q "ready, RESP on" "${LOGF[$c:$i]}" && ready_ms=$(($(now_ms) - t0))
      # Two GET probes every ~0.1 s, each on a new connection and in the background (a request can
      # wait for seconds; it does not hold up the polling): through another node and through the
      # killed one. Each logs its send and reply times (ms since the kill) and its reply.
      for via in "$other" "$i"; do
        (
          sent=$(($(now_ms) - t0))
          reply=$(timeout 15 redis-cli -p "${PORT[$c:$via]}" get "$key" 2>&1) || reply="${reply:-(no reply in 15 s)}"
          [ "$reply" = "$VALUE" ] && reply=VALUE
          echo "$sent $(($(now_ms) - t0)) node$via ${reply:0:70}" >>"$probes"
        ) &
        probe_pids+=("$!")
      done
      # CLUSTER INFO of the three nodes; the timeline gets a line whenever it changes.
      ok=1; seen=""
      for j in 1 2 3; do
        info=$(timeout 1 redis-cli -p "${PORT[$c:$j]}" cluster info 2>&1 | tr -d '\r' || true)
        [[ $info == *cluster_state:ok* && $info == *cluster_slots_ok:16384* ]] || ok=0
        state=$(echo "$info" | grep -o 'cluster_state:[a-z]*\|slots_ok:[0-9]*\|Could not connect' | tr '\n' ' ' || true)
        seen+="node$j ${state:-?}| "
      done
      [ "$seen" = "$prev" ] || echo "$(($(now_ms) - t0)) $seen" >>"$timeline"
      prev=$seen
      if [ "$ok" = 1 ]; then [ "$ok_ms" = "-" ] && ok_ms=$(($(now_ms) - t0)); else ok_ms="-"; fi
      # Served again: all three nodes ok, and a GET through each path has returned the value.
      other_ms=$(awk -v n="node$other" '$3 == n && $4 == "VALUE" { print $2 }' "$probes" | sort -n | head -1)
      self_ms=$(awk -v n="node$i" '$3 == n && $4 == "VALUE" { print $2 }' "$probes" | sort -n | head -1)
      if [ "$ok_ms" != "-" ] && [ -n "$other_ms" ] && [ -n "$self_ms" ]; then
        served_ms=$(printf '%s\n' "$ok_ms" "$other_ms" "$self_ms" | sort -n | tail -1); break
      fi
      sleep 0.1
    done
    wait "${probe_pids[@]}" 2>/dev/null || true
    [ "$served_ms" = "-" ] && echo "warning: $c node $i not serving 120 s after kill -9; log:" >&2 && cat "${LOGF[$c:$i]}" >&2
    # The longest wait of a probe (sent after the kill), and what it got.
    read -r stall_ms stall_reply < <(awk '{ w = $2 - $1; if (w > m) { m = w; r = $3 ": " $4 " " $5 " " $6 } } END { print m + 0, r }' "$probes")
    sort -n "$probes" | sed 's/^/probe /' >>"$timeline"
    after=$(total_keys "$c")
    record "$c.ready" "$ready_ms"; record "$c.recovery" "$served_ms"; record "$c.keysafter" "$after"
    record "$c.stall" "$stall_ms"
    echo "| $round | $c | node$i ($role) | $ready_ms | $served_ms | $stall_ms (${stall_reply% }) | $after |"
  done
done

# Summary: medians over the rounds; ratios are medians of the per-round ratios to Redis Cluster
# (each round's figures were taken minutes apart on the same machine).
med() { if [ -s "$tmp/res.$1" ]; then grep -v '^-$' "$tmp/res.$1" | median; else echo "-"; fi; }
ratio_med() { paste "$tmp/res.$1.$2" "$tmp/res.redis.$2" | awk '$1 != "-" && $2 != "-" { printf "%.2f\n", $1 / $2 }' | median | awk '{ printf "%.2f", $1 }'; }
minmax() { grep -v '^-$' "$tmp/res.$1" | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { print a "-" b }'; }
echo
echo "## Summary: medians of $ROUNDS rounds (-P 16 -r 100000 -d 100 -n $REQUESTS, plain client -n $PLAIN_REQUESTS; latency $LAT_COUNT sequential GETs of each kind)"
echo
echo "| cluster | SET ops/s | SET vs Redis | GET ops/s | GET vs Redis | SET CPU us/op | GET CPU us/op | plain SET / GET ops/s | local p50 / p99 us | forwarded p50 / p99 us | fwd/local p50 | fwd-local p50 us | idle CPU % |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in "${CLUSTERS[@]}"; do
  if [ "$c" = redis ]; then sr=1.00; gr=1.00; plain="-"; fwd="-"; fr="-"; fd="-"
  else
    sr=$(ratio_med "$c" set); gr=$(ratio_med "$c" get)
    plain="$(med "$c.pset") / $(med "$c.pget")"
    fwd="$(med "$c.fp50") / $(med "$c.fp99")"
    fr=$(awk -v f="$(med "$c.fp50")" -v l="$(med "$c.lp50")" 'BEGIN { printf "%.2f", f / l }')
    fd=$(awk -v f="$(med "$c.fp50")" -v l="$(med "$c.lp50")" 'BEGIN { printf "%.0f", f - l }')
  fi
  echo "| $c | $(med "$c.set") | $sr | $(med "$c.get") | $gr | $(med "$c.setcpu") | $(med "$c.getcpu") | $plain | $(med "$c.lp50") / $(med "$c.lp99") | $fwd | $fr | $fd | $(med "$c.idle") |"
done
echo
echo "| cluster | recovery after kill -9: all slots served, median (min-max) ms | restarted node's ready line, median ms | longest wait of a GET sent during recovery, median (max) ms | keys after (loaded $RECOVERY_KEYS) |"
echo "| --- | ---: | ---: | ---: | --- |"
for c in "${RUNTIMES[@]}"; do
  echo "| $c | $(med "$c.recovery") ($(minmax "$c.recovery")) | $(med "$c.ready") | $(med "$c.stall") ($(sort -g "$tmp/res.$c.stall" | tail -1)) | $(sort -u "$tmp/res.$c.keysafter" | tr '\n' ' ')|"
done
if [ -s "$tmp/benchmark.err" ] || [ -s "$tmp/latency.err" ]; then
  echo; echo "stderr of redis-benchmark / cluster_latency.ts (last lines):"
  tail -5 "$tmp/benchmark.err" "$tmp/latency.err" 2>/dev/null || true
fi
echo
echo "total time ${SECONDS} s"
