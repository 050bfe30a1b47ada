/*
 * test_common_glob.c - hr_glob_match / hr_glob_literal_prefix.
 *
 * The bulk of the checks are vectors recorded from a real redis-server by
 * tests/diff/gen_glob_vectors.py (tests/diff/glob_vectors/glob_vectors.h):
 * every pattern of a group against every subject of the group, plus long
 * "repeat" vectors (nesting limit, pathological backtracking). redis-server
 * is not needed at run time. Patterns and subjects are copied into buffers of
 * exactly their length so that the sanitizer build catches any over-read.
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

#include "glob.h"
#include "hrtime.h"

#include "../diff/glob_vectors/glob_vectors.h"

/* Exact-size heap copy (a 1-byte allocation for empty strings). */
static char *dup_exact(const char *p, size_t len)
{
    char *d = malloc(len ? len : 1);
    assert_non_null(d);
    if (len) memcpy(d, p, len);
    return d;
}

static bool m(const char *pat, size_t plen, const char *str, size_t slen, bool nocase)
{
    char *p = dup_exact(pat, plen), *s = dup_exact(str, slen);
    bool r = hr_glob_match(p, plen, s, slen, nocase);
    free(p);
    free(s);
    return r;
}

/* Literal-string convenience (no NUL bytes). */
#define MATCH(p, s) m(p, strlen(p), s, strlen(s), false)
#define IMATCH(p, s) m(p, strlen(p), s, strlen(s), true)
/* Binary literal convenience: sizeof - 1 keeps embedded NULs. */
#define BMATCH(p, s) m(p, sizeof(p) - 1, s, sizeof(s) - 1, false)

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static bool bit_at(const char *hex, unsigned j)
{
    int byte = hexval(hex[(j / 8) * 2]) * 16 + hexval(hex[(j / 8) * 2 + 1]);
    return (byte >> (j % 8)) & 1;
}

/* --- recorded vectors ---------------------------------------------------- */

static void test_redis_vectors(void **state)
{
    (void)state;
    size_t npat = NELEM(gv_patterns), nsub = NELEM(gv_subjects);
    char **pats = calloc(npat, sizeof(char *)), **subs = calloc(nsub, sizeof(char *));
    assert_non_null(pats);
    assert_non_null(subs);
    for (size_t i = 0; i < npat; i++)
        pats[i] = dup_exact(gv_patterns[i].p, gv_patterns[i].len);
    for (size_t j = 0; j < nsub; j++)
        subs[j] = dup_exact(gv_subjects[j].p, gv_subjects[j].len);

    unsigned long checked = 0, failed = 0, positives = 0;
    for (size_t g = 0; g < NELEM(gv_groups); g++) {
        const gv_group *gr = &gv_groups[g];
        for (unsigned i = gr->first_pattern; i < gr->first_pattern + gr->npatterns; i++) {
            for (unsigned j = 0; j < gr->nsubjects; j++) {
                unsigned sj = gr->first_subject + j;
                bool want = bit_at(gv_bits[i], j);
                bool got = hr_glob_match(pats[i], gv_patterns[i].len, subs[sj], gv_subjects[sj].len,
                                         gr->nocase != 0);
                checked++;
                positives += want;
                if (got != want) {
                    if (++failed <= 30) {
                        fprintf(stderr, "MISMATCH group %zu%s: ", g, gr->nocase ? " (nocase)" : "");
                        print_bytes("pattern", gv_patterns[i].p, gv_patterns[i].len);
                        print_bytes(" subject", gv_subjects[sj].p, gv_subjects[sj].len);
                        fprintf(stderr, " redis=%d herald=%d\n", want, got);
                    }
                }
            }
        }
    }
    fprintf(stderr, "redis %s vectors: %lu checked (%lu matches), %lu failed\n", GV_REDIS_VERSION,
            checked, positives, failed);

    for (size_t i = 0; i < npat; i++)
        free(pats[i]);
    for (size_t j = 0; j < nsub; j++)
        free(subs[j]);
    free(pats);
    free(subs);
    assert_true(checked > 1000000);
    assert_int_equal(failed, 0);
}

static char *expand(const gv_bytes *pre, const gv_bytes *unit, unsigned n, const gv_bytes *post,
                    size_t *len)
{
    *len = pre->len + (size_t)unit->len * n + post->len;
    char *d = malloc(*len ? *len : 1), *w = d;
    assert_non_null(d);
    memcpy(w, pre->p, pre->len);
    w += pre->len;
    for (unsigned k = 0; k < n; k++, w += unit->len)
        memcpy(w, unit->p, unit->len);
    memcpy(w, post->p, post->len);
    return d;
}

