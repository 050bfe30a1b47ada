/*
 * cmd_keys.c - the generic keyspace commands: DEL/UNLINK, EXISTS, TOUCH,
 * TYPE, KEYS, SCAN, RANDOMKEY, RENAME/RENAMENX, the EXPIRE family, TTL and
 * friends, PERSIST, MOVE, SWAPDB and OBJECT.
 *
 * Every write follows db.h's rule: change the data, signal the modified key,
 * send the keyspace event, count the change (s->dirty). Expired keys are
 * never visible: lookups expire them lazily, and the walks (KEYS, SCAN,
 * RANDOMKEY) skip them; SCAN and RANDOMKEY delete those they meet, after the
 * walk, never while the table is being iterated.
 */
#include "db.h"
#include "alloc.h"
#include "cmds.h"
#include "glob.h"
#include "util.h"

#include <limits.h>
#include <string.h>

/* Redis shares the integers 0..9999 between keys (OBJECT REFCOUNT shows
 * INT_MAX for them) unless maxmemory is set with an LRU/LFU policy. */
#define SHARED_INTEGERS 10000
#define SHARED_REFCOUNT 2147483647

/* A private copy of a key, for deleting it after the entry may be gone. */
typedef struct keybuf {
    char small[64];
    char *p;
    size_t len;
} keybuf;

static void keybuf_set(keybuf *k, const char *p, size_t len)
{
    k->p = len <= sizeof(k->small) ? k->small : hr_malloc(len);
    memcpy(k->p, p, len);
    k->len = len;
}

static void keybuf_done(keybuf *k)
{
    if (k->p != k->small) hr_free(k->p);
}

static bool entry_expired(hr_server *s, const hr_dict_entry *e)
{
    return e->aux && (long long)e->aux <= hr_db_now_ms(s);
}

/* Expires key when its time has come (lazy expiry: "expired" event, no
 * statistics). */
static void expire_if_due(hr_server *s, hr_db *db, const char *key, size_t klen)
{
    hr_db_lookup_entry(s, db, key, klen, HR_LOOKUP_WRITE | HR_LOOKUP_NOTOUCH);
}

/* The signal / event / dirty sequence after a change to key. */
static void key_changed(hr_conn *c, hr_db *db, const hr_arg *key, const char *event)
{
    hr_server *s = c->srv;
    hr_signal_modified_key(s, c, db, key->ptr, key->len);
    hr_notify_keyspace_event(s, HR_NOTIFY_GENERIC, event, key->ptr, key->len, db->id);
    s->dirty++;
}

/* Length of a C-string view of a (up to the first NUL), as Redis compares
 * its C-string arguments. */
static size_t cstr_len(const hr_arg *a)
{
    const char *nul = memchr(a->ptr, '\0', a->len);
    return nul ? (size_t)(nul - a->ptr) : a->len;
}

/* --- DEL UNLINK EXISTS TOUCH TYPE ----------------------------------------- */

static void del_generic(hr_conn *c, int argc, hr_arg *argv)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    long long n = 0;
    for (int i = 1; i < argc; i++) {
        expire_if_due(s, db, argv[i].ptr, argv[i].len);
        if (!hr_db_delete(s, db, argv[i].ptr, argv[i].len)) continue;
        key_changed(c, db, &argv[i], "del");
        n++;
    }
    hr_reply_int(c, n);
}

HR_CMD(del)
{
    del_generic(c, argc, argv);
}

HR_CMD(unlink)
{
    del_generic(c, argc, argv);
}

HR_CMD(exists)
{
    hr_db *db = hr_conn_db(c);
    long long n = 0;
    for (int i = 1; i < argc; i++)
        if (hr_db_lookup_entry(c->srv, db, argv[i].ptr, argv[i].len, HR_LOOKUP_NOTOUCH)) n++;
    hr_reply_int(c, n);
}

