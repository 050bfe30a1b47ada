/* buf.c - growable byte buffer; see buf.h. */
#include "buf.h"
#include "alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void hr_buf_init(hr_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void hr_buf_release(hr_buf *b)
{
    hr_free(b->data);
    hr_buf_init(b);
}

char *hr_buf_reserve(hr_buf *b, size_t extra)
{
    if (b->cap - b->len < extra) {
        size_t want = b->len + extra;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < want) cap = cap < (1u << 20) ? cap * 2 : cap + cap / 2;
        b->data = hr_realloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void hr_buf_append(hr_buf *b, const void *p, size_t n)
{
    if (n == 0) return;
    memcpy(hr_buf_reserve(b, n), p, n);
    b->len += n;
}

void hr_buf_append_str(hr_buf *b, const char *s)
{
    hr_buf_append(b, s, strlen(s));
}

void hr_buf_append_char(hr_buf *b, char c)
{
    *hr_buf_reserve(b, 1) = c;
    b->len++;
}

void hr_buf_appendf(hr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(tmp)) {
        hr_buf_append(b, tmp, (size_t)n);
        return;
    }
    char *dst = hr_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hr_buf_consume(hr_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void hr_buf_trim(hr_buf *b, size_t keep)
{
    if (b->len == 0 && b->cap > keep) hr_buf_release(b);
}
