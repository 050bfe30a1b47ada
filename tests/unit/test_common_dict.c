/*
 * test_common_dict.c - hr_dict, in particular its incremental resizing.
 *
 * Keys are "k:<i>" for i in a fixed universe; a reference (bitmap of present
 * keys, their entry addresses and a dense list of live keys for picking) is
 * kept next to the table and compared after every operation. The table's
 * internal invariants (every entry in the bucket its hash selects, per-table
 * counts, moved-out old buckets empty) are checked from the struct fields.
 * Operation sequences use a fixed-seed generator, so failures reproduce;
 * hr_dict_random has its own OS-seeded generator, so the checks on it are
 * loose statistical bounds. Every loop is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "dict.h"
#include "hrtime.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

/* ---- helpers ---------------------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
    rng_state = s ? s : 1;
}

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static unsigned below(unsigned n)
{
    return (unsigned)(rng() % n);
}

static size_t mkkey(char *buf, unsigned i)
{
    return (size_t)sprintf(buf, "k:%u", i);
}

static unsigned keyidx(const hr_dict_entry *e)
{
    return (unsigned)strtoul(e->key + 2, NULL, 10);
}

typedef struct ref {
    unsigned universe;
    unsigned char *present;
    hr_dict_entry **addr;
    unsigned *live; /* dense list of present keys */
    unsigned *pos;  /* index in live */
    unsigned nlive;
} ref;

static void ref_init(ref *r, unsigned universe)
{
    r->universe = universe;
    r->present = calloc(universe, 1);
    r->addr = calloc(universe, sizeof(*r->addr));
    r->live = calloc(universe, sizeof(*r->live));
    r->pos = calloc(universe, sizeof(*r->pos));
    r->nlive = 0;
}

static void ref_free(ref *r)
{
    free(r->present);
    free(r->addr);
    free(r->live);
    free(r->pos);
}

static void ref_add(ref *r, unsigned k, hr_dict_entry *e)
{
    r->present[k] = 1;
    r->addr[k] = e;
    r->pos[k] = r->nlive;
    r->live[r->nlive++] = k;
}

static void ref_del(ref *r, unsigned k)
{
    unsigned p = r->pos[k], last = r->live[--r->nlive];
    r->live[p] = last;
    r->pos[last] = p;
    r->present[k] = 0;
    r->addr[k] = NULL;
}

/* Inserts key k into both; returns the entry. */
static hr_dict_entry *put(hr_dict *d, ref *r, unsigned k)
{
    char key[24];
    size_t kl = mkkey(key, k);
    int created = -1;
    hr_dict_entry *e = hr_dict_upsert(d, key, kl, &created);
    assert_non_null(e);
    assert_int_equal(created, !r->present[k]);
    if (created) {
        assert_null(e->val);
        assert_int_equal(e->aux, 0);
        assert_int_equal(e->klen, kl);
        assert_memory_equal(e->key, key, kl + 1);
        e->val = (void *)(uintptr_t)(k + 1);
        ref_add(r, k, e);
    } else {
        assert_ptr_equal(e, r->addr[k]);
    }
    return e;
}

static void del_key(hr_dict *d, ref *r, unsigned k)
{
    char key[24];
    size_t kl = mkkey(key, k);
    void *v = hr_dict_delete(d, key, kl);
    if (r->present[k]) {
        assert_ptr_equal(v, (void *)(uintptr_t)(k + 1));
        ref_del(r, k);
    } else {
        assert_null(v);
    }
}

static void del_entry(hr_dict *d, ref *r, unsigned k)
{
    hr_dict_delete_entry(d, r->addr[k]);
    ref_del(r, k);
}

static void check_find(hr_dict *d, ref *r, unsigned k)
{
    char key[24];
    size_t kl = mkkey(key, k);
    hr_dict_entry *e = hr_dict_find(d, key, kl);
    if (r->present[k]) {
        assert_ptr_equal(e, r->addr[k]);
        assert_ptr_equal(hr_dict_get(d, key, kl), (void *)(uintptr_t)(k + 1));
    } else {
        assert_null(e);
        assert_null(hr_dict_get(d, key, kl));
    }
}

