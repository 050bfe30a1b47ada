/* alloc.c - allocation wrappers; see alloc.h. */
#include "alloc.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "herald: out of memory allocating %zu bytes\n", n);
    abort();
}

void *hr_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *hr_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *hr_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *hr_strndup(const char *s, size_t n)
{
    char *p = hr_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *hr_strdup(const char *s)
{
    return hr_strndup(s, strlen(s));
}

#if defined(__SANITIZE_ADDRESS__)
#define HR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HR_ASAN 1
#endif
#endif

#ifdef HR_ASAN
/* From the sanitizer runtime (its header is not shipped with every compiler). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

size_t hr_alloc_used(void)
{
#ifdef HR_ASAN
    /* ASan replaces malloc: glibc's counters stay at zero. */
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}
