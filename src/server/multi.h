/*
 * multi.h - transactions (MULTI / EXEC / DISCARD) and optimistic locking
 * (WATCH / UNWATCH), as in Redis 7.2.
 *
 * State: c->multi (an hr_multi, private to multi.c) holds the commands queued
 * since MULTI, each with its own copy of its arguments, and the (db, key)
 * pairs the connection watches. It is allocated by MULTI or WATCH and freed
 * once the connection is neither in a transaction nor watching anything, so
 * c->multi == NULL costs nothing.
 *
 * Watchers: each database's `watched` dict maps a key to the connections
 * watching it in that database (the dict's val is multi.c's list head; the
 * entry is deleted with its last watcher). A connection watches a key at
 * most once per database.
 *
 * Invalidation (Redis's rules): a change to a watched key sets
 * HR_CONN_DIRTY_CAS on every watcher (and drops their watches: the
 * transaction is lost anyway). A key that was already logically expired
 * when watched is "absent": its deletion by expiry is no change. EXEC also
 * aborts when a key that was live when watched has expired since.
 *
 * Connection flags: HR_CONN_MULTI (queueing), HR_CONN_DIRTY_CAS (a watched
 * key changed: EXEC replies a null array), HR_CONN_DIRTY_EXEC (a command was
 * rejected while queueing: EXEC replies EXECABORT), HR_CONN_IN_EXEC (EXEC is
 * running the queued commands).
 */
#ifndef HR_MULTI_H
#define HR_MULTI_H

#include "db.h"
#include "server.h"

/* Dispatcher: c is in MULTI and cmd (found and arity-checked, not NO_MULTI)
 * is queued with a copy of argv (borrowed); replies +QUEUED. A transaction
 * that is already doomed (DIRTY_CAS / DIRTY_EXEC) keeps nothing, as in
 * Redis, but still answers +QUEUED. */
void hr_multi_queue(hr_conn *c, const hr_command *cmd, int argc, hr_arg *argv);

/* Dispatcher: EXEC itself was rejected (wrong arity, OOM, ...) while c is in
 * MULTI. Replies "-EXECABORT Transaction discarded because of: <why>" and
 * discards the transaction (and the watches). why is the error text as it
 * would have been replied, without the leading '-'; a leading "ERR " is
 * dropped as Redis does. */
void hr_multi_exec_abort(hr_conn *c, const char *why);

/* HR_CMD_* flags of the queued commands OR-ed together (0 when none), e.g.
 * for rejecting EXEC over maxmemory when it would run a denyoom command. */
int hr_multi_queued_flags(const hr_conn *c);

/* db.c (hr_signal_modified_key): key changed in db; every connection
 * watching it gets HR_CONN_DIRTY_CAS. Cheap when nothing is watched. */
void hr_multi_touch_key(hr_server *s, hr_db *db, const char *key, size_t klen);

/* db.c, before FLUSHDB / FLUSHALL (replaced_with NULL) and SWAPDB (called
 * once per direction, before the contents are exchanged): flags the watchers
 * of every key watched in `emptied` that exists there or in replaced_with,
 * keeping Redis's handling of keys that were already expired. The databases'
 * `watched` dicts themselves must stay in place (not swapped). */
void hr_multi_touch_all_in_db(hr_server *s, hr_db *emptied, hr_db *replaced_with);

/* conn.c (close) / RESET: discards the transaction, unwatches everything,
 * clears MULTI / DIRTY_CAS / DIRTY_EXEC and frees c->multi. */
void hr_multi_reset(hr_conn *c);

/* CLIENT LIST: multi= (queued commands, -1 outside MULTI) and watch=
 * (watched keys). */
long long hr_multi_queued(const hr_conn *c);
long long hr_multi_watched(const hr_conn *c);

#endif