/* Structural invariants, from the public struct fields. */
static void check_invariants(const hr_dict *d)
{
    int rs = hr_dict_is_resizing(d);
    size_t n[2] = {0, 0};
    for (int t = 0; t < 2; t++) {
        const hr_dict_table *tb = &d->t[t];
        if (!tb->buckets) {
            assert_int_equal(tb->count, 0);
            assert_int_equal(tb->mask, 0);
            continue;
        }
        assert_int_equal((tb->mask + 1) & tb->mask, 0); /* power of two */
        size_t end = t == 0 && rs ? d->live0 : tb->mask + 1;
        for (size_t b = 0; b < end; b++)
            for (const hr_dict_entry *e = tb->buckets[b]; e; e = e->next) {
                assert_int_equal(e->hash & tb->mask, b);
                assert_int_equal(e->hash, hr_hash(e->key, e->klen));
                n[t]++;
            }
        if (t == 0 && rs) {
            assert_true(d->live0 <= d->cap0 && d->cap0 <= tb->mask + 1);
            for (size_t b = d->live0; b < d->cap0; b++) assert_null(tb->buckets[b]);
        }
    }
    assert_int_equal(n[0], d->t[0].count);
    assert_int_equal(n[1], d->t[1].count);
    if (!rs) {
        assert_int_equal(d->t[1].count, 0);
        assert_int_equal(d->t[1].mask, 0);
    } else {
        assert_non_null(d->t[0].buckets);
        if (d->no_shrink == 0) assert_true(d->t[0].count > 0);
    }
}

static void check_all(hr_dict *d, ref *r)
{
    assert_int_equal(hr_dict_size(d), r->nlive);
    check_invariants(d);
    /* Lookups move buckets, so check invariants again afterwards. */
    for (unsigned k = 0; k < r->universe; k++) check_find(d, r, k);
    check_invariants(d);
}

/* Which table e is in (0 or 1); the table must be resizing. */
static int table_of(const hr_dict *d, const hr_dict_entry *e)
{
    size_t b = e->hash & d->t[0].mask;
    if (b < d->live0)
        for (const hr_dict_entry *x = d->t[0].buckets[b]; x; x = x->next)
            if (x == e) return 0;
    return 1;
}

/* Full iteration: every live entry exactly once; deletes about del_pct% of
 * the returned entries (never keys below keep) and looks other keys up
 * meanwhile (which must move nothing). Returns the number of entries
 * deleted. */
static unsigned iterate_keep(hr_dict *d, ref *r, unsigned del_pct, unsigned keep)
{
    unsigned char *seen = calloc(r->universe, 1);
    unsigned start = r->nlive, n = 0, deleted = 0;
    size_t live0 = d->live0;
    void *b0 = d->t[0].buckets, *b1 = d->t[1].buckets;
    hr_dict_iter it;
    hr_dict_iter_init(&it, d);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
        unsigned k = keyidx(e);
        assert_true(k < r->universe);
        assert_true(r->present[k]);
        assert_false(seen[k]);
        assert_ptr_equal(r->addr[k], e);
        seen[k] = 1;
        n++;
        if (k >= keep && below(100) < del_pct) {
            if (below(2))
                del_entry(d, r, k);
            else
                del_key(d, r, k);
            deleted++;
        } else if (below(4) == 0) {
            check_find(d, r, below(r->universe));
        }
        /* Paused: nothing moved, nothing reallocated. */
        assert_int_equal(d->live0, live0);
        assert_ptr_equal(d->t[0].buckets, b0);
        assert_ptr_equal(d->t[1].buckets, b1);
        assert_true(n <= start);
    }
    assert_null(hr_dict_next(&it)); /* stays at the end */
    hr_dict_iter_done(&it);
    assert_int_equal(n, start);
    assert_int_equal(r->nlive, start - deleted);
    free(seen);
    return deleted;
}

static unsigned iterate_check(hr_dict *d, ref *r, unsigned del_pct)
{
    return iterate_keep(d, r, del_pct, 0);
}

/* ---- random operation sequences against the reference ----------------- */

