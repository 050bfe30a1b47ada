/*
 * db.c - the databases: lookups with lazy expiry, adds/overwrites/deletes,
 * TTLs, FLUSH/SWAPDB, the active expiry cycle and maxmemory eviction. See
 * db.h for the model and the rules every write follows.
 */
#include "db.h"
#include "alloc.h"
#include "hrtime.h"
#include "log.h"
#include "multi.h"
#include "tracking.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Flushes of more keys than this free their memory on a background thread
 * when asked to (FLUSHALL ASYNC, lazyfree-lazy-user-flush). */
#define LAZYFREE_MIN_KEYS 64

static atomic_int lazyfree_jobs;
struct hr_evict_pool;
static void pool_free(struct hr_evict_pool *p);
/* INFO lazyfree_pending_objects / lazyfreed_objects (keys handed to, and
 * freed by, background threads; process-wide). */
static atomic_llong lazyfree_pending, lazyfreed;

void hr_db_init_all(hr_server *s)
{
    int n = s->cfg.databases;
    s->db = hr_calloc((size_t)n, sizeof(hr_db));
    for (int i = 0; i < n; i++) {
        hr_dict_init(&s->db[i].keys);
        hr_dict_init(&s->db[i].expires);
        hr_dict_init(&s->db[i].watched);
        s->db[i].id = i;
    }
}

static void free_keys(hr_dict *keys)
{
    hr_dict_iter it;
    hr_dict_iter_init(&it, keys);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));)
        hr_obj_free(e->val);
    hr_dict_iter_done(&it);
    hr_dict_release(keys);
}

void hr_db_free_all(hr_server *s)
{
    if (!s->db) return;
    for (int i = 0; i < s->cfg.databases; i++) {
        free_keys(&s->db[i].keys);
        hr_dict_release(&s->db[i].expires);
        hr_dict_release(&s->db[i].watched);
    }
    hr_free(s->db);
    s->db = NULL;
    pool_free(s->evict_pool);
    s->evict_pool = NULL;
    /* Background frees hold no server state, but let them finish so the
     * process's memory is quiet (and leak checkers see it returned). */
    for (int i = 0; i < 5000 && atomic_load(&lazyfree_jobs) > 0; i++)
        usleep(1000);
}

long long hr_db_lazyfree_pending(void)
{
    return atomic_load(&lazyfree_pending);
}

long long hr_db_lazyfreed(void)
{
    return atomic_load(&lazyfreed);
}

long long hr_db_now_ms(hr_server *s)
{
    if (s->cmd_time_ms > 0) return s->cmd_time_ms;
    long long now = hr_wall_us() / 1000;
    if (s->cmd_time_ms == HR_CMD_TIME_UNSET) s->cmd_time_ms = now; /* the command's instant */
    return now;
}

size_t hr_db_volatile_count(const hr_db *db)
{
    return hr_dict_size(&db->expires);
}

/* --- deletion helpers ---------------------------------------------------- */

static void delete_entry(hr_db *db, hr_dict_entry *e)
{
    if (e->aux) hr_dict_delete(&db->expires, e->key, e->klen);
    hr_obj_free(e->val);
    hr_dict_delete_entry(&db->keys, e);
}

/* A key copied out of an entry that is about to be freed. */
typedef struct keycopy {
    char small[128];
    char *p;
    size_t len;
} keycopy;

static void keycopy_init(keycopy *k, const hr_dict_entry *e)
{
    k->len = e->klen;
    k->p = e->klen <= sizeof(k->small) ? k->small : hr_malloc(e->klen);
    memcpy(k->p, e->key, e->klen);
}

static void keycopy_done(keycopy *k)
{
    if (k->p != k->small) hr_free(k->p);
}

/* Removes a key the server itself deletes (expiry, eviction): counted in
 * *counter, notified (type, event), and signalled like any change (WATCH,
 * tracking) with no client as its author. */
static void delete_by_server(hr_server *s, hr_db *db, hr_dict_entry *e, int type,
                             const char *event, long long *counter)
{
    keycopy k;
    keycopy_init(&k, e);
    delete_entry(db, e);
    (*counter)++;
    hr_notify_keyspace_event(s, type, event, k.p, k.len, db->id);
    hr_signal_modified_key(s, NULL, db, k.p, k.len);
    s->dirty++;
    keycopy_done(&k);
}

static void delete_expired(hr_server *s, hr_db *db, hr_dict_entry *e)
{
    delete_by_server(s, db, e, HR_NOTIFY_EXPIRED, "expired", &s->stats.expired_keys);
}

/* --- lookups -------------------------------------------------------------- */

