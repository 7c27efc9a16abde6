/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The destination engine's private state, shared by dst.c (the object
 * and its stages), dst_block.c (the blocks), dst_discard.c (emptying
 * memory), dst_register.c (the userfaultfd), fault.c (fault threads),
 * place.c (placement), stats.c and image.c.
 */
#ifndef PCRAM_DST_H
#define PCRAM_DST_H

#include <pthread.h>
#include <stdatomic.h>

#include "clock.h"
#include "error.h"
#include "internal.h"

/* Lifecycle, in order; each call moves it forward or leaves it. */
enum dst_state {
	DST_NEW,		/* blocks may be added */
	DST_INIT,		/* incoming_init done */
	DST_NOTIFY,		/* registered, fault threads running */
	DST_CLEANED,		/* cleanup done; only free remains */
};

typedef _Atomic uint64_t counter_t;

struct dst_hist {
	counter_t count, sum, max;
	counter_t bucket[PCRAM_HIST_BUCKETS];
};

struct dst_block {
	char name[PCRAM_BLOCK_NAME_MAX + 1];
	uint8_t *host;
	uint64_t length;
	uint64_t page_size;
	unsigned int page_shift;
	enum pcram_block_type type;
	int fd;			/* our dup, or -1 */
	uint64_t fd_offset;
	uint64_t nr_pages;

	/*
	 * 1 bit a page, word-atomic: arrived, asked for, and being placed.
	 * A placement takes "placing" before "received" and drops it after
	 * its ioctl, so a fault thread that finds a page received but not
	 * placing knows the ioctl is over (see page_claim()).
	 */
	_Atomic unsigned long *received;
	_Atomic unsigned long *requested;
	_Atomic unsigned long *placing;

	bool shared;		/* SHMEM, HUGETLB_SHARED */
	bool minor;		/* registered MINOR too: place by CONTINUE */
	bool registered;
	bool thp_restore;	/* MADV_HUGEPAGE back at cleanup */
	bool nohugepage_set;
	bool relock;		/* was mlocked: mlock again at cleanup */
	uint8_t *alias;		/* shared: our own mapping of .fd */

	counter_t faults, requests, pages_placed, zero_pages;
	/*
	 * Pages not in: a placement counts its page (and pages_placed)
	 * before its ioctl, so that a thread the ioctl wakes finds it
	 * counted, and gives the count back if the ioctl fails.
	 */
	_Atomic int64_t missing;
	/* The same, counted once the ioctl has returned: nothing in flight. */
	_Atomic int64_t unplaced;
};

/* A request in flight, for its latency: keyed by page address. */
struct dst_pending {
	uint64_t addr;		/* 0: free slot */
	uint64_t t_read;
	uint64_t t_request;
	uint32_t tid;
};

struct dst_thread_slot {
	uint32_t tid;		/* 0: free slot */
	int vcpu;
	uint64_t faults, blocked_ns, max_ns;
};

#define DST_PENDING_SLOTS 4096	/* power of two; in-flight requests */
#define DST_THREAD_SLOTS 1024	/* power of two; faulting threads */
#define DST_MAX_PAGE_SIZES 4
/* Own discards in flight at once: one a discarding thread, and spare. */
#define DST_MAX_OWN_REMOVES 16

struct dst_fault_thread {
	struct pcram_dst *dst;
	pthread_t thread;
	unsigned int index;
	bool started;
	/*
	 * Set by the thread itself around a provider call: a page placed
	 * inside the call arrived when it was asked for, without another
	 * clock read (they cost ~0.7 us each where the clock is the HPET).
	 */
	bool in_request;
	uint64_t t_request;
};

struct pcram_dst {
	/* Read by placing threads while enable_notify/cleanup change it. */
	_Atomic enum dst_state state;
	unsigned int flags;
	unsigned int nr_fault_threads;
	struct lib_error error;

	struct dst_block *blocks;	/* sorted by host; fixed after NOTIFY */
	unsigned int nr_blocks;