static void test_random_ops(void **state)
{
    (void)state;
    enum { U = 40000, OPS = 400000 };
    ref r;
    ref_init(&r, U);
    hr_dict d;
    hr_dict_init(&d);
    rng_seed(0x1234567);
    unsigned long grow_ops = 0, shrink_ops = 0, iterations = 0, randoms = 0;
    for (unsigned op = 0; op < OPS; op++) {
        /* Phases: fill, drain, churn, drain to (nearly) empty. */
        unsigned phase = (op / 25000) % 4;
        unsigned ins_pct = phase == 0 ? 80 : phase == 1 ? 25 : phase == 2 ? 50 : 8;
        unsigned x = below(100);
        if (hr_dict_is_resizing(&d)) {
            if (d.t[1].mask > d.t[0].mask)
                grow_ops++;
            else
                shrink_ops++;
        }
        if (x < ins_pct) {
            put(&d, &r, below(U));
        } else if (x < 95) {
            unsigned y = below(3);
            if (y == 0 || r.nlive == 0)
                del_key(&d, &r, below(U)); /* often absent */
            else if (y == 1)
                del_key(&d, &r, r.live[below(r.nlive)]);
            else
                del_entry(&d, &r, r.live[below(r.nlive)]);
        } else {
            check_find(&d, &r, below(U));
        }
        assert_int_equal(hr_dict_size(&d), r.nlive);
        if (op % 97 == 0) {
            hr_dict_entry *e = hr_dict_random(&d);
            if (r.nlive == 0) {
                assert_null(e);
            } else {
                assert_non_null(e);
                assert_ptr_equal(r.addr[keyidx(e)], e);
                randoms++;
            }
        }
        if (op % 1009 == 0) hr_dict_rehash_us(&d, below(3) == 0 ? 0 : 5);
        if (op % 2000 == 0) check_invariants(&d);
        if (op % 20011 == 0) check_all(&d, &r);
        if (op % 7919 == 0) {
            iterate_check(&d, &r, below(60));
            iterations++;
        }
    }
    check_all(&d, &r);
    print_message("random ops: %lu ops while growing, %lu while shrinking, %lu iterations, "
                  "%lu randoms\n",
                  grow_ops, shrink_ops, iterations, randoms);
    assert_true(grow_ops > 1000);
    assert_true(shrink_ops > 1000);
    hr_dict_release(&d);
    assert_int_equal(hr_dict_size(&d), 0);
    assert_null(d.t[0].buckets);
    ref_free(&r);
}

/* ---- iteration ---------------------------------------------------------- */

/* Inserts keys first, first+1, ... until a growth is in progress with
 * entries in both tables (about a quarter of the old buckets moved). */
static void fill_to_midgrow(hr_dict *d, ref *r, unsigned first, unsigned max)
{
    unsigned k = first;
    for (int round = 0; round < 100; round++) {
        while (k < max && !hr_dict_is_resizing(d)) put(d, r, k++);
        size_t extra = (d->t[0].mask + 1) / 4;
        for (size_t i = 0; i < extra && k < max && hr_dict_is_resizing(d); i++) put(d, r, k++);
        if (hr_dict_is_resizing(d) && d->t[0].count > 0 && d->t[1].count > 0 &&
            d->t[1].mask > d->t[0].mask)
            return;
    }
    fail_msg("no growth in progress after inserting keys %u..%u", first, k);
}

static void test_iteration(void **state)
{
    (void)state;
    enum { U = 20000 };
    ref r;
    ref_init(&r, U);
    hr_dict d;
    hr_dict_init(&d);
    rng_seed(77);

    /* Empty table. */
    iterate_check(&d, &r, 0);
    /* Settled table, no deletes, then half deleted. */
    for (unsigned k = 0; k < 3000; k++) put(&d, &r, k);
    while (hr_dict_rehash_us(&d, 1000)) {}
    assert_false(hr_dict_is_resizing(&d));
    iterate_check(&d, &r, 0);
    iterate_check(&d, &r, 50);
    check_all(&d, &r);

    /* Mid-growth: both tables walked; deleting every returned entry empties
     * the table, which is freed when the iteration ends. */
    hr_dict_release(&d);
    ref_free(&r);
    ref_init(&r, U);
    fill_to_midgrow(&d, &r, 0, U);
    iterate_check(&d, &r, 30);
    check_all(&d, &r);
    fill_to_midgrow(&d, &r, 10000, U);
    iterate_check(&d, &r, 100);
    assert_int_equal(hr_dict_size(&d), 0);
    assert_null(d.t[0].buckets);
    assert_null(d.t[1].buckets);

    /* Mid-shrink: deletes made during an iteration start a shrink at its end. */
    for (unsigned k = 0; k < 16384; k++) put(&d, &r, k);
    while (hr_dict_rehash_us(&d, 1000)) {}
    size_t nb = d.t[0].mask + 1;
    iterate_check(&d, &r, 95);
    assert_true(hr_dict_is_resizing(&d));
    assert_true(d.t[1].mask < d.t[0].mask);
    assert_true(d.t[1].mask + 1 >= nb / 8); /* at most 8-fold per resize */
    iterate_check(&d, &r, 0);
    for (int i = 0; i < 50; i++) check_find(&d, &r, below(U));
    iterate_check(&d, &r, 20);
    check_all(&d, &r);

    /* Two iterators at once: resizing stays paused until both are done. */
    hr_dict_iter a, b;
    hr_dict_iter_init(&a, &d);
    hr_dict_iter_init(&b, &d);
    size_t na = 0, nbb = 0;
    while (hr_dict_next(&a)) na++;
    hr_dict_iter_done(&a);
    assert_int_equal(d.no_shrink, 1);
    while (hr_dict_next(&b)) nbb++;
    hr_dict_iter_done(&b);
    assert_int_equal(d.no_shrink, 0);
    assert_int_equal(na, r.nlive);
    assert_int_equal(nbb, r.nlive);

    /* iter_done after release is harmless. */
    hr_dict_iter_init(&a, &d);
    hr_dict_release(&d);
    hr_dict_iter_done(&a);
    assert_int_equal(d.no_shrink, 0);
    ref_free(&r);
}

