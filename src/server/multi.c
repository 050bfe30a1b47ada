/*
 * multi.c - MULTI, EXEC, DISCARD, WATCH, UNWATCH and the WATCH bookkeeping
 * the keyspace calls into (see multi.h for the model).
 *
 * Structures: a watch is one hr_wkey, owned by its connection (listed in
 * c->multi->keys) and linked into the watchers list of its key, whose head
 * is the val of the key's entry in db->watched. The hr_wkey remembers that
 * entry (dict entries never move), so unwatching is O(1) per key and the
 * entry is deleted when its list empties.
 *
 * Queued commands keep one allocation each: the hr_arg array followed by
 * the NUL-terminated argument bytes (argv of the dispatcher points into the
 * input buffer and does not outlive the call).
 */
#include "multi.h"
#include "alloc.h"
#include "cmds.h"

#include <string.h>

typedef struct hr_wkey hr_wkey;
struct hr_wkey {
    hr_conn *c;
    hr_db *db;
    hr_dict_entry *de;    /* the key's entry in db->watched (key bytes there) */
    hr_wkey *prev, *next; /* the key's watchers */
    bool expired;         /* logically expired when watched: counts as absent */
};

typedef struct queued_cmd {
    const hr_command *cmd;
    int argc;
    hr_arg *argv; /* argv[argc] followed by the bytes, one allocation */
} queued_cmd;

struct hr_multi {
    queued_cmd *cmds;
    size_t ncmds, capcmds;
    int cmd_flags;     /* OR of the queued commands' flags */
    long long running; /* while EXEC runs: its command count, else -1 */
    hr_wkey **keys;
    size_t nkeys, capkeys;
};

static hr_multi *multi_get(hr_conn *c)
{
    if (!c->multi) {
        c->multi = hr_calloc(1, sizeof(hr_multi));
        c->multi->running = -1;
    }
    return c->multi;
}

static void free_queue(queued_cmd *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hr_free(cmds[i].argv);
    hr_free(cmds);
}

/* Frees c->multi once nothing is left in it. */
static void multi_maybe_free(hr_conn *c)
{
    hr_multi *m = c->multi;
    if (!m || (c->flags & HR_CONN_MULTI) || m->nkeys || m->ncmds || m->running >= 0) return;
    hr_free(m->cmds);
    hr_free(m->keys);
    hr_free(m);
    c->multi = NULL;
}

/* --- watched keys --- */

/* Whether key is in db's dict but logically expired (not deleted yet), by
 * the keyspace's own rule. No side effects. */
static bool key_expired(hr_server *s, hr_db *db, const char *key, size_t klen)
{
    if (!hr_dict_find(&db->keys, key, klen)) return false;
    int fl = HR_LOOKUP_NOTOUCH | HR_LOOKUP_NOSTATS | HR_LOOKUP_NONOTIFY | HR_LOOKUP_NOEXPIRE;
    return hr_db_lookup_entry(s, db, key, klen, fl) == NULL;
}

static void unlink_wkey(hr_wkey *wk)
{
    if (wk->prev)
        wk->prev->next = wk->next;
    else
        wk->de->val = wk->next;
    if (wk->next) wk->next->prev = wk->prev;
    if (!wk->de->val) hr_dict_delete_entry(&wk->db->watched, wk->de);
    hr_free(wk);
}

static void unwatch_all(hr_conn *c)
{
    hr_multi *m = c->multi;
    if (!m) return;
    for (size_t i = 0; i < m->nkeys; i++)
        unlink_wkey(m->keys[i]);
    m->nkeys = 0;
    hr_free(m->keys);
    m->keys = NULL;
    m->capkeys = 0;
}

static void watch_key(hr_conn *c, hr_db *db, const char *key, size_t klen)
{
    int created;
    hr_dict_entry *de = hr_dict_upsert(&db->watched, key, klen, &created);
    if (!created)
        for (hr_wkey *w = de->val; w; w = w->next)
            if (w->c == c) return;
    hr_multi *m = multi_get(c);
    if (m->nkeys == m->capkeys) {
        m->capkeys = m->capkeys ? m->capkeys * 2 : 8;
        m->keys = hr_realloc(m->keys, m->capkeys * sizeof(*m->keys));
    }
    hr_wkey *wk = hr_malloc(sizeof(*wk));
    wk->c = c;
    wk->db = db;
    wk->de = de;
    wk->prev = NULL;
    wk->next = de->val;
    if (wk->next) wk->next->prev = wk;
    de->val = wk;
    wk->expired = key_expired(c->srv, db, key, klen);
    m->keys[m->nkeys++] = wk;
}