hr_dict_entry *hr_db_lookup_entry(hr_server *s, hr_db *db, const char *key, size_t klen, int flags)
{
    hr_dict_entry *e = hr_dict_find(&db->keys, key, klen);
    if (e && e->aux && (long long)e->aux < hr_db_now_ms(s)) {
        if (flags & HR_LOOKUP_NOEXPIRE) return NULL;
        delete_expired(s, db, e);
        e = NULL;
    }
    if (e && !(flags & HR_LOOKUP_NOTOUCH) && !s->no_touch) hr_obj_touch(s, e->val);
    if (!(flags & (HR_LOOKUP_NOSTATS | HR_LOOKUP_WRITE))) {
        if (e)
            s->stats.keyspace_hits++;
        else
            s->stats.keyspace_misses++;
    }
    if (!e && !(flags & (HR_LOOKUP_NONOTIFY | HR_LOOKUP_WRITE)))
        hr_notify_keyspace_event(s, HR_NOTIFY_KEY_MISS, "keymiss", key, klen, db->id);
    return e;
}

hr_obj *hr_db_lookup_read(hr_conn *c, const hr_arg *key)
{
    hr_dict_entry *e = hr_db_lookup_entry(c->srv, hr_conn_db(c), key->ptr, key->len, 0);
    return e ? e->val : NULL;
}

hr_obj *hr_db_lookup_write(hr_conn *c, const hr_arg *key)
{
    hr_dict_entry *e =
        hr_db_lookup_entry(c->srv, hr_conn_db(c), key->ptr, key->len, HR_LOOKUP_WRITE);
    return e ? e->val : NULL;
}

/* --- writes --------------------------------------------------------------- */

hr_dict_entry *hr_db_add(hr_server *s, hr_db *db, const char *key, size_t klen, hr_obj *o)
{
    int created;
    hr_dict_entry *e = hr_dict_upsert(&db->keys, key, klen, &created);
    if (!created) { /* callers check first; keep the table consistent anyway */
        hr_db_replace(s, e, o);
        return e;
    }
    e->val = o;
    hr_notify_keyspace_event(s, HR_NOTIFY_NEW, "new", key, klen, db->id);
    return e;
}

void hr_db_replace(hr_server *s, hr_dict_entry *e, hr_obj *o)
{
    hr_obj *old = e->val;
    if (old && hr_policy_is_lfu(s->cfg.maxmemory_policy)) {
        /* An overwrite is an access of the same key: keep its frequency. */
        o->lfu = old->lfu;
        o->lfu_min = old->lfu_min;
    }
    e->val = o;
    hr_obj_free(old);
}

hr_dict_entry *hr_db_set_key(hr_conn *c, hr_db *db, const char *key, size_t klen, hr_obj *o,
                             int flags)
{
    hr_server *s = c->srv;
    hr_dict_entry *e = hr_db_lookup_entry(s, db, key, klen, HR_LOOKUP_WRITE | HR_LOOKUP_NOTOUCH);
    if (!e) {
        e = hr_db_add(s, db, key, klen, o);
    } else {
        hr_db_replace(s, e, o);
        if (!(flags & HR_SETKEY_KEEPTTL)) hr_db_persist(db, e);
    }
    if (!(flags & HR_SETKEY_NO_SIGNAL)) hr_signal_modified_key(s, c, db, key, klen);
    return e;
}

bool hr_db_delete(hr_server *s, hr_db *db, const char *key, size_t klen)
{
    (void)s;
    hr_dict_entry *e = hr_dict_find(&db->keys, key, klen);
    if (!e) return false;
    delete_entry(db, e);
    return true;
}

void hr_db_set_expire(hr_db *db, hr_dict_entry *e, long long when)
{
    if (when <= 0) when = 1; /* 0 means "no TTL"; any past time expires alike */
    if (!e->aux) {
        hr_dict_entry *x = hr_dict_upsert(&db->expires, e->key, e->klen, NULL);
        x->val = e;
    }
    e->aux = (size_t)when;
}

bool hr_db_persist(hr_db *db, hr_dict_entry *e)
{
    if (!e->aux) return false;
    hr_dict_delete(&db->expires, e->key, e->klen);
    e->aux = 0;
    return true;
}

/* --- whole databases ------------------------------------------------------- */

typedef struct lazyfree_job {
    hr_dict keys, expires;
} lazyfree_job;

static void *lazyfree_main(void *arg)
{
    lazyfree_job *job = arg;
    long long n = (long long)hr_dict_size(&job->keys);
    free_keys(&job->keys);
    atomic_fetch_sub(&lazyfree_pending, n);
    atomic_fetch_add(&lazyfreed, n);
    hr_dict_release(&job->expires);
    hr_free(job);
    atomic_fetch_sub(&lazyfree_jobs, 1);
    return NULL;
}