/* ---- scan ---------------------------------------------------------------- */

typedef struct scan_state {
    ref *r;
    unsigned char *seen;
} scan_state;

static void scan_cb(void *priv, const hr_dict_entry *e)
{
    scan_state *ss = priv;
    unsigned k = keyidx(e);
    assert_true(k < ss->r->universe);
    assert_true(ss->r->present[k]); /* only live entries */
    assert_ptr_equal(ss->r->addr[k], e);
    ss->seen[k] = 1;
}

/* One full scan over d while `mutate` changes the volatile keys [stable, U)
 * between calls; every stable key must be visited. Returns the number of
 * calls made while the table was resizing. */
typedef void mutate_fn(hr_dict *d, ref *r, unsigned stable, unsigned call);

static unsigned scan_check(hr_dict *d, ref *r, unsigned stable, mutate_fn *mutate)
{
    scan_state ss = {r, calloc(r->universe, 1)};
    size_t cursor = 0;
    unsigned calls = 0, resizing_calls = 0;
    do {
        if (hr_dict_is_resizing(d)) resizing_calls++;
        cursor = hr_dict_scan(d, cursor, scan_cb, &ss);
        mutate(d, r, stable, calls++);
        if (calls % 1000 == 0) check_invariants(d);
        assert_true(calls < 5000000);
    } while (cursor != 0);
    for (unsigned k = 0; k < stable; k++) {
        if (!ss.seen[k]) fail_msg("stable key %u not visited by the scan (%u calls)", k, calls);
    }
    free(ss.seen);
    return resizing_calls;
}

/* Grows to ~U entries, then drains the volatile keys, then grows again. */
static void mutate_wave(hr_dict *d, ref *r, unsigned stable, unsigned call)
{
    unsigned phase = (call / 300) % 3;
    for (int i = 0; i < 40; i++) {
        if (phase != 1) {
            put(d, r, stable + below(r->universe - stable));
        } else if (r->nlive > stable) {
            unsigned k = r->live[below(r->nlive)];
            if (k >= stable) {
                if (below(2))
                    del_entry(d, r, k);
                else
                    del_key(d, r, k);
            }
        }
    }
    if (call % 50 == 0) hr_dict_rehash_us(d, 2);
}

/* Random churn on the volatile keys plus a lookup or two. */
static void mutate_churn(hr_dict *d, ref *r, unsigned stable, unsigned call)
{
    (void)call;
    unsigned n = below(30);
    for (unsigned i = 0; i < n; i++) {
        unsigned k = stable + below(r->universe - stable);
        if (below(2))
            put(d, r, k);
        else
            del_key(d, r, k);
    }
    check_find(d, r, below(r->universe));
}

/* Mass deletion at one call (shrinks of up to 8x in a row), mass insertion at
 * another, during an iteration pause at a third. */
static void mutate_jumps(hr_dict *d, ref *r, unsigned stable, unsigned call)
{
    if (call == 20 || call == 400) {
        for (unsigned k = stable; k < r->universe; k++)
            if (r->present[k]) del_key(d, r, k);
    } else if (call == 200) {
        for (unsigned k = stable; k < r->universe; k++) put(d, r, k);
    } else if (call == 300) {
        iterate_keep(d, r, 90, stable); /* deferred shrink starts at its end */
    } else if (call % 3 == 0) {
        check_find(d, r, below(r->universe)); /* drives the resize */
    }
}

