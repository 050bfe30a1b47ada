/*
 * tracking.h - server-assisted client-side caching (CLIENT TRACKING), with
 * Redis 7.2's semantics.
 *
 * Two tables, both global to the server (keys by name, databases ignored,
 * as in Redis):
 *  - the tracking table: key -> the ids of the connections that read it
 *    while tracking in the default mode (and OPTIN/OPTOUT). Ids, not
 *    pointers: a connection that went away costs nothing until one of its
 *    keys changes, and is then skipped. A key's entry is dropped as soon as
 *    the key is invalidated, so the table holds only keys that some client
 *    may still cache.
 *  - the prefix table (BCAST mode): prefix -> the ids of the connections
 *    subscribed to it, and the keys with that prefix changed since the last
 *    broadcast (each with the id of the connection that changed it last,
 *    for NOLOOP). hr_tracking_before_sleep sends them, one message per
 *    prefix and connection, keys in byte order.
 *
 * Delivery: an invalidation for connection c goes to c itself (RESP3 push
 * ">2 invalidate [keys]") or to its REDIRECT target (a push when the target
 * speaks RESP3; a "message" on __redis__:invalidate when it speaks RESP2 and
 * has a subscription; nothing otherwise). A redirect target that no longer
 * exists sets HR_TRACK_BROKEN_REDIR and, for a RESP3 c, sends it the
 * "tracking-redir-broken" push instead. Messages are shared refcounted
 * frames queued with hr_conn_push (so they follow the running command's
 * reply and ignore CLIENT REPLY OFF/SKIP).
 *
 * Threading: like the rest of the server core, single-threaded.
 */
#ifndef HR_TRACKING_H
#define HR_TRACKING_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

struct hr_tracking;

/* An empty tracking state; the caller owns it (hr_tracking_free). */
struct hr_tracking *hr_tracking_new(void);
/* Frees t and everything it holds (NULL is a no-op). Connections' own
 * prefix sets are not touched: disable tracking on each connection first. */
void hr_tracking_free(struct hr_tracking *t);

/* A key changed (every write, expiry and eviction, through
 * hr_signal_modified_key; c is the writer, NULL for expiry and eviction).
 * Sends the invalidation to every connection id that read the key and still
 * tracks it in the default mode, except the connection executing the
 * current command when it has NOLOOP; then forgets the key. With bcast, the
 * key is also recorded for the next broadcast of every matching prefix.
 * key is borrowed. */
void hr_tracking_invalidate_key(hr_server *s, hr_conn *c, const char *key, size_t klen, bool bcast);

/* FLUSHALL / FLUSHDB: sends the "everything" (null) invalidation to every
 * tracking connection and empties the tracking table. */
void hr_tracking_invalidate_all(hr_server *s);

/* Called by the dispatcher after every command c sent:
 *  - executed commands (argv non-NULL), including each command run by EXEC
 *    (with HR_CONN_IN_EXEC set): when c tracks in the default/OPTIN/OPTOUT
 *    mode and cmd (the subcommand, for containers) is HR_CMD_READONLY, its
 *    keys (cmd->first_key / last_key / key_step) are remembered for c,
 *    following the OPTIN/OPTOUT and CLIENT CACHING rules. A command queued
 *    by MULTI (HR_CONN_MULTI without HR_CONN_IN_EXEC) remembers nothing.
 *  - rejected commands (unknown command or subcommand, wrong arity, OOM,
 *    RESP2 subscribed mode, ...): call with argv NULL and cmd the resolved
 *    (sub)command, NULL when the command or the subcommand is unknown
 *    (Redis clears the CACHING flag after those too).
 * Then, as Redis does after every command, the CLIENT CACHING flag is
 * cleared, except while a transaction is open or running (HR_CONN_MULTI or
 * HR_CONN_IN_EXEC: it then covers the whole transaction) and except after a
 * CLIENT subcommand. For EXEC / DISCARD themselves, call it after the
 * transaction flags are cleared. */
void hr_tracking_after_command(hr_conn *c, const hr_command *cmd, int argc, hr_arg *argv);

/* Before the event loop sleeps: enforces tracking-table-max-keys (evicting
 * random keys, invalidated as if modified but not broadcast, with an effort
 * that grows while the table stays over the limit), then sends the BCAST
 * invalidations collected since the last call. */
void hr_tracking_before_sleep(hr_server *s);

/* Turns tracking off for c (CLIENT TRACKING OFF, RESET, and before c is
 * freed): drops c from the prefix table, frees c->tracking_prefixes and
 * clears c->tflags. Its ids in the tracking table are left to be skipped
 * lazily. Safe to call when c does not track. */
void hr_tracking_disable(hr_conn *c);

/* INFO fields: tracking_clients (Clients section), tracking_total_keys,
 * tracking_total_items (ids summed over keys), tracking_total_prefixes. */
long long hr_tracking_clients(const hr_server *s);
long long hr_tracking_total_keys(const hr_server *s);
long long hr_tracking_total_items(const hr_server *s);
long long hr_tracking_total_prefixes(const hr_server *s);


/* The redir= field of CLIENT LIST / CLIENT INFO (and CLIENT GETREDIR): the
 * redirect id while tracking (0 for none), -1 when tracking is off. */
long long hr_tracking_redirect_id(const hr_conn *c);

#endif
