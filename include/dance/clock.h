/*
 * dance/clock.h - the library's one monotonic clock.
 *
 * Expiry, timeouts and rate budgets all count milliseconds on
 * CLOCK_MONOTONIC, which wall-clock steps (NTP, an operator's `date`) do
 * not move. Modules that need a fake clock for tests take a dance_clock_fn
 * and default to dance_clock_monotonic_ms.
 */
#ifndef DANCE_CLOCK_H
#define DANCE_CLOCK_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic clock in milliseconds; injectable for tests. */
typedef uint64_t (*dance_clock_fn)(void *ctx);

/* dance_clock_monotonic_ms - CLOCK_MONOTONIC in milliseconds; ctx is
 * ignored (it makes the function a dance_clock_fn). Cannot fail on Linux. */
uint64_t dance_clock_monotonic_ms(void *ctx);

/* dance_clock_deadline_after - CLOCK_MONOTONIC now plus ms, as the absolute
 * time pthread_cond_timedwait takes for a condition variable set up with
 * pthread_condattr_setclock(CLOCK_MONOTONIC). Cannot fail. */
struct timespec dance_clock_deadline_after(unsigned ms);

#ifdef __cplusplus
}
#endif
#endif
