/*
 * tracking.c - client-side caching: CLIENT TRACKING / CACHING / GETREDIR /
 * TRACKINGINFO, the tracking table, BCAST prefixes and the invalidation
 * messages (see tracking.h for the model).
 *
 * Tracking table: t->keys maps a key to the ids that may cache it. Most
 * keys are read by one connection, so a single id lives in the entry's aux
 * word (val NULL); a second id moves them into an idset (val, aux 0).
 * Invariant: every entry holds at least one id, and t->items is the total
 * number of ids over all entries.
 *
 * Prefix table: t->prefixes maps a prefix to a bstate (subscribed ids, keys
 * changed since the last broadcast). t->plens lists the distinct prefix
 * lengths, so a changed key is matched with one lookup per length instead
 * of a scan of every prefix. A bstate exists exactly while some connection
 * is subscribed to its prefix; each subscribed connection has the prefix in
 * its c->tracking_prefixes.
 */
#include "tracking.h"
#include "alloc.h"
#include "cmds.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Per call of hr_tracking_before_sleep over tracking-table-max-keys: at most
 * this many keys, times the number of consecutive calls that found the table
 * still over the limit (capped by LIMIT_MAX_ROUNDS). */
#define LIMIT_EFFORT 100
#define LIMIT_MAX_ROUNDS 100
/* The scratch buffer used to build frames is freed above this size. */
#define SCRATCH_KEEP (64 * 1024)

/* A set of connection ids (never 0): open addressing, linear probing,
 * cap a power of two, at most half full. */
typedef struct idset {
    uint32_t n, cap;
    uint64_t ids[];
} idset;

typedef struct bstate {
    hr_dict clients; /* id (8 bytes) -> NULL */
    hr_dict keys;    /* changed key -> aux: id of the last writer (0: none) */
} bstate;

typedef struct plen_count {
    size_t len;
    size_t count; /* prefixes of this length */
} plen_count;

struct hr_tracking {
    hr_dict keys;      /* key -> idset* (val) or one id (aux) */
    long long items;   /* ids over all keys */
    hr_dict prefixes;  /* prefix -> bstate* */
    plen_count *plens; /* distinct prefix lengths, ascending */
    size_t nplens, plens_cap;
    bool bcast_pending;    /* some bstate has keys */
    long long nclients;    /* connections with HR_TRACK_ON */
    unsigned limit_rounds; /* consecutive before-sleeps over max-keys */
    hr_buf scratch;        /* frame building */
};

/* --- id sets --- */

static inline size_t id_slot(uint64_t id, uint32_t cap)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static idset *idset_new(uint32_t cap)
{
    idset *s = hr_calloc(1, sizeof(*s) + cap * sizeof(uint64_t));
    s->cap = cap;
    return s;
}

/* Adds id; returns whether it was new. *ps may be reallocated. */
static bool idset_add(idset **ps, uint64_t id)
{
    idset *s = *ps;
    size_t i = id_slot(id, s->cap);
    while (s->ids[i]) {
        if (s->ids[i] == id) return false;
        i = (i + 1) & (s->cap - 1);
    }
    if ((s->n + 1) * 2 > s->cap) {
        idset *g = idset_new(s->cap * 2);
        for (uint32_t k = 0; k < s->cap; k++)
            if (s->ids[k]) idset_add(&g, s->ids[k]);
        hr_free(s);
        *ps = s = g;
        i = id_slot(id, s->cap);
        while (s->ids[i])
            i = (i + 1) & (s->cap - 1);
    }
    s->ids[i] = id;
    s->n++;
    return true;
}

/* --- lifecycle --- */

struct hr_tracking *hr_tracking_new(void)
{
    struct hr_tracking *t = hr_calloc(1, sizeof(*t));
    hr_dict_init(&t->keys);
    hr_dict_init(&t->prefixes);
    hr_buf_init(&t->scratch);
    return t;
}

