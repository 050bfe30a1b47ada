/* dict.c - chained hash table with incremental resizing; see dict.h.
 *
 * Invariants (R = resizing, i.e. t[1].buckets != NULL):
 *  - not R: every entry is in t[0].buckets[hash & t[0].mask]; t[1] is zero.
 *  - R: an entry is either in t[0].buckets[hash & t[0].mask], which is then
 *    below live0, or in t[1].buckets[hash & t[1].mask] (moved there, or
 *    inserted during the resize: new entries always go to t[1]); t[0]'s
 *    buckets at and above live0 are empty and only the first cap0 are still
 *    allocated; t[0].count > 0 (a resize ends as soon as t[0] is drained,
 *    except that deletes while paused may drain it: the next step ends it).
 *  - t[i].count is the number of entries linked in t[i]. An emptied table
 *    frees its arrays (t[0].buckets == NULL), unless paused: then at the end
 *    of the last iteration.
 */
#include "dict.h"
#include "alloc.h"
#include "hrtime.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define MIN_BUCKETS 4
/* A resize changes the bucket count at most 2^MAX_RATIO_LOG2-fold. */
#define MAX_RATIO_LOG2 3
/* Old tables up to this many buckets are moved in one go when a resize
 * starts (bounded work, and tiny tables never pay for two-table lookups). */
#define SYNC_RESIZE_BUCKETS 64
/* Empty buckets one step may visit per bucket it is asked to move. */
#define EMPTY_VISITS 10
/* hr_dict_rehash_us: buckets moved between clock reads. */
#define US_BATCH 100

/* The old array's moved-out tail is returned to the allocator in pieces of
 * this many buckets (512 KiB), so the end of a big resize has no long free.
 * Only with glibc, whose realloc shrinks in place (mremap for mmapped
 * chunks); other allocators (and ASan's) may copy on a shrinking realloc. */
#define TRIM_BUCKETS 65536
#if defined(__SANITIZE_ADDRESS__)
#define DICT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DICT_ASAN 1
#endif
#endif
#if defined(__GLIBC__) && !defined(DICT_ASAN)
#define DICT_TRIM 1
#else
#define DICT_TRIM 0
#endif

#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static inline int resizing(const hr_dict *d)
{
    return d->t[1].buckets != NULL;
}

static inline int paused(const hr_dict *d)
{
    return d->no_shrink > 0;
}

void hr_dict_init(hr_dict *d)
{
    memset(d, 0, sizeof(*d));
}

static void free_chains(hr_dict_entry **buckets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hr_dict_entry *e = buckets[i];
        while (e) {
            hr_dict_entry *nx = e->next;
            hr_free(e);
            e = nx;
        }
    }
}

void hr_dict_release(hr_dict *d)
{
    hr_dict_table *t0 = &d->t[0], *t1 = &d->t[1];
    if (t0->buckets) {
        free_chains(t0->buckets, resizing(d) ? d->live0 : t0->mask + 1);
        hr_free(t0->buckets);
    }
    if (t1->buckets) {
        free_chains(t1->buckets, t1->mask + 1);
        hr_free(t1->buckets);
    }
    hr_dict_init(d);
}

/* Frees both arrays of a table with no entries (keeps no_shrink). */
static void drop_empty(hr_dict *d)
{
    hr_free(d->t[0].buckets);
    hr_free(d->t[1].buckets);
    int ns = d->no_shrink;
    hr_dict_init(d);
    d->no_shrink = ns;
}

static void finish_resize(hr_dict *d)
{
    hr_free(d->t[0].buckets);
    d->t[0] = d->t[1];
    memset(&d->t[1], 0, sizeof(d->t[1]));
    d->live0 = d->cap0 = 0;
}

