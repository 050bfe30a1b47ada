/*
 * hist.c - log-linear latency histogram (see hist.h for the layout).
 *
 * Slot of v: below 2048, v itself. Otherwise let shift = msb(v) - 10 (>= 1);
 * the top 11 bits of v, sub = v >> shift, lie in [1024, 2048) and the slot is
 * (shift + 1) * 1024 + (sub - 1024). The slots of consecutive shifts are
 * consecutive, so the counters form one dense array ordered by value.
 */
#include "hist.h"

#include <string.h>

#include "alloc.h"

void hr_hist_init(hr_hist *h)
{
    h->counts = hr_calloc(HR_HIST_SLOTS, sizeof(uint64_t));
    h->total = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    h->sum = 0;
}

void hr_hist_release(hr_hist *h)
{
    hr_free(h->counts);
    h->counts = NULL;
}

void hr_hist_reset(hr_hist *h)
{
    memset(h->counts, 0, HR_HIST_SLOTS * sizeof(uint64_t));
    h->total = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    h->sum = 0;
}

uint32_t hr_hist_index(uint64_t v)
{
    if (v > HR_HIST_MAX) v = HR_HIST_MAX;
    if (v < HR_HIST_SUB_COUNT) return (uint32_t)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - (HR_HIST_SUB_BITS - 1);
    uint64_t sub = v >> shift;
    return (uint32_t)((shift + 1) * HR_HIST_SUB_HALF + (sub - HR_HIST_SUB_HALF));
}

uint64_t hr_hist_lowest(uint32_t idx)
{
    if (idx < HR_HIST_SUB_COUNT) return idx;
    int shift = (int)(idx / HR_HIST_SUB_HALF) - 1;
    uint64_t sub = idx % HR_HIST_SUB_HALF + HR_HIST_SUB_HALF;
    return sub << shift;
}

uint64_t hr_hist_highest(uint32_t idx)
{
    if (idx < HR_HIST_SUB_COUNT) return idx;
    int shift = (int)(idx / HR_HIST_SUB_HALF) - 1;
    return hr_hist_lowest(idx) + (1ULL << shift) - 1;
}

void hr_hist_record(hr_hist *h, uint64_t v)
{
    if (v > HR_HIST_MAX) v = HR_HIST_MAX;
    h->counts[hr_hist_index(v)]++;
    h->total++;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
    h->sum += v;
}

void hr_hist_merge(hr_hist *dst, const hr_hist *src)
{
    if (src->total == 0) return;
    for (uint32_t i = 0; i < HR_HIST_SLOTS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
    dst->sum += src->sum;
}

uint64_t hr_hist_percentile(const hr_hist *h, double p)
{
    if (h->total == 0) return 0;
    if (p < 0) p = 0;
    if (p > 100) p = 100;
    uint64_t rank = (uint64_t)((p / 100.0) * (double)h->total + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > h->total) rank = h->total;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HR_HIST_SLOTS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hr_hist_highest(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double hr_hist_mean(const hr_hist *h)
{
    return h->total ? (double)(h->sum / h->total) : 0.0;
}
