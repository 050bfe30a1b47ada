#!/usr/bin/env bash
# t_redis_cli.sh - drives the server under test ($HERALD_SERVER, default
# build/herald-server) with the real redis-cli and checks its exact output:
# PING/ECHO, PUBLISH receiver counts, redis-cli SUBSCRIBE / PSUBSCRIBE /
# SSUBSCRIBE processes reading messages published by another redis-cli,
# `redis-cli -3` (RESP3), HELLO, CLIENT subcommands, INFO field names, and the
# small server commands (SELECT, DBSIZE, TIME, ROLE, CLUSTER, COMMAND, CONFIG);
# and redis-cli as a cache client: string commands with --raw / --no-raw /
# --csv output, -n <db>, -r repeats, piped commands, --pipe mass insertion,
# --scan --pattern over many keys, --bigkeys, keyspace notifications to a
# PSUBSCRIBE process, MULTI/EXEC and WATCH through pipes.
#
# The server runs on a free 127.0.0.1 port with a private temporary working
# directory; every redis-cli call is bounded by `timeout`, every wait loop by a
# count. All processes started here are killed on exit, whatever the outcome.
# Prints "ok"/"FAIL" per check and a final summary; exits 1 if any check failed.
# The shared helpers (reporting, server start/stop, redis-cli) are in
# tests/lib/testlib.sh.
set -u

# shellcheck source=../lib/testlib.sh
. "$(dirname "$0")/../lib/testlib.sh" || exit 1
tl_init "$CLI"

# expect_match NAME EXTENDED-REGEX ACTUAL
expect_match() {
  if [[ "$3" =~ $2 ]]; then ok "$1"; else
    not_ok "$1" "expected to match: $2" "actual: $(printf '%q' "$3")"
  fi
}
# expect_file NAME FILE EXPECTED-LINES...  (exact file content, one arg per line)
expect_file() {
  local name=$1 file=$2
  shift 2
  local want
  want=$(printf '%s\n' "$@")
  if [ "$(cat "$file")" == "$want" ]; then ok "$name"; else
    not_ok "$name" "expected lines:" "$(printf '%s\n' "$@" | sed 's/^/  | /')" "actual:" \
      "$(sed 's/^/  | /' "$file")"
  fi
}

# Several commands on one connection: redis-cli reads them from stdin, one per line.
cli_session() { printf '%s\n' "$@" | timeout 10 "$CLI" -h 127.0.0.1 -p "$PORT" 2>&1; }

shardnumsub_is() { [ "$(cli PUBSUB SHARDNUMSUB "$1" | sed -n 2p)" == "$2" ]; }
lines_at_least() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }

echo "# t_redis_cli: server $SERVER, $("$CLI" --version)"
start_server_or_exit

SERVER_VERSION=$(info_field redis_version server)
# CLIENT SETINFO and the lib-name/lib-ver CLIENT fields appeared in Redis 7.2.
HAS_72=0
if [[ "$SERVER_VERSION" =~ ^([0-9]+)\.([0-9]+) ]] &&
  { [ "${BASH_REMATCH[1]}" -gt 7 ] || { [ "${BASH_REMATCH[1]}" -eq 7 ] && [ "${BASH_REMATCH[2]}" -ge 2 ]; }; }; then
  HAS_72=1
fi
echo "# server reports redis_version=$SERVER_VERSION (7.2 features: $([ $HAS_72 = 1 ] && echo yes || echo no))"

# ---- basic commands ---------------------------------------------------------
expect_eq "PING" "PONG" "$(cli PING)"
expect_eq "PING with message" "hello world" "$(cli PING 'hello world')"
expect_eq "ECHO" "héllo wörld" "$(cli ECHO 'héllo wörld')"
expect_eq "ECHO empty string" "" "$(cli ECHO '')"
expect_eq "ECHO wrong arity" "ERR wrong number of arguments for 'echo' command" "$(cli ECHO)"
expect_eq "unknown command" "ERR unknown command 'nosuchcmd', with args beginning with: 'a' 'b' " \
  "$(cli nosuchcmd a b)"
expect_eq "unknown command keeps the client's spelling" "ERR unknown command 'NoSuchCmd', with args beginning with: " \
  "$(cli NoSuchCmd)"
expect_eq "SELECT 0" "OK" "$(cli SELECT 0)"
expect_eq "SELECT 15" "OK" "$(cli SELECT 15)"
expect_eq "SELECT 16 out of range" "ERR DB index is out of range" "$(cli SELECT 16)"
expect_eq "DBSIZE" "0" "$(cli DBSIZE)"
expect_eq "FLUSHALL" "OK" "$(cli FLUSHALL)"
expect_eq "FLUSHDB" "OK" "$(cli FLUSHDB)"
expect_match "TIME is two integers" $'^[0-9]{10,}\n[0-9]{1,6}$' "$(cli TIME)"
now=$(date +%s)
t=$(cli TIME | head -1)
if [[ "$t" =~ ^[0-9]+$ ]] && [ $((t - now)) -le 5 ] && [ $((now - t)) -le 5 ]; then
  ok "TIME seconds match the wall clock"