static void test_redis_repeat_vectors(void **state)
{
    (void)state;
    unsigned failed = 0;
    uint64_t worst = 0;
    for (size_t i = 0; i < NELEM(gv_repeats); i++) {
        const gv_repeat *r = &gv_repeats[i];
        size_t plen, slen;
        char *p = expand(&r->ppre, &r->punit, r->pn, &r->ppost, &plen);
        char *s = expand(&r->spre, &r->sunit, r->sn, &r->spost, &slen);
        uint64_t t0 = hr_mono_us();
        bool got = hr_glob_match(p, plen, s, slen, false);
        uint64_t dt = hr_mono_us() - t0;
        if (dt > worst) worst = dt;
        if (got != (r->expected != 0)) {
            failed++;
            fprintf(stderr, "MISMATCH repeat %zu: ", i);
            print_bytes("unit", r->punit.p, r->punit.len);
            fprintf(stderr, " x%u, subject unit x%u: redis=%d herald=%d\n", r->pn, r->sn,
                    r->expected, got);
        }
        free(p);
        free(s);
    }
    fprintf(stderr, "%zu repeat vectors, slowest %.3f ms\n", NELEM(gv_repeats), worst / 1000.0);
    assert_int_equal(failed, 0);
    assert_true(worst < 2000000); /* generous: includes sanitizer builds */
}

/* --- hand-written cases (documentation of the semantics) ------------------ */

static void test_basics(void **state)
{
    (void)state;
    assert_true(MATCH("", ""));
    assert_false(MATCH("", "a"));
    assert_false(MATCH("*", "")); /* an empty subject matches only "" */
    assert_false(MATCH("**", ""));
    assert_true(MATCH("*", "anything"));
    assert_true(MATCH("h?llo", "hello"));
    assert_false(MATCH("h?llo", "hllo"));
    assert_true(MATCH("h*llo", "hllo"));
    assert_true(MATCH("h*llo", "heeeello"));
    assert_true(MATCH("h[ae]llo", "hallo"));
    assert_false(MATCH("h[ae]llo", "hillo"));
    assert_true(MATCH("h[^e]llo", "hallo"));
    assert_false(MATCH("h[^e]llo", "hello"));
    assert_true(MATCH("h[a-b]llo", "hbllo"));
    assert_true(MATCH("h[b-a]llo", "hallo")); /* reversed range */
    assert_true(MATCH("a**b", "ab"));
    assert_true(MATCH("a*", "a"));
    assert_true(MATCH("news.*", "news.tech"));
    assert_false(MATCH("news.*", "news"));
}

static void test_escapes(void **state)
{
    (void)state;
    assert_true(MATCH("\\*", "*"));
    assert_false(MATCH("\\*", "a"));
    assert_true(MATCH("\\?", "?"));
    assert_true(MATCH("\\a", "a"));
    assert_true(MATCH("\\\\", "\\"));
    assert_true(MATCH("\\", "\\")); /* trailing backslash: literal */
    assert_true(MATCH("a\\", "a\\"));
    assert_false(MATCH("a\\", "a"));
    assert_true(MATCH("[\\]]", "]"));
    assert_true(MATCH("[\\", "\\")); /* backslash at the end of a class */
    assert_true(MATCH("[\\-a]", "-"));
    assert_false(MATCH("[\\-a]", "b"));
}

static void test_classes(void **state)
{
    (void)state;
    assert_false(MATCH("[]", "]")); /* [] is an empty class */
    assert_false(MATCH("[]a]", "a]"));
    assert_true(MATCH("[^]", "x")); /* [^] matches any byte */
    assert_true(MATCH("[^]]", "a]"));
    assert_false(MATCH("[", "["));   /* open class, empty */
    assert_true(MATCH("[^", "x"));   /* open negated class, empty */
    assert_true(MATCH("[ab", "b"));  /* unterminated: ends at pattern end */
    assert_true(MATCH("[a-]", "_")); /* range a..] (the ']' is the bound) */
    assert_true(MATCH("[a-]", "]"));
    assert_false(MATCH("[a-]", "-"));
    assert_true(MATCH("[a-", "-")); /* too short for a range */
    assert_true(MATCH("[-a]", "-"));
    assert_true(MATCH("[a-\\z]", "_")); /* range a..\, then z */
    assert_true(MATCH("[a-\\z]", "z"));
    assert_false(MATCH("[a-\\z]", "b"));
    assert_true(MATCH("[*]", "*"));
    assert_false(MATCH("[*]", "a"));
    assert_true(MATCH("[!a]", "!")); /* '!' is not a negation */
    assert_true(MATCH("[a^]", "^"));
}

