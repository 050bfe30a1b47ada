/* util.c - string and number helpers; see util.h. */
#include "util.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

bool hr_str2ll(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > 20) return false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1) return false;
    }
    if (s[i] < '1' || s[i] > '9') return false;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return false;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) return false;
        *out = (long long)v;
    }
    return true;
}

int hr_digits10(unsigned long long v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

size_t hr_ull2str(char *dst, unsigned long long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
    dst[n] = '\0';
    return n;
}

size_t hr_ll2str(char *dst, long long v)
{
    if (v < 0) {
        dst[0] = '-';
        return 1 + hr_ull2str(dst + 1, 0ULL - (unsigned long long)v);
    }
    return hr_ull2str(dst, (unsigned long long)v);
}

bool hr_streq_nocase(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (n != len) return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != tolower((unsigned char)lit[i])) return false;
    return true;
}

bool hr_parse_memory(const char *s, long long *out)
{
    size_t len = strlen(s);
    size_t digits = 0;
    while (digits < len && (isdigit((unsigned char)s[digits]) || (digits == 0 && s[0] == '-')))
        digits++;
    const char *u = s + digits;
    long long mul;
    if (*u == '\0' || !strcasecmp(u, "b")) mul = 1;
    else if (!strcasecmp(u, "k")) mul = 1000;
    else if (!strcasecmp(u, "kb")) mul = 1024;
    else if (!strcasecmp(u, "m")) mul = 1000 * 1000;
    else if (!strcasecmp(u, "mb")) mul = 1024 * 1024;
    else if (!strcasecmp(u, "g")) mul = 1000LL * 1000 * 1000;
    else if (!strcasecmp(u, "gb")) mul = 1024LL * 1024 * 1024;
    else return false;
    long long v;
    if (!hr_str2ll(s, digits, &v)) return false;
    if (v != 0 && (v > LLONG_MAX / mul || v < LLONG_MIN / mul)) return false;
    *out = v * mul;
    return true;
}

static uint64_t hash_seed = 0x9e3779b97f4a7c15ULL;

void hr_hash_seed(uint64_t seed)
{
    hash_seed = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static inline uint64_t mix64(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t hr_hash(const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = hash_seed ^ mix64(len + 0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL);
    while (len >= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        h = mix64(a ^ h ^ 0x8ebc6af09c88c6e3ULL, b ^ 0x589965cc75374cc3ULL);
        s += 16;
        len -= 16;
    }
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
    } else if (len > 0) {
        for (size_t i = 0; i < len; i++) a |= (uint64_t)s[i] << (8 * i);
        b = (uint64_t)s[len / 2] << 16 | s[len - 1];
    }
    return mix64(a ^ h ^ 0x1d8e4e27c47d124fULL, b ^ h);
}

void hr_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r <= 0) break;
        p += r;
        n -= (size_t)r;
    }
    if (n > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            p[i] = (unsigned char)(x >> 56);
        }
    }
}