else not_ok "TIME seconds match the wall clock" "server $t, local $now"; fi
expect_eq "ROLE" $'master\n0' "$(cli ROLE)"
expect_eq "CLUSTER INFO (cluster disabled)" "ERR This instance has cluster support disabled" \
  "$(cli CLUSTER INFO)"
expect_match "COMMAND COUNT is a positive integer" '^[1-9][0-9]*$' "$(cli COMMAND COUNT)"
expect_match "COMMAND INFO publish" $'^publish\n3\n' "$(cli COMMAND INFO publish)"
expect_match "CONFIG GET maxclients" $'^maxclients\n[1-9][0-9]*$' "$(cli CONFIG GET maxclients)"
expect_eq "CONFIG RESETSTAT" "OK" "$(cli CONFIG RESETSTAT)"
expect_eq "QUIT" "OK" "$(cli QUIT)"
expect_eq "RESET" "RESET" "$(cli RESET)"
expect_eq "PING after RESET on one connection" $'RESET\nPONG' "$(cli_session RESET PING)"

# ---- PUBLISH / SUBSCRIBE / PSUBSCRIBE across redis-cli processes ------------
expect_eq "PUBLISH without subscribers" "0" "$(cli PUBLISH nobody hello)"

bg_sub "$TMP/sub.out" SUBSCRIBE ch1 ch2
SUB_PID=$LAST_PID
bg_sub "$TMP/psub.out" PSUBSCRIBE 'ch*' 'news.*'
PSUB_PID=$LAST_PID
bg_sub "$TMP/sub2.out" SUBSCRIBE ch1
SUB2_PID=$LAST_PID
wait_for "2 subscribers on ch1" 200 numsub_is ch1 2
wait_for "2 patterns" 200 numpat_is 2
wait_for "psubscribe output" 100 lines_at_least "$TMP/psub.out" 6

expect_eq "PUBSUB CHANNELS" $'ch1\nch2' "$(cli PUBSUB CHANNELS | sort)"
expect_eq "PUBSUB CHANNELS pattern" "ch2" "$(cli PUBSUB CHANNELS '*2')"
expect_eq "PUBSUB NUMSUB" $'ch1\n2\nch2\n1\nnope\n0' "$(cli PUBSUB NUMSUB ch1 ch2 nope)"
expect_eq "PUBSUB NUMSUB without channels" "" "$(cli PUBSUB NUMSUB)"
expect_eq "PUBSUB NUMPAT" "2" "$(cli PUBSUB NUMPAT)"
expect_eq "CLIENT LIST TYPE pubsub has the 3 subscribers" "3" \
  "$(cli CLIENT LIST TYPE pubsub | grep -c '^id=')"
expect_eq "INFO pubsub_channels" "2" "$(info_field pubsub_channels stats)"
expect_eq "INFO pubsub_patterns" "2" "$(info_field pubsub_patterns stats)"
expect_eq "INFO connected_clients counts subscribers" "4" "$(info_field connected_clients clients)"

expect_eq "PUBLISH ch1 reaches 2 channel + 1 pattern subscriber" "3" "$(cli PUBLISH ch1 hello)"
expect_eq "PUBLISH ch2 reaches 1 channel + 1 pattern subscriber" "2" "$(cli PUBLISH ch2 'two words')"
expect_eq "PUBLISH news.today reaches the pattern subscriber" "1" \
  "$(cli PUBLISH news.today 'quoted "text" here')"
expect_eq "PUBLISH unmatched channel" "0" "$(cli PUBLISH other x)"
expect_eq "PUBLISH empty message" "3" "$(cli PUBLISH ch1 '')"

wait_for "subscriber output" 100 lines_at_least "$TMP/sub.out" 15
wait_for "pattern subscriber output" 100 lines_at_least "$TMP/psub.out" 22
wait_for "second subscriber output" 100 lines_at_least "$TMP/sub2.out" 9
expect_file "redis-cli SUBSCRIBE output" "$TMP/sub.out" \
  subscribe ch1 1 subscribe ch2 2 \
  message ch1 hello message ch2 "two words" message ch1 ""
expect_file "redis-cli PSUBSCRIBE output" "$TMP/psub.out" \
  psubscribe 'ch*' 1 psubscribe 'news.*' 2 \
  pmessage 'ch*' ch1 hello pmessage 'ch*' ch2 "two words" \
  pmessage 'news.*' news.today 'quoted "text" here' pmessage 'ch*' ch1 ""
expect_file "second redis-cli SUBSCRIBE output" "$TMP/sub2.out" \
  subscribe ch1 1 message ch1 hello message ch1 ""