static void keys_clear(struct hr_tracking *t)
{
    hr_dict_iter it;
    hr_dict_iter_init(&it, &t->keys);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));)
        hr_free(e->val);
    hr_dict_iter_done(&it);
    hr_dict_release(&t->keys);
    hr_dict_init(&t->keys);
    t->items = 0;
}

static void bstate_free(bstate *bs)
{
    hr_dict_release(&bs->clients);
    hr_dict_release(&bs->keys);
    hr_free(bs);
}

void hr_tracking_free(struct hr_tracking *t)
{
    if (!t) return;
    keys_clear(t);
    hr_dict_iter it;
    hr_dict_iter_init(&it, &t->prefixes);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));)
        bstate_free(e->val);
    hr_dict_iter_done(&it);
    hr_dict_release(&t->prefixes);
    hr_free(t->plens);
    hr_buf_release(&t->scratch);
    hr_free(t);
}

/* The server's tracking state, created on first use. */
static struct hr_tracking *tracking_of(hr_server *s)
{
    if (!s->tracking) s->tracking = hr_tracking_new();
    return s->tracking;
}

/* --- messages --- */

enum { V_PUSH = 0, V_MESSAGE = 1 }; /* RESP3 push / RESP2 pub/sub message */

/* One invalidation to deliver: its payload (the RESP value after the
 * header: an array of keys, or a null), and the frames built from it on
 * first use, shared by every recipient. */
typedef struct msg {
    const char *key; /* a single key: payload "*1 $n key" */
    size_t klen;
    const char *payload; /* else: ready-made payload bytes */
    size_t plen;
    hr_frame *f[2];
} msg;

static void msg_release(msg *m)
{
    hr_frame_decref(m->f[0]);
    hr_frame_decref(m->f[1]);
    m->f[0] = m->f[1] = NULL;
}

static hr_frame *scratch_frame(struct hr_tracking *t)
{
    hr_frame *f = hr_frame_new(t->scratch.data, t->scratch.len);
    if (t->scratch.cap > SCRATCH_KEEP)
        hr_buf_release(&t->scratch);
    else
        t->scratch.len = 0;
    return f;
}

static hr_frame *msg_frame(struct hr_tracking *t, msg *m, int variant)
{
    if (m->f[variant]) return m->f[variant];
    hr_buf *b = &t->scratch;
    b->len = 0;
    if (variant == V_PUSH) {
        static const char hdr[] = ">2\r\n$10\r\ninvalidate\r\n";
        hr_buf_append(b, hdr, sizeof(hdr) - 1);
    } else {
        static const char hdr[] = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";
        hr_buf_append(b, hdr, sizeof(hdr) - 1);
    }
    if (m->key) {
        hr_resp_w_array_hdr(b, 1);
        hr_resp_w_bulk(b, m->key, m->klen);
    } else {
        hr_buf_append(b, m->payload, m->plen);
    }
    m->f[variant] = scratch_frame(t);
    return m->f[variant];
}

/* Delivers m on behalf of tracking connection c: to c, or to its redirect
 * target (see tracking.h for who gets what). */
static void send_tracking(hr_server *s, hr_conn *c, msg *m)
{
    struct hr_tracking *t = s->tracking;
    hr_conn *dst = c;
    bool redirected = false;
    if (c->tracking_redir) {
        dst = hr_conn_by_id(s, c->tracking_redir);
        if (!dst) {
            c->tflags |= HR_TRACK_BROKEN_REDIR;
            if (c->resp >= 3) {
                hr_buf *b = &t->scratch;
                b->len = 0;
                static const char hdr[] = ">2\r\n$21\r\ntracking-redir-broken\r\n";
                hr_buf_append(b, hdr, sizeof(hdr) - 1);
                hr_resp_w_int(b, (long long)c->tracking_redir);
                hr_frame *f = scratch_frame(t);
                hr_conn_push(c, f);
                hr_frame_decref(f);
            }
            return;
        }
        redirected = true;
    }
    int variant;
    if (dst->resp >= 3)
        variant = V_PUSH;
    else if (redirected && hr_conn_subscriptions(dst) > 0)
        variant = V_MESSAGE;
    else
        return; /* RESP2 has no push channel of its own */
    hr_conn_push(dst, msg_frame(t, m, variant));
    s->stats.tracking_invalidations++;
}