static void test_binary(void **state)
{
    (void)state;
    assert_true(BMATCH("a\0*", "a\0b"));
    assert_false(BMATCH("a\0*", "ab"));
    assert_true(BMATCH("?", "\0"));
    assert_true(BMATCH("[\0]", "\0"));
    assert_true(BMATCH("[^]", "\0"));
    assert_true(BMATCH("*\0", "abc\0"));
    assert_false(BMATCH("a", "a\0"));
    /* Signed-char ranges: [a-\xff] is -1..97. */
    assert_true(BMATCH("[a-\xff]", "\xff"));
    assert_true(BMATCH("[a-\xff]", "\0"));
    assert_true(BMATCH("[a-\xff]", "a"));
    assert_false(BMATCH("[a-\xff]", "\x80"));
    assert_false(BMATCH("[a-\xff]", "b"));
    assert_true(BMATCH("[\x80-\xff]", "\x90"));
    assert_false(BMATCH("[\x80-\xff]", "a"));
}

static void test_nocase(void **state)
{
    (void)state;
    assert_true(IMATCH("HELLO", "hello"));
    assert_true(IMATCH("hello", "HeLLo"));
    assert_false(MATCH("HELLO", "hello"));
    assert_true(IMATCH("[L-N]axmemory", "maxmemory"));
    assert_true(IMATCH("[A-z]", "Q"));
    assert_false(IMATCH("[Z-a]", "z")); /* swapped before folding: empty */
    assert_false(IMATCH("[Z-a]", "a"));
    assert_false(IMATCH("[a-Z]", "a"));
    assert_true(IMATCH("[^M]", "n"));
    assert_false(IMATCH("[^M]", "m"));
    assert_true(IMATCH("\\M", "m"));
    assert_false(IMATCH("[\\M]", "m")); /* escaped class members do not fold */
    assert_true(IMATCH("[\\M]", "M"));
    assert_true(IMATCH("[^\\M]", "m"));
    assert_true(IMATCH("[M]", "m"));
    assert_true(m("[\xff-Z]", 5, "q", 1, true)); /* -1..90 folded to -1..122 */
    assert_false(m("[\xff-Z]", 5, "q", 1, false));
    assert_true(m("[\xff-Z]", 5, "\xff", 1, true));
    assert_false(m("[\xff-Z]", 5, "\xfe", 1, true));   /* 0xfe folds to 254 */
    assert_true(m("[\x80-a]", 5, "-", 1, false));      /* -128..97 */
    assert_false(m("[\x80-a]", 5, "-", 1, true));      /* folded: 128..97, empty */
    assert_true(m("[\x80-\xfe]", 5, "\x90", 1, true)); /* 128..254 */
    assert_true(m("\xe9", 1, "\xe9", 1, true));
    assert_true(BMATCH("\xc9", "\xc9"));
    assert_false(m("\xc9", 1, "\xe9", 1, true)); /* only ASCII folds */
}

static char *filled(char c, size_t n, size_t extra)
{
    char *d = malloc(n + extra);
    assert_non_null(d);
    memset(d, c, n);
    return d;
}

static void test_nesting_limit(void **state)
{
    (void)state;
    /* "*a" x n against "a" x n: Redis gives up beyond 1000 nested stars. */
    size_t n = 1001;
    char *p = malloc(2 * n + 1), *s = filled('a', n, 0);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = '*';
        p[2 * i + 1] = 'a';
    }
    assert_true(hr_glob_match(p, 2 * 1000, s, 1000, false));
    assert_false(hr_glob_match(p, 2 * 1001, s, 1001, false));
    p[2 * n] = '*'; /* a trailing star group does not count */
    assert_true(hr_glob_match(p + 2, 2 * 1000 + 1, s, 1000, false));
    free(p);
    free(s);
}