HR_CMD(touch)
{
    long long n = 0;
    for (int i = 1; i < argc; i++)
        if (hr_db_lookup_read(c, &argv[i])) n++;
    hr_reply_int(c, n);
}

HR_CMD(type)
{
    hr_dict_entry *e =
        hr_db_lookup_entry(c->srv, hr_conn_db(c), argv[1].ptr, argv[1].len, HR_LOOKUP_NOTOUCH);
    hr_reply_simple(c, e ? "string" : "none");
}

/* --- KEYS SCAN RANDOMKEY ---------------------------------------------------- */

/* Redis treats the pattern "*" as "every key", so it also lists the empty
 * key, which the glob "*" itself does not match. */
static bool pattern_is_all(const hr_arg *pat)
{
    return pat->len == 1 && pat->ptr[0] == '*';
}

HR_CMD(keys)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    const hr_arg *pat = &argv[1];
    bool all = pattern_is_all(pat);
    size_t tok = hr_reply_defer(c);
    long long n = 0;
    hr_dict_iter it;
    hr_dict_iter_init(&it, &db->keys);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
        if (!all && !hr_glob_match(pat->ptr, pat->len, e->key, e->klen, false)) continue;
        if (entry_expired(s, e)) continue;
        hr_reply_bulk(c, e->key, e->klen);
        n++;
    }
    hr_dict_iter_done(&it);
    hr_reply_deferred_len(c, tok, '*', n);
}

/* Parses a SCAN cursor the way Redis does (strtoull on the C string, with
 * no leading space and nothing after the digits): an optional sign, "" is
 * 0, a '-' negates modulo 2^64, and a magnitude above 2^64-1 is refused. */
static bool parse_cursor(const hr_arg *a, unsigned long long *out)
{
    const char *p = a->ptr, *end = a->ptr + cstr_len(a);
    if (p == end) {
        *out = 0;
        return true;
    }
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (p == end || *p < '0' || *p > '9') return false;
    unsigned long long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (unsigned long long)0 - v : v;
    return true;
}

typedef struct scan_acc {
    const hr_dict_entry **e;
    size_t n, cap;
} scan_acc;

static void scan_cb(void *priv, const hr_dict_entry *e)
{
    scan_acc *acc = priv;
    if (acc->n == acc->cap) {
        acc->cap = acc->cap ? acc->cap * 2 : 16;
        acc->e = hr_realloc(acc->e, acc->cap * sizeof(*acc->e));
    }
    acc->e[acc->n++] = e;
}