/* EXEC: a key that was live when watched and is logically expired now. */
static bool watched_key_expired(hr_conn *c)
{
    hr_multi *m = c->multi;
    if (!m) return false;
    for (size_t i = 0; i < m->nkeys; i++) {
        hr_wkey *wk = m->keys[i];
        if (!wk->expired && key_expired(c->srv, wk->db, wk->de->key, wk->de->klen)) return true;
    }
    return false;
}

void hr_multi_touch_key(hr_server *s, hr_db *db, const char *key, size_t klen)
{
    if (hr_dict_size(&db->watched) == 0) return;
    hr_dict_entry *de = hr_dict_find(&db->watched, key, klen);
    if (!de) return;
    /* unwatch_all(c) removes c's node from this list (a connection is in it
     * once) and deletes de with the last node; the saved next belongs to
     * another connection, so it survives. */
    hr_wkey *next;
    for (hr_wkey *wk = de->val; wk; wk = next) {
        next = wk->next;
        if (wk->expired) {
            if (!hr_dict_find(&db->keys, key, klen)) {
                /* The expired key is gone now: logically no change, and from
                 * here on it is an ordinary missing key. */
                wk->expired = false;
                continue;
            }
        }
        hr_conn *c = wk->c;
        c->flags |= HR_CONN_DIRTY_CAS;
        unwatch_all(c); /* EXEC fails anyway: nothing more to watch */
        multi_maybe_free(c);
    }
}

void hr_multi_touch_all_in_db(hr_server *s, hr_db *emptied, hr_db *replaced_with)
{
    if (hr_dict_size(&emptied->watched) == 0) return;
    hr_dict_iter it;
    hr_dict_iter_init(&it, &emptied->watched);
    hr_dict_entry *de;
    while ((de = hr_dict_next(&it))) {
        bool in_old = hr_dict_find(&emptied->keys, de->key, de->klen) != NULL;
        const hr_dict_entry *ne =
            replaced_with ? hr_dict_find(&replaced_with->keys, de->key, de->klen) : NULL;
        if (!in_old && !ne) continue;
        bool new_expired = ne && key_expired(s, replaced_with, de->key, de->klen);
        for (hr_wkey *wk = de->val; wk; wk = wk->next) {
            if (wk->expired) {
                if (!ne) {
                    wk->expired = false; /* an expired key deleted: no change */
                    continue;
                }
                if (new_expired) continue; /* expired before, expired after */
            } else if (!in_old && new_expired) {
                wk->expired = true; /* missing before, an expired key after */
                continue;
            }
            /* Only flag here: unwatching would delete entries of the dict
             * being iterated. */
            wk->c->flags |= HR_CONN_DIRTY_CAS;
        }
    }
    hr_dict_iter_done(&it);
}

/* --- transaction state --- */

/* Drops the queued commands and the watches; leaves MULTI. */
static void discard_transaction(hr_conn *c)
{
    hr_multi *m = c->multi;
    if (m) {
        free_queue(m->cmds, m->ncmds);
        m->cmds = NULL;
        m->ncmds = m->capcmds = 0;
        m->cmd_flags = 0;
        unwatch_all(c);
    }
    c->flags &= ~(HR_CONN_MULTI | HR_CONN_DIRTY_CAS | HR_CONN_DIRTY_EXEC);
    multi_maybe_free(c);
}

void hr_multi_reset(hr_conn *c)
{
    discard_transaction(c);
}

