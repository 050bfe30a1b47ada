/*
 * dict.h - hash table from byte-string keys to pointers (hr_dict).
 *
 * Chained buckets, power-of-two sizes, seeded hash (hr_hash). Keys are copied
 * into the entry and owned by the table; values are borrowed (the table never
 * frees them). The table grows at load 1 and shrinks below load 1/8, so its
 * memory follows its contents. Iteration order is unspecified.
 *
 * Iteration: hr_dict_next() may be used while deleting the entry just
 * returned (hr_dict_delete_entry), but no insertion may happen during
 * iteration (it may resize).
 */
#ifndef HR_DICT_H
#define HR_DICT_H

#include <stddef.h>
#include <stdint.h>

typedef struct hr_dict_entry {
    struct hr_dict_entry *next;
    uint64_t hash;
    void *val;
    size_t aux; /* a second value word for the owner's use (0 when created) */
    size_t klen;
    char key[]; /* NUL-terminated copy of the key */
} hr_dict_entry;

typedef struct hr_dict {
    hr_dict_entry **buckets;
    size_t mask; /* bucket count - 1; buckets == NULL when empty */
    size_t count;
    int no_shrink; /* >0 while iterating: resizing deferred */
} hr_dict;

typedef struct hr_dict_iter {
    hr_dict *d;
    size_t bucket;
    hr_dict_entry *next;
} hr_dict_iter;

void hr_dict_init(hr_dict *d);
/* Frees all entries (not the values). */
void hr_dict_release(hr_dict *d);
hr_dict_entry *hr_dict_find(const hr_dict *d, const char *key, size_t klen);
void *hr_dict_get(const hr_dict *d, const char *key, size_t klen);
/* Inserts key if absent; returns the entry (new or existing). *created tells
 * which (may be NULL). A new entry's val is NULL. */
hr_dict_entry *hr_dict_upsert(hr_dict *d, const char *key, size_t klen, int *created);
/* Removes key; returns its value (or NULL when absent). */
void *hr_dict_delete(hr_dict *d, const char *key, size_t klen);
void hr_dict_delete_entry(hr_dict *d, hr_dict_entry *e);
static inline size_t hr_dict_size(const hr_dict *d)
{
    return d->count;
}
void hr_dict_iter_init(hr_dict_iter *it, hr_dict *d);
hr_dict_entry *hr_dict_next(hr_dict_iter *it);
/* Ends an iteration (re-enables shrinking). */
void hr_dict_iter_done(hr_dict_iter *it);
/* Returns a random entry (NULL when empty). */
hr_dict_entry *hr_dict_random(const hr_dict *d);

/* Cursor-based iteration (SCAN): calls fn for every entry of one bucket and
 * returns the next cursor (0 when the walk is complete). Start with 0.
 * Cursors are bucket indexes with their bits reversed, incremented from the
 * top, so a walk that spans resizes still visits every entry that was present
 * from its start to its end at least once (entries may repeat). fn must not
 * change the table. */
typedef void hr_dict_scan_fn(void *priv, const hr_dict_entry *e);
size_t hr_dict_scan(const hr_dict *d, size_t cursor, hr_dict_scan_fn *fn, void *priv);

#endif
