/*
 * dict.h - hash table from byte-string keys to pointers (hr_dict).
 *
 * Chained buckets, power-of-two sizes, seeded hash (hr_hash). Keys are copied
 * into the entry and owned by the table; values are borrowed (the table never
 * frees them). The table grows at load 1 and shrinks below load 1/8, so its
 * memory follows its contents. Iteration order is unspecified.
 *
 * Incremental resizing: a resize allocates a second bucket array (t[1]) and
 * moves the entries of the old one (t[0]) over a little at a time, so no
 * single call does work proportional to the table's size. While a resize is
 * in progress, new entries go to t[1], lookups and deletes look in both, and
 * every hr_dict_find/get/upsert/delete/delete_entry first moves one bucket of
 * t[0] (visiting at most 10 empty ones). Each t[0] bucket is moved whole,
 * from the top index down, so t[0]'s buckets [0, live0) hold the entries not
 * moved yet and those at and above live0 are empty; with glibc the array's
 * moved-out tail is given back as it goes (no big free at the end). The
 * resize ends when t[0] is empty; t[1] then becomes t[0]. A shrink is at most
 * 8-fold per resize (a further one follows when still underfull), which bounds
 * both the load t[1] can reach before t[0] is drained and the buckets
 * hr_dict_scan visits per call. hr_dict_rehash_us() lets an owner finish (or
 * start) a resize of a table nobody is touching, e.g. from a cron.
 *
 * Entries never move in memory: a resize only relinks them, so pointers to
 * entries stay valid until the entry is deleted (callers keep them). Because
 * hr_dict_find/get may advance a resize, a table must not be used from two
 * threads at once, even for lookups only.
 *
 * Iteration: hr_dict_next() may be used while deleting the entry just
 * returned (hr_dict_delete_entry), but no insertion may happen during
 * iteration. While any iterator is live (between hr_dict_iter_init and
 * hr_dict_iter_done), resizing is paused: no resize starts or advances, so
 * lookups and deletes during an iteration move nothing; a resize that was in
 * progress is walked in both tables.
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

typedef struct hr_dict_table {
    hr_dict_entry **buckets; /* NULL when not allocated */
    size_t mask;             /* bucket count - 1 (0 when not allocated) */
    size_t count;            /* entries linked in this table */
} hr_dict_table;

/* Plain data (no self-references): may be copied by value to hand a whole
 * table over, as long as the old copy is not used any more. */
typedef struct hr_dict {
    hr_dict_table t[2]; /* t[1].buckets != NULL while a resize moves t[0] to t[1] */
    size_t live0;       /* while resizing: t[0] buckets [0, live0) may hold entries */
    size_t cap0;        /* while resizing: buckets still allocated in t[0]'s array */
    int no_shrink;      /* >0 while iterators are live: resizing paused */
} hr_dict;

typedef struct hr_dict_iter {
    hr_dict *d;
    int table;
    size_t bucket;
    hr_dict_entry *next;
} hr_dict_iter;

void hr_dict_init(hr_dict *d);
/* Frees all entries (not the values) and both bucket arrays, also in the
 * middle of a resize. The table is empty (and initialised) afterwards. */
void hr_dict_release(hr_dict *d);
/* Returns the key's entry (borrowed) or NULL. May advance a pending resize
 * (see above): the table is const only in that its contents do not change. */
hr_dict_entry *hr_dict_find(const hr_dict *d, const char *key, size_t klen);
void *hr_dict_get(const hr_dict *d, const char *key, size_t klen);
/* Inserts key if absent; returns the entry (new or existing). *created tells
 * which (may be NULL). A new entry's val is NULL. */
hr_dict_entry *hr_dict_upsert(hr_dict *d, const char *key, size_t klen, int *created);
/* Removes key; returns its value (or NULL when absent). */
void *hr_dict_delete(hr_dict *d, const char *key, size_t klen);
/* Removes and frees e (an entry of d; nothing happens when it is not). */
void hr_dict_delete_entry(hr_dict *d, hr_dict_entry *e);
static inline size_t hr_dict_size(const hr_dict *d)
{
    return d->t[0].count + d->t[1].count;
}
/* True while a resize is in progress (two bucket arrays). */
static inline int hr_dict_is_resizing(const hr_dict *d)
{
    return d->t[1].buckets != NULL;
}
/* Background resizing for a cron: starts the resize the table needs (grow
 * when over load 1, shrink when under 1/8, e.g. after deletes stopped in the
 * middle of a resize) and moves buckets until it is complete or about
 * budget_us microseconds passed (the clock is read every 100 buckets, so one
 * call does at least that much work). Does nothing while an iterator is live.
 * Returns the number of old-table buckets processed (at least 1 when a resize
 * was in progress; 0 when none was due or while paused), so
 * `while (hr_dict_rehash_us(d, 1000))` completes a resize. */
size_t hr_dict_rehash_us(hr_dict *d, unsigned budget_us);

/* Iteration over both tables; see the rules at the top. */
void hr_dict_iter_init(hr_dict_iter *it, hr_dict *d);
hr_dict_entry *hr_dict_next(hr_dict_iter *it);
/* Ends an iteration (re-enables resizing, and starts the shrink that deletes
 * made due). */
void hr_dict_iter_done(hr_dict_iter *it);

/* Returns a random entry (NULL when empty), from both tables during a resize.
 * Rejection sampling: a random bucket among all live ones and a random
 * position in a window of L chain slots (L = 3 up to load 1/2, 4 up to load
 * 1, more when fuller), retried when the chain ends before it, so every entry
 * in a chain of at most L has the same chance, whichever table it is in (a
 * chain longer than L, rare at these loads, has its entries picked L/len as
 * often: within 0.5% of uniform overall). After 256 misses - only on a table
 * left very sparse, e.g. while iterators defer its shrink - it returns an
 * entry of the first non-empty bucket after a random one (biased towards
 * entries that follow empty runs, bounded by the bucket count). Does not
 * move anything. Uses a per-thread generator seeded from the OS. */
hr_dict_entry *hr_dict_random(const hr_dict *d);

/* Cursor-based iteration (SCAN): calls fn for every entry of one bucket and
 * returns the next cursor (0 when the walk is complete). Start with 0.
 * Cursors are bucket indexes with their bits reversed, incremented from the
 * top, so a walk that spans resizes still visits every entry that was present
 * from its start to its end at least once (entries may repeat). During a
 * resize one call visits the cursor's bucket in the smaller table and every
 * bucket of the larger table that expands from it (those whose low bits equal
 * it; at most 8, see the shrink bound above): an entry is in either its
 * old-table or its new-table bucket, so both places are covered, and the
 * cursor advances past all of them. fn must not change the table. Does not
 * move anything. */
typedef void hr_dict_scan_fn(void *priv, const hr_dict_entry *e);
size_t hr_dict_scan(const hr_dict *d, size_t cursor, hr_dict_scan_fn *fn, void *priv);

#endif