	struct pcram_provider provider;
	struct dst_image *image;

	int uffd;
	int module_fd;		/* /dev/pcram attached to uffd, or -1 */
	uint32_t module_vm_id;
	char vm_name[PCRAM_VM_NAME_MAX];
	int pagemap_fd;		/* /proc/self/pagemap, for refaults */
	/*
	 * The fault threads' stop: one anonymous page registered on the
	 * userfaultfd, which dst_stop_fault_threads() touches (fault.c).
	 */
	uint8_t *stop_page;
	atomic_uint threads_alive;
	enum pcram_opener opener;
	uint64_t features;
	struct dst_fault_thread threads[PCRAM_MAX_FAULT_THREADS];
	pthread_mutex_t ready_lock;
	pthread_cond_t ready_cond;
	unsigned int nr_ready;

	/* Zeroed pages for huge-page zero placement, and scratch pages. */
	struct {
		uint64_t size;
		void *zero;
		void *tmp;
	} pages[DST_MAX_PAGE_SIZES];
	pthread_mutex_t pages_lock;

	/* Latency bookkeeping: small critical sections only. */
	pthread_mutex_t track_lock;
	struct dst_pending *pending;
	unsigned int nr_pending;
	struct dst_thread_slot *tids;
	unsigned int nr_tids;

	/*
	 * MADV_DONTNEED ranges of our own discards whose REMOVE events no
	 * fault thread has handled yet (see dst_own_remove()): @left bytes
	 * of events still to come for [start, end).
	 */
	pthread_mutex_t own_lock;
	struct {
		uint64_t start, end, left;
	} own[DST_MAX_OWN_REMOVES];
	unsigned int nr_own;

	struct {
		/* faults, requests, pages and bytes placed: per block. */
		counter_t duplicates, stale, refaults, provider_errors, eexist;
		counter_t eagain, retries, wakes, poisoned, outside, events;
		counter_t untracked, module_batches;
	} st;
	struct dst_hist h_read_req, h_req_arr, h_arr_placed, h_fault_placed;
};

