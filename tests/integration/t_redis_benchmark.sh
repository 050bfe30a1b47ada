#!/usr/bin/env bash
# t_redis_benchmark.sh - runs the real redis-benchmark against the server under
# test ($HERALD_SERVER, default build/herald-server): `-t ping` (PING_INLINE and
# PING_MBULK), PUBLISH as an arbitrary command, each with and without
# pipelining (-P 16), with many clients, random channel names (-r) and a 4 KiB
# payload. Each run must exit 0, print nothing on stderr (redis-benchmark
# reports "Error from server: ..." and CONFIG-fetch warnings there) and report
# a nonzero rate in its --csv output. redis-cli subscribers count the PUBLISHed
# messages they receive, which must be exactly the number of requests.
#
# The server runs on a free 127.0.0.1 port in a private temporary directory;
# every request count is bounded (-n), every external call runs under
# `timeout`, every wait loop is bounded. All processes started here are killed
# on exit. Prints "ok"/"FAIL" per check and a summary; exits 1 on any failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SERVER=${HERALD_SERVER:-$HERE/../../build/herald-server}
CLI=${REDIS_CLI:-redis-cli}
BENCH=${REDIS_BENCHMARK:-redis-benchmark}
PY=/usr/bin/python3

for tool in "$CLI" "$BENCH"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "t_redis_benchmark: $tool not found (install redis-tools; see scripts/bootstrap)" >&2
    exit 1
  fi
done
if [ ! -x "$SERVER" ]; then
  echo "t_redis_benchmark: server binary '$SERVER' not found or not executable (set HERALD_SERVER)" >&2
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/herald-t_redis_benchmark.XXXXXX")
PIDS=()
SERVER_PID=
PORT=

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
trap cleanup EXIT
trap 'echo "t_redis_benchmark: interrupted" >&2; exit 130' INT TERM

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
not_ok() {
  FAIL=$((FAIL + 1))
  echo "FAIL - $1"
  shift
  local l
  for l in "$@"; do printf '%s\n' "$l" | sed 's/^/         /'; done
}
expect_eq() {
  if [ "$2" == "$3" ]; then ok "$1"; else
    not_ok "$1" "expected: $(printf '%q' "$2")" "actual:   $(printf '%q' "$3")"
  fi
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cli() { timeout 10 "$CLI" -h 127.0.0.1 -p "$PORT" "$@" 2>&1; }

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
    echo "t_redis_benchmark: server did not start on port $PORT (attempt $attempt); log:" >&2
    sed 's/^/  | /' "$TMP/server.log" >&2
  done
  return 1
}

wait_for() {
  local name=$1 tries=$2 i
  shift 2
  for ((i = 0; i < tries; i++)); do
    if "$@"; then return 0; fi
    sleep 0.05
  done
  echo "t_redis_benchmark: timed out waiting for: $name" >&2
  return 1
}
numsub_is() { [ "$(cli PUBSUB NUMSUB "$1" | sed -n 2p)" == "$2" ]; }
numpat_is() { [ "$(cli PUBSUB NUMPAT)" == "$1" ]; }
# count_msgs FILE KIND: messages of KIND (message/pmessage) a redis-cli subscriber printed
count_msgs() { grep -cx "$2" "$1" 2>/dev/null || true; }
msgs_reach() { [ "$(count_msgs "$1" "$2")" -ge "$3" ]; }
info_field() { cli INFO ${2:-} | tr -d '\r' | sed -n "s/^$1:\(.*\)$/\1/p"; }

# bench NAME EXPECTED-TESTS redis-benchmark-args...
# Runs redis-benchmark --csv and checks exit status, stderr, the test names and rates.
bench() {
  local name=$1 expected_tests=$2
  shift 2
  local out="$TMP/bench.out" err="$TMP/bench.err" rc start end
  start=$(date +%s.%N)
  timeout 120 "$BENCH" -h 127.0.0.1 -p "$PORT" --csv "$@" >"$out" 2>"$err"
  rc=$?
  end=$(date +%s.%N)
  echo "# $name: $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f s", b-a}')," \
    "$(tail -n +2 "$out" | awk -F'","' '{n=$1; if (length(n) > 40) n=substr(n,1,40) "..."; print n "\" " $2}' | tr -d '"' | paste -sd ' ' -) rps"
  expect_eq "$name: redis-benchmark exit status" "0" "$rc"
  if [ -s "$err" ]; then
    not_ok "$name: nothing on stderr (server errors, CONFIG GET save/appendonly warnings)" "$(head -c 2000 "$err")"
  else
    ok "$name: nothing on stderr"
  fi
  expect_eq "$name: tests reported" "$expected_tests" "$(tail -n +2 "$out" | cut -d, -f1 | tr -d '"' | paste -sd '|' -)"
  local bad
  bad=$(tail -n +2 "$out" | awk -F, '{gsub(/"/,""); if (!($2+0 > 0)) print}')
  if [ -z "$bad" ] && [ "$(wc -l <"$out")" -ge 2 ]; then
    ok "$name: nonzero requests per second"
  else
    not_ok "$name: nonzero requests per second" "$(cat "$out")"
  fi
}
# bg_sub OUTFILE redis-cli-args...: background redis-cli subscriber (pid in PIDS)
bg_sub() {
  local out=$1
  shift
  timeout 120 "$CLI" -h 127.0.0.1 -p "$PORT" "$@" >"$out" 2>"$out.err" &
  PIDS+=($!)
}
# expect_msgs NAME FILE KIND COUNT: waits (bounded) until a subscriber saw COUNT messages
expect_msgs() {
  local name=$1 file=$2 kind=$3 want=$4 i
  for ((i = 0; i < 400; i++)); do
    [ "$(count_msgs "$file" "$kind")" -ge "$want" ] && break
    sleep 0.05
  done
  sleep 0.1 # anything extra would have arrived by now
  expect_eq "$name" "$want" "$(count_msgs "$file" "$kind")"
}

