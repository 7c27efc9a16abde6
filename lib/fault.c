// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Fault threads: read userfaultfd messages, many per read(), turn each
 * fault into at most one request per page, and handle or refuse every
 * other event out loud.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dst.h"
#include "thread.h"

#define MSGS_PER_READ 64

/* /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)

static void report(struct pcram_dst *dst, const struct pcram_event *ev)
{
	if (dst->provider.event)
		dst->provider.event(dst, ev, dst->provider.opaque);
}

struct fault_ctx {
	struct pcram_dst *dst;
	struct dst_fault_thread *ft;
	unsigned int index;
	const struct dst_block *last;	/* block of the last request */
};

bool dst_page_mapped(struct pcram_dst *dst, uint64_t addr)
{
	uint64_t entry;
	off_t off = (off_t)(addr / (uint64_t)sysconf(_SC_PAGESIZE)) * 8;

	/* Unreadable: say mapped, the old answer (the thread may wait). */
	if (pread(dst->pagemap_fd, &entry, sizeof(entry), off) != sizeof(entry))
		return true;
	return entry & (PM_PRESENT | PM_SWAP);
}

/*
 * A fault on a page marked received. Mostly a stale message: the
 * placement's wake released the thread, or will (a batch wakes after its
 * copies). But the page can also have gone since it was placed, and then
 * no wake is coming:
 *  - a MINOR fault: a shared page's mapping went (MADV_DONTNEED, reclaim)
 *    while the file keeps the data. CONTINUE maps it again.
 *  - a MISSING fault on a shared page: the file lost it (MADV_REMOVE, a
 *    hole punched by someone else), so it reads as zeros, as the file says.
 *  - a MISSING fault on a private page: MADV_DONTNEED, whose REMOVE event
 *    another fault thread has not handled yet. The page is missing again:
 *    forget it and ask for it (returns false).
 * Returns true when the fault is dealt with.
 */
static bool refault(struct pcram_dst *dst, struct dst_block *b, uint64_t page,
		    uint64_t page_addr, const struct uffd_msg *msg)
{
	int ret;

	/* Being placed: that placement wakes the thread when done. */
	if (bit_test(b->placing, page))
		goto stale;
	if (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR) {
		struct uffdio_continue c = {
			.range = { .start = page_addr, .len = b->page_size },
		};

		ret = ioctl(dst->uffd, UFFDIO_CONTINUE, &c) ? -errno : 0;
		goto remapped;
	}
	/*
	 * The placement is over; the faulting address still mapped means a
	 * stale message. (Asked there, not at the page's start: a THP block
	 * can lose 4 KiB of a huge page.)
	 */
	if (dst_page_mapped(dst, msg->arg.pagefault.address))
		goto stale;
	if (b->shared) {
		ret = dst_zero_fill(dst, b, page_addr);
		goto remapped;
	}
	if (bit_test_set(b->placing, page))
		goto stale;	/* placed again meanwhile */
	if (bit_test_clear(b->received, page))
		pages_in(b, -1);
	bit_test_clear(b->placing, page);
	return false;	/* counted as the request (or duplicate) it becomes */

remapped:
	cnt_add(&dst->st.refaults, 1);
	/* EEXIST: mapped by another thread's refault; wake regardless. */
	if (ret)
		dst_wake(dst, page_addr, b->page_size);
	return true;
stale:
	cnt_add(&dst->st.stale, 1);
	return true;
}

