// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Statistics of the destination engine: counters and log2 histograms
 * readable from any thread without locks, the latency of each request
 * from fault to placement, and blocked time per faulting thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "dst.h"

/*
 * Every writer holds track_lock, so plain loads and stores do: readers
 * take no lock and see each counter whole. An atomic read-modify-write
 * each would cost ~20 locked operations a fault, which under emulation
 * (TCG) is a measurable share of the whole round trip.
 */
static void hist_add_locked(struct dst_hist *h, uint64_t v)
{
	unsigned int i = v > 1 ? 63 - __builtin_clzll(v) : 0;

#define BUMP(c, by) atomic_store_explicit(&(c), \
	atomic_load_explicit(&(c), memory_order_relaxed) + (by), memory_order_relaxed)
	BUMP(h->bucket[i], 1);
	BUMP(h->count, 1);
	BUMP(h->sum, v);
#undef BUMP
	if (v > atomic_load_explicit(&h->max, memory_order_relaxed))
		atomic_store_explicit(&h->max, v, memory_order_relaxed);
}

static void hist_read(const struct dst_hist *h, struct pcram_hist *out)
{
	out->count = atomic_load_explicit(&h->count, memory_order_relaxed);
	out->sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
	out->max = atomic_load_explicit(&h->max, memory_order_relaxed);
	for (int i = 0; i < PCRAM_HIST_BUCKETS; i++)
		out->bucket[i] = atomic_load_explicit(&h->bucket[i],
						      memory_order_relaxed);
}

/* Bucket @i's values, [*lo, *top], of a histogram of @n buckets. */
typedef void (*bucket_bounds_fn)(int i, uint64_t *lo, uint64_t *top);

/*
 * The value of rank max(1, round(@q * total)), interpolated inside its
 * bucket, and never above @max when there is a count (a count says max
 * is known, even when it is 0). The buckets are read one by one while
 * others add: their sum, not @count, is the total.
 */
static uint64_t quantile(const uint64_t *bucket, int n, bucket_bounds_fn bounds,
			 uint64_t count, uint64_t max, double q)
{
	uint64_t total = 0, seen = 0, rank;

	for (int i = 0; i < n; i++)
		total += bucket[i];
	if (!total)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	rank = (uint64_t)(q * (double)total + 0.5);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < n; i++) {
		uint64_t c = bucket[i], lo, top, add, v;

		if (seen + c < rank) {
			seen += c;
			continue;
		}
		bounds(i, &lo, &top);
		add = (uint64_t)((double)(top - lo + 1) * (double)(rank - seen) / (double)c);
		v = lo + (add > top - lo ? top - lo : add);
		return (max || count) && v > max ? max : v;
	}
	return max;
}

/* [2^i, 2^(i+1) - 1]; bucket 0 also holds 0, and 2^64 would not fit. */
static void log2_bounds(int i, uint64_t *lo, uint64_t *top)
{
	*lo = i ? 1ULL << i : 0;
	*top = i < 63 ? (2ULL << i) - 1 : UINT64_MAX;
}

PCRAM_EXPORT
uint64_t pcram_hist_quantile(const struct pcram_hist *h, double q)
{
	if (!h)
		return 0;
	return quantile(h->bucket, PCRAM_HIST_BUCKETS, log2_bounds, h->count, h->max, q);
}

/* The UAPI's formula (Documentation/uapi.rst, "Log-linear histogram"). */
static void lhist_bounds(int i, uint64_t *lo, uint64_t *top)
{
	unsigned int shift = i < (1 << PCRAM_KMOD_LHIST_SUB_BITS) ? 0 :
			     ((unsigned int)i >> PCRAM_KMOD_LHIST_SUB_BITS) - 1;

	*lo = (uint64_t)(i - (int)(shift << PCRAM_KMOD_LHIST_SUB_BITS)) << shift;
	*top = i == PCRAM_KMOD_LHIST_BUCKETS - 1 ? UINT64_MAX : *lo + (1ULL << shift) - 1;
}

PCRAM_EXPORT
int pcram_kmod_lhist_bounds(unsigned int i, uint64_t *lo, uint64_t *hi)
{
	uint64_t l, t;

	if (i >= PCRAM_KMOD_LHIST_BUCKETS)
		return -EINVAL;
	lhist_bounds((int)i, &l, &t);
	if (lo)
		*lo = l;
	if (hi)
		*hi = t;
	return 0;
}

PCRAM_EXPORT
uint64_t pcram_kmod_lhist_quantile(const struct pcram_kmod_lhist *h, double q)
{
	if (!h)
		return 0;
	return quantile(h->bucket, PCRAM_KMOD_LHIST_BUCKETS, lhist_bounds, h->count, h->max, q);
}

/* ---- in-flight requests and faulting threads ----------------------------- */

int dst_track_alloc(struct pcram_dst *dst)
{
	dst->pending = calloc(DST_PENDING_SLOTS, sizeof(*dst->pending));
	dst->tids = calloc(DST_THREAD_SLOTS, sizeof(*dst->tids));
	if (!dst->pending || !dst->tids) {
		dst_track_free(dst);
		return -ENOMEM;
	}
	return 0;
}

