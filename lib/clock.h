/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The clocks of libpcram, read in one place: nanosecond stamps for
 * latencies and timeouts, and absolute deadlines for the timed waits
 * (pthread_cond_timedwait and friends take a timespec on a given clock).
 * Inline, so that a file built alone (the wire fuzzer includes wire.c)
 * needs nothing more, and the fault path pays no call.
 */
#ifndef PCRAM_LIB_CLOCK_H
#define PCRAM_LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_NSEC_PER_SEC	1000000000L
#define CLOCK_NSEC_PER_MSEC	1000000L

/* @clock now, as a timespec. */
static inline struct timespec clock_now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts;
}

/* CLOCK_MONOTONIC in ns: what every latency and timeout is measured in. */
static inline uint64_t clock_mono_ns(void)
{
	struct timespec ts = clock_now(CLOCK_MONOTONIC);

	return (uint64_t)ts.tv_sec * CLOCK_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* @ts moved @ms later, kept normalized (tv_nsec below a second). */
static inline void clock_ts_add_ms(struct timespec *ts, unsigned int ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * CLOCK_NSEC_PER_MSEC;
	if (ts->tv_nsec >= CLOCK_NSEC_PER_SEC) {
		ts->tv_sec++;
		ts->tv_nsec -= CLOCK_NSEC_PER_SEC;
	}
}

/* @ms from now on @clock: the deadline of a timed wait. */
static inline struct timespec clock_deadline(clockid_t clock, unsigned int ms)
{
	struct timespec ts = clock_now(clock);

	clock_ts_add_ms(&ts, ms);
	return ts;
}

#endif /* PCRAM_LIB_CLOCK_H */