static void trim_old(hr_dict *d)
{
#if DICT_TRIM
    if (d->cap0 - d->live0 >= TRIM_BUCKETS) {
        /* live0 > 0 here: the resize ends when t[0] is drained. */
        d->t[0].buckets = hr_realloc(d->t[0].buckets, d->live0 * sizeof(hr_dict_entry *));
        d->cap0 = d->live0;
    }
#else
    (void)d;
#endif
}

/* Moves up to n non-empty buckets of t[0] (from the top down) into t[1],
 * visiting at most n * EMPTY_VISITS empty ones; ends the resize when t[0] is
 * drained. Returns the number of t[0] buckets processed. Call only while
 * resizing. */
static size_t rehash(hr_dict *d, size_t n)
{
    hr_dict_table *t0 = &d->t[0], *t1 = &d->t[1];
    size_t empty = n * EMPTY_VISITS, done = 0;
    while (n-- > 0 && t0->count > 0) {
        /* t0->count > 0 keeps a non-empty bucket below live0. */
        while (!t0->buckets[d->live0 - 1]) {
            d->live0--;
            done++;
            if (--empty == 0) goto out;
        }
        size_t i = --d->live0;
        hr_dict_entry *e = t0->buckets[i];
        t0->buckets[i] = NULL;
        while (e) {
            hr_dict_entry *nx = e->next;
            size_t b = e->hash & t1->mask;
            e->next = t1->buckets[b];
            t1->buckets[b] = e;
            t0->count--;
            t1->count++;
            e = nx;
        }
        done++;
    }
out:
    if (t0->count == 0)
        finish_resize(d);
    else
        trim_old(d);
    return done;
}

/* One step of a pending resize, unless paused. */
static inline void step(hr_dict *d)
{
    if (UNLIKELY(resizing(d)) && !paused(d)) rehash(d, 1);
}

/* Starts moving t[0] into a new array of nb buckets (not resizing, not
 * paused, t[0] allocated). Small tables are moved at once. */
static void start_resize(hr_dict *d, size_t nb)
{
    hr_dict_table *t0 = &d->t[0], *t1 = &d->t[1];
    if (nb == t0->mask + 1) return;
    t1->buckets = hr_calloc(nb, sizeof(hr_dict_entry *));
    t1->mask = nb - 1;
    t1->count = 0;
    d->live0 = d->cap0 = t0->mask + 1;
    if (t0->count == 0)
        finish_resize(d);
    else if (t0->mask + 1 <= SYNC_RESIZE_BUCKETS)
        while (resizing(d)) rehash(d, SYNC_RESIZE_BUCKETS);
}

/* Bucket count a table of `count` entries wants, from a current nb: doubled
 * while count exceeds it, halved while count is under an eighth of it (down
 * to the smallest power of two >= count), changing at most 8-fold. */
static size_t wanted_buckets(size_t nb, size_t count)
{
    size_t want = nb;
    if (count > nb) {
        while (want < count && want < nb << MAX_RATIO_LOG2) want *= 2;
    } else if (nb > MIN_BUCKETS && count < nb / 8) {
        want = MIN_BUCKETS;
        while (want < count) want *= 2;
        if (want < nb >> MAX_RATIO_LOG2) want = nb >> MAX_RATIO_LOG2;
    }
    return want;
}

/* Starts the resize the table needs, if any (not while paused or already
 * resizing). `extra` counts an entry about to be inserted. */
static void check_resize(hr_dict *d, size_t extra)
{
    if (paused(d) || resizing(d) || !d->t[0].buckets) return;
    size_t count = d->t[0].count;
    if (count == 0 && extra == 0) {
        drop_empty(d);
        return;
    }
    size_t nb = d->t[0].mask + 1;
    size_t want = wanted_buckets(nb, count + extra);
    if (want != nb) start_resize(d, want);
}