HR_CMD(scan)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    unsigned long long cursor;
    if (!parse_cursor(&argv[1], &cursor)) {
        hr_reply_error(c, "ERR invalid cursor");
        return;
    }
    long long count = 10;
    const hr_arg *pat = NULL, *type = NULL;
    for (int i = 2; i < argc; i += 2) {
        bool has_value = argc - i >= 2;
        if (has_value && hr_arg_eq(&argv[i], "count")) {
            if (!hr_arg_ll(&argv[i + 1], &count)) {
                hr_reply_error(c, "ERR value is not an integer or out of range");
                return;
            }
            if (count < 1) {
                hr_reply_syntax_error(c);
                return;
            }
        } else if (has_value && hr_arg_eq(&argv[i], "match")) {
            pat = pattern_is_all(&argv[i + 1]) ? NULL : &argv[i + 1];
        } else if (has_value && hr_arg_eq(&argv[i], "type")) {
            type = &argv[i + 1];
        } else {
            hr_reply_syntax_error(c);
            return;
        }
    }

    /* Visit buckets until COUNT keys were gathered, the walk is complete or
     * ten times COUNT buckets were looked at. */
    scan_acc acc = {0};
    long long max_buckets = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    size_t cur = (size_t)cursor;
    do {
        cur = hr_dict_scan(&db->keys, cur, scan_cb, &acc);
    } while (cur != 0 && max_buckets-- != 0 && (long long)acc.n < count);

    /* Filter as Redis does: by pattern, then with TYPE by a lookup of the
     * key (which counts a hit or miss and expires it when due), else by
     * expiring the key when due. Deleting an entry frees only that entry,
     * so the others gathered stay valid. Only strings exist: a TYPE other
     * than "string" (compared case-insensitively up to a NUL, as Redis
     * does) matches nothing. */
    bool type_ok = !type || hr_streq_nocase(type->ptr, cstr_len(type), "string");
    size_t kept = 0;
    for (size_t i = 0; i < acc.n; i++) {
        const hr_dict_entry *e = acc.e[i];
        if (pat && !hr_glob_match(pat->ptr, pat->len, e->key, e->klen, false)) continue;
        if (type || entry_expired(s, e)) {
            keybuf k;
            keybuf_set(&k, e->key, e->klen);
            bool found;
            if (type) {
                found = hr_db_lookup_entry(s, db, k.p, k.len, HR_LOOKUP_NOTOUCH) != NULL;
            } else {
                expire_if_due(s, db, k.p, k.len);
                found = false;
            }
            keybuf_done(&k);
            if (!found || !type_ok) continue;
        }
        acc.e[kept++] = e;
    }
    hr_reply_array(c, 2);
    char num[24];
    size_t nl = hr_ull2str(num, (unsigned long long)cur);
    hr_reply_bulk(c, num, nl);
    hr_reply_array(c, (long long)kept);
    for (size_t i = 0; i < kept; i++)
        hr_reply_bulk(c, acc.e[i]->key, acc.e[i]->klen);
    hr_free(acc.e);
}

HR_CMD(randomkey)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    /* Expired keys met on the way are deleted, so this ends; the bound only
     * guards against a deletion that does not happen. */
    for (int stuck = 0;;) {
        hr_dict_entry *e = hr_dict_random(&db->keys);
        if (!e) {
            hr_reply_null(c);
            return;
        }
        if (!entry_expired(s, e) || ++stuck > 100) {
            hr_reply_bulk(c, e->key, e->klen);
            return;
        }
        size_t before = hr_dict_size(&db->keys);
        keybuf k;
        keybuf_set(&k, e->key, e->klen);
        expire_if_due(s, db, k.p, k.len);
        keybuf_done(&k);
        if (hr_dict_size(&db->keys) < before) stuck = 0;
    }
}

/* --- RENAME RENAMENX MOVE SWAPDB --------------------------------------------- */

/* Moves the object of entry src to dstkey in db to (which must not hold
 * it): the object and its TTL go over unchanged, the source entry is
 * deleted. Sends the destination's "new" event like any added key, signals
 * both keys, then sends ev_from on the source and ev_to on the destination
 * (RENAME: rename_from/rename_to, MOVE: move_from/move_to). */
static void transfer(hr_conn *c, hr_db *from, hr_dict_entry *src, hr_db *to,
                     const hr_arg *srckey, const hr_arg *dstkey, const char *ev_from,
                     const char *ev_to)
{
    hr_server *s = c->srv;
    hr_obj *o = src->val;
    long long when = hr_db_get_expire(src);
    src->val = NULL; /* detached: deleting the entry frees nothing */
    hr_db_delete(s, from, srckey->ptr, srckey->len);
    hr_dict_entry *e = hr_db_add(s, to, dstkey->ptr, dstkey->len, o);
    if (when != -1) hr_db_set_expire(to, e, when);
    hr_signal_modified_key(s, c, from, srckey->ptr, srckey->len);
    hr_signal_modified_key(s, c, to, dstkey->ptr, dstkey->len);
    hr_notify_keyspace_event(s, HR_NOTIFY_GENERIC, ev_from, srckey->ptr, srckey->len, from->id);
    hr_notify_keyspace_event(s, HR_NOTIFY_GENERIC, ev_to, dstkey->ptr, dstkey->len, to->id);
    s->dirty++;
}

