/* pubsub.c - subscription registry and fan-out; see pubsub.h. */
#include "pubsub.h"
#include "alloc.h"
#include "glob.h"
#include "util.h"

#include <string.h>

/* Patterns sharing one literal prefix. */
typedef struct hr_pattern_bucket {
    hr_subscribers **pats;
    size_t n, cap;
    size_t prefix_len;
} hr_pattern_bucket;

/* The patterns matching one channel, as of generation gen of the pattern
 * set. Pointers stay valid while gen is current: removing a pattern from
 * the registry bumps the generation. */
typedef struct match_entry {
    uint64_t gen;
    size_t n;
    hr_subscribers *pats[];
} match_entry;

/* Match caching pays off once PUBLISH would glob-match many patterns. */
#define MATCH_CACHE_MIN_PATTERNS 64
#define MATCH_CACHE_MAX_CHANNELS 4096

struct hr_pubsub {
    hr_dict names[3]; /* per namespace: name -> hr_subscribers* */
    /* channel -> match_entry*: which patterns match a channel, so repeated
     * PUBLISHes to it glob-match nothing (patterns without a literal prefix,
     * e.g. "*.event", would otherwise all be tried every time). Bounded:
     * cleared whole when it reaches MATCH_CACHE_MAX_CHANNELS. */
    hr_dict match_cache;
    uint64_t pattern_gen;
    /* Pattern index: literal prefix -> hr_pattern_bucket*, plus the set of
     * distinct prefix lengths in use (sorted, with counts) so PUBLISH looks
     * up one bucket per length. */
    hr_dict buckets;
    size_t *prefix_lens;   /* sorted ascending */
    size_t *prefix_counts; /* buckets per length */
    size_t nlens, lens_cap;
    hr_subscribers **scratch_pats; /* patterns matching the channel being published */
    size_t scratch_cap;
    /* Slabs that encoded messages are appended to, one per frame variant
     * (message / pmessage / smessage x RESP2 / RESP3): a subscriber sent
     * several messages of one variant in a row gets them as one contiguous
     * range, one iovec for the whole batch. */
    hr_frame *slabs[6];
};

/* Slab size, and the largest frame placed in a slab (bigger ones get an
 * allocation of their own: they gain nothing from merging). */
#define SLAB_BYTES (16 * 1024)
#define SLAB_MAX_FRAME (SLAB_BYTES / 4)

static void clear_match_cache(hr_pubsub *ps)
{
    hr_dict_iter it;
    hr_dict_iter_init(&it, &ps->match_cache);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));) hr_free(e->val);
    hr_dict_iter_done(&it);
    hr_dict_release(&ps->match_cache);
}

hr_pubsub *hr_pubsub_new(void)
{
    hr_pubsub *ps = hr_calloc(1, sizeof(*ps));
    for (int i = 0; i < 3; i++) hr_dict_init(&ps->names[i]);
    hr_dict_init(&ps->buckets);
    hr_dict_init(&ps->match_cache);
    return ps;
}

static void free_subs(hr_subscribers *subs)
{
    hr_free(subs->conns);
    hr_free(subs);
}

void hr_pubsub_free(hr_pubsub *ps)
{
    if (!ps) return;
    for (int i = 0; i < 3; i++) {
        hr_dict_iter it;
        hr_dict_iter_init(&it, &ps->names[i]);
        for (hr_dict_entry *e; (e = hr_dict_next(&it));) free_subs(e->val);
        hr_dict_iter_done(&it);
        hr_dict_release(&ps->names[i]);
    }
    hr_dict_iter it;
    hr_dict_iter_init(&it, &ps->buckets);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
        hr_pattern_bucket *b = e->val;
        hr_free(b->pats);
        hr_free(b);
    }
    hr_dict_iter_done(&it);
    hr_dict_release(&ps->buckets);
    clear_match_cache(ps);
    hr_free(ps->prefix_lens);
    hr_free(ps->prefix_counts);
    hr_free(ps->scratch_pats);
    for (size_t i = 0; i < sizeof(ps->slabs) / sizeof(ps->slabs[0]); i++)
        hr_frame_decref(ps->slabs[i]);
    hr_free(ps);
}

static hr_dict *conn_dict(hr_conn *c, int kind)
{
    return kind == HR_PS_CHANNEL ? &c->channels : kind == HR_PS_PATTERN ? &c->patterns
                                                                         : &c->shard_channels;
}

/* --- pattern index ------------------------------------------------------- */