/* Looks key up in both tables without moving anything. */
static hr_dict_entry *lookup(const hr_dict *d, uint64_t h, const char *key, size_t klen)
{
    const hr_dict_table *t0 = &d->t[0];
    if (t0->buckets) {
        size_t b = h & t0->mask;
        if (!resizing(d) || b < d->live0)
            for (hr_dict_entry *e = t0->buckets[b]; e; e = e->next)
                if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) return e;
    }
    if (resizing(d)) {
        const hr_dict_table *t1 = &d->t[1];
        for (hr_dict_entry *e = t1->buckets[h & t1->mask]; e; e = e->next)
            if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) return e;
    }
    return NULL;
}

static hr_dict_entry *find_resizing(hr_dict *d, const char *key, size_t klen)
{
    step(d);
    return lookup(d, hr_hash(key, klen), key, klen);
}

hr_dict_entry *hr_dict_find(const hr_dict *d, const char *key, size_t klen)
{
    /* The table is not const in storage (nobody defines a const hr_dict):
     * a lookup may move one bucket of a pending resize. */
    if (UNLIKELY(resizing(d))) return find_resizing((hr_dict *)d, key, klen);
    if (!d->t[0].buckets) return NULL;
    uint64_t h = hr_hash(key, klen);
    for (hr_dict_entry *e = d->t[0].buckets[h & d->t[0].mask]; e; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) return e;
    return NULL;
}

void *hr_dict_get(const hr_dict *d, const char *key, size_t klen)
{
    hr_dict_entry *e = hr_dict_find(d, key, klen);
    return e ? e->val : NULL;
}

hr_dict_entry *hr_dict_upsert(hr_dict *d, const char *key, size_t klen, int *created)
{
    step(d);
    uint64_t h = hr_hash(key, klen);
    hr_dict_entry *e = lookup(d, h, key, klen);
    if (e) {
        if (created) *created = 0;
        return e;
    }
    if (!d->t[0].buckets) {
        d->t[0].buckets = hr_calloc(MIN_BUCKETS, sizeof(hr_dict_entry *));
        d->t[0].mask = MIN_BUCKETS - 1;
    } else if (!resizing(d)) {
        check_resize(d, 1);
        step(d); /* a resize just started: start moving */
    }
    e = hr_malloc(sizeof(*e) + klen + 1);
    e->hash = h;
    e->val = NULL;
    e->aux = 0;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    hr_dict_table *t = &d->t[resizing(d) ? 1 : 0];
    size_t b = h & t->mask;
    e->next = t->buckets[b];
    t->buckets[b] = e;
    t->count++;
    if (created) *created = 1;
    return e;
}

/* Unlinks e from table t if it is in its chain; returns 1 when it was. */
static int unlink_from(hr_dict_table *t, hr_dict_entry *e)
{
    hr_dict_entry **pp = &t->buckets[e->hash & t->mask];
    while (*pp && *pp != e) pp = &(*pp)->next;
    if (!*pp) return 0;
    *pp = e->next;
    t->count--;
    return 1;
}

/* Unlinks and frees e; no resize work. Returns 0 when e is not in d. */
static int unlink_entry(hr_dict *d, hr_dict_entry *e)
{
    if (!d->t[0].buckets) return 0;
    int found;
    if (!resizing(d))
        found = unlink_from(&d->t[0], e);
    else /* t[0] only has it when its bucket was not moved yet */
        found = ((e->hash & d->t[0].mask) < d->live0 && unlink_from(&d->t[0], e)) ||
                unlink_from(&d->t[1], e);
    if (found) hr_free(e);
    return found;
}

/* After a delete or an iteration: drops the arrays of an emptied table,
 * ends a resize whose old table was drained by deletes, or starts a due
 * shrink (nothing while paused). */
static void settle(hr_dict *d)
{
    if (paused(d)) return;
    if (hr_dict_size(d) == 0) {
        drop_empty(d);
        return;
    }
    if (d->t[0].count == 0 && resizing(d)) finish_resize(d); /* only t[1] holds entries */
    check_resize(d, 0);
}