/* dst.c: the one way to set dst's message (see error.h for its rule). */
int dst_error(struct pcram_dst *dst, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* @call is not allowed at this stage: -EBUSY, and a message saying so. */
int dst_wrong_stage(struct pcram_dst *dst, const char *call);

/* dst_block.c */
struct dst_block *dst_find(const struct pcram_dst *dst, uint64_t addr);
struct dst_block *dst_find_name(const struct pcram_dst *dst, const char *name);
const char *dst_type_name(enum pcram_block_type t);
/* Every block's fds, alias and bitmaps, and the array. */
void dst_blocks_free(struct pcram_dst *dst);

static inline bool dst_is_shared_type(enum pcram_block_type t)
{
	return t == PCRAM_BLOCK_SHMEM || t == PCRAM_BLOCK_HUGETLB_SHARED;
}

static inline bool dst_is_hugetlb_type(enum pcram_block_type t)
{
	return t == PCRAM_BLOCK_HUGETLB || t == PCRAM_BLOCK_HUGETLB_SHARED;
}

/* dst_discard.c */
/* Pages in [start, end) of any block are missing again. */
void dst_forget_range(struct pcram_dst *dst, uint64_t start, uint64_t end);
/* Was the REMOVE event for [start, end) raised by our own discard? */
bool dst_own_remove(struct pcram_dst *dst, uint64_t start, uint64_t end);

/* kmod.c: pcram.ko, when there (see PCRAM_DST_F_REQUIRE_MODULE). */
int dst_module_attach(struct pcram_dst *dst);
void dst_module_detach(struct pcram_dst *dst);

/* fault.c */
int dst_start_fault_threads(struct pcram_dst *dst);
/* Is the page at @addr mapped (or swapped)? Unreadable pagemap: true. */
bool dst_page_mapped(struct pcram_dst *dst, uint64_t addr);
/* The fault thread calling, or NULL. */
struct dst_fault_thread *dst_current_fault_thread(struct pcram_dst *dst);
void dst_stop_fault_threads(struct pcram_dst *dst);

/* place.c */
int dst_pages_setup(struct pcram_dst *dst);
void dst_pages_free(struct pcram_dst *dst);
/* Only the zero pages: a failed enable_notify keeps nothing it made. */
void dst_zero_pages_free(struct pcram_dst *dst);
int dst_wake(struct pcram_dst *dst, uint64_t addr, uint64_t len);
/* Zeros at a shared block's page whose file lost it; waiters woken. */
int dst_zero_fill(struct pcram_dst *dst, struct dst_block *b, uint64_t addr);
/* Pages of every block not in, their ioctls over: 0 when all are in. */
uint64_t dst_pages_unplaced(const struct pcram_dst *dst);

/* stats.c */
static inline void cnt_add(counter_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

int dst_track_alloc(struct pcram_dst *dst);
void dst_track_free(struct pcram_dst *dst);
/* The fault thread asked for @addr at @t_read/@t_request on behalf of @tid. */
void dst_track_request(struct pcram_dst *dst, uint64_t addr, uint64_t t_read,
		       uint64_t t_request, uint32_t tid);
/* @addr's request is void (discarded): forget it without a sample. */
void dst_track_drop(struct pcram_dst *dst, uint64_t addr);
/* @addr was placed: arrived at @t_arrival, done at @t_placed. */
void dst_track_placed(struct pcram_dst *dst, uint64_t addr,
		      uint64_t t_arrival, uint64_t t_placed);

/* image.c */
struct dst_image {
	uint8_t *map;
	uint64_t size;
	unsigned int nr_blocks;
	uint64_t offsets[];	/* of each block in the file */
};

void dst_image_free(struct pcram_dst *dst);

/* Bitmaps: 1 bit a page, atomic by word. */
#define BITS_PER_WORD (8 * sizeof(unsigned long))

static inline bool bit_test(_Atomic unsigned long *map, uint64_t nr)
{
	return atomic_load_explicit(&map[nr / BITS_PER_WORD],
				    memory_order_acquire) &
	       (1UL << (nr % BITS_PER_WORD));
}

/* Set; returns the old value. */
static inline bool bit_test_set(_Atomic unsigned long *map, uint64_t nr)
{
	unsigned long m = 1UL << (nr % BITS_PER_WORD);

	return atomic_fetch_or_explicit(&map[nr / BITS_PER_WORD], m,
					memory_order_acq_rel) & m;
}

static inline bool bit_test_clear(_Atomic unsigned long *map, uint64_t nr)
{
	unsigned long m = 1UL << (nr % BITS_PER_WORD);

	return atomic_fetch_and_explicit(&map[nr / BITS_PER_WORD], ~m,
					 memory_order_acq_rel) & m;
}

/*
 * Take page @p for a placement: false when it is in already, or another
 * placement holds it (that one wakes its waiters when done). A true
 * return must be followed by page_release() once the ioctl is over.
 */
static inline bool page_claim(struct dst_block *b, uint64_t p)
{
	if (bit_test(b->received, p) || bit_test_set(b->placing, p))
		return false;
	if (bit_test_set(b->received, p)) {
		bit_test_clear(b->placing, p);
		return false;
	}
	return true;
}

/* The claim's ioctl is over: the page is in (@in), or missing still. */
static inline void page_release(struct dst_block *b, uint64_t p, bool in)
{
	if (!in)
		bit_test_clear(b->received, p);
	bit_test_clear(b->placing, p);
}

/* @n pages of @b came in (negative: went missing again), ioctls over. */
static inline void pages_in(struct dst_block *b, int64_t n)
{
	atomic_fetch_sub(&b->missing, n);
	atomic_fetch_sub(&b->unplaced, n);
}

static inline uint64_t blk_page(const struct dst_block *b, uint64_t addr)
{
	return (addr - (uint64_t)(uintptr_t)b->host) >> b->page_shift;
}

#endif /* PCRAM_DST_H */
