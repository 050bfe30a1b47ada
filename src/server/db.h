/*
 * db.h - the keyspace: string objects, the databases, expiry, eviction and
 * the hooks every write goes through (WATCH, client tracking, keyspace
 * notifications).
 *
 * Objects: one type (string) in Redis's three encodings - INT (a long long),
 * EMBSTR (up to 44 bytes stored with the header, immutable) and RAW (a
 * separate growable buffer). OBJECT ENCODING reports those names, and each
 * command creates the encoding Redis would.
 *
 * Databases: each holds `keys` (key -> hr_obj*, the entry's aux word is the
 * absolute expiry time in UNIX ms, 0 for none) and `expires` (the volatile
 * keys only: key -> the entry in `keys`), which the active expiry cycle and
 * the volatile-* eviction policies sample. The database owns its objects:
 * hr_db_add / hr_db_set_key take ownership, deleting frees.
 *
 * Time: every command sees one wall-clock instant (hr_db_now_ms), taken when
 * it starts, so a key cannot expire half-way through a command or an EXEC.
 *
 * What a write must do (as in Redis): change the data, then call
 * hr_signal_modified_key (invalidates WATCH and tracking), then
 * hr_notify_keyspace_event, then s->dirty++.
 */
#ifndef HR_DB_H
#define HR_DB_H

#include "server.h"

enum { HR_OBJ_STRING = 0 };
enum { HR_ENC_RAW = 0, HR_ENC_INT = 1, HR_ENC_EMBSTR = 8 };
#define HR_EMBSTR_MAX 44
/* LFU counter of a new object (Redis's LFU_INIT_VAL). */
#define HR_LFU_INIT 5

typedef struct hr_obj {
    uint8_t type;
    uint8_t enc;
    uint8_t lfu;      /* logarithmic access counter (LFU policies) */
    uint16_t lfu_min; /* minutes clock of the last LFU decrement */
    uint32_t atime;   /* LRU clock (seconds) of the last access */
    size_t len;       /* string length (EMBSTR, RAW) */
    size_t cap;       /* RAW: allocated bytes of ptr */
    union {
        char *ptr;    /* EMBSTR: into this allocation; RAW: own buffer */
        long long ll; /* INT */
    } v;
} hr_obj;

/* --- objects (object.c) --- */

/* Redis's createStringObject: EMBSTR up to 44 bytes, RAW above. */
hr_obj *hr_obj_string(hr_server *s, const char *p, size_t len);
/* Redis's tryObjectEncoding on a fresh value (SET, MSET, GETSET, ...): INT
 * when p is a canonical long long of at most 20 characters, else as
 * hr_obj_string. */
hr_obj *hr_obj_string_try_int(hr_server *s, const char *p, size_t len);
/* Always RAW (APPEND, SETRANGE, SETBIT, BITOP results). */
hr_obj *hr_obj_raw(hr_server *s, const char *p, size_t len);
hr_obj *hr_obj_from_ll(hr_server *s, long long v);
void hr_obj_free(hr_obj *o);
/* The bytes of a string: INT values are formatted into buf (>= 24 bytes). */
const char *hr_obj_bytes(const hr_obj *o, char *buf, size_t *len);
size_t hr_obj_strlen(const hr_obj *o);
/* Converts o in place to RAW with at least min_cap bytes of room, contents
 * kept; returns the writable buffer (o->len is unchanged). */
char *hr_obj_make_raw(hr_obj *o, size_t min_cap);
/* Parses the value as a long long the way INCR does (strict). */
bool hr_obj_get_ll(const hr_obj *o, long long *v);
const char *hr_obj_encoding_name(const hr_obj *o);
/* The bulk reply of a string object. */
void hr_reply_obj(hr_conn *c, const hr_obj *o);

/* Access bookkeeping (LRU clock or LFU counter, by policy). */
void hr_obj_touch(hr_server *s, hr_obj *o);
/* LFU counter after decay (OBJECT FREQ). */
unsigned hr_obj_lfu_decayed(hr_server *s, hr_obj *o);
/* Seconds since the last access (OBJECT IDLETIME). */
long long hr_obj_idle_seconds(const hr_server *s, const hr_obj *o);

/* --- databases (db.c) --- */

typedef struct hr_db {
    hr_dict keys;         /* key -> hr_obj*; entry aux = expiry (UNIX ms) or 0 */
    hr_dict expires;      /* volatile keys: key -> hr_dict_entry* in keys */
    hr_dict watched;      /* key -> watchers (multi.c) */
    size_t expire_cursor; /* active expiry scan position */
    long long avg_ttl;    /* running estimate for INFO keyspace */
    int id;
} hr_db;

