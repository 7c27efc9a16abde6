// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Scheduling of libpcram's threads. Why both: nice 19 alone does not keep
 * a fault fast under a full-speed push. On an EEVDF kernel (6.6 and
 * later) a nice-19 push thread, once picked, kept the CPU to the next
 * tick (4 ms at HZ=250) while the source's request server waited, runnable
 * (perf sched on 6.18: fault p99 under the push 7-12 times idle). With a
 * short slice the urgent threads' wakeup preempts (PREEMPT_SHORT): 1.5-2.3
 * times.
 */
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "thread.h"

/*
 * The kernel's struct sched_attr up to SCHED_ATTR_SIZE_VER0: glibc before
 * 2.41 has neither it nor the calls.
 */
struct sched_attr_v0 {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;	/* for a fair thread: its slice, ns */
	uint64_t sched_deadline;
	uint64_t sched_period;
};

/* The shortest slice the kernel takes (it clamps to 0.1-100 ms). */
#define URGENT_SLICE_NS 100000ULL

static pid_t gettid_raw(void)
{
	return (pid_t)syscall(SYS_gettid);
}

void thread_background(void)
{
	/* Linux: a thread's own nice value, set through its tid. */
	setpriority(PRIO_PROCESS, (id_t)gettid_raw(), 19);
}

void thread_urgent(void)
{
	struct sched_attr_v0 a = { .size = sizeof(a) };

	/* Best effort, like the nice value: the thread works either way. */
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0))
		return;
	if (a.sched_policy != SCHED_OTHER && a.sched_policy != SCHED_BATCH)
		return;		/* real-time or idle: the caller's choice */
	a.size = sizeof(a);
	a.sched_runtime = URGENT_SLICE_NS;
	syscall(SYS_sched_setattr, 0, &a, 0);
}
