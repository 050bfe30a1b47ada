/*
 * testutil.h - small helpers shared by the unit tests (header-only, each
 * test is its own executable).
 */
#ifndef HR_TESTUTIL_H
#define HR_TESTUTIL_H

#include <stddef.h>
#include <stdio.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal as (pointer, length); the length keeps embedded NULs. */
#define S(lit) lit, sizeof(lit) - 1

/* Prints `what "bytes" (N bytes)` to stderr for a failure report, escaping
 * non-printable bytes as \xHH and cutting after 300 bytes. No newline. */
static inline void print_bytes(const char *what, const char *p, size_t len)
{
    fprintf(stderr, "%s \"", what);
    for (size_t i = 0; i < len && i < 300; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 32 && c < 127 && c != '"' && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\" (%zu bytes)", len > 300 ? "..." : "", len);
}

#endif
