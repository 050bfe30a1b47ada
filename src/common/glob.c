/*
 * glob.c - Redis-compatible glob matching; see glob.h for the semantics.
 *
 * Every pattern element other than a star group consumes exactly one subject
 * byte, so the classic single-backtrack-point algorithm is exact: on a
 * mismatch only the most recent star needs to grow (earlier stars matched
 * as little as possible and growing them cannot help once the tail after the
 * latest star fails at every later position). This gives O(plen * slen)
 * worst-case time with no recursion.
 */
#include "glob.h"

/* Case folding of a signed byte value exactly as Redis gets it from glibc's
 * tolower() in the C locale: A-Z become a-z, and -128..-2 (bytes 0x80..0xfe
 * passed as negative chars) become 128..254, while -1 (0xff, i.e. EOF) stays
 * -1. The latter only matters for range bounds: literal comparisons are
 * unaffected because the mapping is one-to-one. */
static inline int fold(int c, bool nocase)
{
    if (!nocase) return c;
    if (c >= 'A' && c <= 'Z') return c + ('a' - 'A');
    if (c < -1) return c + 256;
    return c;
}

/* Bytes are compared as signed chars (Redis's behaviour on x86-64). */
static inline int sbyte(char c)
{
    return (int)(signed char)c;
}

/* Matches byte c (already sbyte()d) against the class whose '[' is at
 * pat[i]; stores the index just past the class in *next. */
static bool match_class(const char *pat, size_t plen, size_t i, int c, bool nocase, size_t *next)
{
    bool neg = false, hit = false;
    int fc = fold(c, nocase);

    i++; /* the '[' */
    if (i < plen && pat[i] == '^') {
        neg = true;
        i++;
    }
    while (i < plen) {
        if (pat[i] == '\\' && plen - i >= 2) {
            /* An escaped member is compared exactly, even with nocase. */
            if (sbyte(pat[i + 1]) == c) hit = true;
            i += 2;
        } else if (pat[i] == ']') {
            i++;
            break;
        } else if (plen - i >= 3 && pat[i + 1] == '-') {
            int lo = sbyte(pat[i]), hi = sbyte(pat[i + 2]);
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            /* Swapped first, folded second: with nocase [Z-a] is empty. */
            lo = fold(lo, nocase);
            hi = fold(hi, nocase);
            if (fc >= lo && fc <= hi) hit = true;
            i += 3;
        } else {
            if (fold(sbyte(pat[i]), nocase) == fc) hit = true;
            i++;
        }
    }
    *next = i;
    return hit != neg;
}

/* Matches subject byte c against the single element at pat[i] (i < plen,
 * pat[i] != '*'); stores the index just past the element in *next. */
static bool match_elem(const char *pat, size_t plen, size_t i, char c, bool nocase, size_t *next)
{
    switch (pat[i]) {
    case '?': *next = i + 1; return true;
    case '[': return match_class(pat, plen, i, sbyte(c), nocase, next);
    case '\\':
        if (plen - i >= 2) i++; /* a final '\' is a literal backslash */
        break;
    default: break;
    }
    *next = i + 1;
    return fold(sbyte(pat[i]), nocase) == fold(sbyte(c), nocase);
}

/* True when pat has more than HR_GLOB_MAX_STAR_GROUPS star groups that are
 * followed by another element (Redis's nesting limit; see glob.h). */
static bool too_many_star_groups(const char *pat, size_t plen)
{
    size_t stars = 0;
    for (size_t i = 0; i < plen; i++)
        if (pat[i] == '*') stars++;
    if (stars <= HR_GLOB_MAX_STAR_GROUPS) return false;

    size_t groups = 0, i = 0;
    while (i < plen) {
        if (pat[i] == '*') {
            while (i < plen && pat[i] == '*')
                i++;
            if (i == plen) break; /* a trailing group does not nest */
            if (++groups > HR_GLOB_MAX_STAR_GROUPS) return true;
        } else {
            size_t next;
            (void)match_elem(pat, plen, i, 0, false, &next);
            i = next;
        }
    }
    return false;
}

bool hr_glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase)
{
    if (slen == 0) return plen == 0;
    if (too_many_star_groups(pat, plen)) return false;

    size_t p = 0, s = 0;
    size_t star_p = 0, star_s = 0; /* pattern after the last star; its start */
    bool have_star = false;

    while (s < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*')
                p++;
            if (p == plen) return true; /* trailing star takes the rest */
            have_star = true;
            star_p = p;
            star_s = s;
            continue;
        }
        size_t next;
        if (p < plen && match_elem(pat, plen, p, str[s], nocase, &next)) {
            p = next;
            s++;
            continue;
        }
        /* Mismatch (or pattern exhausted): let the last star eat one more
         * byte and retry the tail after it. */
        if (!have_star) return false;
        s = ++star_s;
        p = star_p;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

size_t hr_glob_literal_prefix(const char *pat, size_t plen)
{
    size_t i = 0;
    while (i < plen && pat[i] != '*' && pat[i] != '?' && pat[i] != '[' && pat[i] != '\\')
        i++;
    return i;
}