static void prefix_len_add(hr_pubsub *ps, size_t len)
{
    size_t i = 0;
    while (i < ps->nlens && ps->prefix_lens[i] < len) i++;
    if (i < ps->nlens && ps->prefix_lens[i] == len) {
        ps->prefix_counts[i]++;
        return;
    }
    if (ps->nlens == ps->lens_cap) {
        ps->lens_cap = ps->lens_cap ? ps->lens_cap * 2 : 8;
        ps->prefix_lens = hr_realloc(ps->prefix_lens, ps->lens_cap * sizeof(size_t));
        ps->prefix_counts = hr_realloc(ps->prefix_counts, ps->lens_cap * sizeof(size_t));
    }
    memmove(ps->prefix_lens + i + 1, ps->prefix_lens + i, (ps->nlens - i) * sizeof(size_t));
    memmove(ps->prefix_counts + i + 1, ps->prefix_counts + i, (ps->nlens - i) * sizeof(size_t));
    ps->prefix_lens[i] = len;
    ps->prefix_counts[i] = 1;
    ps->nlens++;
}

static void prefix_len_del(hr_pubsub *ps, size_t len)
{
    for (size_t i = 0; i < ps->nlens; i++) {
        if (ps->prefix_lens[i] != len) continue;
        if (--ps->prefix_counts[i] == 0) {
            memmove(ps->prefix_lens + i, ps->prefix_lens + i + 1,
                    (ps->nlens - i - 1) * sizeof(size_t));
            memmove(ps->prefix_counts + i, ps->prefix_counts + i + 1,
                    (ps->nlens - i - 1) * sizeof(size_t));
            ps->nlens--;
        }
        return;
    }
}

static void index_pattern(hr_pubsub *ps, hr_subscribers *subs)
{
    size_t plen = hr_glob_literal_prefix(subs->name, subs->namelen);
    int created;
    hr_dict_entry *e = hr_dict_upsert(&ps->buckets, subs->name, plen, &created);
    if (created) {
        hr_pattern_bucket *b = hr_calloc(1, sizeof(*b));
        b->prefix_len = plen;
        e->val = b;
        prefix_len_add(ps, plen);
    }
    hr_pattern_bucket *b = e->val;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->pats = hr_realloc(b->pats, b->cap * sizeof(*b->pats));
    }
    b->pats[b->n++] = subs;
    subs->bucket = b;
    ps->pattern_gen++;
}

static void unindex_pattern(hr_pubsub *ps, hr_subscribers *subs)
{
    ps->pattern_gen++;
    hr_pattern_bucket *b = subs->bucket;
    for (size_t i = 0; i < b->n; i++) {
        if (b->pats[i] == subs) {
            memmove(b->pats + i, b->pats + i + 1, (b->n - i - 1) * sizeof(*b->pats));
            b->n--;
            break;
        }
    }
    if (b->n == 0) {
        size_t plen = b->prefix_len;
        hr_dict_delete(&ps->buckets, subs->name, plen);
        prefix_len_del(ps, plen);
        hr_free(b->pats);
        hr_free(b);
    }
}

/* --- subscribe / unsubscribe --------------------------------------------- */

int hr_pubsub_subscribe(hr_server *s, hr_conn *c, int kind, const char *name, size_t len)
{
    hr_pubsub *ps = s->pubsub;
    int created;
    hr_dict_entry *ce = hr_dict_upsert(conn_dict(c, kind), name, len, &created);
    if (!created) return 0;
    hr_dict_entry *re = hr_dict_upsert(&ps->names[kind], name, len, &created);
    if (created) {
        hr_subscribers *subs = hr_calloc(1, sizeof(*subs));
        subs->name = re->key;
        subs->namelen = re->klen;
        re->val = subs;
        if (kind == HR_PS_PATTERN) index_pattern(ps, subs);
    }
    hr_subscribers *subs = re->val;
    if (subs->n == subs->cap) {
        subs->cap = subs->cap ? subs->cap * 2 : 4;
        subs->conns = hr_realloc(subs->conns, subs->cap * sizeof(*subs->conns));
    }
    ce->aux = subs->n;
    subs->conns[subs->n++] = c;
    subs->live++;
    ce->val = subs;
    return 1;
}

/* Squeezes the tombstones out of subs, keeping order, and tells every moved
 * subscriber its new slot. */
static void compact(hr_subscribers *subs, int kind)
{
    size_t w = 0;
    for (size_t r = 0; r < subs->n; r++) {
        hr_conn *c = subs->conns[r];
        if (!c) continue;
        if (w != r) {
            subs->conns[w] = c;
            hr_dict_entry *ce = hr_dict_find(conn_dict(c, kind), subs->name, subs->namelen);
            ce->aux = w;
        }
        w++;
    }
    subs->n = w;
}

