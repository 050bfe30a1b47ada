/*
 * fuzz_reqparser.c - libFuzzer target for hr_reqparser and
 * hr_resp_split_line.
 *
 * The input is a client byte stream. It is parsed twice - all bytes at once,
 * and delivered in small chunks whose sizes come from a PRNG seeded by the
 * input, each call getting a fresh exact-size copy of the unconsumed bytes -
 * and both runs must report the same commands and the same error (the "too
 * big" limits make results depend on chunking only past 64 KiB, so longer
 * inputs skip the comparison). Every result is checked for consistency
 * (consumed <= len, argv inside the buffer or the scratch area, want beyond
 * the buffer). The first line is also split with hr_resp_split_line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static uint64_t seed_of(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 1099511628211ULL;
    return h | 1;
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Appends a digest of one outcome to log. */
static void record(hr_buf *log, const hr_reqparser *p, ssize_t r, const char *buf, size_t len)
{
    if (r == HR_REQ_ERR) {
        CHECK(p->err != NULL);
        hr_buf_appendf(log, "E%s;", p->err);
        return;
    }
    CHECK(r > 0 && (size_t)r <= len);
    CHECK(p->argc >= 0);
    hr_buf_appendf(log, "%c%d:%zd(", p->is_inline ? 'I' : 'M', p->argc, r);
    for (int i = 0; i < p->argc; i++) {
        const hr_arg *a = &p->argv[i];
        if (p->is_inline) {
            CHECK(a->ptr >= p->scratch.data && a->ptr + a->len < p->scratch.data + p->scratch.len);
            CHECK(a->ptr[a->len] == '\0');
        } else {
            CHECK(a->ptr >= buf && a->ptr + a->len <= buf + len);
        }
        hr_buf_appendf(log, "%zu:", a->len);
        hr_buf_append(log, a->ptr, a->len);
    }
    hr_buf_append_str(log, ");");
}

/* Parses d[0..n) with bytes arriving in chunks (chunk_seed 0: all at
 * once). */
static void run(const uint8_t *d, size_t n, uint64_t chunk_seed, long long max_bulk, hr_buf *log)
{
    hr_reqparser p;
    hr_reqparser_init(&p, max_bulk);
    size_t start = 0, avail = 0;
    for (;;) {
        size_t step = chunk_seed ? 1 + next(&chunk_seed) % 24 : n;
        avail = avail + step > n ? n : avail + step;
        ssize_t r;
        for (;;) {
            size_t len = avail - start;
            char *copy = malloc(len ? len : 1);
            CHECK(copy != NULL);
            if (len) memcpy(copy, d + start, len);
            r = hr_reqparser_parse(&p, copy, len);
            if (r == HR_REQ_AGAIN) {
                CHECK(p.argc == 0);
                CHECK(p.want == 0 || p.want > len);
            } else {
                record(log, &p, r, copy, len);
            }
            free(copy);
            if (r <= 0) break;
            start += (size_t)r;
        }
        if (r == HR_REQ_ERR || avail == n) break;
    }
    hr_buf_appendf(log, "end%zu", n - start);
    hr_reqparser_release(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long long max_bulk = size > 0 && (data[0] & 1) ? 16 : 0; /* sometimes a tiny limit */
    hr_buf a = HR_BUF_INIT, b = HR_BUF_INIT;
    run(data, size, 0, max_bulk, &a);
    run(data, size, seed_of(data, size), max_bulk, &b);
    if (size <= HR_RESP_INLINE_MAX)
        CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
    hr_buf_release(&a);
    hr_buf_release(&b);

    /* the splitter on the first line, with a small argument limit */
    const uint8_t *nl = memchr(data, '\n', size);
    size_t llen = nl ? (size_t)(nl - data) : size;
    hr_buf out = HR_BUF_INIT;
    hr_buf_append_str(&out, "x");
    hr_arg argv[8];
    int n = hr_resp_split_line((const char *)data, llen, &out, argv, 8);
    CHECK(n >= -1 && n <= 8);
    if (n < 0) CHECK(out.len == 1);
    for (int i = 0; i < n; i++) {
        CHECK(argv[i].ptr > out.data && argv[i].ptr + argv[i].len < out.data + out.len);
        CHECK(argv[i].ptr[argv[i].len] == '\0');
        CHECK(argv[i].len <= llen);
    }
    hr_buf_release(&out);
    return 0;
}
