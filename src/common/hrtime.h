/* hrtime.h - clocks: monotonic for timers and durations, wall for reports. */
#ifndef HR_HRTIME_H
#define HR_HRTIME_H

#include <stdint.h>

/* Monotonic clock in microseconds / milliseconds. */
uint64_t hr_mono_us(void);
uint64_t hr_mono_ms(void);
/* Wall clock (UNIX epoch) in microseconds. */
int64_t hr_wall_us(void);

#endif
