// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <time.h>

#include "clock.h"

static uint64_t ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t mono_ns(void)
{
	return ns(CLOCK_MONOTONIC);
}

uint64_t realtime_ns(void)
{
	return ns(CLOCK_REALTIME);
}

void nap(double seconds, const volatile sig_atomic_t *stop)
{
	struct timespec ts = {
		.tv_sec = (time_t)seconds,
		.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
	};

	/* The handler runs between the check and the sleep at worst: one nap late. */
	while (!*stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}
