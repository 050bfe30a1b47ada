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
# The shared helpers (reporting, server start/stop, redis-cli) are in
# tests/lib/testlib.sh.
set -u

# shellcheck source=../lib/testlib.sh
. "$(dirname "$0")/../lib/testlib.sh" || exit 1
BENCH=${REDIS_BENCHMARK:-redis-benchmark}
BG_SUB_TIMEOUT=120
tl_init "$CLI" "$BENCH"

# count_msgs FILE KIND: messages of KIND (message/pmessage) a redis-cli subscriber printed
count_msgs() { grep -cx "$2" "$1" 2>/dev/null || true; }
msgs_reach() { [ "$(count_msgs "$1" "$2")" -ge "$3" ]; }

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
start_server_or_exit
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
stop_server_and_check_log

echo "# t_redis_benchmark: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