void hr_dict_delete_entry(hr_dict *d, hr_dict_entry *e)
{
    step(d);
    if (unlink_entry(d, e)) settle(d);
}

void *hr_dict_delete(hr_dict *d, const char *key, size_t klen)
{
    step(d);
    hr_dict_entry *e = lookup(d, hr_hash(key, klen), key, klen);
    if (!e) return NULL;
    void *v = e->val;
    unlink_entry(d, e);
    settle(d);
    return v;
}

size_t hr_dict_rehash_us(hr_dict *d, unsigned budget_us)
{
    if (paused(d)) return 0;
    check_resize(d, 0);
    if (!resizing(d)) return 0;
    uint64_t start = hr_mono_us();
    size_t done = 0;
    do {
        done += rehash(d, US_BATCH);
    } while (resizing(d) && hr_mono_us() - start < budget_us);
    return done ? done : 1;
}

void hr_dict_iter_init(hr_dict_iter *it, hr_dict *d)
{
    it->d = d;
    it->table = 0;
    it->bucket = 0;
    it->next = NULL;
    /* Moved-out buckets of t[0] (at and above live0) are empty. */
    if (d->t[0].buckets && (!resizing(d) || d->live0 > 0)) it->next = d->t[0].buckets[0];
    d->no_shrink++;
}

hr_dict_entry *hr_dict_next(hr_dict_iter *it)
{
    hr_dict *d = it->d;
    while (!it->next) {
        if (it->table == 0) {
            const hr_dict_table *t0 = &d->t[0];
            size_t end = !t0->buckets ? 0 : resizing(d) ? d->live0 : t0->mask + 1;
            if (it->bucket + 1 < end) {
                it->next = t0->buckets[++it->bucket];
                continue;
            }
            if (!resizing(d)) return NULL;
            it->table = 1;
            it->bucket = 0;
            it->next = d->t[1].buckets[0];
        } else {
            const hr_dict_table *t1 = &d->t[1];
            if (!t1->buckets || it->bucket >= t1->mask) return NULL;
            it->next = t1->buckets[++it->bucket];
        }
    }
    hr_dict_entry *e = it->next;
    it->next = e->next;
    return e;
}

void hr_dict_iter_done(hr_dict_iter *it)
{
    hr_dict *d = it->d;
    if (d->no_shrink > 0 && --d->no_shrink == 0) settle(d);
}

/* Per-thread generator for hr_dict_random (splitmix64), seeded on first use. */
static _Thread_local uint64_t rng_state;
static _Thread_local int rng_seeded;

static uint64_t rng_next(void)
{
    if (UNLIKELY(!rng_seeded)) {
        hr_random_bytes(&rng_state, sizeof(rng_state));
        rng_seeded = 1;
    }
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0), up to a bias of n / 2^64. */
static inline size_t rng_below(size_t n)
{
    return (size_t)(((__uint128_t)rng_next() * n) >> 64);
}

/* Live bucket i of the combined space [t[0] buckets [0, n0), t[1] buckets]. */
static inline hr_dict_entry *slot(const hr_dict *d, size_t n0, size_t i)
{
    return i < n0 ? d->t[0].buckets[i] : d->t[1].buckets[i - n0];
}

#define RANDOM_PROBES 256

/* Chain window for hr_dict_random at load a = count/slots: L = ceil(a +
 * 2*sqrt(a)) + 1 (3 at loads up to 1/2, 4 up to 1), which keeps chains longer
 * than L rare enough that the picks are within 0.5% (total variation) of
 * uniform for Poisson-distributed chain lengths. */
static size_t random_window(size_t count, size_t slots)
{
    double a = (double)count / (double)slots;
    size_t x = 1;
    while ((double)x < a || ((double)x - a) * ((double)x - a) < 4 * a) x++;
    return x + 1;
}

static size_t chain_len(const hr_dict_entry *e)
{
    size_t n = 0;
    for (; e; e = e->next) n++;
    return n;
}