/* Removes c (whose slot is idx) from subs; frees subs when it was the last. */
static void detach(hr_server *s, int kind, hr_subscribers *subs, size_t idx)
{
    subs->conns[idx] = NULL;
    subs->live--;
    if (subs->live == 0) {
        hr_pubsub *ps = s->pubsub;
        if (kind == HR_PS_PATTERN) unindex_pattern(ps, subs);
        /* subs->name points into the dict entry: delete the entry last. */
        hr_dict_entry *re = hr_dict_find(&ps->names[kind], subs->name, subs->namelen);
        free_subs(subs);
        hr_dict_delete_entry(&ps->names[kind], re);
        return;
    }
    while (subs->n > 0 && !subs->conns[subs->n - 1]) subs->n--; /* trailing tombstones */
    if (subs->n - subs->live > subs->n / 2) compact(subs, kind);
}

int hr_pubsub_unsubscribe(hr_server *s, hr_conn *c, int kind, const char *name, size_t len)
{
    hr_dict_entry *ce = hr_dict_find(conn_dict(c, kind), name, len);
    if (!ce) return 0;
    hr_subscribers *subs = ce->val;
    size_t idx = ce->aux;
    hr_dict_delete_entry(conn_dict(c, kind), ce);
    detach(s, kind, subs, idx);
    return 1;
}

void hr_pubsub_unsubscribe_all(hr_server *s, hr_conn *c)
{
    for (int kind = 0; kind < 3; kind++) {
        hr_dict *d = conn_dict(c, kind);
        hr_dict_iter it;
        hr_dict_iter_init(&it, d);
        for (hr_dict_entry *e; (e = hr_dict_next(&it));) detach(s, kind, e->val, e->aux);
        hr_dict_iter_done(&it);
        hr_dict_release(d);
    }
}

/* --- publish ------------------------------------------------------------- */

static size_t bulk_size(size_t len)
{
    return 1 + (size_t)hr_digits10(len) + 2 + len + 2;
}

static char *put_bulk(char *d, const char *s, size_t len)
{
    *d++ = '$';
    d += hr_ull2str(d, len);
    *d++ = '\r';
    *d++ = '\n';
    memcpy(d, s, len);
    d += len;
    *d++ = '\r';
    *d++ = '\n';
    return d;
}

/* One encoded message: bytes [off, off+len) of frame f (a slab or a frame
 * of its own), with one reference to f. */
typedef struct frame_ref {
    hr_frame *f;
    size_t off, len;
} frame_ref;

/* Room for size bytes of a frame of the given variant: at the end of the
 * variant's slab when it fits. */
static char *frame_space(hr_pubsub *ps, int variant, size_t size, frame_ref *r)
{
    r->len = size;
    if (size > SLAB_MAX_FRAME) {
        r->f = hr_frame_alloc(size);
        r->off = 0;
        return r->f->data;
    }
    hr_frame *sl = ps->slabs[variant];
    if (sl && sl->refcnt == 1) sl->len = 0; /* no queue refers to it: reuse it whole */
    if (!sl || sl->cap - sl->len < size) {
        hr_frame_decref(sl);
        sl = ps->slabs[variant] = hr_slab_new(SLAB_BYTES);
    }
    r->f = hr_frame_incref(sl);
    r->off = sl->len;
    sl->len += size;
    return sl->data + r->off;
}

/* Encodes [kind-word, (pattern,) channel, message] as a RESP2 array or a
 * RESP3 push (the message is copied once per variant). */
static void build_frame(hr_pubsub *ps, int proto, int kind, const char *pat, size_t patlen,
                        const char *ch, size_t chlen, const char *msg, size_t msglen,
                        frame_ref *r)
{
    static const char *const words[3] = {"message", "pmessage", "smessage"};
    const char *word = words[kind];
    size_t wlen = strlen(word);
    size_t size = 4 + bulk_size(wlen) + (pat ? bulk_size(patlen) : 0) + bulk_size(chlen) +
                  bulk_size(msglen);
    char *d = frame_space(ps, kind * 2 + (proto == 3), size, r);
    *d++ = proto == 3 ? '>' : '*';
    *d++ = pat ? '4' : '3';
    *d++ = '\r';
    *d++ = '\n';
    d = put_bulk(d, word, wlen);
    if (pat) d = put_bulk(d, pat, patlen);
    d = put_bulk(d, ch, chlen);
    put_bulk(d, msg, msglen);
}

typedef struct frame_pair {
    frame_ref r[2]; /* [0] RESP2, [1] RESP3; f is NULL until first needed */
} frame_pair;

static long long deliver(hr_server *s, hr_subscribers *subs, frame_pair *fp, int kind,
                         const char *pat, size_t patlen, const char *ch, size_t chlen,
                         const char *msg, size_t msglen)
{
    long long n = 0;
    for (size_t i = 0; i < subs->n; i++) {
        hr_conn *c = subs->conns[i];
        if (!c) continue; /* tombstone */
        int k = c->resp == 3;
        frame_ref *r = &fp->r[k];
        if (!r->f)
            build_frame(s->pubsub, k ? 3 : 2, kind, pat, patlen, ch, chlen, msg, msglen, r);
        n++;
        hr_conn_push_range(c, r->f, r->off, r->len);
    }
    return n;
}