/* Empties one database's keys, on a background thread when async and
 * large enough to be worth it (the dicts are handed over whole). */
static void empty_db(hr_db *db, bool async)
{
    if (async && hr_dict_size(&db->keys) > LAZYFREE_MIN_KEYS) {
        lazyfree_job *job = hr_malloc(sizeof(*job));
        job->keys = db->keys;
        job->expires = db->expires;
        hr_dict_init(&db->keys);
        hr_dict_init(&db->expires);
        atomic_fetch_add(&lazyfree_pending, (long long)hr_dict_size(&job->keys));
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        atomic_fetch_add(&lazyfree_jobs, 1);
        if (pthread_create(&t, &attr, lazyfree_main, job) != 0) {
            atomic_fetch_sub(&lazyfree_jobs, 1);
            lazyfree_main(job); /* no thread: free here */
            atomic_fetch_add(&lazyfree_jobs, 1);
        }
        pthread_attr_destroy(&attr);
        return;
    }
    free_keys(&db->keys);
    hr_dict_release(&db->expires);
}

long long hr_db_flush(hr_server *s, int dbid, bool async)
{
    int from = dbid < 0 ? 0 : dbid, to = dbid < 0 ? s->cfg.databases - 1 : dbid;
    long long removed = 0;
    for (int i = from; i <= to; i++) {
        hr_db *db = &s->db[i];
        hr_multi_touch_all_in_db(s, db, NULL);
        removed += (long long)hr_dict_size(&db->keys);
        empty_db(db, async);
        db->expire_cursor = 0;
        db->avg_ttl = 0;
    }
    hr_tracking_invalidate_all(s);
    return removed;
}

void hr_db_swap(hr_server *s, int a, int b)
{
    hr_db *x = &s->db[a], *y = &s->db[b];
    /* A watched key changes if it exists on either side of the swap. */
    hr_multi_touch_all_in_db(s, x, y);
    hr_multi_touch_all_in_db(s, y, x);
    hr_dict tk = x->keys, te = x->expires;
    x->keys = y->keys;
    x->expires = y->expires;
    y->keys = tk;
    y->expires = te;
    size_t tc = x->expire_cursor;
    x->expire_cursor = y->expire_cursor;
    y->expire_cursor = tc;
    long long ta = x->avg_ttl;
    x->avg_ttl = y->avg_ttl;
    y->avg_ttl = ta;
}

void hr_db_rehash(hr_server *s, unsigned budget_us)
{
    uint64_t start = hr_mono_us();
    for (int i = 0; i < s->cfg.databases; i++) {
        uint64_t spent = hr_mono_us() - start;
        if (spent >= budget_us) return;
        hr_dict *tables[2] = {&s->db[i].keys, &s->db[i].expires};
        for (int k = 0; k < 2; k++)
            if (hr_dict_is_resizing(tables[k]))
                hr_dict_rehash_us(tables[k], budget_us - (unsigned)spent);
    }
}

/* --- hooks ------------------------------------------------------------------ */

void hr_signal_modified_key(hr_server *s, hr_conn *c, hr_db *db, const char *key, size_t klen)
{
    hr_multi_touch_key(s, db, key, klen);
    hr_tracking_invalidate_key(s, c, key, klen, true);
}

/* --- active expiry ------------------------------------------------------------ */

/* Keys sampled per round and the share of expired keys in a sample above
 * which the round repeats, scaled by active-expire-effort (1..10). */
#define EXPIRE_KEYS_PER_LOOP 20
#define EXPIRE_ACCEPTABLE_STALE 10
#define EXPIRE_SLOW_CPU_PERCENT 25
#define EXPIRE_FAST_DURATION_US 1000
#define EXPIRE_MAX_BATCH 256

typedef struct expire_sample {
    hr_dict_entry *e[EXPIRE_MAX_BATCH];
    int n;
} expire_sample;

static void sample_cb(void *priv, const hr_dict_entry *x)
{
    expire_sample *smp = priv;
    /* A bucket longer than the room left is finished on the next pass. */
    if (smp->n < EXPIRE_MAX_BATCH) smp->e[smp->n++] = x->val;
}

