// SPDX-License-Identifier: GPL-2.0
/*
 * Per-VM statistics: fault latency, the threads that blocked the longest,
 * and what batches did.
 *
 * Counters and histograms are per CPU, so that the probe's return handler
 * (which runs in every faulting thread, with preemption off) and
 * concurrent batches never share a cache line; readers sum them. Only the
 * maximum and the thread table are shared, the table under a spinlock.
 * That lock is taken in process context only (the probe's handlers run in
 * the faulting thread, never in an interrupt), so interrupts stay on:
 * turning them off and on is what a fault would pay for most here.
 */
#include <linux/atomic.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <uapi/linux/pcram.h>

#include "pcram_internal.h"

int pcram_stats_init(struct pcram_stats *stats)
{
	stats->cpu = alloc_percpu(struct pcram_stats_cpu);
	if (!stats->cpu)
		return -ENOMEM;
	atomic64_set(&stats->max_ns, 0);
	spin_lock_init(&stats->threads_lock);
	stats->nr_threads = 0;
	return 0;
}

void pcram_stats_free(struct pcram_stats *stats)
{
	free_percpu(stats->cpu);
	stats->cpu = NULL;
}

static unsigned int pcram_log2_bucket(u64 v, unsigned int buckets)
{
	return v ? min_t(unsigned int, ilog2(v), buckets - 1) : 0;
}

static void pcram_stats_max(atomic64_t *max, u64 ns)
{
	s64 old = atomic64_read(max);

	/* Times are far below 2^63 ns, so the signed compare is exact. */
	while ((s64)ns > old) {
		s64 seen = atomic64_cmpxchg(max, old, ns);

		if (seen == old)
			break;
		old = seen;
	}
}

/*
 * The thread table keeps the threads with the most blocked time. A thread
 * not in a full table replaces the entry with the least total only if this
 * one fault outweighs it, so a burst of short-lived threads cannot flush
 * out the vCPUs that matter.
 */
static void pcram_stats_thread(struct pcram_stats *stats, u64 ns)
{
	struct pcram_thread_stat *t = NULL;
	pid_t tid = task_pid_nr(current);
	unsigned int i;

	spin_lock(&stats->threads_lock);
	for (i = 0; i < stats->nr_threads; i++) {
		if (stats->threads[i].tid == tid) {
			t = &stats->threads[i];
			goto found;
		}
	}
	if (stats->nr_threads < PCRAM_THREADS_MAX) {
		t = &stats->threads[stats->nr_threads++];
	} else {
		for (i = 0; i < PCRAM_THREADS_MAX; i++)
			if (!t || stats->threads[i].blocked_ns < t->blocked_ns)
				t = &stats->threads[i];
		if (ns <= t->blocked_ns)
			goto out;
	}
	memset(t, 0, sizeof(*t));
	t->tid = tid;
found:
	/* Unlocked read of current->comm: a racing rename only garbles it. */
	strscpy(t->comm, current->comm, sizeof(t->comm));
	t->faults++;
	t->blocked_ns += ns;
	t->max_ns = max(t->max_ns, ns);
out:
	spin_unlock(&stats->threads_lock);
}

/*
 * The log-linear bucket of @ns < 2^PCRAM_LHIST_MAX_SHIFT, by the UAPI's
 * formula: a find-last-set and two shifts, cheap enough for the probe.
 */
static unsigned int pcram_lhist_bucket(u64 ns)
{
	unsigned int shift = fls64(ns);

	shift = shift > PCRAM_LHIST_SUB_BITS + 1 ?
		shift - (PCRAM_LHIST_SUB_BITS + 1) : 0;
	return (shift << PCRAM_LHIST_SUB_BITS) + (unsigned int)(ns >> shift);
}

/* The lowest value of log-linear bucket @i (the UAPI's formula). */
static u64 pcram_lhist_lo(unsigned int i)
{
	unsigned int shift = i < PCRAM_LHIST_SUB ? 0 :
			     (i >> PCRAM_LHIST_SUB_BITS) - 1;

	return (u64)(i - (shift << PCRAM_LHIST_SUB_BITS)) << shift;
}