static void release_pair(frame_pair *fp)
{
    hr_frame_decref(fp->r[0].f);
    hr_frame_decref(fp->r[1].f);
}

/* Collects the patterns matching ch through the literal-prefix index, in
 * index order, into ps->scratch_pats. */
static size_t scan_patterns(hr_pubsub *ps, const char *ch, size_t chlen)
{
    size_t n = 0;
    for (size_t li = 0; li < ps->nlens; li++) {
        size_t plen = ps->prefix_lens[li];
        if (plen > chlen) break;
        hr_pattern_bucket *b = hr_dict_get(&ps->buckets, ch, plen);
        if (!b) continue;
        for (size_t i = 0; i < b->n; i++) {
            hr_subscribers *p = b->pats[i];
            if (!hr_glob_match(p->name, p->namelen, ch, chlen, false)) continue;
            if (n == ps->scratch_cap) {
                ps->scratch_cap = ps->scratch_cap ? ps->scratch_cap * 2 : 16;
                ps->scratch_pats =
                    hr_realloc(ps->scratch_pats, ps->scratch_cap * sizeof(*ps->scratch_pats));
            }
            ps->scratch_pats[n++] = p;
        }
    }
    return n;
}

/* The patterns matching ch: from the cache when the pattern set has not
 * changed since, else scanned (and cached when there are many patterns). */
static hr_subscribers **matching_patterns(hr_pubsub *ps, const char *ch, size_t chlen,
                                          size_t *n)
{
    size_t npatterns = hr_dict_size(&ps->names[HR_PS_PATTERN]);
    if (npatterns < MATCH_CACHE_MIN_PATTERNS) {
        *n = scan_patterns(ps, ch, chlen);
        return ps->scratch_pats;
    }
    hr_dict_entry *e = hr_dict_find(&ps->match_cache, ch, chlen);
    if (e && ((match_entry *)e->val)->gen == ps->pattern_gen) {
        match_entry *m = e->val;
        *n = m->n;
        return m->pats;
    }
    size_t found = scan_patterns(ps, ch, chlen);
    if (!e) {
        if (hr_dict_size(&ps->match_cache) >= MATCH_CACHE_MAX_CHANNELS) {
            clear_match_cache(ps);
            hr_dict_init(&ps->match_cache);
        }
        e = hr_dict_upsert(&ps->match_cache, ch, chlen, NULL);
    }
    match_entry *m = hr_realloc(e->val, sizeof(*m) + found * sizeof(m->pats[0]));
    m->gen = ps->pattern_gen;
    m->n = found;
    memcpy(m->pats, ps->scratch_pats, found * sizeof(m->pats[0]));
    e->val = m;
    *n = found;
    return m->pats;
}

long long hr_pubsub_publish(hr_server *s, int kind, const char *ch, size_t chlen, const char *msg,
                            size_t msglen)
{
    hr_pubsub *ps = s->pubsub;
    long long receivers = 0;
    s->stats.pubsub_messages_published++;
    hr_subscribers *subs = hr_dict_get(&ps->names[kind], ch, chlen);
    if (subs) {
        frame_pair fp = {0};
        receivers += deliver(s, subs, &fp, kind == HR_PS_SHARD ? 2 : 0, NULL, 0, ch, chlen, msg,
                             msglen);
        release_pair(&fp);
    }
    if (kind == HR_PS_CHANNEL && ps->nlens > 0) {
        size_t n;
        hr_subscribers **pats = matching_patterns(ps, ch, chlen, &n);
        for (size_t i = 0; i < n; i++) {
            hr_subscribers *p = pats[i];
            frame_pair fp = {0};
            receivers += deliver(s, p, &fp, 1, p->name, p->namelen, ch, chlen, msg, msglen);
            release_pair(&fp);
        }
    }
    s->stats.pubsub_deliveries += receivers;
    return receivers;
}

size_t hr_pubsub_count(const hr_server *s, int kind)
{
    return hr_dict_size(&s->pubsub->names[kind]);
}

size_t hr_pubsub_numsub(const hr_server *s, int kind, const char *name, size_t len)
{
    hr_subscribers *subs = hr_dict_get(&s->pubsub->names[kind], name, len);
    return subs ? subs->live : 0;
}

hr_dict *hr_pubsub_dict(hr_server *s, int kind)
{
    return &s->pubsub->names[kind];
}

size_t hr_pubsub_pattern_buckets(const hr_server *s)
{
    return hr_dict_size(&s->pubsub->buckets);
}