/* --- the tracking table --- */

static void remember_key(struct hr_tracking *t, const char *key, size_t klen, uint64_t id)
{
    int created;
    hr_dict_entry *e = hr_dict_upsert(&t->keys, key, klen, &created);
    if (created) {
        e->aux = (size_t)id;
        t->items++;
        return;
    }
    idset *set = e->val;
    if (!set) {
        if ((uint64_t)e->aux == id) return;
        set = idset_new(4);
        idset_add(&set, (uint64_t)e->aux);
        idset_add(&set, id);
        e->aux = 0;
        e->val = set;
        t->items++;
        return;
    }
    if (idset_add(&set, id)) t->items++;
    e->val = set;
}

/* Sends the invalidation of e's key to one id, if it still tracks it. */
static void notify_id(hr_server *s, uint64_t id, const hr_conn *self, msg *m)
{
    hr_conn *c = hr_conn_by_id(s, id);
    if (!c || !(c->tflags & HR_TRACK_ON) || (c->tflags & HR_TRACK_BCAST)) return;
    if ((c->tflags & HR_TRACK_NOLOOP) && c == self) return;
    send_tracking(s, c, m);
}

/* Invalidates the key of entry e for everyone that read it (but self when
 * it has NOLOOP) and removes the entry. */
static void invalidate_entry(hr_server *s, struct hr_tracking *t, hr_dict_entry *e,
                             const hr_conn *self)
{
    msg m = {.key = e->key, .klen = e->klen};
    idset *set = e->val;
    if (set) {
        for (uint32_t i = 0; i < set->cap; i++)
            if (set->ids[i]) notify_id(s, set->ids[i], self, &m);
        t->items -= set->n;
        hr_free(set);
    } else {
        notify_id(s, (uint64_t)e->aux, self, &m);
        t->items--;
    }
    msg_release(&m);
    hr_dict_delete_entry(&t->keys, e);
}

/* Records a changed key for the broadcast of every prefix it starts with. */
static void record_bcast(struct hr_tracking *t, uint64_t writer, const char *key, size_t klen)
{
    for (size_t i = 0; i < t->nplens && t->plens[i].len <= klen; i++) {
        bstate *bs = hr_dict_get(&t->prefixes, key, t->plens[i].len);
        if (!bs) continue;
        hr_dict_entry *e = hr_dict_upsert(&bs->keys, key, klen, NULL);
        e->aux = (size_t)writer;
        t->bcast_pending = true;
    }
}

void hr_tracking_invalidate_key(hr_server *s, hr_conn *c, const char *key, size_t klen, bool bcast)
{
    struct hr_tracking *t = s->tracking;
    if (!t) return;
    if (bcast && hr_dict_size(&t->prefixes)) record_bcast(t, c ? c->id : 0, key, klen);
    hr_dict_entry *e = hr_dict_find(&t->keys, key, klen);
    if (!e) return;
    /* NOLOOP spares the connection whose command is running (as Redis's
     * current_client), also for a key that command expired. */
    invalidate_entry(s, t, e, s->current ? s->current : c);
}

void hr_tracking_invalidate_all(hr_server *s)
{
    struct hr_tracking *t = s->tracking;
    if (!t) return;
    if (t->nclients) {
        /* The null is written in the tracking connection's own protocol,
         * even when a redirect target speaks the other one (as Redis). */
        msg nulls[2] = {{.payload = "$-1\r\n", .plen = 5}, {.payload = "_\r\n", .plen = 3}};
        for (hr_conn *c = s->clients_head; c; c = c->next)
            if (c->tflags & HR_TRACK_ON) send_tracking(s, c, &nulls[c->resp >= 3]);
        msg_release(&nulls[0]);
        msg_release(&nulls[1]);
    }
    keys_clear(t);
}