static void test_scan(void **state)
{
    (void)state;
    enum { U = 60000 };
    rng_seed(4242);
    unsigned resizing_calls = 0;
    for (int round = 0; round < 6; round++) {
        ref r;
        ref_init(&r, U);
        hr_dict d;
        hr_dict_init(&d);
        unsigned stable = round % 2 ? 100 : 3000;
        for (unsigned k = 0; k < stable; k++) put(&d, &r, k);
        /* Start some rounds in the middle of a growth. */
        if (round >= 2) fill_to_midgrow(&d, &r, stable, U);
        resizing_calls += scan_check(&d, &r, stable, mutate_wave);
        resizing_calls += scan_check(&d, &r, stable, mutate_churn);
        /* Full volatile set, then a scan with jumps. */
        for (unsigned k = stable; k < U; k += 1 + round) put(&d, &r, k);
        resizing_calls += scan_check(&d, &r, stable, mutate_jumps);
        check_all(&d, &r);
        hr_dict_release(&d);
        ref_free(&r);
        /* A scan with no changes visits exactly the live entries, also in the
         * middle of a growth and of a shrink. */
        ref_init(&r, U);
        for (unsigned k = 0; k < 1000u << round; k++) put(&d, &r, k);
        fill_to_midgrow(&d, &r, 1000u << round, U);
        if (round % 2) {
            iterate_check(&d, &r, 95); /* starts a shrink once the growth ended */
            while (!hr_dict_is_resizing(&d) || d.t[1].mask > d.t[0].mask)
                if (!hr_dict_rehash_us(&d, 0)) break;
        }
        assert_true(hr_dict_is_resizing(&d));
        scan_state ss = {&r, calloc(U, 1)};
        size_t cursor = 0;
        unsigned calls = 0;
        do {
            cursor = hr_dict_scan(&d, cursor, scan_cb, &ss);
        } while (cursor != 0 && ++calls < 10000000);
        for (unsigned k = 0; k < U; k++) assert_int_equal(ss.seen[k], r.present[k]);
        free(ss.seen);
        hr_dict_release(&d);
        ref_free(&r);
    }
    print_message("scan: %u calls made mid-resize\n", resizing_calls);
    assert_true(resizing_calls > 1000);
    /* Empty table: the walk is complete at once. */
    hr_dict d;
    hr_dict_init(&d);
    assert_int_equal(hr_dict_scan(&d, 0, scan_cb, NULL), 0);
}

/* ---- random -------------------------------------------------------------- */

static void test_random_small_set(void **state)
{
    (void)state;
    ref r;
    ref_init(&r, 100);
    hr_dict d;
    hr_dict_init(&d);
    assert_null(hr_dict_random(&d));
    for (unsigned k = 0; k < 5; k++) put(&d, &r, k);
    unsigned char seen[5] = {0};
    unsigned nseen = 0;
    for (int i = 0; i < 100000 && nseen < 5; i++) {
        hr_dict_entry *e = hr_dict_random(&d);
        unsigned k = keyidx(e);
        assert_true(k < 5);
        assert_ptr_equal(r.addr[k], e);
        if (!seen[k]) nseen++;
        seen[k] = 1;
    }
    assert_int_equal(nseen, 5);
    hr_dict_release(&d);
    ref_free(&r);
}

/* Chi-square of n draws over the live entries (expected n / nlive each);
 * also the share of draws from t[0] entries when resizing. */
static double random_chi2(hr_dict *d, ref *r, unsigned n, double *t0_share, double *t0_expected)
{
    unsigned *hits = calloc(r->universe, sizeof(*hits));
    size_t rs = hr_dict_is_resizing(d), from0 = 0;
    for (unsigned i = 0; i < n; i++) {
        hr_dict_entry *e = hr_dict_random(d);
        unsigned k = keyidx(e);
        assert_true(r->present[k]);
        assert_ptr_equal(r->addr[k], e);
        hits[k]++;
        if (rs && table_of(d, e) == 0) from0++;
    }
    double expect_hits = (double)n / r->nlive, chi2 = 0;
    unsigned minh = n, maxh = 0;
    for (unsigned i = 0; i < r->nlive; i++) {
        double dlt = hits[r->live[i]] - expect_hits;
        chi2 += dlt * dlt / expect_hits;
        if (hits[r->live[i]] < minh) minh = hits[r->live[i]];
        if (hits[r->live[i]] > maxh) maxh = hits[r->live[i]];
    }
    assert_true(minh > 0);
    *t0_share = (double)from0 / n;
    *t0_expected = (double)d->t[0].count / hr_dict_size(d);
    free(hits);
    print_message("random: %u entries, %u draws: chi2 %.0f (df %u), hits %u..%u, "
                  "t0 share %.4f (expected %.4f)\n",
                  r->nlive, n, chi2, r->nlive - 1, minh, maxh, *t0_share, *t0_expected);
    return chi2;
}