void dst_track_free(struct pcram_dst *dst)
{
	free(dst->pending);
	free(dst->tids);
	dst->pending = NULL;
	dst->tids = NULL;
}

static unsigned int hash64(uint64_t v, unsigned int mask)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (unsigned int)v & mask;
}

/* Linear probing; the caller holds track_lock. */
static struct dst_thread_slot *tid_slot(struct pcram_dst *dst, uint32_t tid,
					bool create)
{
	unsigned int mask = DST_THREAD_SLOTS - 1, i = hash64(tid, mask);

	for (unsigned int n = 0; n < DST_THREAD_SLOTS; n++, i = (i + 1) & mask) {
		struct dst_thread_slot *s = &dst->tids[i];

		if (s->tid == tid)
			return s;
		if (!s->tid) {
			if (!create || dst->nr_tids >= DST_THREAD_SLOTS / 2)
				return NULL;
			s->tid = tid;
			s->vcpu = -1;
			dst->nr_tids++;
			return s;
		}
	}
	return NULL;
}

void dst_track_request(struct pcram_dst *dst, uint64_t addr, uint64_t t_read,
		       uint64_t t_request, uint32_t tid)
{
	unsigned int mask = DST_PENDING_SLOTS - 1, i = hash64(addr, mask);

	pthread_mutex_lock(&dst->track_lock);
	hist_add_locked(&dst->h_read_req, t_request - t_read);
	for (unsigned int n = 0; n < DST_PENDING_SLOTS; n++, i = (i + 1) & mask) {
		struct dst_pending *p = &dst->pending[i];

		if (p->addr == addr)	/* asked again: keep the first fault */
			goto out;
		if (!p->addr) {
			/* Half full at most, so that probe chains stay short. */
			if (dst->nr_pending >= DST_PENDING_SLOTS / 2)
				break;
			dst->nr_pending++;
			*p = (struct dst_pending) {
				.addr = addr, .t_read = t_read,
				.t_request = t_request, .tid = tid,
			};
			goto out;
		}
	}
	cnt_add(&dst->st.untracked, 1);
out:
	pthread_mutex_unlock(&dst->track_lock);
}

/* Remove slot @i keeping every probe chain intact (backward shift). */
static void pending_delete(struct pcram_dst *dst, unsigned int i)
{
	unsigned int mask = DST_PENDING_SLOTS - 1, j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!dst->pending[j].addr)
			break;
		unsigned int home = hash64(dst->pending[j].addr, mask);

		/* Can the entry at j move to the hole at i? */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			dst->pending[i] = dst->pending[j];
			i = j;
		}
	}
	dst->pending[i].addr = 0;
	dst->nr_pending--;
}

/* The slot holding @addr, or -1; the caller holds track_lock. */
static int pending_find(struct pcram_dst *dst, uint64_t addr)
{
	unsigned int mask = DST_PENDING_SLOTS - 1, i = hash64(addr, mask);

	for (unsigned int n = 0; n < DST_PENDING_SLOTS; n++, i = (i + 1) & mask) {
		if (!dst->pending[i].addr)
			return -1;
		if (dst->pending[i].addr == addr)
			return (int)i;
	}
	return -1;
}

void dst_track_drop(struct pcram_dst *dst, uint64_t addr)
{
	int i;

	pthread_mutex_lock(&dst->track_lock);
	i = pending_find(dst, addr);
	if (i >= 0)
		pending_delete(dst, (unsigned int)i);
	pthread_mutex_unlock(&dst->track_lock);
}

void dst_track_placed(struct pcram_dst *dst, uint64_t addr,
		      uint64_t t_arrival, uint64_t t_placed)
{
	struct dst_pending p = { 0 };
	int i;

	pthread_mutex_lock(&dst->track_lock);
	i = pending_find(dst, addr);
	if (i >= 0) {
		p = dst->pending[i];
		pending_delete(dst, (unsigned int)i);
	}
	if (p.addr) {
		/* A page can arrive before its request was handed out. */
		hist_add_locked(&dst->h_req_arr, t_arrival > p.t_request ?
				t_arrival - p.t_request : 0);
		hist_add_locked(&dst->h_arr_placed, t_placed - t_arrival);
		hist_add_locked(&dst->h_fault_placed, t_placed - p.t_read);
	}
	if (p.addr && p.tid) {
		struct dst_thread_slot *s = tid_slot(dst, p.tid, true);
		uint64_t blocked = t_placed - p.t_read;

		if (s) {
			s->faults++;
			s->blocked_ns += blocked;
			if (blocked > s->max_ns)
				s->max_ns = blocked;
		}
	}
	pthread_mutex_unlock(&dst->track_lock);
}

/* ---- public --------------------------------------------------------------------- */

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