# CLIENT KILL ID of a subscriber: its redis-cli sees the connection close.
sub2_id=$(cli CLIENT LIST TYPE pubsub | grep 'sub=1 psub=0' | tail -1 | sed -n 's/^id=\([0-9]*\) .*/\1/p')
pre=$(cli CLIENT LIST TYPE pubsub | grep -c '^id=')
if [ -n "$sub2_id" ]; then
  expect_eq "CLIENT KILL ID <subscriber>" "1" "$(cli CLIENT KILL ID "$sub2_id")"
  for _ in $(seq 1 100); do kill -0 "$SUB2_PID" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$SUB2_PID" 2>/dev/null; then
    not_ok "killed subscriber's redis-cli exits"
  else
    wait "$SUB2_PID"
    rc=$?
    expect_eq "killed subscriber's redis-cli exits with status 1" "1" "$rc"
    expect_match "killed subscriber's redis-cli reports the close" 'Server closed the connection' \
      "$(cat "$TMP/sub2.out" "$TMP/sub2.out.err")"
  fi
  expect_eq "pubsub clients after CLIENT KILL" "$((pre - 1))" \
    "$(cli CLIENT LIST TYPE pubsub | grep -c '^id=')"
  wait_for "1 subscriber on ch1 after kill" 100 numsub_is ch1 1
  expect_eq "PUBSUB NUMSUB after CLIENT KILL" $'ch1\n1' "$(cli PUBSUB NUMSUB ch1)"
else
  not_ok "find the second subscriber in CLIENT LIST" "$(cli CLIENT LIST TYPE pubsub)"
fi
expect_eq "CLIENT KILL ID of unknown client" "0" "$(cli CLIENT KILL ID 999999999)"
expect_eq "CLIENT KILL <addr> of unknown client" "ERR No such client" "$(cli CLIENT KILL 127.0.0.1:1)"

# Sharded pub/sub (redis-cli knows SSUBSCRIBE is a subscribe-mode command in 7.0+).
bg_sub "$TMP/ssub.out" SSUBSCRIBE shard1
wait_for "shard subscriber" 200 shardnumsub_is shard1 1
expect_eq "PUBSUB SHARDCHANNELS" "shard1" "$(cli PUBSUB SHARDCHANNELS)"
expect_eq "PUBSUB SHARDNUMSUB" $'shard1\n1\nnone\n0' "$(cli PUBSUB SHARDNUMSUB shard1 none)"
expect_eq "SPUBLISH reaches the shard subscriber" "1" "$(cli SPUBLISH shard1 'shard msg')"
expect_eq "SPUBLISH does not reach channel subscribers" "0" "$(cli SPUBLISH ch1 x)"
expect_eq "PUBLISH does not reach shard subscribers" "0" "$(cli PUBLISH shard1 x)"
wait_for "ssubscribe output" 100 lines_at_least "$TMP/ssub.out" 6
expect_file "redis-cli SSUBSCRIBE output" "$TMP/ssub.out" ssubscribe shard1 1 smessage shard1 'shard msg'
expect_eq "INFO pubsubshard_channels" "1" "$(info_field pubsubshard_channels stats)"

# ---- RESP3 --------------------------------------------------------------------
if "$CLI" --help 2>&1 | grep -qE '^ +-3 '; then
  expect_eq "redis-cli -3 PING" "PONG" "$(cli -3 PING)"
  hello3=$(cli -3 HELLO 3)
  expect_match "redis-cli -3 HELLO 3 map" \
    $'^server [^\n]+\nversion [0-9][^\n]*\nproto 3\nid [0-9]+\nmode standalone\nrole master\nmodules $' "$hello3"
  expect_match "redis-cli -3 CLIENT INFO says resp=3" ' resp=3( |$)' "$(cli -3 CLIENT INFO)"
  expect_eq "redis-cli -3 PUBSUB NUMSUB (an array in RESP3 too)" $'ch1\n1\nch2\n1' "$(cli -3 PUBSUB NUMSUB ch1 ch2)"
  bg_sub "$TMP/sub3.out" -3 SUBSCRIBE r3
  wait_for "RESP3 subscriber" 200 numsub_is r3 1
  expect_eq "PUBLISH to the RESP3 subscriber" "1" "$(cli PUBLISH r3 'push message')"
  wait_for "RESP3 subscriber output" 100 lines_at_least "$TMP/sub3.out" 6
  expect_file "redis-cli -3 SUBSCRIBE output" "$TMP/sub3.out" subscribe r3 1 message r3 'push message'
else
  echo "# skip: this redis-cli has no -3 (RESP3) option"
fi

# ---- HELLO -----------------------------------------------------------------
expect_match "HELLO (RESP2, no arguments)" \
  $'^server\n[^\n]+\nversion\n[0-9][^\n]*\nproto\n2\nid\n[0-9]+\nmode\nstandalone\nrole\nmaster\nmodules$' \
  "$(cli HELLO)"