static unsigned isqrt(unsigned v)
{
    unsigned x = 0;
    while ((x + 1) * (x + 1) <= v) x++;
    return x;
}

/* Chi-square bound: 10 standard deviations above the mean (df), plus 5% of
 * df for the documented bias of chains longer than the window. Picking a
 * bucket and then a position in its chain (entries weighted by 1/chain
 * length) gives several times df. */
static double chi2_bound(unsigned df)
{
    return df + 10.0 * isqrt(2 * df) + 0.05 * df;
}

static void test_random_uniform(void **state)
{
    (void)state;
    enum { U = 40000 };
    ref r;
    ref_init(&r, U);
    hr_dict d;
    hr_dict_init(&d);
    rng_seed(99);
    double share, expect, chi2;
    /* Settled table at load ~0.6. */
    for (unsigned k = 0; k < 5000; k++) put(&d, &r, k);
    while (hr_dict_rehash_us(&d, 1000)) {}
    assert_false(hr_dict_is_resizing(&d));
    chi2 = random_chi2(&d, &r, 100 * r.nlive, &share, &expect);
    assert_true(chi2 < chi2_bound(r.nlive - 1));

    /* Mid-growth, about half of the entries moved: no bias between tables. */
    fill_to_midgrow(&d, &r, 5000, U);
    unsigned k = r.nlive;
    while (d.t[0].count > d.t[1].count) put(&d, &r, k++);
    assert_true(hr_dict_is_resizing(&d));
    chi2 = random_chi2(&d, &r, 100 * r.nlive, &share, &expect);
    assert_true(chi2 < chi2_bound(r.nlive - 1));
    assert_true(share > expect - 0.01 && share < expect + 0.01);
    hr_dict_release(&d);
    ref_free(&r);

    /* Mid-shrink: the old table 8x larger and sparse, some entries moved. */
    ref_init(&r, U);
    for (k = 0; k < 16384; k++) put(&d, &r, k);
    while (hr_dict_rehash_us(&d, 1000)) {}
    iterate_check(&d, &r, 90);
    assert_true(hr_dict_is_resizing(&d) && d.t[1].mask < d.t[0].mask);
    for (int i = 0; i < 400; i++) check_find(&d, &r, below(U));
    assert_true(hr_dict_is_resizing(&d) && d.t[1].count > 0);
    chi2 = random_chi2(&d, &r, 200 * r.nlive, &share, &expect);
    assert_true(chi2 < chi2_bound(r.nlive - 1));
    assert_true(share > expect - 0.01 && share < expect + 0.01);
    hr_dict_release(&d);
    ref_free(&r);
}

/* A table left very sparse (its shrink deferred by an iteration): random
 * still returns one of the few entries, quickly. */
static void test_random_sparse(void **state)
{
    (void)state;
    enum { U = 200000 };
    ref r;
    ref_init(&r, U);
    hr_dict d;
    hr_dict_init(&d);
    for (unsigned k = 0; k < U; k++) put(&d, &r, k);
    hr_dict_iter it;
    hr_dict_iter_init(&it, &d);
    for (hr_dict_entry *e; (e = hr_dict_next(&it));) {
        unsigned k = keyidx(e);
        if (k % 50000 != 7) del_entry(&d, &r, k);
    }
    assert_int_equal(r.nlive, 4);
    uint64_t t0 = hr_mono_us();
    unsigned seen = 0;
    for (int i = 0; i < 500; i++) {
        hr_dict_entry *e = hr_dict_random(&d);
        unsigned k = keyidx(e);
        assert_true(r.present[k]);
        seen |= 1u << (k / 50000);
    }
    uint64_t dt = hr_mono_us() - t0;
    print_message("random on 4 entries in %zu buckets: %.1f us per call\n",
                  (size_t)d.t[0].mask + 1, dt / 500.0);
    /* The fallback favours entries after long empty runs, but with 4 entries
     * spread by the hash several of them show up. */
    assert_true(__builtin_popcount(seen) >= 2);
    hr_dict_iter_done(&it);
    /* The deferred shrink started; random works mid-shrink too. */
    assert_true(hr_dict_is_resizing(&d));
    for (int i = 0; i < 1000; i++) assert_true(r.present[keyidx(hr_dict_random(&d))]);
    check_all(&d, &r);
    while (hr_dict_rehash_us(&d, 1000)) {}
    assert_true(d.t[0].mask + 1 <= 8);
    hr_dict_release(&d);
    ref_free(&r);
}

/* ---- addresses, rehash_us, release, emptying ---------------------------- */

