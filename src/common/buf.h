/*
 * buf.h - growable byte buffer (hr_buf).
 *
 * Invariants: data is NULL when cap == 0; len <= cap; the bytes data[0..len)
 * are owned by the buffer. No NUL terminator is kept. Growth failures abort
 * (out of memory is not a recoverable condition for herald); every caller that
 * grows a buffer from peer input checks its own protocol limit first.
 */
#ifndef HR_BUF_H
#define HR_BUF_H

#include <stddef.h>

typedef struct hr_buf {
    char *data;
    size_t len;
    size_t cap;
} hr_buf;

#define HR_BUF_INIT {NULL, 0, 0}

void hr_buf_init(hr_buf *b);
/* Frees the storage and resets to empty. */
void hr_buf_release(hr_buf *b);
/* Ensures room for `extra` more bytes after len; returns data + len. */
char *hr_buf_reserve(hr_buf *b, size_t extra);
void hr_buf_append(hr_buf *b, const void *p, size_t n);
void hr_buf_append_str(hr_buf *b, const char *s);
void hr_buf_append_char(hr_buf *b, char c);
/* printf-style append. */
void hr_buf_appendf(hr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (memmove). */
void hr_buf_consume(hr_buf *b, size_t n);
/* Shrinks the allocation to at most `keep` bytes of capacity when empty. */
void hr_buf_trim(hr_buf *b, size_t keep);

#endif