expect_match "HELLO 2" $'\nproto\n2\n' "$(cli HELLO 2)"
expect_match "HELLO 3 via plain redis-cli" $'\nproto 3\n' "$(cli HELLO 3)"
expect_eq "HELLO 4" "NOPROTO unsupported protocol version" "$(cli HELLO 4)"
expect_eq "HELLO 1" "NOPROTO unsupported protocol version" "$(cli HELLO 1)"
expect_eq "HELLO 3 SETNAME then CLIENT GETNAME" "hello-name" \
  "$(cli_session 'HELLO 3 SETNAME hello-name' 'CLIENT GETNAME' | tail -1)"
expect_match "HELLO 3 AUTH default <any> (nopass default user)" $'proto 3\n' \
  "$(cli HELLO 3 AUTH default whatever)"
expect_eq "HELLO 3 SETNAME with a space" \
  "ERR Client names cannot contain spaces, newlines or special characters." \
  "$(cli HELLO 3 SETNAME 'a b')"

# ---- CLIENT ----------------------------------------------------------------
expect_match "CLIENT ID" '^[1-9][0-9]*$' "$(cli CLIENT ID)"
sess=$(cli_session 'CLIENT ID' 'CLIENT SETNAME cli-test' 'CLIENT GETNAME' 'CLIENT INFO' \
  'CLIENT NO-EVICT on' 'CLIENT NO-EVICT off' 'CLIENT REPLY ON' 'CLIENT SETNAME ""' 'CLIENT GETNAME' \
  'CLIENT SETNAME cli-test' 'CLIENT LIST')
my_id=$(sed -n 1p <<<"$sess")
expect_eq "CLIENT SETNAME" "OK" "$(sed -n 2p <<<"$sess")"
expect_eq "CLIENT GETNAME" "cli-test" "$(sed -n 3p <<<"$sess")"
expect_match "CLIENT INFO has this id and name" "^id=$my_id addr=127\\.0\\.0\\.1:[0-9]+ laddr=127\\.0\\.0\\.1:$PORT fd=[0-9]+ name=cli-test age=[0-9]+ idle=[0-9]+ flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 " \
  "$(sed -n 4p <<<"$sess")"
# Redis 7.2 appends " lib-name=... lib-ver=..." after resp=.
if [ $HAS_72 = 1 ]; then tail_re=' cmd=client\|info user=default redir=-1 resp=2 lib-name= lib-ver=$'
else tail_re=' cmd=client\|info user=default redir=-1 resp=2$'; fi
expect_match "CLIENT INFO ends with cmd/user/redir/resp[/lib-name/lib-ver]" "$tail_re" "$(sed -n 4p <<<"$sess")"
expect_eq "CLIENT NO-EVICT on/off, REPLY ON, SETNAME \"\" and GETNAME" $'OK\nOK\nOK\nOK\n\nOK' \
  "$(sed -n 5,10p <<<"$sess")"
expect_eq "CLIENT LIST shows the named client" "1" \
  "$(sed -n '11,$p' <<<"$sess" | grep -c "^id=$my_id .* name=cli-test .* cmd=client|list ")"
expect_eq "CLIENT SETNAME with a space" "ERR Client names cannot contain spaces, newlines or special characters." \
  "$(cli CLIENT SETNAME 'a b')"
expect_eq "CLIENT GETNAME without a name" "" "$(cli CLIENT GETNAME)"
expect_eq "CLIENT NO-EVICT bad argument" "ERR syntax error" "$(cli CLIENT NO-EVICT maybe)"
ssub_id=$(cli CLIENT LIST TYPE pubsub | grep ' ssub=1 ' | sed -n 's/^id=\([0-9]*\) .*/\1/p')
expect_match "CLIENT LIST ID <shard subscriber>" "^id=$ssub_id .* sub=0 psub=0 ssub=1 .* cmd=ssubscribe " \
  "$(cli CLIENT LIST ID "$ssub_id" 1000000)"
expect_eq "CLIENT LIST ID of unknown ids is empty" "" "$(cli CLIENT LIST ID 1000000 2000000)"
expect_eq "CLIENT LIST ID with a non-number" "ERR Invalid client ID" "$(cli CLIENT LIST ID abc)"
if [ $HAS_72 = 1 ]; then
  sess=$(cli_session 'CLIENT SETINFO lib-name herald-cli-test' 'CLIENT SETINFO lib-ver 1.2.3' 'CLIENT INFO' \
    'CLIENT SETINFO lib-name "bad name"' 'CLIENT SETINFO nosuchattr x' | grep -v '^$')
  # (redis-cli prints an empty line after each error reply in this mode; dropped above)
  expect_eq "CLIENT SETINFO lib-name / lib-ver" $'OK\nOK' "$(sed -n 1,2p <<<"$sess")"
  expect_match "CLIENT INFO shows lib-name and lib-ver" ' lib-name=herald-cli-test lib-ver=1\.2\.3$' \
    "$(sed -n 3p <<<"$sess")"
  expect_eq "CLIENT SETINFO lib-name with a space" \
    "ERR lib-name cannot contain spaces, newlines or special characters." "$(sed -n 4p <<<"$sess")"
  expect_eq "CLIENT SETINFO unknown attribute" "ERR Unrecognized option 'nosuchattr'" "$(sed -n 5p <<<"$sess")"
