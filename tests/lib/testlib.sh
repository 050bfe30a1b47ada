# shellcheck shell=bash
# testlib.sh - shared helpers for the bash integration tests that drive the
# server under test with the real redis tools (t_redis_cli.sh,
# t_redis_benchmark.sh). Sourced, never run:
#
#   . "$(dirname "$0")/../lib/testlib.sh" || exit 1
#   tl_init redis-cli ...        # tools that must exist; temp dir, cleanup traps
#   start_server_or_exit         # herald-server on a free 127.0.0.1 port
#   ... checks: ok / not_ok / expect_eq, cli, wait_for, bg_sub ...
#   stop_server_and_check_log    # SIGTERM exit status, no sanitizer report
#   echo "# $TL_NAME: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]
#
# Settings:
#   TL_NAME          name used in messages: the script's name without .sh
#   HERALD_SERVER    (environment) server binary, default build/herald-server
#   REDIS_CLI        (environment) redis-cli binary, default redis-cli on PATH
#   BG_SUB_TIMEOUT   seconds a bg_sub subscriber may live: 60 unless the script
#                    sets it after sourcing this file
#
# Invariants: the server listens on 127.0.0.1 only, every redis-cli call runs
# under `timeout`, every wait loop is bounded, and every process started here
# (SERVER_PID and the pids in PIDS) is killed on exit, whatever the outcome,
# and the temporary directory removed.

TL_NAME=$(basename "$0" .sh)
SERVER=${HERALD_SERVER:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/herald-server}
CLI=${REDIS_CLI:-redis-cli}
PY=/usr/bin/python3
BG_SUB_TIMEOUT=60

TMP=
PIDS=()
SERVER_PID=
PORT=
LAST_PID=
PASS=0
FAIL=0

# cleanup: the EXIT trap (installed by tl_init)
cleanup() {
  local p
  for p in "${PIDS[@]}" $SERVER_PID; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}" $SERVER_PID; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$TMP"
}

# tl_init TOOL...: exits 1 unless every TOOL and $SERVER can be run; then makes
# the private temporary directory $TMP and installs the cleanup traps.
tl_init() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "$TL_NAME: $tool not found (install redis-tools; see scripts/bootstrap)" >&2
      exit 1
    fi
  done
  if [ ! -x "$SERVER" ]; then
    echo "$TL_NAME: server binary '$SERVER' not found or not executable (set HERALD_SERVER)" >&2
    exit 1
  fi
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-$TL_NAME.XXXXXX") || exit 1
  trap cleanup EXIT
  trap 'echo "$TL_NAME: interrupted" >&2; exit 130' INT TERM
}

# ---- reporting ----------------------------------------------------------------
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
# not_ok NAME [DETAIL...]: each line of each DETAIL is printed indented
not_ok() {
  FAIL=$((FAIL + 1))
  echo "FAIL - $1"
  shift
  local l
  for l in "$@"; do printf '%s\n' "$l" | sed 's/^/         /'; done
}
# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
  if [ "$2" == "$3" ]; then ok "$1"; else
    not_ok "$1" "expected: $(printf '%q' "$2")" "actual:   $(printf '%q' "$3")"
  fi
}

# ---- the server and redis-cli ---------------------------------------------------
free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cli() { timeout 10 "$CLI" -h 127.0.0.1 -p "$PORT" "$@" 2>&1; }

# start_server: starts $SERVER in $TMP on a free port (3 attempts), sets PORT and
# SERVER_PID; returns 0 once it answers PING, 1 if it never did.
start_server() {
  local attempt i
  for attempt in 1 2 3; do
    PORT=$(free_port)
    (cd "$TMP" && exec "$SERVER" --port "$PORT" --bind 127.0.0.1) >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 1 200); do
      if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
      if [ "$(timeout 2 "$CLI" -h 127.0.0.1 -p "$PORT" PING 2>/dev/null)" == "PONG" ]; then
        return 0
      fi
      sleep 0.05
    done
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
    echo "$TL_NAME: server did not start on port $PORT (attempt $attempt); log:" >&2
    sed 's/^/  | /' "$TMP/server.log" >&2
  done
  return 1
}

start_server_or_exit() {
  if ! start_server; then
    echo "$TL_NAME: could not start $SERVER" >&2
    exit 1
  fi
  echo "# server listening on 127.0.0.1:$PORT"
}

# wait_for NAME TRIES COMMAND...: polls COMMAND (0.05 s apart) until it succeeds.
wait_for() {
  local name=$1 tries=$2 i
  shift 2
  for ((i = 0; i < tries; i++)); do
    if "$@"; then return 0; fi
    sleep 0.05
  done
  echo "$TL_NAME: timed out waiting for: $name" >&2
  return 1
}
numsub_is() { [ "$(cli PUBSUB NUMSUB "$1" | sed -n 2p)" == "$2" ]; }
numpat_is() { [ "$(cli PUBSUB NUMPAT)" == "$1" ]; }
# info_field FIELD [SECTION]: value of FIELD in INFO output (CR stripped)
info_field() { cli INFO ${2:-} | tr -d '\r' | sed -n "s/^$1:\(.*\)$/\1/p"; }

# bg_sub OUTFILE redis-cli-args...: background redis-cli subscriber, bounded by
# BG_SUB_TIMEOUT; its pid is appended to PIDS and left in LAST_PID.
bg_sub() {
  local out=$1
  shift
  timeout "$BG_SUB_TIMEOUT" "$CLI" -h 127.0.0.1 -p "$PORT" "$@" >"$out" 2>"$out.err" &
  PIDS+=($!)
  # shellcheck disable=SC2034 # read by the calling script
  LAST_PID=$!
}

# stop_server_and_check_log: kills the subscribers, then checks that the server
# exits cleanly within 5 s of SIGTERM and left no sanitizer report in its log.
stop_server_and_check_log() {
  local p rc
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  kill -TERM "$SERVER_PID" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    not_ok "server exits within 5 s of SIGTERM"
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  else
    wait "$SERVER_PID"
    rc=$?
    # 0, or 143 if the server leaves SIGTERM's default action in place
    if [ "$rc" = 0 ] || [ "$rc" = 143 ]; then ok "server exits cleanly on SIGTERM"; else
      not_ok "server exits cleanly on SIGTERM" "exit status $rc" "$(tail -20 "$TMP/server.log")"; fi
  fi
  SERVER_PID=
  # the markers of an ASan / LSan / UBSan report (see tests/lib/servers.py)
  local markers='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'
  if grep -qE "$markers" "$TMP/server.log"; then
    not_ok "no sanitizer report in the server log" "$(grep -m1 -A60 -E "$markers" "$TMP/server.log")"
  else
    ok "no sanitizer report in the server log"
  fi
}