static void test_pathological_timing(void **state)
{
    (void)state;
    static const char *const pats[] = {"a*a*a*a*a*a*a*a*b", "*a*a*a*a*a*a*a*a*a*a*a*a*b",
                                       "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*",
                                       "*?*?*?*?*?*?*?*?*?*?*?*?*?*?b", "*[a-b]*[^b]*[a]*a*a*c"};
    size_t slen = 10 * 1024;
    char *s = filled('a', slen, 0);
    for (size_t i = 0; i < NELEM(pats); i++) {
        uint64_t t0 = hr_mono_us();
        bool r = hr_glob_match(pats[i], strlen(pats[i]), s, slen, false);
        uint64_t dt = hr_mono_us() - t0;
        assert_true(r == (i == 2));
        fprintf(stderr, "%-44s vs 10 KiB: %.3f ms\n", pats[i], dt / 1000.0);
        assert_true(dt < 200000); /* 200 ms, even under sanitizers; ~0.1 ms normally */
    }
    /* Worst case for the backtracking algorithm: O(plen * slen). */
    size_t plen = 1000;
    char *p = filled('a', plen, 0);
    p[0] = '*';
    p[plen - 1] = 'b';
    uint64_t t0 = hr_mono_us();
    assert_false(hr_glob_match(p, plen, s, slen, false));
    uint64_t dt = hr_mono_us() - t0;
    fprintf(stderr, "\"*a..ab\" (1000) vs 10 KiB: %.3f ms\n", dt / 1000.0);
    assert_true(dt < 2000000);
    free(p);
    free(s);
}

static void test_deep_patterns(void **state)
{
    (void)state;
    /* Huge runs of stars, opening brackets and escapes must not recurse. */
    size_t n = 1 << 20;
    char *p = filled('*', n, 1), *s = filled('x', n, 0);
    assert_true(hr_glob_match(p, n, s, n, false));
    p[n] = 'x';
    assert_true(hr_glob_match(p, n + 1, s, n, false));
    memset(p, '[', n);
    assert_false(hr_glob_match(p, n, s, 1, false)); /* one big open class of '[' */
    assert_true(hr_glob_match(p, n, "[", 1, false));
    memset(p, '?', n);
    assert_true(hr_glob_match(p, n, s, n, false));
    assert_false(hr_glob_match(p, n, s, n - 1, false));
    for (size_t i = 0; i < n; i += 2) {
        p[i] = '*';
        p[i + 1] = '?';
    }
    /* 512 Ki star groups: beyond Redis's nesting limit, so no match. */
    assert_false(hr_glob_match(p, n, s, n, false));
    free(p);
    free(s);
}

static void test_literal_prefix(void **state)
{
    (void)state;
    assert_int_equal(hr_glob_literal_prefix("", 0), 0);
    assert_int_equal(hr_glob_literal_prefix("news.tech", 9), 9);
    assert_int_equal(hr_glob_literal_prefix("news.*", 6), 5);
    assert_int_equal(hr_glob_literal_prefix("a?b", 3), 1);
    assert_int_equal(hr_glob_literal_prefix("ab[c]", 5), 2);
    assert_int_equal(hr_glob_literal_prefix("ab\\*", 4), 2);
    assert_int_equal(hr_glob_literal_prefix("*", 1), 0);
    assert_int_equal(hr_glob_literal_prefix("a]^-b", 5), 5);
    assert_int_equal(hr_glob_literal_prefix("a\0b*", 4), 3);

    /* The documented guarantees, over every recorded case-sensitive vector. */
    unsigned long checked = 0;
    for (size_t g = 0; g < NELEM(gv_groups); g++) {
        const gv_group *gr = &gv_groups[g];
        if (gr->nocase) continue;
        for (unsigned i = gr->first_pattern; i < gr->first_pattern + gr->npatterns; i++) {
            const gv_bytes *pat = &gv_patterns[i];
            size_t n = hr_glob_literal_prefix(pat->p, pat->len);
            assert_true(n <= pat->len);
            for (unsigned j = 0; j < gr->nsubjects; j++) {
                const gv_bytes *sub = &gv_subjects[gr->first_subject + j];
                bool hit = bit_at(gv_bits[i], j);
                bool has_prefix = sub->len >= n && memcmp(sub->p, pat->p, n) == 0;
                if (hit) assert_true(has_prefix);
                if (n == pat->len) {
                    bool equal = sub->len == pat->len && memcmp(sub->p, pat->p, n) == 0;
                    assert_true(hit == equal);
                }
                checked++;
            }
        }
    }
    assert_true(checked > 1000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_nocase),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_pathological_timing),
        cmocka_unit_test(test_deep_patterns),
        cmocka_unit_test(test_literal_prefix),
        cmocka_unit_test(test_redis_vectors),
        cmocka_unit_test(test_redis_repeat_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