else
  echo "# skip: CLIENT SETINFO (server reports $SERVER_VERSION < 7.2)"
fi

# ---- INFO ------------------------------------------------------------------
info=$(cli INFO | tr -d '\r')
for section in Server Clients Memory Stats; do
  expect_match "INFO has section # $section" "(^|"$'\n'")# $section("$'\n'"|$)" "$info"
done
for field in redis_version connected_clients pubsub_channels pubsub_patterns pubsubshard_channels \
  total_commands_processed total_connections_received used_memory uptime_in_seconds tcp_port; do
  expect_match "INFO field $field" "(^|"$'\n'")$field:[^"$'\n'"]+" "$info"
done
expect_eq "INFO tcp_port is our port" "$PORT" "$(sed -n 's/^tcp_port://p' <<<"$info")"
expect_match "INFO used_memory is a positive integer" '^[1-9][0-9]*$' "$(sed -n 's/^used_memory://p' <<<"$info")"
expect_match "INFO total_commands_processed is a positive integer" '^[1-9][0-9]*$' \
  "$(sed -n 's/^total_commands_processed://p' <<<"$info")"
expect_match "INFO lines end with CRLF" $'^# Server\r\nredis_version:' "$(cli INFO server)"
infos=$(cli INFO server | tr -d '\r')
expect_match "INFO server has redis_version" $'(^|\n)redis_version:' "$infos"
if grep -qE '^(connected_clients|used_memory|pubsub_channels):' <<<"$infos"; then
  not_ok "INFO server has only the server section" "$infos"
else ok "INFO server has only the server section"; fi
expect_eq "INFO stats begins with its header" "# Stats" "$(cli INFO stats | tr -d '\r' | head -1)"
expect_match "INFO clients has connected_clients" $'^# Clients\nconnected_clients:[0-9]+' \
  "$(cli INFO clients | tr -d '\r')"

# ---- unsubscribing ends in zero subscriptions ----------------------------------
kill "$SUB_PID" "$PSUB_PID" 2>/dev/null
wait_for "subscribers gone" 200 numsub_is ch1 0
wait_for "patterns gone" 200 numpat_is 0
expect_eq "PUBLISH after subscribers left" "0" "$(cli PUBLISH ch1 bye)"
expect_eq "server still answers" "PONG" "$(cli PING)"

# ---- redis-cli as a cache client -----------------------------------------------
# What people type at a cache: string commands, -n <db>, --raw / --no-raw /
# --csv output, commands piped in, --pipe mass insertion, -r repeats, --scan,
# --bigkeys, keyspace notifications and MULTI/EXEC/WATCH through a pipe.
key_gone() { [ "$(cli EXISTS "$1")" == "0" ]; }
commands_processed() { info_field total_commands_processed stats; }

expect_eq "cache: FLUSHALL" "OK" "$(cli FLUSHALL)"
expect_eq "cache: SET / GET" $'OK\nalice' "$(cli SET user:1 alice; cli GET user:1)"
expect_eq "cache: GET of a missing key (raw: empty line)" "" "$(cli GET user:none)"
expect_eq "cache: SETEX" "OK" "$(cli SETEX session:1 100 data)"
expect_match "cache: TTL after SETEX 100" '^(99|100)$' "$(cli TTL session:1)"
expect_eq "cache: TTL of a key without expiry / missing key" $'-1\n-2' "$(cli TTL user:1; cli TTL user:none)"
expect_eq "cache: SETEX 0" "ERR invalid expire time in 'setex' command" "$(cli SETEX session:2 0 data | grep -v '^$')"
expect_eq "cache: INCR / INCRBY / DECR" $'1\n11\n10' "$(cli INCR hits; cli INCRBY hits 10; cli DECR hits)"
expect_eq "cache: INCR of a non-integer" "ERR value is not an integer or out of range" \
  "$(cli INCR user:1 | grep -v '^$')"
expect_eq "cache: MSET" "OK" "$(cli MSET k:a 1 k:b 2 k:c 3)"
expect_eq "cache: MGET with a missing key (raw)" $'1\n\n3' "$(cli MGET k:a k:none k:c)"
expect_eq "cache: --raw GET of a missing key" "" "$(cli --raw GET user:none)"
expect_eq "cache: --no-raw GET of a missing key" "(nil)" "$(cli --no-raw GET user:none)"
expect_eq "cache: --no-raw GET" '"alice"' "$(cli --no-raw GET user:1)"
expect_eq "cache: --raw / --no-raw TTL of a missing key" $'-2\n(integer) -2' \
  "$(cli --raw TTL user:none; cli --no-raw TTL user:none)"
