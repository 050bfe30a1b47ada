/* dict.c - chained hash table; see dict.h. */
#include "dict.h"
#include "alloc.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void hr_dict_init(hr_dict *d)
{
    memset(d, 0, sizeof(*d));
}

void hr_dict_release(hr_dict *d)
{
    if (d->buckets) {
        for (size_t i = 0; i <= d->mask; i++) {
            hr_dict_entry *e = d->buckets[i];
            while (e) {
                hr_dict_entry *n = e->next;
                hr_free(e);
                e = n;
            }
        }
        hr_free(d->buckets);
    }
    hr_dict_init(d);
}

static void resize(hr_dict *d, size_t nb)
{
    hr_dict_entry **nbk = hr_calloc(nb, sizeof(*nbk));
    if (d->buckets) {
        for (size_t i = 0; i <= d->mask; i++) {
            hr_dict_entry *e = d->buckets[i];
            while (e) {
                hr_dict_entry *n = e->next;
                size_t b = e->hash & (nb - 1);
                e->next = nbk[b];
                nbk[b] = e;
                e = n;
            }
        }
        hr_free(d->buckets);
    }
    d->buckets = nbk;
    d->mask = nb - 1;
}

hr_dict_entry *hr_dict_find(const hr_dict *d, const char *key, size_t klen)
{
    if (!d->buckets) return NULL;
    uint64_t h = hr_hash(key, klen);
    for (hr_dict_entry *e = d->buckets[h & d->mask]; e; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) return e;
    return NULL;
}

void *hr_dict_get(const hr_dict *d, const char *key, size_t klen)
{
    hr_dict_entry *e = hr_dict_find(d, key, klen);
    return e ? e->val : NULL;
}

hr_dict_entry *hr_dict_upsert(hr_dict *d, const char *key, size_t klen, int *created)
{
    hr_dict_entry *e = hr_dict_find(d, key, klen);
    if (e) {
        if (created) *created = 0;
        return e;
    }
    if (!d->buckets) resize(d, 4);
    else if (d->count + 1 > d->mask + 1 && !d->no_shrink) resize(d, (d->mask + 1) * 2);
    uint64_t h = hr_hash(key, klen);
    e = hr_malloc(sizeof(*e) + klen + 1);
    e->hash = h;
    e->val = NULL;
    e->aux = 0;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    size_t b = h & d->mask;
    e->next = d->buckets[b];
    d->buckets[b] = e;
    d->count++;
    if (created) *created = 1;
    return e;
}

static void maybe_shrink(hr_dict *d)
{
    if (d->no_shrink || !d->buckets) return;
    if (d->count == 0) {
        hr_free(d->buckets);
        d->buckets = NULL;
        d->mask = 0;
        return;
    }
    size_t nb = d->mask + 1;
    if (nb > 4 && d->count < nb / 8) {
        size_t want = 4;
        while (want < d->count) want *= 2;
        resize(d, want);
    }
}

void hr_dict_delete_entry(hr_dict *d, hr_dict_entry *e)
{
    hr_dict_entry **pp = &d->buckets[e->hash & d->mask];
    while (*pp && *pp != e) pp = &(*pp)->next;
    if (!*pp) return;
    *pp = e->next;
    hr_free(e);
    d->count--;
    maybe_shrink(d);
}

void *hr_dict_delete(hr_dict *d, const char *key, size_t klen)
{
    hr_dict_entry *e = hr_dict_find(d, key, klen);
    if (!e) return NULL;
    void *v = e->val;
    hr_dict_delete_entry(d, e);
    return v;
}

void hr_dict_iter_init(hr_dict_iter *it, hr_dict *d)
{
    it->d = d;
    it->bucket = 0;
    it->next = d->buckets ? d->buckets[0] : NULL;
    d->no_shrink++;
}

hr_dict_entry *hr_dict_next(hr_dict_iter *it)
{
    hr_dict *d = it->d;
    if (!d->buckets) return NULL;
    while (!it->next) {
        if (++it->bucket > d->mask) return NULL;
        it->next = d->buckets[it->bucket];
    }
    hr_dict_entry *e = it->next;
    it->next = e->next;
    return e;
}

void hr_dict_iter_done(hr_dict_iter *it)
{
    if (it->d->no_shrink > 0 && --it->d->no_shrink == 0) maybe_shrink(it->d);
}

hr_dict_entry *hr_dict_random(const hr_dict *d)
{
    if (!d->count) return NULL;
    for (;;) {
        size_t b = (size_t)random() & d->mask;
        size_t n = 0;
        for (hr_dict_entry *e = d->buckets[b]; e; e = e->next) n++;
        if (!n) continue;
        size_t k = (size_t)random() % n;
        hr_dict_entry *e = d->buckets[b];
        while (k--) e = e->next;
        return e;
    }
}

static size_t reverse_bits(size_t v)
{
    size_t r = 0;
    for (size_t i = 0; i < sizeof(v) * 8; i++) {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }
    return r;
}

size_t hr_dict_scan(const hr_dict *d, size_t cursor, hr_dict_scan_fn *fn, void *priv)
{
    if (!d->buckets) return 0;
    size_t m = d->mask;
    for (const hr_dict_entry *e = d->buckets[cursor & m]; e; e = e->next) fn(priv, e);
    /* Increment the reversed cursor: set the bits above the mask so the
     * carry runs off the top, then reverse back. */
    cursor |= ~m;
    cursor = reverse_bits(cursor);
    cursor++;
    return reverse_bits(cursor);
}