hr_dict_entry *hr_dict_random(const hr_dict *d)
{
    size_t count = hr_dict_size(d);
    if (!count) return NULL;
    size_t n0 = resizing(d) ? d->live0 : d->t[0].mask + 1;
    size_t n1 = resizing(d) ? d->t[1].mask + 1 : 0, slots = n0 + n1;
    /* The window follows the fuller of the two tables' live parts. */
    size_t L = n0 ? random_window(d->t[0].count, n0) : 2;
    if (n1) {
        size_t L1 = random_window(d->t[1].count, n1);
        if (L1 > L) L = L1;
    }
    /* Rejection sampling: a uniform (bucket, position < L) pair, accepted
     * when the chain has an entry there. */
    for (int probe = 0; probe < RANDOM_PROBES; probe++) {
        hr_dict_entry *head = slot(d, n0, rng_below(slots));
        if (!head) continue;
        size_t j = rng_below(L);
        hr_dict_entry *e = head;
        for (size_t k = j; k > 0 && e; k--) e = e->next;
        if (!e) continue;
        /* A chain longer than L (rare) is always accepted: uniform in it. */
        const hr_dict_entry *x = e;
        for (size_t k = j + 1; k < L && x; k++) x = x->next;
        if (x && x->next) {
            e = head;
            for (size_t k = rng_below(chain_len(head)); k > 0; k--) e = e->next;
        }
        return e;
    }
    /* Very sparse: the first non-empty bucket from a random one (bounded: the
     * table holds an entry). */
    size_t i = rng_below(slots);
    hr_dict_entry *e;
    while (!(e = slot(d, n0, i))) i = i + 1 < slots ? i + 1 : 0;
    for (size_t k = rng_below(chain_len(e)); k > 0; k--) e = e->next;
    return e;
}

static size_t reverse_bits(size_t v)
{
    size_t s = sizeof(v) * 8, mask = ~(size_t)0;
    while ((s >>= 1) > 0) {
        mask ^= mask << s;
        v = ((v >> s) & mask) | ((v << s) & ~mask);
    }
    return v;
}

/* Next cursor: increment the reversed cursor, with the bits above mask set
 * so the carry runs off the top. */
static inline size_t next_cursor(size_t v, size_t mask)
{
    v |= ~mask;
    v = reverse_bits(v);
    v++;
    return reverse_bits(v);
}

static inline void emit(hr_dict_entry *e, hr_dict_scan_fn *fn, void *priv)
{
    while (e) {
        hr_dict_entry *nx = e->next; /* read first: fn gets a const entry */
        fn(priv, e);
        e = nx;
    }
}

size_t hr_dict_scan(const hr_dict *d, size_t cursor, hr_dict_scan_fn *fn, void *priv)
{
    if (!resizing(d)) {
        const hr_dict_table *t = &d->t[0];
        if (!t->buckets) return 0;
        emit(t->buckets[cursor & t->mask], fn, priv);
        return next_cursor(cursor, t->mask);
    }
    /* Two tables: the smaller one's bucket, then every bucket of the larger
     * one that expands from it (same low bits), advancing the cursor over the
     * larger table's extra bits until they wrap to zero. */
    const hr_dict_table *small = &d->t[0], *large = &d->t[1];
    if (small->mask > large->mask) {
        const hr_dict_table *tmp = small;
        small = large;
        large = tmp;
    }
    size_t ms = small->mask, ml = large->mask;
    size_t bs = cursor & ms;
    /* t[0]'s moved-out buckets are empty (and may be freed). */
    if (small != &d->t[0] || bs < d->live0) emit(small->buckets[bs], fn, priv);
    do {
        size_t bl = cursor & ml;
        if (large != &d->t[0] || bl < d->live0) emit(large->buckets[bl], fn, priv);
        cursor = next_cursor(cursor, ml);
    } while (cursor & (ms ^ ml));
    return cursor;
}
