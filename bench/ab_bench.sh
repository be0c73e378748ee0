#!/usr/bin/env bash
# Same-run A/B of two trees: the tree at BASE (a git revision, default the commit before the
# cluster-ready core work) against the working tree, each on Deno and on Bun, with
# redis-benchmark SET and GET at -P 1 -c 50 and at -P 16 -r 100000 -d 100. All four nodes run at
# once, each warmed up first; each test runs ROUNDS times (default 5) on each node in turn, the
# order rotating each round, so that a noisy stretch of the shared machine hits all alike. It
# reports median ops/s, the median of the per-round new/base ratios, and server CPU per operation.
# Usage: [BASE=rev] [ROUNDS=5] bash bench/ab_bench.sh [requests at -P 1] [requests at -P 16]
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:-f7a8e11}
N1=${1:-100000}
N16=${2:-1000000}
ROUNDS=${ROUNDS:-5}
TESTS=(set get)
SERVERS=(base-deno new-deno base-bun new-bun)
CLK_TCK=$(getconf CLK_TCK)
source bench/_lib.sh

base="$tmp/base"
git worktree add -q --detach "$base" "$BASE"
ln -s "$PWD/node_modules" "$base/node_modules"
trap 'git worktree remove --force "$base" 2>/dev/null || true; cleanup' EXIT

declare -A port pid
start_server() { # name
  local name=$1 dir=$PWD
  [[ $name == base-* ]] && dir=$base
  port[$name]=$(free_port)
  case $name in
    *-deno) (cd "$dir" && exec "${DENO_NODE[@]}" --port "${port[$name]}" --http false \
      --data-dir "$tmp/$name") >"$tmp/$name.log" 2>&1 & ;;
    *-bun) (cd "$dir" && exec bun src/main.ts --port "${port[$name]}" --http false \
      --data-dir "$tmp/$name") >"$tmp/$name.log" 2>&1 & ;;
  esac
  pid[$name]=$!
  pids+=("${pid[$name]}")
  wait_ready "${port[$name]}"
}


declare -A ops cpu ratio
run_setting() { # label, requests, redis-benchmark options...
  local label=$1 requests=$2
  shift 2
  for test in "${TESTS[@]}"; do
    for round in $(seq "$ROUNDS"); do
      declare -A round_ops=()
      local shift_by=$(((round - 1) % 4))
      local order=("${SERVERS[@]:$shift_by}" "${SERVERS[@]:0:$shift_by}")
      for name in "${order[@]}"; do
        local before after csv rps
        before=$(cpu_ticks "${pid[$name]}")
        csv=$(redis-benchmark -p "${port[$name]}" -t "$test" -n "$requests" "$@" -q --csv 2>&1)
        after=$(cpu_ticks "${pid[$name]}")
        if grep -qi error <<<"$csv"; then echo "$name $label $test: $csv" >&2; exit 1; fi
        rps=$(tail -n 1 <<<"$csv" | awk -F'","' '{ print $2 }')
        round_ops[$name]=$rps
        ops[$label,$name,$test]+=" $rps"
        cpu[$label,$name,$test]+=" $(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$requests" \
          'BEGIN { printf "%.3f", t / hz * 1e6 / n }')"
      done
      for runtime in deno bun; do
        ratio[$label,$runtime,$test]+=" $(awk -v a="${round_ops[new-$runtime]}" \
          -v b="${round_ops[base-$runtime]}" 'BEGIN { printf "%.3f", a / b }')"
      done
    done
  done
}

report() { # label, title
  local label=$1
  echo
  echo "redis-benchmark $2, median of $ROUNDS rounds (base $BASE, new $(git rev-parse --short HEAD)+)"
  echo
  echo "| runtime | test | base ops/s | new ops/s | new/base | CPU us/op base | new |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
  for runtime in deno bun; do
    for test in "${TESTS[@]}"; do
      local b n r cb cn
      b=$(median <<<"${ops[$label,base-$runtime,$test]}")
      n=$(median <<<"${ops[$label,new-$runtime,$test]}")
      r=$(median <<<"${ratio[$label,$runtime,$test]}")
      cb=$(median <<<"${cpu[$label,base-$runtime,$test]}")
      cn=$(median <<<"${cpu[$label,new-$runtime,$test]}")
      awk -v rt="$runtime" -v t="$test" -v b="$b" -v n="$n" -v r="$r" -v cb="$cb" -v cn="$cn" \
        'BEGIN { printf "| %s | %s | %.0f | %.0f | %.3f | %.2f | %.2f |\n", rt, t, b, n, r, cb, cn }'
    done
  done
  echo
  echo "per-round new/base ratios:"
  for runtime in deno bun; do
    for test in "${TESTS[@]}"; do echo "  $runtime $test:${ratio[$label,$runtime,$test]}"; done
  done
}

for name in "${SERVERS[@]}"; do
  start_server "$name"
  redis-benchmark -p "${port[$name]}" -t set,get -n 100000 -P 4 -q >/dev/null
done
run_setting p1 "$N1" -P 1 -c 50
run_setting p16 "$N16" -P 16 -r 100000 -d 100
echo "$(nproc) CPUs; $(deno --version | head -1), bun $(bun --version)"
report p1 "-t set,get -P 1 -c 50 -n $N1"
report p16 "-t set,get -P 16 -r 100000 -d 100 -n $N16"