static void rename_generic(hr_conn *c, hr_arg *argv, bool nx)
{
    hr_server *s = c->srv;
    hr_db *db = hr_conn_db(c);
    const hr_arg *src = &argv[1], *dst = &argv[2];
    hr_dict_entry *e = hr_db_lookup_entry(s, db, src->ptr, src->len, HR_LOOKUP_WRITE);
    if (!e) {
        hr_reply_error(c, "ERR no such key");
        return;
    }
    if (src->len == dst->len && memcmp(src->ptr, dst->ptr, src->len) == 0) {
        if (nx)
            hr_reply_int(c, 0);
        else
            hr_reply_ok(c);
        return;
    }
    if (hr_db_lookup_entry(s, db, dst->ptr, dst->len, HR_LOOKUP_WRITE)) {
        if (nx) {
            hr_reply_int(c, 0);
            return;
        }
        hr_db_delete(s, db, dst->ptr, dst->len);
    }
    transfer(c, db, e, db, src, dst, "rename_from", "rename_to");
    if (nx)
        hr_reply_int(c, 1);
    else
        hr_reply_ok(c);
}

HR_CMD(rename)
{
    rename_generic(c, argv, false);
}

HR_CMD(renamenx)
{
    rename_generic(c, argv, true);
}

/* Parses a database index as Redis's getIntFromObjectOrReply: msg replaces
 * both of its errors when given. */
static bool parse_db_index(hr_conn *c, const hr_arg *a, const char *msg, int *out)
{
    long long v;
    if (!hr_arg_ll(a, &v)) {
        hr_reply_error(c, msg ? msg : "ERR value is not an integer or out of range");
        return false;
    }
    if (v < INT_MIN || v > INT_MAX) {
        if (msg)
            hr_reply_error(c, msg);
        else
            hr_reply_errorf(c, "ERR value is out of range, value must between %d and %d", INT_MIN,
                            INT_MAX);
        return false;
    }
    *out = (int)v;
    return true;
}

static bool db_index_valid(const hr_server *s, int id)
{
    return id >= 0 && id < s->cfg.databases;
}