expect_match "cache: --no-raw TTL" '^\(integer\) (99|100)$' "$(cli --no-raw TTL session:1)"
expect_eq "cache: --no-raw MGET with a missing key" $'1) "1"\n2) (nil)\n3) "3"' "$(cli --no-raw MGET k:a k:none k:c)"
expect_eq "cache: --no-raw MGET of missing keys only" $'1) (nil)\n2) (nil)' "$(cli --no-raw MGET k:x k:y)"
expect_eq "cache: --csv MGET with a missing key" '"1",NULL,"3"' "$(cli --csv MGET k:a k:none k:c)"
cli SET csv:q 'say "hi", ok' >/dev/null
expect_eq "cache: --csv GET quotes and escapes" '"say \"hi\", ok"' "$(cli --csv GET csv:q)"
expect_eq "cache: --csv INCR / GET of a missing key" $'11\nNULL' "$(cli --csv INCR hits; cli --csv GET user:none)"
expect_eq "cache: -r 5 INCR" $'1\n2\n3\n4\n5' "$(cli -r 5 INCR counter)"
expect_eq "cache: GET after -r 5 INCR" "5" "$(cli GET counter)"
expect_eq "cache: commands piped into redis-cli" $'OK\n2' "$(printf 'SET a 1\nINCR a\n' | timeout 10 "$CLI" -h 127.0.0.1 -p "$PORT" 2>&1)"
expect_eq "cache: a piped session (INCRBY, EXPIRE, TTL, DEL)" $'OK\n10\n1\n60\n10\n1\n\n0' \
  "$(cli_session 'SET pc 5' 'INCRBY pc 5' 'EXPIRE pc 60' 'TTL pc' 'GET pc' 'DEL pc' 'GET pc' 'EXISTS pc')"
expect_eq "cache: TYPE / EXISTS / DEL / UNLINK" $'string\nnone\n2\n1\n1' \
  "$(cli TYPE k:a; cli TYPE k:none; cli EXISTS k:a k:b k:none; cli DEL k:a; cli UNLINK k:b)"
expect_eq "cache: SET NX / XX GET" $'OK\n\nv1\nv2' \
  "$(cli SET nx:k v1 EX 100 NX; cli SET nx:k other NX; cli SET nx:k v2 XX GET; cli GET nx:k)"
expect_eq "cache: RENAME" $'OK\n\nalice' "$(cli RENAME user:1 user:2; cli GET user:1; cli GET user:2)"

# -n <db>: every call selects the database first.
expect_eq "cache: -n 3 SET / GET" $'OK\nin-three' "$(cli -n 3 SET dbkey in-three; cli -n 3 GET dbkey)"
expect_eq "cache: db 0 does not see db 3's key" "" "$(cli GET dbkey)"
expect_eq "cache: -n 3 DBSIZE / KEYS" $'1\ndbkey' "$(cli -n 3 DBSIZE; cli -n 3 KEYS '*')"
expect_eq "cache: -n 3 --scan" "dbkey" "$(cli -n 3 --scan)"
expect_eq "cache: MOVE to db 4, SWAPDB 3 4" $'1\nOK\n\nin-three' \
  "$(cli -n 3 MOVE dbkey 4; cli SWAPDB 3 4; cli -n 4 GET dbkey; cli -n 3 GET dbkey)"
expect_eq "cache: -n 3 FLUSHDB leaves db 0 alone" $'OK\n0\n5' "$(cli -n 3 FLUSHDB; cli -n 3 DBSIZE; cli GET counter)"
expect_match "cache: -n 16" 'SELECT 16 failed: ERR DB index is out of range' "$(cli -n 16 GET counter)"

# redis-cli --scan: SCAN with a cursor until it comes back to 0, MATCH user:*.
cli FLUSHALL >/dev/null
{ for i in $(seq 1 500); do echo "SET user:$i v$i"; done; for i in $(seq 1 100); do echo "SET session:$i s$i"; done; } |
  timeout 20 "$CLI" -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1
expect_eq "cache: 600 keys written through a pipe" "600" "$(cli DBSIZE)"
before=$(commands_processed)
scanned=$(cli --scan --pattern 'user:*' | sort)
after=$(commands_processed)
expect_eq "cache: --scan --pattern 'user:*' returns each of the 500 keys once" \
  "$(seq 1 500 | sed 's/^/user:/' | sort)" "$scanned"
if [[ "$before" =~ ^[0-9]+$ ]] && [[ "$after" =~ ^[0-9]+$ ]] && [ $((after - before)) -ge 10 ]; then
  ok "cache: --scan took several SCAN calls"
