# shellcheck shell=bash disable=SC2034,SC2154
# demo-common.sh - the pieces scripts/demo and scripts/federation-demo share:
# narrated output with counted checks, background processes stopped on exit,
# waiting for log lines, free loopback ports. Sourced, not run.
#
# The sourcing script sets: work (its work directory, made by it), keep
# (1: keep it on exit), PY, TESTBED (tests/testbed/dnstestbed.py) and TB
# (the test bed's directory); then it calls `trap cleanup EXIT`.
# DEMO_NAME names the script in error messages.

# ------------------------------------------------------------------ output

if [[ -t 1 ]]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else B='' G='' R='' D='' N=''; fi
failures=0 checks=0

step() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
say() { printf '%s\n' "$*" | fold -s -w 78 | sed 's/ *$//; s/^/   /'; }
note() { printf '%s' "$D"; printf '%s\n' "$@" | sed 's/^/     | /'; printf '%s' "$N"; }
ok() { checks=$((checks + 1)); printf '   %sok%s    %s\n' "$G" "$N" "$*"; }
bad() { checks=$((checks + 1)); failures=$((failures + 1)); printf '   %sFAILED%s %s\n' "$R" "$N" "$*"; }
# check DESCRIPTION COMMAND...: run COMMAND quietly, ok if it succeeds
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
die() { printf '%s%s: %s%s\n' "$R" "${DEMO_NAME:-demo}" "$*" "$N" >&2; exit 1; }


# ------------------------------------------------------------ processes

declare -a PIDS=()
declare -A PID=()     # name -> pid of what start() started
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  [[ -f "$TB/testbed.json" ]] && "$PY" "$TESTBED" down "$TB" >/dev/null 2>&1 || true
  if [[ $keep == 1 ]]; then
    echo "${DEMO_NAME:-demo}: work directory kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}

# start NAME COMMAND...: run in the background, output to $work/out/NAME
start() {
  local name=$1; shift
  "$@" >"$work/out/$name" 2>"$work/out/$name.err" &
  PIDS+=($!)
  PID[$name]=$!
}
# wait_for FILE PATTERN [SECONDS]: until FILE has a line matching PATTERN
wait_for() {
  local file=$1 pattern=$2 deadline=$((SECONDS + ${3:-15}))
  until grep -qE -- "$pattern" "$file" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
# count FILE PATTERN: lines matching
count() { grep -cE -- "$2" "$1" 2>/dev/null || true; }
free_port() {
  "$PY" -c 'import socket
for _ in range(50):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]; t.close()
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p)); u.close()
        print(p); break
    except OSError:
        pass'
}
# wait_started FILE PATTERN PID SECONDS: until a server logs that it serves
# (reading its log rather than probing its port keeps the logs free of
# half-opened connections)
wait_started() {
  local deadline=$((SECONDS + $4))
  until grep -qE -- "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Sanitizer builds (the test suite): the plugin needs the ASan runtime in
# the uninstrumented broker. Prefix of a broker's command line.
broker_env=()
if [[ -n "${DANCE_MOSQUITTO_PRELOAD:-}" ]]; then
  broker_env=(env "LD_PRELOAD=$DANCE_MOSQUITTO_PRELOAD" "ASAN_OPTIONS=${DANCE_MOSQUITTO_ASAN_OPTIONS:-}")
fi