static bool is_client_subcommand(const hr_command *cmd)
{
    if (!cmd) return false;
    const hr_command *top = cmd->parent ? cmd->parent : cmd;
    return strcmp(top->name, "client") == 0;
}

void hr_tracking_after_command(hr_conn *c, const hr_command *cmd, int argc, hr_arg *argv)
{
    int tf = c->tflags;
    bool queued = (c->flags & HR_CONN_MULTI) && !(c->flags & HR_CONN_IN_EXEC);
    if (argv && cmd && !queued && (tf & HR_TRACK_ON) && !(tf & HR_TRACK_BCAST) &&
        (cmd->flags & HR_CMD_READONLY) && cmd->first_key > 0) {
        bool caching = tf & HR_TRACK_CACHING;
        bool skip = ((tf & HR_TRACK_OPTIN) && !caching) || ((tf & HR_TRACK_OPTOUT) && caching);
        if (!skip) {
            struct hr_tracking *t = tracking_of(c->srv);
            int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
            int step = cmd->key_step > 0 ? cmd->key_step : 1;
            if (last >= argc) last = argc - 1;
            for (int i = cmd->first_key; i <= last; i += step)
                remember_key(t, argv[i].ptr, argv[i].len, c->id);
        }
    }
    /* CLIENT CACHING applies to the next command, or to the whole
     * transaction it precedes; any CLIENT subcommand keeps it. */
    if (!(c->flags & (HR_CONN_MULTI | HR_CONN_IN_EXEC)) && !is_client_subcommand(cmd))
        c->tflags &= ~HR_TRACK_CACHING;
}

/* tracking-table-max-keys: invalidates random keys until the table is
 * within the limit, or this call's effort is spent. */
static void limit_keys(hr_server *s, struct hr_tracking *t)
{
    long long max = s->cfg.tracking_table_max_keys;
    if (max <= 0) return;
    if (hr_dict_size(&t->keys) <= (size_t)max) {
        t->limit_rounds = 0;
        return;
    }
    long effort = LIMIT_EFFORT * (long)(t->limit_rounds + 1);
    while (effort-- > 0) {
        hr_dict_entry *e = hr_dict_random(&t->keys);
        if (!e) break;
        invalidate_entry(s, t, e, NULL);
        if (hr_dict_size(&t->keys) <= (size_t)max) {
            t->limit_rounds = 0;
            return;
        }
    }
    if (t->limit_rounds < LIMIT_MAX_ROUNDS) t->limit_rounds++;
}

/* --- BCAST --- */

static int cmp_entries(const void *a, const void *b)
{
    const hr_dict_entry *x = *(const hr_dict_entry *const *)a;
    const hr_dict_entry *y = *(const hr_dict_entry *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int r = memcmp(x->key, y->key, n);
    if (r) return r;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* The entries of d sorted by key (byte order, shorter first), in a new
 * array the caller frees. */
static hr_dict_entry **sorted_entries(hr_dict *d)
{
    size_t n = hr_dict_size(d), i = 0;
    hr_dict_entry **v = hr_malloc((n ? n : 1) * sizeof(*v));
    hr_dict_iter it;
    hr_dict_iter_init(&it, d);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));)
        v[i++] = e;
    hr_dict_iter_done(&it);
    qsort(v, n, sizeof(*v), cmp_entries);
    return v;
}

/* The array of the keys (sorted) not last written by `skip` (0: all). */
static size_t build_keys_payload(hr_buf *b, hr_dict_entry **keys, size_t n, uint64_t skip)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (!skip || (uint64_t)keys[i]->aux != skip) count++;
    b->len = 0;
    if (!count) return 0;
    hr_resp_w_array_hdr(b, (long long)count);
    for (size_t i = 0; i < n; i++)
        if (!skip || (uint64_t)keys[i]->aux != skip) hr_resp_w_bulk(b, keys[i]->key, keys[i]->klen);
    return count;
}