static void handle_fault(struct fault_ctx *fc, const struct uffd_msg *msg,
			 uint64_t t_read, bool first)
{
	struct pcram_dst *dst = fc->dst;
	uint64_t addr = msg->arg.pagefault.address, page, page_addr;
	uint32_t tid = 0;
	struct dst_block *b;
	struct pcram_request req;
	int ret;

	if (dst->features & UFFD_FEATURE_THREAD_ID)
		tid = msg->arg.pagefault.feat.ptid;

	b = dst_find(dst, addr);
	if (!b) {
		struct pcram_event ev = {
			.type = PCRAM_EVENT_FAULT_OUTSIDE, .addr = addr,
			.fault_thread = fc->index,
		};

		cnt_add(&dst->st.outside, 1);	/* a fault too: see stats.c */
		report(dst, &ev);
		return;
	}
	cnt_add(&b->faults, 1);
	page = blk_page(b, addr);
	page_addr = (uint64_t)(uintptr_t)b->host + (page << b->page_shift);

	if (bit_test(b->received, page) &&
	    refault(dst, b, page, page_addr, msg))
		return;
	if (bit_test_set(b->requested, page)) {
		cnt_add(&dst->st.duplicates, 1);
		return;
	}

	req = (struct pcram_request) {
		.block = b == fc->last ? NULL : b->name,
		.block_index = b - dst->blocks,
		.offset = page << b->page_shift,
		.length = b->page_size,
		.host = (void *)(uintptr_t)page_addr,
		.tid = tid,
		.fault_thread = fc->index,
	};
	fc->last = b;
	cnt_add(&b->requests, 1);
	/* The first message of a read is handed out as it is read. */
	fc->ft->t_request = first ? t_read : clock_mono_ns();
	dst_track_request(dst, page_addr, t_read, fc->ft->t_request, tid);
	/* Placed between the bit and the record: the record would linger. */
	if (!bit_test(b->requested, page))
		dst_track_drop(dst, page_addr);

	fc->ft->in_request = true;
	ret = dst->provider.request(dst, &req, dst->provider.opaque);
	fc->ft->in_request = false;
	if (ret >= 0)
		return;
	if (ret == -EAGAIN) {
		/* The thread faults again and is seen again. */
		bit_test_clear(b->requested, page);
		dst_track_drop(dst, page_addr);
		cnt_add(&dst->st.retries, 1);
		dst_wake(dst, page_addr, b->page_size);
		return;
	}
	/*
	 * The request stays outstanding: whoever is told places or poisons
	 * the page, and that closes its latency record as usual.
	 */
	cnt_add(&dst->st.provider_errors, 1);
	struct pcram_event ev = {
		.type = PCRAM_EVENT_PROVIDER_ERROR, .addr = page_addr,
		.length = b->page_size, .error = ret, .fault_thread = fc->index,
	};

	report(dst, &ev);
}

static void handle_event(struct fault_ctx *fc, const struct uffd_msg *msg)
{
	struct pcram_dst *dst = fc->dst;
	struct pcram_event ev = { .fault_thread = fc->index };

	cnt_add(&dst->st.events, 1);
	switch (msg->event) {
	case UFFD_EVENT_REMOVE:
		/* MADV_DONTNEED/REMOVE: those pages must come again. */
		ev.type = PCRAM_EVENT_REMOVE;
		ev.addr = msg->arg.remove.start;
		ev.length = msg->arg.remove.end - msg->arg.remove.start;
		if (!dst_own_remove(dst, msg->arg.remove.start, msg->arg.remove.end))
			dst_forget_range(dst, msg->arg.remove.start, msg->arg.remove.end);
		break;
	case UFFD_EVENT_UNMAP:
		ev.type = PCRAM_EVENT_UNMAP;
		ev.addr = msg->arg.remove.start;
		ev.length = msg->arg.remove.end - msg->arg.remove.start;
		break;
	case UFFD_EVENT_REMAP:
		/* Blocks do not move: faults at .to are outside every block. */
		ev.type = PCRAM_EVENT_REMAP;
		ev.addr = msg->arg.remap.from;
		ev.to = msg->arg.remap.to;
		ev.length = msg->arg.remap.len;
		break;
	case UFFD_EVENT_FORK:
		/* Never asked for; a child's faults are not ours to serve. */
		ev.type = PCRAM_EVENT_FORK;
		close((int)msg->arg.fork.ufd);
		break;
	default:
		ev.type = PCRAM_EVENT_UNKNOWN;
		ev.addr = msg->event;
		break;
	}
	report(dst, &ev);
}

static void thread_error(struct fault_ctx *fc, int err)
{
	struct pcram_event ev = {
		.type = PCRAM_EVENT_THREAD_ERROR, .error = err,
		.fault_thread = fc->index,
	};

	report(fc->dst, &ev);
}

/*
 * The fault threads sleep in read(2), as a bare handler does: one system
 * call per wakeup, no poll(2) before it. Nothing but a message wakes such
 * a read, so their stop is a message: dst_stop_fault_threads() reads the
 * stop page and faults. The thread that reads that fault leaves; unless
 * it is the last, it wakes the page unplaced, so that the stopper faults
 * again and the next thread reads it. The last thread out, however it
 * leaves, fills the page: the stopper's read returns, now or without ever
 * faulting.
 */