/* A fault of the current thread ended after blocking @ns. */
void pcram_stats_fault(struct pcram_stats *stats, u64 ns)
{
	BUILD_BUG_ON(PCRAM_LHIST_MAX_SHIFT >= PCRAM_HIST_BUCKETS);
	this_cpu_inc(stats->cpu->faults);
	this_cpu_add(stats->cpu->blocked_ns, ns);
	if (likely(!(ns >> PCRAM_LHIST_MAX_SHIFT)))
		this_cpu_inc(stats->cpu->fault_lhist[pcram_lhist_bucket(ns)]);
	else
		this_cpu_inc(stats->cpu->fault_high[ilog2(ns) - PCRAM_LHIST_MAX_SHIFT]);
	pcram_stats_max(&stats->max_ns, ns);
	pcram_stats_thread(stats, ns);
}

/* One batch of @count ops, which did @t. */
void pcram_stats_batch(struct pcram_stats *stats, u32 count,
		       const struct pcram_batch_counts *t)
{
	unsigned int b = pcram_log2_bucket(count, PCRAM_BATCH_HIST_BUCKETS);

	this_cpu_inc(stats->cpu->batches);
	this_cpu_add(stats->cpu->batch.ops, t->ops);
	this_cpu_add(stats->cpu->batch.bytes, t->bytes);
	this_cpu_add(stats->cpu->batch.zero_bytes, t->zero_bytes);
	this_cpu_add(stats->cpu->batch.wakes, t->wakes);
	this_cpu_add(stats->cpu->batch.eexist, t->eexist);
	this_cpu_add(stats->cpu->batch.errors, t->errors);
	this_cpu_inc(stats->cpu->batch_hist[b]);
}

/* The thread table, longest blocked first: insertion sort of 16. */
static void pcram_stats_sort_threads(struct pcram_stats_snapshot *snap)
{
	unsigned int i, j;

	for (i = 1; i < snap->nr_threads; i++) {
		struct pcram_thread_stat t = snap->threads[i];

		for (j = i; j > 0 && snap->threads[j - 1].blocked_ns < t.blocked_ns; j--)
			snap->threads[j] = snap->threads[j - 1];
		snap->threads[j] = t;
	}
}

void pcram_stats_read(struct pcram_stats *stats,
		      struct pcram_stats_snapshot *snap)
{
	u64 *sum = (u64 *)&snap->sum;
	unsigned int i;
	int cpu;

	/* struct pcram_stats_cpu is u64 counters only: add it word by word. */
	BUILD_BUG_ON(sizeof(struct pcram_stats_cpu) % sizeof(u64));
	memset(&snap->sum, 0, sizeof(snap->sum));
	for_each_possible_cpu(cpu) {
		const u64 *c = (const u64 *)per_cpu_ptr(stats->cpu, cpu);

		for (i = 0; i < sizeof(snap->sum) / sizeof(u64); i++)
			sum[i] += READ_ONCE(c[i]);
	}
	snap->max_ns = atomic64_read(&stats->max_ns);

	/* Both UAPI histograms: each log2 bucket is whole log-linear ones. */
	memset(snap->fault_hist, 0, sizeof(snap->fault_hist));
	for (i = 0; i < PCRAM_LHIST_IN_RANGE; i++)
		snap->fault_hist[pcram_log2_bucket(pcram_lhist_lo(i),
						   PCRAM_HIST_BUCKETS)] +=
			snap->sum.fault_lhist[i];
	snap->fault_lhist_over = 0;
	for (i = 0; i < PCRAM_LHIST_HIGH; i++) {
		snap->fault_hist[PCRAM_LHIST_MAX_SHIFT + i] = snap->sum.fault_high[i];
		snap->fault_lhist_over += snap->sum.fault_high[i];
	}

	spin_lock(&stats->threads_lock);
	snap->nr_threads = stats->nr_threads;
	memcpy(snap->threads, stats->threads,
	       snap->nr_threads * sizeof(snap->threads[0]));
	spin_unlock(&stats->threads_lock);
	pcram_stats_sort_threads(snap);
}

/*
 * Updates racing with the reset land on either side of it: a CPU's
 * counter being added to while it is cleared may keep that one addition.
 */
void pcram_stats_reset(struct pcram_stats *stats)
{
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(stats->cpu, cpu), 0,
		       sizeof(struct pcram_stats_cpu));
	atomic64_set(&stats->max_ns, 0);
	spin_lock(&stats->threads_lock);
	stats->nr_threads = 0;
	spin_unlock(&stats->threads_lock);
}
