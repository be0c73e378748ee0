#!/usr/bin/env bash
# The README's two commands as a new user runs them: in a fresh clone of this repository's HEAD,
# with an empty HOME and PATH=/usr/bin:/bin (no deno, no bun), then a report of what they did.
#
#   bash tests/fresh_machine.sh [--without-redis-tools] [--junit FILE] [--keep]
#
# --without-redis-tools  first removes redis-server, redis-tools and python3-redis (root on Debian),
#                        checks that the test command, when it may not install, stops within
#                        seconds with one line naming what is missing, then lets it install them.
# --junit FILE           passes --junit-path=FILE to the test command (for .ci/run's count).
# --keep                 leaves the temporary clone and HOME in place.
#
# Exit status 0 only when the start command answered PONG, the test command passed, and no
# process started from the clone is left.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
without_redis=no junit="" keep=no
while [ $# -gt 0 ]; do
  case "$1" in
    --without-redis-tools) without_redis=yes ;;
    --junit) junit="$2"; shift ;;
    --keep) keep=yes ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

work="$(mktemp -d /tmp/hc-fresh-XXXXXX)"
clone="$work/hypercache"
mkdir -p "$work/home"
git clone -q "$repo" "$clone" || { echo "fresh machine: git clone failed"; exit 1; }
commit="$(git -C "$clone" rev-parse --short HEAD)"
failures=0
report() { echo "fresh machine: $*"; }
fail() { report "FAILED: $*"; failures=$((failures + 1)); }
# What a new user's shell has: the machine's environment (its proxy and CA settings), a HOME of
# their own, the system PATH, and nothing of ours.
new_user_env=(env -u DENO_BIN -u BUN_BIN -u DENO_DIR -u DENO_INSTALL_ROOT -u BUN_INSTALL
  -u HYPERCACHE_RUNTIME -u HYPERCACHE_TEST_RUN -u npm_config_prefix -u NPM_CONFIG_PREFIX
  HOME="$work/home" PATH=/usr/bin:/bin NO_COLOR=1)
as_new_user() {
  (cd "$clone" && exec "${new_user_env[@]}" "$@")
}
# The first line a server on 6379 answers to PING, or nothing.
ping_6379() {
  (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && IFS= read -r -t 5 line <&3 &&
    printf '%s' "${line%$'\r'}") 2>/dev/null
}
report "clone of $commit in $clone, HOME=$work/home, PATH=/usr/bin:/bin"

if [ "$without_redis" = yes ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq redis-server redis-tools python3-redis \
      >/dev/null 2>&1
  fi
  if PATH=/usr/bin:/bin command -v redis-cli >/dev/null; then
    fail "redis-cli is still installed; cannot check the run without it"
  else
    report "redis-server, redis-tools and python3-redis are not installed"
  fi
fi

# 1. The start command: a node with the default config must answer PING on 6379.
if [ -n "$(ping_6379)" ] || (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  fail "port 6379 is already in use; cannot run the start command"
else
  started=$(date +%s)
  # In a session of its own (setsid execs in place: $! is the group's leader), to stop it whole.
  (cd "$clone" && exec "${new_user_env[@]}" setsid npx -y deno@2.9.6 task start) \
    >"$work/start.log" 2>&1 &
  starter=$!
  pong=""
  for _ in $(seq 1 240); do
    pong="$(ping_6379)"
    [ -n "$pong" ] && break
    sleep 0.5
  done
  if [ "$pong" = "+PONG" ]; then
    report "start command: PONG after $(($(date +%s) - started)) s"
  else
    fail "start command: no PONG on 6379 within 120 s; its output:"
    sed 's/^/  | /' "$work/start.log"
  fi
  kill -TERM -- "-$starter" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$starter" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$starter" 2>/dev/null
  wait "$starter" 2>/dev/null
fi

# 2. Without the Redis tools and not allowed to install: one clear line, within seconds.
if [ "$without_redis" = yes ]; then
  started=$(date +%s)
  as_new_user HYPERCACHE_TEST_INSTALL=no npx -y deno@2.9.6 task test >"$work/missing.log" 2>&1
  status=$?
  took=$(($(date +%s) - started))
  line="$(grep '^hypercache tests:' "$work/missing.log")"
  if [ "$status" = 1 ] && [ "$(printf '%s\n' "$line" | wc -l)" = 1 ] && [[ "$line" == *missing* ]]; then
    report "test command without the tools, installs forbidden: exit 1 in $took s: $line"
  else
    fail "test command without the tools: exit $status in $took s; its output:"
    sed 's/^/  | /' "$work/missing.log"
  fi
fi

# 3. The test command, as the README gives it.
started=$(date +%s)
args=()
[ -n "$junit" ] && args=("--junit-path=$junit")
as_new_user npx -y deno@2.9.6 task test "${args[@]}" 2>&1 | tee "$work/test.log"
status=${PIPESTATUS[0]}
took=$(($(date +%s) - started))
closing="$(sed 's/\x1b\[[0-9;]*m//g' "$work/test.log" | grep -E '^(ok|FAILED) \| ' | tail -1)"
if [ "$status" = 0 ]; then
  report "test command: exit 0 in $took s: $closing"
else
  fail "test command: exit $status in $took s: ${closing:-no closing line}"
fi

# 4. Nothing started from the clone may still run.
left=""
for proc in /proc/[0-9]*; do
  pid="${proc#/proc/}"
  [ "$pid" = $$ ] && continue
  if tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -q "$clone\|$work/home" \
    || [[ "$(readlink "$proc/cwd" 2>/dev/null)" == "$clone"* ]]; then
    left+=" $pid($(tr '\0' ' ' <"$proc/cmdline" | cut -c1-80))"
  fi
done
if [ -z "$left" ]; then
  report "processes left behind: none"
else
  fail "processes left behind:$left"
fi

[ "$keep" = yes ] || rm -rf "$work"
[ "$failures" = 0 ]