void hr_multi_queue(hr_conn *c, const hr_command *cmd, int argc, hr_arg *argv)
{
    /* Nothing is kept for a transaction that can only fail. */
    if (!(c->flags & (HR_CONN_DIRTY_CAS | HR_CONN_DIRTY_EXEC))) {
        hr_multi *m = multi_get(c);
        if (m->ncmds == m->capcmds) {
            m->capcmds = m->capcmds ? m->capcmds * 2 : 8;
            m->cmds = hr_realloc(m->cmds, m->capcmds * sizeof(*m->cmds));
        }
        size_t bytes = (size_t)argc * sizeof(hr_arg);
        for (int i = 0; i < argc; i++)
            bytes += argv[i].len + 1;
        hr_arg *copy = hr_malloc(bytes);
        char *p = (char *)(copy + argc);
        for (int i = 0; i < argc; i++) {
            if (argv[i].len) memcpy(p, argv[i].ptr, argv[i].len);
            p[argv[i].len] = '\0';
            copy[i].ptr = p;
            copy[i].len = argv[i].len;
            p += argv[i].len + 1;
        }
        m->cmds[m->ncmds++] = (queued_cmd){.cmd = cmd, .argc = argc, .argv = copy};
        m->cmd_flags |= cmd->flags;
    }
    hr_reply_raw(c, "+QUEUED\r\n", 9);
}

void hr_multi_exec_abort(hr_conn *c, const char *why)
{
    if (why[0] == '-') why++;
    if (strncmp(why, "ERR ", 4) == 0) why += 4;
    discard_transaction(c);
    hr_reply_errorf(c, "EXECABORT Transaction discarded because of: %s", why);
}

int hr_multi_queued_flags(const hr_conn *c)
{
    return c->multi ? c->multi->cmd_flags : 0;
}

long long hr_multi_queued(const hr_conn *c)
{
    if (!(c->flags & HR_CONN_MULTI)) return -1;
    if (!c->multi) return 0;
    return c->multi->running >= 0 ? c->multi->running : (long long)c->multi->ncmds;
}

long long hr_multi_watched(const hr_conn *c)
{
    return c->multi ? (long long)c->multi->nkeys : 0;
}

/* --- commands --- */

HR_CMD(multi)
{
    if (c->flags & HR_CONN_MULTI) {
        hr_reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    multi_get(c);
    c->flags |= HR_CONN_MULTI;
    hr_reply_ok(c);
}

HR_CMD(discard)
{
    if (!(c->flags & HR_CONN_MULTI)) {
        hr_reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    discard_transaction(c);
    hr_reply_ok(c);
}

HR_CMD(exec)
{
    if (!(c->flags & HR_CONN_MULTI)) {
        hr_reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    if (watched_key_expired(c)) c->flags |= HR_CONN_DIRTY_CAS;
    if (c->flags & (HR_CONN_DIRTY_CAS | HR_CONN_DIRTY_EXEC)) {
        if (c->flags & HR_CONN_DIRTY_EXEC)
            hr_reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        else
            hr_reply_null_array(c);
        discard_transaction(c);
        return;
    }
    hr_multi *m = multi_get(c);
    /* The queue is taken out of c->multi while it runs, so nothing a command
     * does to the transaction state can pull it away; CLIENT LIST still
     * shows it (multi=<n>, flags=x) as Redis does. */
    queued_cmd *cmds = m->cmds;
    size_t n = m->ncmds;
    m->cmds = NULL;
    m->ncmds = m->capcmds = 0;
    m->cmd_flags = 0;
    m->running = (long long)n;
    unwatch_all(c); /* the commands below must not invalidate themselves */
    c->flags |= HR_CONN_IN_EXEC;
    hr_reply_array(c, (long long)n);
    for (size_t i = 0; i < n; i++)
        hr_command_call(c, cmds[i].cmd, cmds[i].argc, cmds[i].argv);
    c->flags &= ~HR_CONN_IN_EXEC;
    free_queue(cmds, n);
    if (c->multi) c->multi->running = -1;
    discard_transaction(c);
}

HR_CMD(watch)
{
    if (c->flags & HR_CONN_MULTI) {
        hr_reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* Already invalidated: watching more cannot change the outcome. */
    if (!(c->flags & HR_CONN_DIRTY_CAS)) {
        hr_db *db = hr_conn_db(c);
        for (int i = 1; i < argc; i++)
            watch_key(c, db, argv[i].ptr, argv[i].len);
    }
    hr_reply_ok(c);
}

HR_CMD(unwatch)
{
    unwatch_all(c);
    c->flags &= ~HR_CONN_DIRTY_CAS;
    multi_maybe_free(c);
    hr_reply_ok(c);
}