void hr_db_active_expire(hr_server *s, bool fast)
{
    if (fast && !s->expire_time_capped) return;
    int effort = s->cfg.active_expire_effort - 1; /* 0..9 */
    if (effort < 0) effort = 0;
    int per_loop = EXPIRE_KEYS_PER_LOOP + EXPIRE_KEYS_PER_LOOP / 4 * effort;
    int stale_ok = EXPIRE_ACCEPTABLE_STALE - effort;
    if (per_loop > EXPIRE_MAX_BATCH) per_loop = EXPIRE_MAX_BATCH;
    int hz = s->cfg.hz > 0 ? s->cfg.hz : 10;
    uint64_t limit_us =
        fast ? (uint64_t)(EXPIRE_FAST_DURATION_US + EXPIRE_FAST_DURATION_US / 4 * effort)
             : (uint64_t)1000000 * (uint64_t)(EXPIRE_SLOW_CPU_PERCENT + 2 * effort) / (uint64_t)hz /
                   100;
    uint64_t start = hr_mono_us();
    long long now = hr_wall_us() / 1000;
    bool capped = false;
    long long sampled_total = 0, expired_total = 0;
    static int next_db; /* round-robin start across calls */
    int ndb = s->cfg.databases;
    for (int d = 0; d < ndb && !capped; d++) {
        hr_db *db = &s->db[(next_db + d) % ndb];
        int rounds = 0;
        for (;;) {
            if (hr_dict_size(&db->expires) == 0) {
                db->avg_ttl = 0;
                break;
            }
            expire_sample smp = {.n = 0};
            size_t buckets = 0, max_buckets = (size_t)per_loop * 20;
            do {
                db->expire_cursor = hr_dict_scan(&db->expires, db->expire_cursor, sample_cb, &smp);
                buckets++;
            } while (smp.n < per_loop && db->expire_cursor != 0 && buckets < max_buckets);
            int expired = 0;
            long long ttl_sum = 0, ttl_n = 0;
            for (int i = 0; i < smp.n; i++) {
                hr_dict_entry *e = smp.e[i];
                long long when = (long long)e->aux;
                if (when < now) {
                    delete_expired(s, db, e);
                    expired++;
                } else {
                    ttl_sum += when - now;
                    ttl_n++;
                }
            }
            if (ttl_n) {
                long long avg = ttl_sum / ttl_n;
                /* A running average weighted towards recent samples. */
                db->avg_ttl = db->avg_ttl ? (db->avg_ttl / 50) * 49 + avg / 50 : avg;
            }
            sampled_total += smp.n;
            expired_total += expired;
            if (++rounds % 16 == 0 && hr_mono_us() - start > limit_us) {
                capped = true;
                s->stats.expired_time_cap_reached_count++;
                break;
            }
            if (smp.n == 0 || expired * 100 / smp.n <= stale_ok) break;
        }
    }
    next_db = (next_db + 1) % ndb;
    s->expire_time_capped = capped;
    s->stats.expire_cycle_cpu_us += (long long)(hr_mono_us() - start);
    if (sampled_total) {
        double perc = (double)expired_total / (double)sampled_total;
        s->stats.expired_stale_perc = perc * 0.05 + s->stats.expired_stale_perc * 0.95;
    }
}

/* --- eviction ----------------------------------------------------------------- */

size_t hr_used_memory(hr_server *s)
{
    (void)s;
    return hr_alloc_used();
}

static bool policy_volatile(int p)
{
    return p == HR_MAXMEM_VOLATILE_LRU || p == HR_MAXMEM_VOLATILE_LFU ||
           p == HR_MAXMEM_VOLATILE_RANDOM || p == HR_MAXMEM_VOLATILE_TTL;
}

/* Higher is a better eviction candidate. */
static long long evict_score(hr_server *s, int policy, hr_dict_entry *e, long long now)
{
    hr_obj *o = e->val;
    switch (policy) {
    case HR_MAXMEM_VOLATILE_LRU:
    case HR_MAXMEM_ALLKEYS_LRU: return hr_obj_idle_seconds(s, o);
    case HR_MAXMEM_VOLATILE_LFU:
    case HR_MAXMEM_ALLKEYS_LFU: return 255 - (long long)hr_obj_lfu_decayed(s, o);
    case HR_MAXMEM_VOLATILE_TTL: return -((long long)e->aux - now);
    default: return 0;
    }
}

/* The eviction pool: the best candidates seen by recent samplings, kept
 * across evictions (by name, as their entries may go away meanwhile), so
 * each eviction chooses among far more keys than one sampling round sees. */
#define EVPOOL_SIZE 16

typedef struct evict_cand {
    long long score;
    int dbid;
    size_t klen;
    char *key; /* owned */
} evict_cand;

struct hr_evict_pool {
    evict_cand c[EVPOOL_SIZE]; /* ascending score; the best is last */
    int n;
    int next_db; /* random policies: round-robin start */
};