static void broadcast_prefix(hr_server *s, bstate *bs)
{
    size_t n = hr_dict_size(&bs->keys);
    hr_dict_entry **keys = sorted_entries(&bs->keys);
    hr_buf all = HR_BUF_INIT, adhoc = HR_BUF_INIT;
    build_keys_payload(&all, keys, n, 0);
    msg m = {.payload = all.data, .plen = all.len};
    hr_dict_iter it;
    hr_dict_iter_init(&it, &bs->clients);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
        uint64_t id;
        memcpy(&id, e->key, sizeof(id));
        hr_conn *c = hr_conn_by_id(s, id);
        if (!c || !(c->tflags & HR_TRACK_BCAST)) continue;
        if (c->tflags & HR_TRACK_NOLOOP) {
            /* Without the keys c changed itself: a message of its own. */
            if (!build_keys_payload(&adhoc, keys, n, c->id)) continue;
            msg own = {.payload = adhoc.data, .plen = adhoc.len};
            send_tracking(s, c, &own);
            msg_release(&own);
        } else {
            send_tracking(s, c, &m);
        }
    }
    hr_dict_iter_done(&it);
    msg_release(&m);
    hr_buf_release(&all);
    hr_buf_release(&adhoc);
    hr_free(keys);
    hr_dict_release(&bs->keys);
    hr_dict_init(&bs->keys);
}

/* Sends the keys collected per prefix, prefixes in byte order (so each
 * connection gets its messages in Redis's order). */
static void broadcast(hr_server *s, struct hr_tracking *t)
{
    if (!t->bcast_pending) return;
    t->bcast_pending = false;
    size_t n = hr_dict_size(&t->prefixes);
    hr_dict_entry **pfx = sorted_entries(&t->prefixes);
    for (size_t i = 0; i < n; i++) {
        bstate *bs = pfx[i]->val;
        if (hr_dict_size(&bs->keys)) broadcast_prefix(s, bs);
    }
    hr_free(pfx);
}

void hr_tracking_before_sleep(hr_server *s)
{
    struct hr_tracking *t = s->tracking;
    if (!t) return;
    limit_keys(s, t);
    broadcast(s, t);
}

static void plens_add(struct hr_tracking *t, size_t len)
{
    size_t i = 0;
    while (i < t->nplens && t->plens[i].len < len)
        i++;
    if (i < t->nplens && t->plens[i].len == len) {
        t->plens[i].count++;
        return;
    }
    if (t->nplens == t->plens_cap) {
        t->plens_cap = t->plens_cap ? t->plens_cap * 2 : 4;
        t->plens = hr_realloc(t->plens, t->plens_cap * sizeof(*t->plens));
    }
    memmove(&t->plens[i + 1], &t->plens[i], (t->nplens - i) * sizeof(*t->plens));
    t->plens[i] = (plen_count){len, 1};
    t->nplens++;
}

static void plens_remove(struct hr_tracking *t, size_t len)
{
    for (size_t i = 0; i < t->nplens; i++) {
        if (t->plens[i].len != len) continue;
        if (--t->plens[i].count == 0) {
            memmove(&t->plens[i], &t->plens[i + 1], (t->nplens - i - 1) * sizeof(*t->plens));
            t->nplens--;
        }
        return;
    }
}

/* Subscribes c to prefix p (no-op when it already is). */
static void enable_prefix(struct hr_tracking *t, hr_conn *c, const char *p, size_t plen)
{
    int created;
    hr_dict_entry *e = hr_dict_upsert(&t->prefixes, p, plen, &created);
    if (created) {
        bstate *bs = hr_calloc(1, sizeof(*bs));
        hr_dict_init(&bs->clients);
        hr_dict_init(&bs->keys);
        e->val = bs;
        plens_add(t, plen);
    }
    bstate *bs = e->val;
    hr_dict_upsert(&bs->clients, (const char *)&c->id, sizeof(c->id), &created);
    if (!created) return;
    if (!c->tracking_prefixes) {
        c->tracking_prefixes = hr_malloc(sizeof(hr_dict));
        hr_dict_init(c->tracking_prefixes);
    }
    hr_dict_upsert(c->tracking_prefixes, p, plen, NULL);
}