else not_ok "cache: --scan took several SCAN calls" "total_commands_processed $before -> $after"; fi
expect_eq "cache: --scan without a pattern returns all 600 keys" "600" "$(cli --scan | sort -u | wc -l)"

# redis-cli --pipe: mass insertion of 10000 SETs in the protocol.
cli FLUSHALL >/dev/null
awk 'BEGIN { for (i = 0; i < 10000; i++) { k = "pipe:" i; v = "value-" i;
  printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v } }' >"$TMP/mass.resp"
piped=$(timeout 60 "$CLI" -h 127.0.0.1 -p "$PORT" --pipe <"$TMP/mass.resp" 2>&1)
expect_match "cache: --pipe of 10000 SETs" $'(^|\n)errors: 0, replies: 10000$' "$piped"
expect_eq "cache: DBSIZE after --pipe" "10000" "$(cli DBSIZE)"
expect_eq "cache: GET of the first and last --pipe keys" $'value-0\nvalue-9999' "$(cli MGET pipe:0 pipe:9999)"
expect_eq "cache: --scan --pattern 'pipe:99*' among 10000 keys" \
  "$( (echo pipe:99; seq 990 999; seq 9900 9999) | sed 's/^[0-9]/pipe:&/' | sort)" \
  "$(cli --scan --pattern 'pipe:99*' | sort)"
piped=$(printf 'SET p1 1\r\nINCR p1\r\nINCR p1 extra\r\nSET p2 hello\r\n' |
  timeout 20 "$CLI" -h 127.0.0.1 -p "$PORT" --pipe 2>&1)
expect_match "cache: --pipe counts an error reply" $'(^|\n)errors: 1, replies: 4$' "$piped"

# redis-cli --bigkeys: SCAN, TYPE and STRLEN of every key.
cli FLUSHALL >/dev/null
cli_session 'SET small x' 'SET mid 0123456789' "SET big $(printf '%01000d' 0)" 'INCR n' >/dev/null
big=$(timeout 20 "$CLI" -h 127.0.0.1 -p "$PORT" --bigkeys 2>&1)
expect_eq "cache: --bigkeys summary" \
  "$(printf '%s\n' '' 'Sampled 4 keys in the keyspace!' 'Total key length in bytes is 12 (avg len 3.00)' '' \
    "Biggest string found '\"big\"' has 1000 bytes" '' \
    '0 lists with 0 items (00.00% of keys, avg size 0.00)' \
    '0 hashs with 0 fields (00.00% of keys, avg size 0.00)' \
    '4 strings with 1012 bytes (100.00% of keys, avg size 253.00)' \
    '0 streams with 0 entries (00.00% of keys, avg size 0.00)' \
    '0 sets with 0 members (00.00% of keys, avg size 0.00)' \
    '0 zsets with 0 members (00.00% of keys, avg size 0.00)')" \
  "$(sed -n '/^-------- summary -------$/,$p' <<<"$big" | tail -n +2)"
expect_match "cache: --bigkeys finds the biggest string" $'\\[[0-9.]+%\\] Biggest string found so far \'"big"\' with 1000 bytes' "$big"
if grep -qi 'warning\|error' <<<"$big"; then not_ok "cache: --bigkeys without warnings" "$big"
else ok "cache: --bigkeys without warnings"; fi

# redis-cli --memkeys: MEMORY USAGE of every key (byte counts are the
# allocator's, so only the shape and the biggest key are checked).
mem=$(timeout 20 "$CLI" -h 127.0.0.1 -p "$PORT" --memkeys 2>&1)
expect_match "cache: --memkeys finds the biggest string" $'Biggest string found \'"big"\' has [0-9]+ bytes' "$mem"
expect_match "cache: --memkeys sums 4 strings" $'(^|\n)4 strings with [1-9][0-9]* bytes' "$mem"
if grep -qi 'warning\|error' <<<"$mem"; then not_ok "cache: --memkeys without warnings" "$mem"
else ok "cache: --memkeys without warnings"; fi

# Keyspace notifications to a redis-cli PSUBSCRIBE '__key*__:*' process.
cli FLUSHALL >/dev/null
expect_eq "cache: CONFIG SET notify-keyspace-events KEA" "OK" "$(cli CONFIG SET notify-keyspace-events KEA)"
expect_eq "cache: CONFIG GET notify-keyspace-events" $'notify-keyspace-events\nAKE' \
  "$(cli CONFIG GET notify-keyspace-events)"