/* Lookup flags. */
enum {
    HR_LOOKUP_NOTOUCH = 1 << 0,  /* do not update the access time / counter */
    HR_LOOKUP_NONOTIFY = 1 << 1, /* no keymiss notification */
    HR_LOOKUP_NOSTATS = 1 << 2,  /* no keyspace_hits / misses */
    HR_LOOKUP_NOEXPIRE = 1 << 3, /* report an expired key as missing, but keep it */
    HR_LOOKUP_WRITE = 1 << 4,    /* a write lookup: no stats, no keymiss */
};

void hr_db_init_all(hr_server *s);
void hr_db_free_all(hr_server *s);
static inline hr_db *hr_conn_db(hr_conn *c)
{
    return &c->srv->db[c->db];
}

/* The wall-clock instant of the running command (UNIX ms): read on the
 * command's first use and kept until it ends; outside commands, now. */
long long hr_db_now_ms(hr_server *s);

/* Finds key, expiring it first when its time has passed (lazy expiry).
 * Returns the dict entry (val is the hr_obj*) or NULL. */
hr_dict_entry *hr_db_lookup_entry(hr_server *s, hr_db *db, const char *key, size_t klen, int flags);
/* Read lookup: counts a hit or a miss (and sends the keymiss event). */
hr_obj *hr_db_lookup_read(hr_conn *c, const hr_arg *key);
/* Write lookup: lazy expiry only. */
hr_obj *hr_db_lookup_write(hr_conn *c, const hr_arg *key);

/* Adds a key that must not exist (takes o); sends the "new" event. Returns
 * the entry. */
hr_dict_entry *hr_db_add(hr_server *s, hr_db *db, const char *key, size_t klen, hr_obj *o);
/* setKey flags */
enum {
    HR_SETKEY_KEEPTTL = 1 << 0,
    HR_SETKEY_NO_SIGNAL = 1 << 1,
};
/* Adds or overwrites key with o (takes o); drops the TTL unless KEEPTTL;
 * signals the modification unless NO_SIGNAL. Returns the entry. */
hr_dict_entry *hr_db_set_key(hr_conn *c, hr_db *db, const char *key, size_t klen, hr_obj *o,
                             int flags);
/* Replaces the object of an existing entry (takes o, frees the old one);
 * the TTL stays. */
void hr_db_replace(hr_server *s, hr_dict_entry *e, hr_obj *o);
/* Deletes key; returns whether it existed. No signal or notification (the
 * caller sends those, as each command names its own event). */
bool hr_db_delete(hr_server *s, hr_db *db, const char *key, size_t klen);

/* TTL. when is absolute UNIX ms. */
void hr_db_set_expire(hr_db *db, hr_dict_entry *e, long long when);
/* Returns whether e had a TTL. */
bool hr_db_persist(hr_db *db, hr_dict_entry *e);
/* Absolute expiry of e (UNIX ms) or -1. */
static inline long long hr_db_get_expire(const hr_dict_entry *e)
{
    return e->aux ? (long long)e->aux : -1;
}

/* Removes every key of one database (dbid >= 0) or of all (-1); returns the
 * number removed. Invalidates WATCH on the emptied databases and sends
 * tracking's null invalidation. */
long long hr_db_flush(hr_server *s, int dbid, bool async);
/* SWAPDB: exchanges two databases' contents (WATCH of both touched). */
void hr_db_swap(hr_server *s, int a, int b);

/* Expiry: one pass of the active cycle (called from the cron; fast=true
 * for the short pass before sleeping). */
void hr_db_active_expire(hr_server *s, bool fast);

/* Advances resizes of the databases' tables in the background (the cron),
 * for at most budget_us; lookups and writes advance them too. */
void hr_db_rehash(hr_server *s, unsigned budget_us);

/* Eviction (maxmemory). Frees keys by the configured policy until memory
 * is under maxmemory; returns 0 when under (or no limit), -1 when it cannot
 * get there (the caller rejects denyoom commands with the OOM error). */
int hr_evict_perform(hr_server *s);
size_t hr_used_memory(hr_server *s);

/* --- hooks every write goes through --- */

/* A key's value changed (or it was deleted/expired/evicted): invalidates
 * WATCH (multi.c) and tracking (tracking.c). c is the connection that made
 * the change, NULL for expiry and eviction. */
void hr_signal_modified_key(hr_server *s, hr_conn *c, hr_db *db, const char *key, size_t klen);
/* Keyspace notification (notify.c): publishes on __keyspace@<db>__:<key>
 * and/or __keyevent@<db>__:<event> when notify-keyspace-events has type. */
void hr_notify_keyspace_event(hr_server *s, int type, const char *event, const char *key,
                              size_t klen, int dbid);

/* INFO memory: keys waiting for / freed by background flushes. */
long long hr_db_lazyfree_pending(void);
long long hr_db_lazyfreed(void);

/* Reported by INFO keyspace. */
size_t hr_db_volatile_count(const hr_db *db);

#endif