HR_CMD(move)
{
    hr_server *s = c->srv;
    int id;
    if (!parse_db_index(c, &argv[2], NULL, &id)) return;
    if (!db_index_valid(s, id)) {
        hr_reply_error(c, "ERR DB index is out of range");
        return;
    }
    hr_db *from = hr_conn_db(c), *to = &s->db[id];
    if (from == to) {
        hr_reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    const hr_arg *key = &argv[1];
    hr_dict_entry *e = hr_db_lookup_entry(s, from, key->ptr, key->len, HR_LOOKUP_WRITE);
    if (!e || hr_db_lookup_entry(s, to, key->ptr, key->len, HR_LOOKUP_WRITE)) {
        hr_reply_int(c, 0);
        return;
    }
    transfer(c, from, e, to, key, key, "move_from", "move_to");
    hr_reply_int(c, 1);
}

HR_CMD(swapdb)
{
    hr_server *s = c->srv;
    int a, b;
    if (!parse_db_index(c, &argv[1], "ERR invalid first DB index", &a)) return;
    if (!parse_db_index(c, &argv[2], "ERR invalid second DB index", &b)) return;
    if (!db_index_valid(s, a) || !db_index_valid(s, b)) {
        hr_reply_error(c, "ERR DB index is out of range");
        return;
    }
    if (a != b) hr_db_swap(s, a, b);
    s->dirty++;
    hr_reply_ok(c);
}

/* --- EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST -------------------------------- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* EXPIRE and friends: argv[2] is a time in seconds (seconds=true) or ms,
 * relative to base (now, or 0 for the *AT forms); name is the command's
 * lower-case name for the error text. */
static void expire_generic(hr_conn *c, int argc, hr_arg *argv, long long base, bool seconds,
                           const char *name)
{
    hr_server *s = c->srv;
    int flags = 0;
    for (int i = 3; i < argc; i++) {
        if (hr_arg_eq(&argv[i], "nx"))
            flags |= EXP_NX;
        else if (hr_arg_eq(&argv[i], "xx"))
            flags |= EXP_XX;
        else if (hr_arg_eq(&argv[i], "gt"))
            flags |= EXP_GT;
        else if (hr_arg_eq(&argv[i], "lt"))
            flags |= EXP_LT;
        else {
            size_t olen = cstr_len(&argv[i]);
            static const char pre[] = "ERR Unsupported option ";
            char *msg = hr_malloc(sizeof(pre) + olen);
            memcpy(msg, pre, sizeof(pre) - 1);
            memcpy(msg + sizeof(pre) - 1, argv[i].ptr, olen);
            msg[sizeof(pre) - 1 + olen] = '\0';
            hr_reply_error(c, msg);
            hr_free(msg);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        hr_reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        hr_reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    long long when;
    if (!hr_arg_ll(&argv[2], &when)) {
        hr_reply_error(c, "ERR value is not an integer or out of range");
        return;
    }
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) goto invalid;
        when *= 1000;
    }
    if (when > LLONG_MAX - base) goto invalid;
    when += base;

    hr_db *db = hr_conn_db(c);
    const hr_arg *key = &argv[1];
    hr_dict_entry *e = hr_db_lookup_entry(s, db, key->ptr, key->len, HR_LOOKUP_WRITE);
    if (!e) {
        hr_reply_int(c, 0);
        return;
    }
    long long cur = hr_db_get_expire(e); /* -1: none, i.e. infinite */
    if (((flags & EXP_NX) && cur != -1) || ((flags & EXP_XX) && cur == -1) ||
        ((flags & EXP_GT) && (cur == -1 || when <= cur)) ||
        ((flags & EXP_LT) && cur != -1 && when >= cur)) {
        hr_reply_int(c, 0);
        return;
    }
    if (when <= hr_db_now_ms(s)) {
        hr_db_delete(s, db, key->ptr, key->len);
        key_changed(c, db, key, "del");
    } else {
        hr_db_set_expire(db, e, when);
        key_changed(c, db, key, "expire");
    }
    hr_reply_int(c, 1);
    return;
invalid:
    hr_reply_errorf(c, "ERR invalid expire time in '%s' command", name);
}

HR_CMD(expire)
{
    expire_generic(c, argc, argv, hr_db_now_ms(c->srv), true, "expire");
}

HR_CMD(pexpire)
{
    expire_generic(c, argc, argv, hr_db_now_ms(c->srv), false, "pexpire");
}

HR_CMD(expireat)
{
    expire_generic(c, argc, argv, 0, true, "expireat");
}

HR_CMD(pexpireat)
{
    expire_generic(c, argc, argv, 0, false, "pexpireat");
}

HR_CMD(persist)
{
    hr_db *db = hr_conn_db(c);
    hr_dict_entry *e = hr_db_lookup_entry(c->srv, db, argv[1].ptr, argv[1].len, HR_LOOKUP_WRITE);
    if (!e || !hr_db_persist(db, e)) {
        hr_reply_int(c, 0);
        return;
    }
    key_changed(c, db, &argv[1], "persist");
    hr_reply_int(c, 1);
}

/* --- TTL PTTL EXPIRETIME PEXPIRETIME ------------------------------------------ */

/* -2 for a missing key, -1 for one without a TTL, else the remaining time
 * (relative) or the expiry instant (absolute), in ms or in seconds rounded
 * to the nearest. */
static void ttl_generic(hr_conn *c, const hr_arg *key, bool ms, bool absolute)
{
    hr_server *s = c->srv;
    hr_dict_entry *e = hr_db_lookup_entry(s, hr_conn_db(c), key->ptr, key->len, HR_LOOKUP_NOTOUCH);
    if (!e) {
        hr_reply_int(c, -2);
        return;
    }
    long long when = hr_db_get_expire(e);
    if (when == -1) {
        hr_reply_int(c, -1);
        return;
    }
    long long v = when;
    if (!absolute) {
        v = when - hr_db_now_ms(s);
        if (v < 0) v = 0;
    }
    /* v >= 0; unsigned so that a time near LLONG_MAX rounds as in Redis */
    hr_reply_int(c, ms ? v : (long long)(((unsigned long long)v + 500) / 1000));
}

HR_CMD(ttl)
{
    ttl_generic(c, &argv[1], false, false);
}

HR_CMD(pttl)
{
    ttl_generic(c, &argv[1], true, false);
}

HR_CMD(expiretime)
{
    ttl_generic(c, &argv[1], false, true);
}

HR_CMD(pexpiretime)
{
    ttl_generic(c, &argv[1], true, true);
}

/* --- OBJECT ---------------------------------------------------------------------- */

/* OBJECT's lookup: no access-time update and no keymiss event, but counted
 * as a hit or miss (as Redis 7 does). Replies nil itself when missing. */
static hr_obj *object_lookup(hr_conn *c, const hr_arg *key)
{
    hr_dict_entry *e = hr_db_lookup_entry(c->srv, hr_conn_db(c), key->ptr, key->len,
                                          HR_LOOKUP_NOTOUCH | HR_LOOKUP_NONOTIFY);
    if (!e) hr_reply_null(c);
    return e ? e->val : NULL;
}

HR_CMD(object_encoding)
{
    hr_obj *o = object_lookup(c, &argv[2]);
    if (o) hr_reply_bulk_str(c, hr_obj_encoding_name(o));
}

HR_CMD(object_refcount)
{
    hr_obj *o = object_lookup(c, &argv[2]);
    if (!o) return;
    const hr_config *cfg = &c->srv->cfg;
    int p = cfg->maxmemory_policy;
    bool lru_lfu = p == HR_MAXMEM_VOLATILE_LRU || p == HR_MAXMEM_ALLKEYS_LRU || hr_policy_is_lfu(p);
    bool shared = o->enc == HR_ENC_INT && o->v.ll >= 0 && o->v.ll < SHARED_INTEGERS &&
                  !(cfg->maxmemory != 0 && lru_lfu);
    hr_reply_int(c, shared ? SHARED_REFCOUNT : 1);
}

HR_CMD(object_idletime)
{
    hr_obj *o = object_lookup(c, &argv[2]);
    if (!o) return;
    if (hr_policy_is_lfu(c->srv->cfg.maxmemory_policy)) {
        hr_reply_error(c, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                          "note that when switching between policies at runtime LRU and LFU data "
                          "will take some time to adjust.");
        return;
    }
    hr_reply_int(c, hr_obj_idle_seconds(c->srv, o));
}

HR_CMD(object_freq)
{
    hr_obj *o = object_lookup(c, &argv[2]);
    if (!o) return;
    if (!hr_policy_is_lfu(c->srv->cfg.maxmemory_policy)) {
        hr_reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not "
                          "tracked. Please note that when switching between policies at runtime "
                          "LRU and LFU data will take some time to adjust.");
        return;
    }
    hr_reply_int(c, (long long)hr_obj_lfu_decayed(c->srv, o));
}

HR_CMD(object_help)
{
    static const char *help[] = {
        "ENCODING <key>",
        "    Return the internal representation the value stored at <key> is kept in",
        "    (for strings: int, embstr or raw).",
        "FREQ <key>",
        "    Return the access frequency counter of <key>, a logarithmic estimate of how",
        "    often it was used lately (only with an LFU maxmemory-policy).",
        "IDLETIME <key>",
        "    Return the approximate number of seconds since <key> was last read or",
        "    written (not available with an LFU maxmemory-policy).",
        "REFCOUNT <key>",
        "    Return the reference count of the value stored at <key>; shared small",
        "    integers report a very large count.",
        NULL};
    hr_reply_help(c, "OBJECT", help);
}