static void test_addresses_stable(void **state)
{
    (void)state;
    enum { U = 100000 };
    ref r;
    ref_init(&r, U);
    hr_dict d;
    hr_dict_init(&d);
    unsigned resizes = 0;
    void *last = NULL;
    for (unsigned k = 0; k < U; k++) {
        put(&d, &r, k);
        if (d.t[1].buckets != last) resizes++;
        last = d.t[1].buckets;
    }
    for (unsigned k = 0; k < U; k += 3) del_entry(&d, &r, k);
    for (unsigned k = 1; k < U; k += 3) del_key(&d, &r, k);
    while (hr_dict_rehash_us(&d, 1000)) {}
    assert_true(resizes > 10);
    /* check_all compares every found entry with the address recorded at its
     * insertion. */
    check_all(&d, &r);
    hr_dict_release(&d);
    ref_free(&r);
}

static void test_rehash_us(void **state)
{
    (void)state;
    enum { U = 300000 };
    ref r;
    ref_init(&r, U);
    hr_dict d;
    hr_dict_init(&d);
    /* Nothing to do on an empty or settled table. */
    assert_int_equal(hr_dict_rehash_us(&d, 1000), 0);
    unsigned k = 0;
    while (k < 4096) put(&d, &r, k++);
    while (hr_dict_rehash_us(&d, 1000)) {}
    assert_int_equal(hr_dict_rehash_us(&d, 1000), 0);
    /* A growth just started, completed by rehash_us alone. */
    while (!hr_dict_is_resizing(&d) || d.t[0].mask < 131071) put(&d, &r, k++);
    size_t target = d.t[1].mask;
    unsigned calls = 0;
    while (hr_dict_rehash_us(&d, 100)) assert_true(++calls < 100000);
    assert_false(hr_dict_is_resizing(&d));
    assert_int_equal(d.t[0].mask, target);
    print_message("rehash_us: growth to %zu buckets done in %u calls of 100us\n", target + 1,
                  calls);
    check_all(&d, &r);
    /* Deletes during an iteration leave the table underfull and mid-growth:
     * rehash_us finishes the growth, then shrinks in steps of at most 8x. */
    while (!hr_dict_is_resizing(&d)) put(&d, &r, k++);
    iterate_check(&d, &r, 99);
    assert_true(hr_dict_is_resizing(&d));
    calls = 0;
    while (hr_dict_rehash_us(&d, 1000)) assert_true(++calls < 100000);
    assert_false(hr_dict_is_resizing(&d));
    assert_true(r.nlive >= (d.t[0].mask + 1) / 8 || d.t[0].mask + 1 == 4);
    check_all(&d, &r);
    /* Paused: does nothing. */
    while (!hr_dict_is_resizing(&d)) put(&d, &r, k++);
    hr_dict_iter it;
    hr_dict_iter_init(&it, &d);
    assert_int_equal(hr_dict_rehash_us(&d, 1000), 0);
    hr_dict_iter_done(&it);
    assert_true(hr_dict_rehash_us(&d, 1000) > 0);
    hr_dict_release(&d);
    ref_free(&r);
}

static void test_release_mid_resize(void **state)
{
    (void)state;
    enum { U = 200000 };
    ref r;
    ref_init(&r, U);
    hr_dict d;
    hr_dict_init(&d);
    /* Mid-growth. */
    fill_to_midgrow(&d, &r, 0, U);
    hr_dict_release(&d);
    assert_int_equal(hr_dict_size(&d), 0);
    assert_false(hr_dict_is_resizing(&d));
    ref_free(&r);
    /* Mid-shrink, with part of the old array given back (glibc). */
    ref_init(&r, U);
    for (unsigned k = 0; k < U; k++) put(&d, &r, k);
    while (hr_dict_rehash_us(&d, 1000)) {}
    iterate_check(&d, &r, 97);
    assert_true(hr_dict_is_resizing(&d));
#if defined(__GLIBC__) && !defined(TEST_ASAN)
    for (unsigned i = 0; i < 20000 && d.cap0 == d.t[0].mask + 1 && hr_dict_is_resizing(&d); i++)
        check_find(&d, &r, i % U);
    assert_true(d.cap0 < d.t[0].mask + 1);
#else
    for (unsigned i = 0; i < 1000; i++) check_find(&d, &r, i % U);
#endif
    assert_true(hr_dict_is_resizing(&d));
    check_invariants(&d);
    hr_dict_release(&d);
    /* Reusable after release. */
    ref_free(&r);
    ref_init(&r, U);
    for (unsigned k = 0; k < 1000; k++) put(&d, &r, k);
    check_all(&d, &r);
    hr_dict_release(&d);
    ref_free(&r);
}