PCRAM_DEFAULT_VERSION(pcram_dst_stats, PCRAM_0.3);
PCRAM_EXPORT
int pcram_dst_stats(const struct pcram_dst *dst, struct pcram_dst_stats *out, size_t size)
{
	struct pcram_dst_stats full, *st = &full;

	if (!dst || !out || size < PCRAM_DST_STATS_SIZE_0_1)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->duplicates = LOAD(dst->st.duplicates);
	st->stale = LOAD(dst->st.stale);
	st->refaults = LOAD(dst->st.refaults);
	st->provider_errors = LOAD(dst->st.provider_errors);
	st->eexist = LOAD(dst->st.eexist);
	st->eagain = LOAD(dst->st.eagain);
	st->retries = LOAD(dst->st.retries);
	st->wakes = LOAD(dst->st.wakes);
	st->poisoned = LOAD(dst->st.poisoned);
	st->outside = LOAD(dst->st.outside);
	/* Counted once, per block, on the fault path; totalled here. */
	st->faults = st->outside;
	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		const struct dst_block *b = &dst->blocks[i];
		uint64_t placed = LOAD(b->pages_placed);

		st->faults += LOAD(b->faults);
		st->requests += LOAD(b->requests);
		st->pages_placed += placed;
		st->bytes_placed += placed << b->page_shift;
		st->zero_pages += LOAD(b->zero_pages);
	}
	st->events = LOAD(dst->st.events);
	st->untracked = LOAD(dst->st.untracked);
	st->pages_missing = pcram_dst_pages_missing(dst);
	st->module_vm_id = dst->module_vm_id;
	st->module_batches = LOAD(dst->st.module_batches);
	st->fault_threads = dst->nr_fault_threads;
	st->opener = dst->opener;
	st->features = dst->features;
	hist_read(&dst->h_read_req, &st->read_to_request);
	hist_read(&dst->h_req_arr, &st->request_to_arrival);
	hist_read(&dst->h_arr_placed, &st->arrival_to_placed);
	hist_read(&dst->h_fault_placed, &st->fault_to_placed);
	pcram_copy_out(out, size, st, sizeof(*st));
	return 0;
}

PCRAM_EXPORT
int pcram_dst_set_vcpu(struct pcram_dst *dst, uint32_t tid, int vcpu)
{
	struct dst_thread_slot *s;

	if (!dst || !tid || vcpu < 0)
		return -EINVAL;
	pthread_mutex_lock(&dst->track_lock);
	s = tid_slot(dst, tid, true);
	if (s)
		s->vcpu = vcpu;
	pthread_mutex_unlock(&dst->track_lock);
	return s ? 0 : dst_error(dst, -ENOSPC, "set_vcpu: more than %d threads",
				 DST_THREAD_SLOTS / 2);
}

PCRAM_DEFAULT_VERSION(pcram_dst_thread_stats, PCRAM_0.3);
PCRAM_EXPORT
int pcram_dst_thread_stats(const struct pcram_dst *dst,
			   struct pcram_thread_stats *out, unsigned int max, size_t size)
{
	struct pcram_dst *d = (struct pcram_dst *)dst;	/* the lock only */
	unsigned int n = 0;

	if (!dst || (!out && max) || size < PCRAM_THREAD_STATS_SIZE_0_1)
		return -EINVAL;
	pthread_mutex_lock(&d->track_lock);
	for (unsigned int i = 0; i < DST_THREAD_SLOTS; i++) {
		const struct dst_thread_slot *s = &dst->tids[i];

		if (!s->tid)
			continue;
		if (n < max) {
			struct pcram_thread_stats t = {
				.tid = s->tid, .vcpu = s->vcpu,
				.faults = s->faults, .blocked_ns = s->blocked_ns,
				.max_ns = s->max_ns,
			};

			/* The caller's elements are @size apart, not ours. */
			pcram_copy_out((char *)out + (size_t)n * size, size, &t, sizeof(t));
		}
		n++;
	}
	pthread_mutex_unlock(&d->track_lock);
	return (int)n;
}

PCRAM_DEFAULT_VERSION(pcram_dst_block_stats, PCRAM_0.3);
PCRAM_EXPORT
int pcram_dst_block_stats(const struct pcram_dst *dst, unsigned int index,
			  struct pcram_block_stats *out, size_t size)
{
	const struct dst_block *b;
	struct pcram_block_stats st;

	if (!dst || !out || size < PCRAM_BLOCK_STATS_SIZE_0_1)
		return -EINVAL;
	if (index >= dst->nr_blocks)
		return -ENOENT;
	b = &dst->blocks[index];
	st = (struct pcram_block_stats) {
		.faults = LOAD(b->faults),
		.requests = LOAD(b->requests),
		.pages_placed = LOAD(b->pages_placed),
		.bytes_placed = LOAD(b->pages_placed) << b->page_shift,
		.zero_pages = LOAD(b->zero_pages),
		.pages_missing = (uint64_t)atomic_load(&b->missing),
	};
	pcram_copy_out(out, size, &st, sizeof(st));
	return 0;
}
