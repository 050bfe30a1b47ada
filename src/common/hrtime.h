/* hrtime.h - clocks: monotonic for timers and durations, wall for reports. */
#ifndef HR_HRTIME_H
#define HR_HRTIME_H

#include <stdint.h>

/* Monotonic clock in nanoseconds / microseconds / milliseconds. */
uint64_t hr_mono_ns(void);
uint64_t hr_mono_us(void);
uint64_t hr_mono_ms(void);
/* A cheap counter for timing short sections (each command's run): the CPU's
 * time-stamp counter on x86-64 (constant rate on current CPUs), else the
 * monotonic clock in nanoseconds. hr_ticks_to_ns converts a number of ticks
 * at the rate measured since the first hr_ticks() call. */
uint64_t hr_ticks(void);
uint64_t hr_ticks_to_ns(uint64_t ticks);
/* Wall clock (UNIX epoch) in microseconds. */
int64_t hr_wall_us(void);

#endif