bg_sub "$TMP/keyspace.out" PSUBSCRIBE '__key*__:*'
KS_PID=$LAST_PID
wait_for "keyspace subscriber" 200 numpat_is 1
wait_for "keyspace psubscribe output" 100 lines_at_least "$TMP/keyspace.out" 3
cli SET user:1 a >/dev/null
cli EXPIRE user:1 100 >/dev/null
cli INCR hits >/dev/null
cli DEL user:1 >/dev/null
cli -n 2 SET x 1 >/dev/null
cli SET tmp 1 PX 50 >/dev/null
wait_for "tmp expired" 100 key_gone tmp
wait_for "keyspace notifications" 100 lines_at_least "$TMP/keyspace.out" 59
expect_file "cache: keyspace and keyevent notifications" "$TMP/keyspace.out" \
  psubscribe '__key*__:*' 1 \
  pmessage '__key*__:*' '__keyspace@0__:user:1' set pmessage '__key*__:*' '__keyevent@0__:set' user:1 \
  pmessage '__key*__:*' '__keyspace@0__:user:1' expire pmessage '__key*__:*' '__keyevent@0__:expire' user:1 \
  pmessage '__key*__:*' '__keyspace@0__:hits' incrby pmessage '__key*__:*' '__keyevent@0__:incrby' hits \
  pmessage '__key*__:*' '__keyspace@0__:user:1' del pmessage '__key*__:*' '__keyevent@0__:del' user:1 \
  pmessage '__key*__:*' '__keyspace@2__:x' set pmessage '__key*__:*' '__keyevent@2__:set' x \
  pmessage '__key*__:*' '__keyspace@0__:tmp' set pmessage '__key*__:*' '__keyevent@0__:set' tmp \
  pmessage '__key*__:*' '__keyspace@0__:tmp' expire pmessage '__key*__:*' '__keyevent@0__:expire' tmp \
  pmessage '__key*__:*' '__keyspace@0__:tmp' expired pmessage '__key*__:*' '__keyevent@0__:expired' tmp
kill "$KS_PID" 2>/dev/null
wait_for "keyspace subscriber gone" 200 numpat_is 0
expect_eq "cache: notify-keyspace-events off again" "OK" "$(cli CONFIG SET notify-keyspace-events '')"

# MULTI/EXEC through a pipe; WATCH with a write from another redis-cli.
cli FLUSHALL >/dev/null
expect_eq "cache: MULTI/EXEC piped" $'OK\nQUEUED\nQUEUED\nQUEUED\nQUEUED\nOK\n2\n1\n2' \
  "$(printf 'MULTI\nSET tx:a 1\nINCR tx:a\nINCR tx:b\nGET tx:a\nEXEC\n' | timeout 10 "$CLI" -h 127.0.0.1 -p "$PORT" 2>&1)"
expect_eq "cache: MULTI/EXEC with a failing INCR runs the rest" \
  $'OK\nQUEUED\nQUEUED\nQUEUED\nOK\nERR value is not an integer or out of range\n\nabc' \
  "$(cli_session MULTI 'SET tx:s abc' 'INCR tx:s' 'GET tx:s' EXEC)"
expect_eq "cache: MULTI with an unknown command aborts EXEC" \
  "OK|QUEUED|ERR unknown command 'NOSUCH', with args beginning with: |EXECABORT Transaction discarded because of previous errors.|2" \
  "$(cli_session MULTI 'SET tx:a 9' NOSUCH EXEC 'GET tx:a' | grep -v '^$' | paste -sd'|')"
expect_eq "cache: MULTI/DISCARD" $'OK\nQUEUED\nOK\n2' "$(cli_session MULTI 'SET tx:a 7' DISCARD 'GET tx:a')"
expect_eq "cache: WATCH of an untouched key, EXEC runs" $'OK\nOK\nQUEUED\nOK\nmine' \
  "$(cli_session 'WATCH w:1' MULTI 'SET w:1 mine' EXEC 'GET w:1')"
# The watching redis-cli reads its commands from a FIFO: WATCH, then (once the
# server has run it) another redis-cli writes the key, then MULTI/SET/EXEC.
mkfifo "$TMP/watch.fifo"
timeout 20 "$CLI" -h 127.0.0.1 -p "$PORT" <"$TMP/watch.fifo" >"$TMP/watch.out" 2>&1 &
WATCH_PID=$!
PIDS+=("$WATCH_PID")
exec 7<>"$TMP/watch.fifo"
printf 'CLIENT SETNAME watcher\nWATCH w:2\n' >&7
watcher_ran_watch() { cli CLIENT LIST | grep -q ' name=watcher .* cmd=watch '; }
wait_for "the watcher's WATCH" 200 watcher_ran_watch
cli SET w:2 theirs >/dev/null
printf 'MULTI\nSET w:2 mine\nEXEC\nGET w:2\n' >&7
exec 7>&-
for _ in $(seq 1 200); do kill -0 "$WATCH_PID" 2>/dev/null || break; sleep 0.05; done
expect_file "cache: WATCH, another client's SET, EXEC returns nil" "$TMP/watch.out" OK OK OK QUEUED '' theirs

# ---- the server stops cleanly, without a sanitizer report -------------------
stop_server_and_check_log

echo "# t_redis_cli: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
