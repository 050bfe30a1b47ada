/*
 * fuzz_reader.c - libFuzzer target for hr_reader, the hr_reply builders,
 * hr_reply_free and hr_resp_frame_len.
 *
 * The input is a server byte stream. It is read twice - fed at once, and fed
 * in small PRNG-sized chunks - and both runs must deliver the same replies
 * and the same error. hr_resp_frame_len must agree with the reader on the
 * first reply: > 0 exactly when the reader delivers one from those bytes
 * (and nothing else from them), -1 exactly when the reader fails before
 * delivering one, 0 when it has none yet. The reader's depth limit is
 * raised so that it matches frame_len, which has none; a second reader with
 * small limits checks that limit errors are clean.
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

static bool is_agg(hr_resp_type t)
{
    return t == HR_RESP_ARRAY || t == HR_RESP_MAP || t == HR_RESP_SET || t == HR_RESP_ATTR ||
           t == HR_RESP_PUSH;
}

/* Serialises a reply tree (iteratively: trees may be deep). */
static void digest(hr_buf *log, hr_reply *root)
{
    size_t cap = 64, sp = 0;
    hr_reply **stack = malloc(cap * sizeof(*stack));
    CHECK(stack != NULL);
    stack[sp++] = root;
    while (sp) {
        hr_reply *r = stack[--sp];
        hr_buf_appendf(log, "%d", (int)r->type);
        if (is_agg(r->type)) {
            if ((r->type == HR_RESP_MAP || r->type == HR_RESP_ATTR)) CHECK(r->elements % 2 == 0);
            hr_buf_appendf(log, "[%zu]", r->elements);
            if (sp + r->elements > cap) {
                while (sp + r->elements > cap)
                    cap *= 2;
                stack = realloc(stack, cap * sizeof(*stack));
                CHECK(stack != NULL);
            }
            for (size_t i = r->elements; i > 0; i--) {
                CHECK(r->element[i - 1] != NULL);
                stack[sp++] = r->element[i - 1];
            }
        } else if (r->str) {
            CHECK(r->str[r->len] == '\0');
            hr_buf_appendf(log, "%s%zu:", r->vtype, r->len);
            hr_buf_append(log, r->str, r->len);
        } else {
            hr_buf_appendf(log, ":%lld", r->integer);
        }
        hr_buf_append_char(log, ';');
    }
    free(stack);
}

/* Feeds d[0..n) (chunk_seed 0: at once) to a reader with the given limits;
 * logs the replies, then "E<text>" on an error (*failed). Returns the number
 * of replies. */
static int run(const uint8_t *d, size_t n, uint64_t chunk_seed, int depth, long long elems,
               long long bulk, hr_buf *log, bool *failed)
{
    hr_reader *r = hr_reader_new(NULL);
    hr_reader_set_limits(r, depth, elems, bulk);
    int replies = 0;
    size_t fed = 0;
    *failed = false;
    while (!*failed) {
        size_t step = chunk_seed ? 1 + next(&chunk_seed) % 24 : n;
        if (step > n - fed) step = n - fed;
        if (hr_reader_feed(r, (const char *)d + fed, step) != 0) CHECK(0); /* never after error */
        fed += step;
        for (;;) {
            void *rep = NULL;
            if (hr_reader_get(r, &rep) != 0) {
                CHECK(rep == NULL);
                const char *e = hr_reader_error(r);
                CHECK(e != NULL);
                hr_buf_appendf(log, "E%s", e);
                *failed = true;
                /* sticky */
                CHECK(hr_reader_get(r, &rep) == -1);
                CHECK(hr_reader_feed(r, "+OK\r\n", 5) == -1);
                break;
            }
            if (!rep) break;
            digest(log, rep);
            hr_buf_append_char(log, '|');
            hr_reply_free(rep);
            replies++;
        }
        if (fed == n) break;
    }
    hr_reader_free(r);
    return replies;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int deep = 1 << 20;
    hr_buf a = HR_BUF_INIT, b = HR_BUF_INIT;
    bool fa, fb;
    int na = run(data, size, 0, deep, 0, 0, &a, &fa);
    int nb = run(data, size, seed_of(data, size), deep, 0, 0, &b, &fb);
    CHECK(na == nb && fa == fb);
    CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));

    ssize_t fl = hr_resp_frame_len((const char *)data, size);
    CHECK(fl >= -1 && fl <= (ssize_t)size);
    if (fl > 0) {
        CHECK(na >= 1);
        /* exactly one reply in the frame's bytes, and no error */
        hr_buf c = HR_BUF_INIT;
        bool fc;
        CHECK(run(data, (size_t)fl, 0, deep, 0, 0, &c, &fc) == 1 && !fc);
        hr_buf_release(&c);
        /* and no shorter prefix holds a complete frame */
        CHECK(hr_resp_frame_len((const char *)data, (size_t)fl - 1) == 0);
    } else if (fl < 0) {
        CHECK(na == 0 && fa);
    } else {
        CHECK(na == 0 && !fa);
    }
    hr_buf_release(&a);
    hr_buf_release(&b);

    /* tight limits: errors must still be clean (no leak, no crash) */
    hr_buf c = HR_BUF_INIT;
    bool fc;
    run(data, size, seed_of(data, size) ^ 0x5555, 3, 4, 8, &c, &fc);
    hr_buf_release(&c);
    return 0;
}