static void test_empty_and_foreign(void **state)
{
    (void)state;
    enum { U = 20000 };
    ref r, r2;
    ref_init(&r, U);
    ref_init(&r2, U);
    hr_dict d, other;
    hr_dict_init(&d);
    hr_dict_init(&other);
    /* Deleting everything mid-growth frees both arrays. */
    fill_to_midgrow(&d, &r, 0, U);
    while (r.nlive) del_key(&d, &r, r.live[0]);
    assert_null(d.t[0].buckets);
    assert_null(d.t[1].buckets);
    assert_null(hr_dict_find(&d, "k:1", 3));
    assert_null(hr_dict_delete(&d, "k:1", 3));
    /* delete_entry of another table's entry does nothing. */
    fill_to_midgrow(&d, &r, 0, U);
    hr_dict_entry *e = put(&other, &r2, 5);
    size_t before = hr_dict_size(&d);
    hr_dict_delete_entry(&d, e);
    assert_int_equal(hr_dict_size(&d), before);
    check_all(&d, &r);
    check_find(&other, &r2, 5);
    /* Empty keys and binary keys. */
    int created;
    hr_dict_entry *z = hr_dict_upsert(&other, "", 0, &created);
    assert_int_equal(created, 1);
    assert_ptr_equal(hr_dict_find(&other, "", 0), z);
    hr_dict_entry *bin = hr_dict_upsert(&other, "a\0b", 3, &created);
    assert_int_equal(created, 1);
    assert_ptr_equal(hr_dict_find(&other, "a\0b", 3), bin);
    assert_null(hr_dict_find(&other, "a\0c", 3));
    hr_dict_release(&d);
    hr_dict_release(&other);
    ref_free(&r);
    ref_free(&r2);
}

/* ---- latency (printed, not asserted) ------------------------------------ */

static void test_growth_latency(void **state)
{
    (void)state;
#ifdef TEST_ASAN
    const unsigned n = (1u << 20) + 1; /* slower and bigger under ASan */
#else
    const unsigned n = (1u << 22) + 1;
#endif
    hr_dict d;
    hr_dict_init(&d);
    char key[24];
    uint64_t worst = 0, worst_resize = 0, at1m = 0, at4m = 0, total0 = hr_mono_us();
    unsigned worst_i = 0;
    void *last = NULL;
    for (unsigned i = 0; i < n; i++) {
        size_t kl = mkkey(key, i);
        uint64_t t0 = hr_mono_us();
        hr_dict_upsert(&d, key, kl, NULL);
        uint64_t dt = hr_mono_us() - t0;
        if (dt > worst) {
            worst = dt;
            worst_i = i;
        }
        if (d.t[1].buckets != last && dt > worst_resize) worst_resize = dt;
        last = d.t[1].buckets;
        if (i == 1u << 20) at1m = dt;
        if (i == 1u << 22) at4m = dt;
    }
    uint64_t total = hr_mono_us() - total0;
    print_message("growth to %u entries: %.0f ms total; worst single upsert %.3f ms (#%u, "
                  "wall clock, includes preemption); worst upsert starting/ending a resize "
                  "%.3f ms; the upserts triggering growth at 2^20 / 2^22 entries: %.3f / %.3f "
                  "ms\n",
                  n, total / 1000.0, worst / 1000.0, worst_i, worst_resize / 1000.0,
                  at1m / 1000.0, at4m / 1000.0);
    /* What a one-step resize costs (the old behaviour): the growth the last
     * insert started, finished in one call. */
    assert_true(hr_dict_is_resizing(&d));
    size_t from = d.t[0].mask + 1, to = d.t[1].mask + 1;
    uint64_t t0 = hr_mono_us();
    hr_dict_rehash_us(&d, 600u * 1000 * 1000);
    print_message("the same growth (%zu -> %zu buckets) done in one go: %.3f ms\n", from, to,
                  (hr_mono_us() - t0) / 1000.0);
    assert_false(hr_dict_is_resizing(&d));
    hr_dict_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ops),
        cmocka_unit_test(test_iteration),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_random_small_set),
        cmocka_unit_test(test_random_uniform),
        cmocka_unit_test(test_random_sparse),
        cmocka_unit_test(test_addresses_stable),
        cmocka_unit_test(test_rehash_us),
        cmocka_unit_test(test_release_mid_resize),
        cmocka_unit_test(test_empty_and_foreign),
        cmocka_unit_test(test_growth_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
