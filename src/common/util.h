/*
 * util.h - small string and number helpers shared by every layer.
 */
#ifndef HR_UTIL_H
#define HR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Strict decimal parse of s[0..len) into *out, with Redis's rules: no
 * whitespace, no '+', no leading zeros (except "0"), no "-0", no overflow.
 * Returns true on success. */
bool hr_str2ll(const char *s, size_t len, long long *out);
/* Writes the decimal form of v into dst (at least 21 bytes); returns length. */
size_t hr_ll2str(char *dst, long long v);
size_t hr_ull2str(char *dst, unsigned long long v);
/* Number of decimal digits of v (v >= 0). */
int hr_digits10(unsigned long long v);
/* Case-insensitive equality of s[0..len) with the NUL-terminated lit. */
bool hr_streq_nocase(const char *s, size_t len, const char *lit);
/* Parses a memory size like "32mb", "1gb", "100", "4k" (Redis config units:
 * k=1000, kb=1024, m=1e6, mb=1024^2, g=1e9, gb=1024^3). */
bool hr_parse_memory(const char *s, long long *out);
/* Seeded 64-bit hash of bytes; seed is set once at start-up. */
uint64_t hr_hash(const void *p, size_t len);
void hr_hash_seed(uint64_t seed);
/* Fills buf with n random bytes from the OS (getrandom); falls back to time. */
void hr_random_bytes(void *buf, size_t n);

#endif
