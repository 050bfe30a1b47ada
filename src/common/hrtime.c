/* hrtime.c - clocks; see hrtime.h. */
#include "hrtime.h"

#include <time.h>

uint64_t hr_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t hr_mono_ms(void)
{
    return hr_mono_us() / 1000u;
}

int64_t hr_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
