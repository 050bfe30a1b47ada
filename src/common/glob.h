/*
 * glob.h - Redis-compatible glob matching (PSUBSCRIBE, KEYS, SCAN MATCH,
 * CONFIG GET patterns).
 *
 * Both the pattern and the subject are binary-safe <pointer, length> byte
 * strings (NUL is an ordinary byte); neither is modified, both are borrowed
 * for the duration of the call only. Matching is iterative (no recursion, no
 * allocation) and takes O(plen * slen) time at worst, so hostile patterns
 * such as "a*a*a*a*a*a*a*a*b" cannot take exponential time.
 *
 * The semantics are those of redis-server 7.0 (7.0.15) on x86-64, found by
 * experiment (tests/diff/gen_glob_vectors.py):
 *
 *  - `*` matches any run of bytes (consecutive stars act as one), `?` any one
 *    byte, `\x` the byte x literally (any x, also `*`, `?`, `[`, `\`). A
 *    backslash that is the last byte of the pattern matches a backslash.
 *  - An empty subject is matched only by the empty pattern (not even by "*").
 *  - `[...]` matches one byte against a class; `[^...]` negates it (`^` is
 *    special only right after the `[`). Inside a class, in this order:
 *    `\x` (when a byte follows) is the literal x; `]` closes the class (so
 *    `[]` is an empty class that matches nothing and `[^]` matches any byte);
 *    `x-y` is a range when at least three pattern bytes remain from x -
 *    the `]` counts, so in `[a-]` the range is a..] and the class is then
 *    unterminated; y may be `\` or `]` and is taken literally. Reversed
 *    ranges are swapped (`[z-a]` is `[a-z]`). Range bounds and the subject
 *    byte are compared as *signed* chars (as Redis does on x86-64), so
 *    `[a-\xff]` is the range -1..97: it matches 0xff, 0x00..0x61 but not
 *    0x80. Any other byte is a literal member. A class left open at the end
 *    of the pattern ends there (`[ab` acts as `[ab]`, `[` matches nothing,
 *    `[^` matches any byte).
 *  - nocase folds with glibc's C-locale tolower() applied to signed chars:
 *    A-Z become a-z, and bytes 0x80..0xfe (-128..-2) become 128..254 while
 *    0xff (-1, EOF) stays -1. For literals this is just ASCII case folding;
 *    in ranges it moves bounds and subject bytes: with nocase `[\x80-a]`
 *    (-128..97, folded to 128..97) matches nothing. The bounds are swapped
 *    (if reversed) *before* folding, so with nocase `[Z-a]` (90..97, folded
 *    to 122..97) matches nothing while `[A-z]` matches every letter. An
 *    escaped class member is compared exactly even with nocase (`[\M]` does
 *    not match "m"), whereas `\M` outside a class does match "m".
 *  - Redis caps its recursion at 1000 nested `*` groups: a pattern with more
 *    than HR_GLOB_MAX_STAR_GROUPS star groups that are not at the very end of
 *    the pattern never matches (a star group is a run of unescaped `*`
 *    outside any class).
 */
#ifndef HR_GLOB_H
#define HR_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* Non-trailing star groups above which Redis reports "no match". */
#define HR_GLOB_MAX_STAR_GROUPS 1000

/* Returns true when str[0..slen) matches the glob pattern pat[0..plen) under
 * Redis's rules (above); nocase folds case as described there. Both buffers are
 * borrowed and may contain NUL bytes. */
bool hr_glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase);

/* Returns n, the number of leading bytes of pat[0..plen) that are literal:
 * pat[0..n) contains none of `*`, `?`, `[` or `\` and n stops at the first
 * of them (or is plen). Guarantees, for case-sensitive matching:
 *  - every subject that matches pat starts with the n bytes pat[0..n);
 *  - when n == plen the pattern is a plain string: a subject matches it iff
 *    it is byte-for-byte equal to pat (this holds for plen == 0 too).
 * With nocase the same holds after ASCII case folding. `]`, `^` and `-` are
 * literal outside a class and so are counted. pat is borrowed. */
size_t hr_glob_literal_prefix(const char *pat, size_t plen);

#endif
