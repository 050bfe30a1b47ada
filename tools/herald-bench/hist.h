/*
 * hist.h - log-linear latency histogram for herald-bench (HdrHistogram's
 * layout, own code).
 *
 * Values are unsigned 64-bit integers (herald-bench records nanoseconds).
 * Values below HR_HIST_SUB_COUNT (2048) get one counter each; above that,
 * every power-of-two range [2^k, 2^(k+1)) is split into 1024 equal
 * sub-buckets, so any recorded value is known to within 1/1024 (about 0.1 %,
 * three significant digits). Values above HR_HIST_MAX (2^40 ns, about 18
 * minutes) are clamped to it. The exact minimum, maximum and sum are kept
 * besides the counters.
 *
 * Invariants: total == sum of counts[]; an empty histogram has total 0 and
 * reports 0 for every statistic. A histogram is a plain struct (about 256 KiB
 * of counters, heap allocated by hr_hist_init); it is not thread safe - each
 * thread records into its own and they are merged afterwards.
 */
#ifndef HR_BENCH_HIST_H
#define HR_BENCH_HIST_H

#include <stdint.h>

#define HR_HIST_SUB_BITS 11
#define HR_HIST_SUB_COUNT (1u << HR_HIST_SUB_BITS)      /* 2048 */
#define HR_HIST_SUB_HALF (1u << (HR_HIST_SUB_BITS - 1)) /* 1024 */
#define HR_HIST_MAX_BITS 40
#define HR_HIST_MAX ((1ULL << HR_HIST_MAX_BITS) - 1)
/* Counter slots: shifts 1 .. MAX_BITS - SUB_BITS + 1 add 1024 slots each. */
#define HR_HIST_SLOTS ((HR_HIST_MAX_BITS - HR_HIST_SUB_BITS + 2) * HR_HIST_SUB_HALF)

typedef struct hr_hist {
    uint64_t *counts; /* HR_HIST_SLOTS counters, owned */
    uint64_t total;
    uint64_t min, max;
    long double sum;
} hr_hist;

/* Allocates the counters (aborts on out of memory). */
void hr_hist_init(hr_hist *h);
void hr_hist_release(hr_hist *h);
void hr_hist_reset(hr_hist *h);
/* Records one value (clamped to HR_HIST_MAX). */
void hr_hist_record(hr_hist *h, uint64_t v);
/* Adds every count of src into dst (src is borrowed, unchanged). */
void hr_hist_merge(hr_hist *dst, const hr_hist *src);
/* Returns the value at percentile p (0..100): the highest value equivalent
 * to the bucket holding the ceil(p/100 * total)-th smallest recording,
 * capped at the exact maximum. 0 when empty. */
uint64_t hr_hist_percentile(const hr_hist *h, double p);
double hr_hist_mean(const hr_hist *h);

/* Slot of value v, and the lowest / highest values sharing a slot (exposed
 * for tests). */
uint32_t hr_hist_index(uint64_t v);
uint64_t hr_hist_lowest(uint32_t idx);
uint64_t hr_hist_highest(uint32_t idx);

#endif