static void pool_remove(struct hr_evict_pool *p, int i)
{
    hr_free(p->c[i].key);
    memmove(&p->c[i], &p->c[i + 1], (size_t)(p->n - i - 1) * sizeof(p->c[0]));
    p->n--;
}

static void pool_offer(struct hr_evict_pool *p, int dbid, const hr_dict_entry *e, long long sc)
{
    for (int i = 0; i < p->n; i++) {
        if (p->c[i].dbid == dbid && p->c[i].klen == e->klen &&
            memcmp(p->c[i].key, e->key, e->klen) == 0) {
            pool_remove(p, i); /* re-inserted below with the fresh score */
            break;
        }
    }
    if (p->n == EVPOOL_SIZE) {
        if (sc <= p->c[0].score) return;
        pool_remove(p, 0);
    }
    int at = p->n;
    while (at > 0 && p->c[at - 1].score > sc) at--;
    memmove(&p->c[at + 1], &p->c[at], (size_t)(p->n - at) * sizeof(p->c[0]));
    p->c[at] = (evict_cand){sc, dbid, e->klen, hr_malloc(e->klen ? e->klen : 1)};
    memcpy(p->c[at].key, e->key, e->klen);
    p->n++;
}

static void pool_free(struct hr_evict_pool *p)
{
    if (!p) return;
    while (p->n) pool_remove(p, p->n - 1);
    hr_free(p);
}

/* Picks the key to evict by the policy: random policies take a random key
 * (databases in turn); the others sample maxmemory-samples keys of each
 * database into the pool and take its best candidate that still exists. */
static hr_dict_entry *evict_pick(hr_server *s, hr_db **dbout)
{
    int policy = s->cfg.maxmemory_policy;
    bool vol = policy_volatile(policy);
    int ndb = s->cfg.databases;
    if (!s->evict_pool) s->evict_pool = hr_calloc(1, sizeof(*s->evict_pool));
    struct hr_evict_pool *p = s->evict_pool;
    if (policy == HR_MAXMEM_ALLKEYS_RANDOM || policy == HR_MAXMEM_VOLATILE_RANDOM) {
        for (int d = 0; d < ndb; d++) {
            hr_db *db = &s->db[(p->next_db + d) % ndb];
            hr_dict *from = vol ? &db->expires : &db->keys;
            if (!hr_dict_size(from)) continue;
            hr_dict_entry *x = hr_dict_random(from);
            p->next_db = (p->next_db + d + 1) % ndb;
            *dbout = db;
            return vol ? x->val : x;
        }
        return NULL;
    }
    long long now = hr_wall_us() / 1000;
    int samples = s->cfg.maxmemory_samples > 0 ? s->cfg.maxmemory_samples : 5;
    for (int d = 0; d < ndb; d++) {
        hr_db *db = &s->db[d];
        hr_dict *from = vol ? &db->expires : &db->keys;
        if (!hr_dict_size(from)) continue;
        for (int i = 0; i < samples; i++) {
            hr_dict_entry *x = hr_dict_random(from);
            hr_dict_entry *e = vol ? x->val : x;
            pool_offer(p, d, e, evict_score(s, policy, e, now));
        }
    }
    while (p->n > 0) {
        evict_cand *best = &p->c[p->n - 1];
        hr_db *db = &s->db[best->dbid];
        hr_dict_entry *e = hr_dict_find(&db->keys, best->key, best->klen);
        pool_remove(p, p->n - 1);
        /* Gone since it was sampled, or no longer volatile: next one. */
        if (!e || (vol && !e->aux)) continue;
        *dbout = db;
        return e;
    }
    return NULL;
}

/* Upper bound of one call's work, so a huge overshoot (a CONFIG SET
 * maxmemory far below the data) cannot stall the server: the command runs
 * and later commands continue the job (Redis's "eviction in progress"). */
#define EVICT_MAX_US 50000

int hr_evict_perform(hr_server *s)
{
    long long max = s->cfg.maxmemory;
    if (max <= 0) return 0;
    size_t used = hr_used_memory(s);
    if (used <= (size_t)max) return 0;
    if (s->cfg.maxmemory_policy == HR_MAXMEM_NOEVICTION) return -1;
    uint64_t start = hr_mono_us();
    for (long long n = 0;; n++) {
        hr_db *db = NULL;
        hr_dict_entry *e = evict_pick(s, &db);
        if (!e) return -1;
        delete_by_server(s, db, e, HR_NOTIFY_EVICTED, "evicted", &s->stats.evicted_keys);
        used = hr_used_memory(s);
        if (used <= (size_t)max) return 0;
        if ((n & 15) == 15 && hr_mono_us() - start > EVICT_MAX_US) return 0;
    }
}
