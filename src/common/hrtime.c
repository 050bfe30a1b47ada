/* hrtime.c - clocks; see hrtime.h. */
#include "hrtime.h"

#include <time.h>

#if defined(__x86_64__)
#include <x86intrin.h>

static uint64_t ticks0, ns0; /* the first reading of each, for the rate */

uint64_t hr_ticks(void)
{
    if (!ticks0) {
        ns0 = hr_mono_ns();
        ticks0 = __rdtsc();
    }
    return __rdtsc();
}

uint64_t hr_ticks_to_ns(uint64_t ticks)
{
    if (!ticks0) return 0;
    uint64_t dt = __rdtsc() - ticks0, dns = hr_mono_ns() - ns0;
    if (dt == 0 || dns == 0) return 0;
    return (uint64_t)((long double)ticks * (long double)dns / (long double)dt);
}
#else
uint64_t hr_ticks(void)
{
    return hr_mono_ns();
}

uint64_t hr_ticks_to_ns(uint64_t ticks)
{
    return ticks;
}
#endif

uint64_t hr_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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