static bool is_stop(const struct pcram_dst *dst, const struct uffd_msg *msg)
{
	uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);

	return msg->event == UFFD_EVENT_PAGEFAULT &&
	       (msg->arg.pagefault.address & ~(ps - 1)) == (uintptr_t)dst->stop_page;
}

static void thread_leaves(struct pcram_dst *dst)
{
	struct uffdio_range r = {
		.start = (uintptr_t)dst->stop_page, .len = (uint64_t)sysconf(_SC_PAGESIZE),
	};

	if (atomic_fetch_sub(&dst->threads_alive, 1) == 1) {
		struct uffdio_zeropage z = { .range = r };

		ioctl(dst->uffd, UFFDIO_ZEROPAGE, &z);
	} else {
		ioctl(dst->uffd, UFFDIO_WAKE, &r);
	}
}

static void *fault_main(void *arg)
{
	struct dst_fault_thread *ft = arg;
	struct pcram_dst *dst = ft->dst;
	struct fault_ctx fc = { .dst = dst, .ft = ft, .index = ft->index };
	struct uffd_msg msgs[MSGS_PER_READ];
	bool stop = false;
	char name[16];

	snprintf(name, sizeof(name), "pcram-fault/%u", ft->index);
	pthread_setname_np(pthread_self(), name);
	thread_urgent();

	pthread_mutex_lock(&dst->ready_lock);
	dst->nr_ready++;
	pthread_cond_broadcast(&dst->ready_cond);
	pthread_mutex_unlock(&dst->ready_lock);

	while (!stop) {
		ssize_t n = read(dst->uffd, msgs, sizeof(msgs));
		uint64_t t_read;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			thread_error(&fc, -errno);
			break;
		}
		if (n % sizeof(msgs[0])) {
			/* Lost message alignment: nothing after this can be trusted. */
			thread_error(&fc, -EIO);
			break;
		}
		t_read = clock_mono_ns();
		for (size_t i = 0; i < n / sizeof(msgs[0]); i++) {
			if (is_stop(dst, &msgs[i]))
				stop = true;
			else if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
				handle_fault(&fc, &msgs[i], t_read, i == 0);
			else
				handle_event(&fc, &msgs[i]);
		}
	}
	thread_leaves(dst);
	return NULL;
}

struct dst_fault_thread *dst_current_fault_thread(struct pcram_dst *dst)
{
	pthread_t self = pthread_self();

	for (unsigned int i = 0; i < dst->nr_fault_threads; i++)
		if (dst->threads[i].started &&
		    pthread_equal(dst->threads[i].thread, self))
			return &dst->threads[i];
	return NULL;
}

int dst_start_fault_threads(struct pcram_dst *dst)
{
	int ret;

	dst->nr_ready = 0;
	atomic_store(&dst->threads_alive, 0);
	for (unsigned int i = 0; i < dst->nr_fault_threads; i++) {
		struct dst_fault_thread *ft = &dst->threads[i];

		ft->dst = dst;
		ft->index = i;
		atomic_fetch_add(&dst->threads_alive, 1);
		ret = pthread_create(&ft->thread, NULL, fault_main, ft);
		if (ret) {
			atomic_fetch_sub(&dst->threads_alive, 1);
			dst_stop_fault_threads(dst);
			return dst_error(dst, -ret, "enable_notify: starting fault thread %u: %s",
					 i, strerror(ret));
		}
		ft->started = true;
	}
	/* Registered pages fault from the moment they are registered. */
	pthread_mutex_lock(&dst->ready_lock);
	while (dst->nr_ready < dst->nr_fault_threads)
		pthread_cond_wait(&dst->ready_cond, &dst->ready_lock);
	pthread_mutex_unlock(&dst->ready_lock);
	return 0;
}

void dst_stop_fault_threads(struct pcram_dst *dst)
{
	/* Returns once the last fault thread has filled the page (above). */
	if (dst->stop_page && atomic_load(&dst->threads_alive))
		(void)*(volatile uint8_t *)dst->stop_page;
	for (unsigned int i = 0; i < dst->nr_fault_threads; i++) {
		if (!dst->threads[i].started)
			continue;
		pthread_join(dst->threads[i].thread, NULL);
		dst->threads[i].started = false;
	}
}
