/*
 * alloc.h - allocation wrappers. Allocation failure terminates the process
 * with a message: herald does not try to limp on without memory. Limits on
 * peer-controlled sizes are enforced by callers before they allocate.
 */
#ifndef HR_ALLOC_H
#define HR_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

void *hr_malloc(size_t n);
void *hr_calloc(size_t n, size_t size);
void *hr_realloc(void *p, size_t n);
char *hr_strndup(const char *s, size_t n);
char *hr_strdup(const char *s);
static inline void hr_free(void *p)
{
    free(p);
}
/* Bytes currently allocated through malloc by the process (glibc's
 * mallinfo2, or the sanitizer allocator's count in ASan builds). */
size_t hr_alloc_used(void);

#endif
