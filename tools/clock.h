/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Clocks, and a sleep that a signal handler's flag cuts short.
 */
#ifndef PCRAM_TOOLS_CLOCK_H
#define PCRAM_TOOLS_CLOCK_H

#include <signal.h>
#include <stdint.h>

uint64_t mono_ns(void);		/* CLOCK_MONOTONIC */
uint64_t realtime_ns(void);	/* CLOCK_REALTIME */

/* Sleep @seconds, or until a signal handler has set *@stop. */
void nap(double seconds, const volatile sig_atomic_t *stop);

#endif /* PCRAM_TOOLS_CLOCK_H */