echo "# t_redis_benchmark: server $SERVER, $("$BENCH" --version 2>&1 | head -1)"
if ! start_server; then
  echo "t_redis_benchmark: could not start $SERVER" >&2
  exit 1
fi
echo "# server listening on 127.0.0.1:$PORT"
cli CONFIG RESETSTAT >/dev/null

# ---- PING ------------------------------------------------------------------------
bench "ping" "PING_INLINE|PING_MBULK" -t ping -n 20000 -c 20
bench "ping -P 16" "PING_INLINE|PING_MBULK" -t ping -n 50000 -c 20 -P 16
bench "ping, 100 clients" "PING_INLINE|PING_MBULK" -t ping -n 20000 -c 100 -P 4

# ---- PUBLISH with subscribers counting deliveries ---------------------------------
bg_sub "$TMP/sub.out" SUBSCRIBE bench:ch
bg_sub "$TMP/psub.out" PSUBSCRIBE 'bench:*'
wait_for "channel subscriber" 200 numsub_is bench:ch 1
wait_for "pattern subscriber" 200 numpat_is 1
expect_eq "PUBLISH reaches both subscribers" "2" "$(cli PUBLISH bench:ch first)"

total=1
bench "publish" "publish bench:ch payload" -n 20000 -c 10 publish bench:ch payload
total=$((total + 20000))
expect_msgs "channel subscriber got every message (no pipelining)" "$TMP/sub.out" message $total
expect_msgs "pattern subscriber got every message (no pipelining)" "$TMP/psub.out" pmessage $total

bench "publish -P 16" "publish bench:ch payload" -n 50000 -c 10 -P 16 publish bench:ch payload
total=$((total + 50000))
expect_msgs "channel subscriber got every message (-P 16)" "$TMP/sub.out" message $total
expect_msgs "pattern subscriber got every message (-P 16)" "$TMP/psub.out" pmessage $total

payload=$(head -c 4096 /dev/zero | tr '\0' 'x')
bench "publish 4 KiB payload, 50 clients" "publish bench:ch $payload" -n 5000 -c 50 -P 4 publish bench:ch "$payload"
total=$((total + 5000))
expect_msgs "channel subscriber got every 4 KiB message" "$TMP/sub.out" message $total
last=$(tail -1 "$TMP/sub.out")
expect_eq "last message is the 4 KiB payload" "4096" "${#last}"

pat_total=$total
bench "publish to random channels (-r)" "publish bench:r:__rand_int__ payload" \
  -n 10000 -c 10 -P 16 -r 1000 publish bench:r:__rand_int__ payload
pat_total=$((pat_total + 10000))
expect_msgs "pattern subscriber got every random-channel message" "$TMP/psub.out" pmessage $pat_total
expect_eq "channel subscriber got none of them" "$total" "$(count_msgs "$TMP/sub.out" message)"
expect_eq "every random channel matches the pattern" "0" \
  "$(awk '$0=="pmessage"{getline pat; getline ch; if (ch != "bench:ch" && !(ch ~ /^bench:r:[0-9]+$/ && length(ch) == 20)) bad++} END{print bad+0}' "$TMP/psub.out")"

bench "publish without subscribers -P 16" "publish nobody payload" -n 20000 -c 10 -P 16 publish nobody payload

# ---- the server is intact afterwards ------------------------------------------------
expect_eq "PING after the benchmarks" "PONG" "$(cli PING)"
expect_eq "PUBSUB NUMSUB bench:ch" $'bench:ch\n1' "$(cli PUBSUB NUMSUB bench:ch)"
expect_eq "PUBSUB NUMPAT" "1" "$(cli PUBSUB NUMPAT)"
expect_eq "PUBLISH still reaches both subscribers" "2" "$(cli PUBLISH bench:ch last)"
tcp=$(info_field total_commands_processed stats)
if [[ "$tcp" =~ ^[0-9]+$ ]] && [ "$tcp" -ge 215000 ]; then
  ok "INFO total_commands_processed counts the benchmark requests ($tcp)"
else
  not_ok "INFO total_commands_processed counts the benchmark requests" "got '$tcp', want >= 215000"
fi
conns=$(info_field total_connections_received stats)
if [[ "$conns" =~ ^[0-9]+$ ]] && [ "$conns" -ge 200 ]; then
  ok "INFO total_connections_received counts the benchmark clients ($conns)"
else
  not_ok "INFO total_connections_received counts the benchmark clients" "got '$conns', want >= 200"
fi
clients=$(info_field connected_clients clients)
expect_eq "benchmark clients are gone (2 subscribers + INFO)" "3" "$clients"

# ---- the server stops cleanly, without a sanitizer report -------------------
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
if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$TMP/server.log"; then
  not_ok "no sanitizer report in the server log" "$(grep -m1 -A60 -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$TMP/server.log")"
else
  ok "no sanitizer report in the server log"
fi

echo "# t_redis_benchmark: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