void hr_tracking_disable(hr_conn *c)
{
    struct hr_tracking *t = c->srv->tracking;
    if (c->tracking_prefixes) {
        hr_dict_iter it;
        hr_dict_iter_init(&it, c->tracking_prefixes);
        for (hr_dict_entry *p; t && (p = hr_dict_next(&it));) {
            hr_dict_entry *e = hr_dict_find(&t->prefixes, p->key, p->klen);
            if (!e) continue;
            bstate *bs = e->val;
            hr_dict_delete(&bs->clients, (const char *)&c->id, sizeof(c->id));
            if (hr_dict_size(&bs->clients) == 0) {
                bstate_free(bs);
                hr_dict_delete_entry(&t->prefixes, e);
                plens_remove(t, p->klen);
            }
        }
        hr_dict_iter_done(&it);
        hr_dict_release(c->tracking_prefixes);
        hr_free(c->tracking_prefixes);
        c->tracking_prefixes = NULL;
    }
    if ((c->tflags & HR_TRACK_ON) && t) t->nclients--;
    c->tflags = 0;
}

/* --- introspection --- */

long long hr_tracking_clients(const hr_server *s)
{
    return s->tracking ? s->tracking->nclients : 0;
}

long long hr_tracking_total_keys(const hr_server *s)
{
    return s->tracking ? (long long)hr_dict_size(&s->tracking->keys) : 0;
}

long long hr_tracking_total_items(const hr_server *s)
{
    return s->tracking ? s->tracking->items : 0;
}

long long hr_tracking_total_prefixes(const hr_server *s)
{
    return s->tracking ? (long long)hr_dict_size(&s->tracking->prefixes) : 0;
}

long long hr_tracking_redirect_id(const hr_conn *c)
{
    return (c->tflags & HR_TRACK_ON) ? (long long)c->tracking_redir : -1;
}

/* --- commands --- */

/* Does a start with b or b with a? (Two prefixes of one connection may not
 * overlap: a key would match both.) */
static bool overlaps(const char *a, size_t alen, const char *b, size_t blen)
{
    return memcmp(a, b, alen < blen ? alen : blen) == 0;
}

/* Redis formats the prefixes of this error as C strings: up to a NUL. */
static void reply_overlap(hr_conn *c, const char *kind, const char *a, size_t alen, const char *b,
                          size_t blen)
{
    hr_buf m = HR_BUF_INIT;
    hr_buf_append_str(&m, "ERR Prefix '");
    hr_buf_append(&m, a, strnlen(a, alen));
    hr_buf_appendf(&m, "' overlaps with %s prefix '", kind);
    hr_buf_append(&m, b, strnlen(b, blen));
    hr_buf_append_str(&m, "'. Prefixes for a single client must not overlap.");
    hr_buf_append_char(&m, '\0');
    hr_reply_error(c, m.data);
    hr_buf_release(&m);
}

/* Checks the new prefixes against c's and against each other; replies the
 * error and returns false on an overlap. */
static bool check_prefixes(hr_conn *c, hr_arg *argv, const int *idx, int n)
{
    for (int i = 0; i < n; i++) {
        const hr_arg *p = &argv[idx[i]];
        if (c->tracking_prefixes) {
            /* The first overlapping one in byte order, as Redis reports. */
            const hr_dict_entry *hit = NULL;
            hr_dict_iter it;
            hr_dict_iter_init(&it, c->tracking_prefixes);
            for (hr_dict_entry *e; (e = hr_dict_next(&it));)
                if (overlaps(e->key, e->klen, p->ptr, p->len) &&
                    (!hit || cmp_entries(&e, &hit) < 0))
                    hit = e;
            hr_dict_iter_done(&it);
            if (hit) {
                reply_overlap(c, "an existing", p->ptr, p->len, hit->key, hit->klen);
                return false;
            }
        }
        for (int j = i + 1; j < n; j++) {
            const hr_arg *q = &argv[idx[j]];
            if (overlaps(p->ptr, p->len, q->ptr, q->len)) {
                reply_overlap(c, "another provided", p->ptr, p->len, q->ptr, q->len);
                return false;
            }
        }
    }
    return true;
}

static const char ERR_SWITCH_BCAST[] =
    "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then "
    "re-enabling it with a different mode.";
static const char ERR_SWITCH_OPT[] =
    "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then "
    "re-enabling it with a different mode.";

/* Validates the options of CLIENT TRACKING ON against each other and c's
 * current mode, in Redis's order; replies the error and returns false. */
static bool check_on(hr_conn *c, int opts, hr_arg *argv, const int *idx, int nprefix)
{
    if (nprefix && !(opts & HR_TRACK_BCAST)) {
        hr_reply_error(c, "ERR PREFIX option requires BCAST mode to be enabled");
        return false;
    }
    if ((c->tflags & HR_TRACK_ON) && (!(c->tflags & HR_TRACK_BCAST) != !(opts & HR_TRACK_BCAST))) {
        hr_reply_error(c, ERR_SWITCH_BCAST);
        return false;
    }
    if ((opts & HR_TRACK_BCAST) && (opts & (HR_TRACK_OPTIN | HR_TRACK_OPTOUT))) {
        hr_reply_error(c, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        return false;
    }
    if ((opts & HR_TRACK_OPTIN) && (opts & HR_TRACK_OPTOUT)) {
        hr_reply_error(c, "ERR You can't specify both OPTIN mode and OPTOUT mode");
        return false;
    }
    if (((opts & HR_TRACK_OPTIN) && (c->tflags & HR_TRACK_OPTOUT)) ||
        ((opts & HR_TRACK_OPTOUT) && (c->tflags & HR_TRACK_OPTIN))) {
        hr_reply_error(c, ERR_SWITCH_OPT);
        return false;
    }
    if ((opts & HR_TRACK_BCAST) && !check_prefixes(c, argv, idx, nprefix)) return false;
    return true;
}

static void enable_tracking(hr_conn *c, uint64_t redir, int opts, hr_arg *argv, const int *idx,
                            int nprefix)
{
    struct hr_tracking *t = tracking_of(c->srv);
    if (!(c->tflags & HR_TRACK_ON)) t->nclients++;
    /* CACHING survives a re-enable, as in Redis; the mode is replaced. */
    c->tflags = (c->tflags & HR_TRACK_CACHING) | HR_TRACK_ON |
                (opts & (HR_TRACK_BCAST | HR_TRACK_OPTIN | HR_TRACK_OPTOUT | HR_TRACK_NOLOOP));
    c->tracking_redir = redir;
    if (opts & HR_TRACK_BCAST) {
        if (nprefix == 0) enable_prefix(t, c, "", 0);
        for (int i = 0; i < nprefix; i++)
            enable_prefix(t, c, argv[idx[i]].ptr, argv[idx[i]].len);
    }
}

HR_CMD(client_tracking)
{
    long long redir = 0;
    int opts = 0, nprefix = 0;
    int *idx = hr_malloc((size_t)argc * sizeof(int));
    for (int j = 3; j < argc; j++) {
        bool more = j < argc - 1;
        if (more && hr_arg_eq(&argv[j], "redirect")) {
            j++;
            if (redir != 0) {
                hr_reply_error(c, "ERR A client can only redirect to a single other client");
                goto out;
            }
            if (!hr_arg_ll(&argv[j], &redir)) {
                hr_reply_error(c, "ERR value is not an integer or out of range");
                goto out;
            }
            /* The target must exist now; if it goes away later, the client
             * is told (tracking-redir-broken). */
            if (redir <= 0 || !hr_conn_by_id(c->srv, (uint64_t)redir)) {
                hr_reply_error(c, "ERR The client ID you want redirect to does not exist");
                goto out;
            }
        } else if (hr_arg_eq(&argv[j], "bcast")) {
            opts |= HR_TRACK_BCAST;
        } else if (hr_arg_eq(&argv[j], "optin")) {
            opts |= HR_TRACK_OPTIN;
        } else if (hr_arg_eq(&argv[j], "optout")) {
            opts |= HR_TRACK_OPTOUT;
        } else if (hr_arg_eq(&argv[j], "noloop")) {
            opts |= HR_TRACK_NOLOOP;
        } else if (more && hr_arg_eq(&argv[j], "prefix")) {
            idx[nprefix++] = ++j;
        } else {
            hr_reply_syntax_error(c);
            goto out;
        }
    }
    if (hr_arg_eq(&argv[2], "on")) {
        if (!check_on(c, opts, argv, idx, nprefix)) goto out;
        enable_tracking(c, (uint64_t)redir, opts, argv, idx, nprefix);
    } else if (hr_arg_eq(&argv[2], "off")) {
        hr_tracking_disable(c);
    } else {
        hr_reply_syntax_error(c);
        goto out;
    }
    hr_reply_ok(c);
out:
    hr_free(idx);
}

HR_CMD(client_caching)
{
    (void)argc;
    if (!(c->tflags & HR_TRACK_ON)) {
        hr_reply_error(c, "ERR CLIENT CACHING can be called only when the client is in tracking "
                          "mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    if (hr_arg_eq(&argv[2], "yes")) {
        if (!(c->tflags & HR_TRACK_OPTIN)) {
            hr_reply_error(c, "ERR CLIENT CACHING YES is only valid when tracking is enabled in "
                              "OPTIN mode.");
            return;
        }
    } else if (hr_arg_eq(&argv[2], "no")) {
        if (!(c->tflags & HR_TRACK_OPTOUT)) {
            hr_reply_error(c, "ERR CLIENT CACHING NO is only valid when tracking is enabled in "
                              "OPTOUT mode.");
            return;
        }
    } else {
        hr_reply_syntax_error(c);
        return;
    }
    c->tflags |= HR_TRACK_CACHING;
    hr_reply_ok(c);
}

HR_CMD(client_getredir)
{
    (void)argc;
    (void)argv;
    hr_reply_int(c, hr_tracking_redirect_id(c));
}

HR_CMD(client_trackinginfo)
{
    (void)argc;
    (void)argv;
    int tf = c->tflags;
    hr_reply_map(c, 3);
    hr_reply_bulk_str(c, "flags");
    const char *flags[8];
    int n = 0;
    flags[n++] = (tf & HR_TRACK_ON) ? "on" : "off";
    if (tf & HR_TRACK_BCAST) flags[n++] = "bcast";
    if (tf & HR_TRACK_OPTIN) {
        flags[n++] = "optin";
        if (tf & HR_TRACK_CACHING) flags[n++] = "caching-yes";
    }
    if (tf & HR_TRACK_OPTOUT) {
        flags[n++] = "optout";
        if (tf & HR_TRACK_CACHING) flags[n++] = "caching-no";
    }
    if (tf & HR_TRACK_NOLOOP) flags[n++] = "noloop";
    if (tf & HR_TRACK_BROKEN_REDIR) flags[n++] = "broken_redirect";
    hr_reply_set(c, n);
    for (int i = 0; i < n; i++)
        hr_reply_bulk_str(c, flags[i]);
    hr_reply_bulk_str(c, "redirect");
    hr_reply_int(c, hr_tracking_redirect_id(c));
    hr_reply_bulk_str(c, "prefixes");
    if (!c->tracking_prefixes) {
        hr_reply_array(c, 0);
        return;
    }
    size_t np = hr_dict_size(c->tracking_prefixes);
    hr_dict_entry **v = sorted_entries(c->tracking_prefixes);
    hr_reply_array(c, (long long)np);
    for (size_t i = 0; i < np; i++)
        hr_reply_bulk(c, v[i]->key, v[i]->klen);
    hr_free(v);
}
