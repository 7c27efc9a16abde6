// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Placing pages: one at a time, as zeros, through the shared alias, as
 * poison, and many in one call. Every path marks the page received and
 * closes its latency record; none allocates.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pcram.h>

#include "dst.h"

/* UFFDIO_POISON (Linux 6.6) for headers that predate it. */
struct pcram_uffdio_poison {
	struct uffdio_range range;
	uint64_t mode;
	int64_t updated;
};
#define PCRAM_UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct pcram_uffdio_poison)

int dst_wake(struct pcram_dst *dst, uint64_t addr, uint64_t len)
{
	struct uffdio_range r = { .start = addr, .len = len };

	cnt_add(&dst->st.wakes, 1);
	return ioctl(dst->uffd, UFFDIO_WAKE, &r) ? -errno : 0;
}

/* ---- zero and scratch pages ------------------------------------------- */

static void *map_anon(uint64_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS |
		       MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A slot for @size, made if needed; NULL when all are taken. */
static int page_slot(struct pcram_dst *dst, uint64_t size)
{
	for (int i = 0; i < DST_MAX_PAGE_SIZES; i++)
		if (dst->pages[i].size == size)
			return i;
	for (int i = 0; i < DST_MAX_PAGE_SIZES; i++)
		if (!dst->pages[i].size) {
			dst->pages[i].size = size;
			return i;
		}
	return -1;
}

/*
 * UFFDIO_ZEROPAGE is for base pages of anonymous and shmem memory;
 * hugetlbfs gets a COPY from a read-only, never-written mapping, which
 * reads as zeros without using memory.
 */
int dst_pages_setup(struct pcram_dst *dst)
{
	int ret = 0;

	pthread_mutex_lock(&dst->pages_lock);
	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		const struct dst_block *b = &dst->blocks[i];
		int s;

		if (b->type != PCRAM_BLOCK_HUGETLB &&
		    b->type != PCRAM_BLOCK_HUGETLB_SHARED)
			continue;
		s = page_slot(dst, b->page_size);
		if (s < 0) {
			ret = -E2BIG;
			break;
		}
		if (!dst->pages[s].zero)
			dst->pages[s].zero = map_anon(b->page_size, PROT_READ);
		if (!dst->pages[s].zero) {
			ret = -ENOMEM;
			break;
		}
	}
	pthread_mutex_unlock(&dst->pages_lock);
	return ret;
}

void dst_pages_free(struct pcram_dst *dst)
{
	pthread_mutex_lock(&dst->pages_lock);
	for (int i = 0; i < DST_MAX_PAGE_SIZES; i++) {
		if (dst->pages[i].zero)
			munmap(dst->pages[i].zero, dst->pages[i].size);
		if (dst->pages[i].tmp)
			munmap(dst->pages[i].tmp, dst->pages[i].size);
		memset(&dst->pages[i], 0, sizeof(dst->pages[i]));
	}
	pthread_mutex_unlock(&dst->pages_lock);
}

void dst_zero_pages_free(struct pcram_dst *dst)
{
	pthread_mutex_lock(&dst->pages_lock);
	for (int i = 0; i < DST_MAX_PAGE_SIZES; i++) {
		if (dst->pages[i].zero)
			munmap(dst->pages[i].zero, dst->pages[i].size);
		dst->pages[i].zero = NULL;
		/* A tmp page handed out stays its user's until cleanup. */
		if (!dst->pages[i].tmp)
			dst->pages[i].size = 0;
	}
	pthread_mutex_unlock(&dst->pages_lock);
}

static const void *zero_page(struct pcram_dst *dst, uint64_t size)
{
	for (int i = 0; i < DST_MAX_PAGE_SIZES; i++)
		if (dst->pages[i].size == size)
			return dst->pages[i].zero;
	return NULL;
}

PCRAM_EXPORT
int pcram_dst_tmp_page(struct pcram_dst *dst, uint64_t page_size, void **page)
{
	uint64_t base = (uint64_t)sysconf(_SC_PAGESIZE);
	int s, ret = 0;

	if (!dst || !page || page_size < base || (page_size & (page_size - 1)))
		return -EINVAL;
	if (dst->state == DST_CLEANED)
		return dst_error(dst, -EBUSY, "tmp_page: not allowed after cleanup");
	pthread_mutex_lock(&dst->pages_lock);
	s = page_slot(dst, page_size);
	if (s < 0) {
		ret = dst_error(dst, -E2BIG, "tmp_page: more than %d page sizes",
				DST_MAX_PAGE_SIZES);
		goto out;
	}
	if (!dst->pages[s].tmp)
		dst->pages[s].tmp = map_anon(page_size, PROT_READ | PROT_WRITE);
	if (!dst->pages[s].tmp) {
		if (!dst->pages[s].zero)
			dst->pages[s].size = 0;	/* the slot was new: free it */
		ret = dst_error(dst, -ENOMEM, "tmp_page: out of memory");
	} else {
		*page = dst->pages[s].tmp;
	}
out:
	pthread_mutex_unlock(&dst->pages_lock);
	return ret;
}

/* ---- bookkeeping ---------------------------------------------------------- */

enum { PLACED = 0, ALREADY = 1 };

/*
 * When did the page of a single placement arrive? Only requested pages
 * are timed; a fault thread placing inside its provider call reuses the
 * request's time. 0: not timed (the placed time is taken instead).
 */
static uint64_t arrival_time(struct pcram_dst *dst, struct dst_block *b,
			     uint64_t page)
{
	struct dst_fault_thread *ft;

	if (!bit_test(b->requested, page))
		return 0;
	ft = dst_current_fault_thread(dst);
	if (ft && ft->in_request)
		return ft->t_request;
	return clock_mono_ns();
}

/*
 * Pages [first, first + n) of @b are in, and their received bits were
 * taken by this call: count them (unless @counted before the ioctl, see
 * count_ahead()), close their latency records.
 */
static void settle(struct pcram_dst *dst, struct dst_block *b, uint64_t first,
		   uint64_t n, uint64_t t_arrival, bool counted)
{
	uint64_t t_placed = 0;

	if (counted)
		atomic_fetch_sub(&b->unplaced, (int64_t)n);
	else
		pages_in(b, (int64_t)n);
	for (uint64_t p = first; p < first + n; p++) {
		if (!bit_test_clear(b->requested, p))
			continue;
		if (!t_placed)
			t_placed = clock_mono_ns();
		dst_track_placed(dst, (uint64_t)(uintptr_t)b->host +
				 (p << b->page_shift),
				 t_arrival ? t_arrival : t_placed, t_placed);
	}
}

static void count_placed(struct dst_block *b,
			 uint64_t pages, bool zero)
{
	/* Per block only: the totals and bytes are summed when read. */
	cnt_add(&b->pages_placed, pages);
	if (zero)
		cnt_add(&b->zero_pages, pages);
}

/*
 * @n claimed pages of @b go in with an ioctl that wakes their threads
 * itself: counted now, before it, so that a woken thread never finds its
 * page still missing, or the placed count short. No syscall for it: the
 * counts go back if the ioctl fails (count_back()).
 */
static void count_ahead(struct dst_block *b, uint64_t n, bool zero, bool placed)
{
	atomic_fetch_sub(&b->missing, (int64_t)n);
	if (placed)
		count_placed(b, n, zero);
}

/*
 * Counted ahead, but the ioctl said otherwise: @missing pages are not in
 * after all, and @unplaced pages were not placed by it (failed, or in
 * already).
 */
static void count_back(struct dst_block *b, uint64_t missing, uint64_t unplaced,
		       bool zero)
{
	atomic_fetch_add(&b->missing, (int64_t)missing);
	atomic_fetch_sub(&b->pages_placed, unplaced);
	if (zero)
		atomic_fetch_sub(&b->zero_pages, unplaced);
}

/* What a failed placement's errno says, and what to do about it. */
static const char *place_strerror(const struct dst_block *b, int ret)
{
	if (ret == -ENOMEM && (b->type == PCRAM_BLOCK_HUGETLB ||
			       b->type == PCRAM_BLOCK_HUGETLB_SHARED))
		return "no page to place it in: is the huge page pool empty?"
		       " (sysctl vm.nr_hugepages)";
	return strerror(-ret);
}

/*
 * The kernel says a page is at @addr already (EEXIST). For private memory
 * that must show in the page tables: an empty huge page pool makes some
 * kernels fail a COPY so, and a page taken as there when it is not would
 * leave its threads waiting for good. Shared memory's page can be in the
 * file without being mapped here: believed.
 */
static int check_already(struct pcram_dst *dst, struct dst_block *b, uint64_t addr)
{
	if (b->shared || dst_page_mapped(dst, addr))
		return ALREADY;
	if (b->type == PCRAM_BLOCK_HUGETLB)
		return dst_error(dst, -ENOMEM, "block %s at %#" PRIx64 ": the kernel says a page is"
				 " there (EEXIST) but none is mapped: %s", b->name,
				 addr - (uint64_t)(uintptr_t)b->host, place_strerror(b, -ENOMEM));
	return dst_error(dst, -EEXIST, "block %s at %#" PRIx64 ": the kernel says a page is there"
			 " (EEXIST) but none is mapped", b->name,
			 addr - (uint64_t)(uintptr_t)b->host);
}

/* The block of a page-aligned @host, or an error in *err. */
static struct dst_block *page_block(struct pcram_dst *dst, const void *host,
				    const char *call, int *err)
{
	uint64_t addr = (uint64_t)(uintptr_t)host;
	struct dst_block *b;

	if (dst->state != DST_NOTIFY) {
		*err = dst_error(dst, -EBUSY, "%s: only between enable_notify and cleanup",
				 call);
		return NULL;
	}
	b = dst_find(dst, addr);
	if (!b) {
		*err = dst_error(dst, -ENOENT, "%s: %#" PRIx64 " is in no block",
				 call, addr);
		return NULL;
	}
	if (addr & (b->page_size - 1)) {
		*err = dst_error(dst, -EINVAL,
				 "%s: %#" PRIx64 " is not aligned to block %s's %" PRIu64 "-byte pages",
				 call, addr, b->name, b->page_size);
		return NULL;
	}
	return b;
}

/* ---- the ioctls, for @n contiguous pages of one block ----------------------- */

/*
 * Each returns PLACED, ALREADY or -errno, and in *done how many pages were
 * placed before an error.
 */
static int do_copy(struct pcram_dst *dst, struct dst_block *b, uint64_t addr,
		   const void *src, uint64_t n, bool wake, uint64_t *done)
{
	struct uffdio_copy c = {
		.dst = addr, .src = (uint64_t)(uintptr_t)src,
		.len = n << b->page_shift,
		.mode = wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE,
	};

	*done = n;
	if (!ioctl(dst->uffd, UFFDIO_COPY, &c))
		return PLACED;
	*done = c.copy > 0 ? (uint64_t)c.copy >> b->page_shift : 0;
	return errno == EEXIST ? ALREADY : -errno;
}

static int do_zero(struct pcram_dst *dst, struct dst_block *b, uint64_t addr,
		   uint64_t n, bool wake, uint64_t *done)
{
	const void *zero = zero_page(dst, b->page_size);
	struct uffdio_zeropage z = {
		.range = { .start = addr, .len = n << b->page_shift },
		.mode = wake ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE,
	};

	if (zero) {
		/* Huge pages: one COPY of the zero page each. */
		for (uint64_t i = 0; i < n; i++) {
			uint64_t d;
			int ret = do_copy(dst, b, addr + (i << b->page_shift),
					  zero, 1, wake, &d);

			if (ret) {
				*done = i;
				return ret;
			}
		}
		*done = n;
		return PLACED;
	}
	*done = n;
	if (!ioctl(dst->uffd, UFFDIO_ZEROPAGE, &z))
		return PLACED;
	*done = z.zeropage > 0 ? (uint64_t)z.zeropage >> b->page_shift : 0;
	return errno == EEXIST ? ALREADY : -errno;
}

static int do_continue(struct pcram_dst *dst, struct dst_block *b,
		       uint64_t addr, uint64_t n, bool wake, uint64_t *done)
{
	struct uffdio_continue c = {
		.range = { .start = addr, .len = n << b->page_shift },
		.mode = wake ? 0 : UFFDIO_CONTINUE_MODE_DONTWAKE,
	};

	*done = n;
	if (!ioctl(dst->uffd, UFFDIO_CONTINUE, &c))
		return PLACED;
	*done = c.mapped > 0 ? (uint64_t)c.mapped >> b->page_shift : 0;
	return errno == EEXIST ? ALREADY : -errno;
}

/*
 * A received page of a shared block whose file lost it: zeros, as the
 * file reads now. The ioctl refuses (EEXIST) if the page came back.
 */
int dst_zero_fill(struct pcram_dst *dst, struct dst_block *b, uint64_t addr)
{
	uint64_t done;
	int ret = do_zero(dst, b, addr, 1, true, &done);

	return ret < 0 ? ret : 0;
}

/*
 * Shared blocks registered MINOR: the data goes into the page cache
 * through the alias, then CONTINUE maps it. The caller has claimed the
 * page, so no second placement can overwrite the page once the guest
 * may be writing to it, and no fault thread maps it half written.
 * @src NULL: zeros.
 */
static int place_alias(struct pcram_dst *dst, struct dst_block *b,
		       uint64_t page, const void *src, bool wake)
{
	uint64_t off = page << b->page_shift, done;

	if (src)
		memcpy(b->alias + off, src, b->page_size);
	else
		memset(b->alias + off, 0, b->page_size);
	return do_continue(dst, b, (uint64_t)(uintptr_t)b->host + off, 1, wake,
			   &done);
}

enum single_op { SINGLE_COPY, SINGLE_ZERO, SINGLE_CONTINUE, SINGLE_POISON };

/*
 * One page, the waiters woken by the ioctl itself. The received bit and
 * the counts are taken *before* the ioctl: a thread it wakes finds the
 * page accounted for, and a discard after that wake finds a bit to
 * clear. A page already received (placed, or poisoned: COPY would heal
 * that) is left alone.
 */
static int place_one(struct pcram_dst *dst, void *host, const void *src,
		     enum single_op op, const char *call)
{
	uint64_t addr = (uint64_t)(uintptr_t)host, page, t, done;
	struct pcram_uffdio_poison poison = { 0 };
	struct dst_block *b;
	bool claimed, said = false;
	int ret;

	b = page_block(dst, host, call, &ret);
	if (!b)
		return ret;
	if (op == SINGLE_CONTINUE && !b->minor)
		return dst_error(dst, -EINVAL,
				 "%s: block %s is not registered MINOR (%s)", call,
				 b->name, b->shared ? "the kernel lacks MINOR for it" :
				 "private memory");
	if (op == SINGLE_POISON && !(dst->features & UFFD_FEATURE_POISON))
		return dst_error(dst, -EOPNOTSUPP,
				 "%s: this kernel has no UFFDIO_POISON (Linux 6.6+)", call);
	page = blk_page(b, addr);
	t = arrival_time(dst, b, page);

	claimed = page_claim(b, page);
	if (claimed)
		count_ahead(b, 1, op == SINGLE_ZERO, op != SINGLE_POISON);
	if (!claimed) {
		ret = ALREADY;
	} else if (op == SINGLE_POISON) {
		poison.range.start = addr;
		poison.range.len = b->page_size;
		ret = ioctl(dst->uffd, PCRAM_UFFDIO_POISON, &poison) ?
		      (errno == EEXIST ? ALREADY : -errno) : PLACED;
	} else if (op == SINGLE_CONTINUE) {
		ret = do_continue(dst, b, addr, 1, true, &done);
	} else if (b->minor) {
		ret = place_alias(dst, b, page, op == SINGLE_COPY ? src : NULL, true);
	} else if (op == SINGLE_COPY) {
		ret = do_copy(dst, b, addr, src, 1, true, &done);
	} else {
		ret = do_zero(dst, b, addr, 1, true, &done);
	}

	if (claimed && ret == ALREADY) {
		ret = check_already(dst, b, addr);
		said = ret < 0;
	}
	if (claimed)
		page_release(b, page, ret >= 0);
	if (ret < 0) {
		if (claimed)
			count_back(b, 1, op != SINGLE_POISON, op == SINGLE_ZERO);
		/* A fault dropped while the page was claimed must come back. */
		dst_wake(dst, addr, b->page_size);
		if (ret == -EAGAIN)
			cnt_add(&dst->st.eagain, 1);
		if (said)
			return ret;
		return dst_error(dst, ret, "%s: block %s at %#" PRIx64 ": %s",
				 call, b->name, page << b->page_shift, place_strerror(b, ret));
	}
	/* The bit this call took stays: the page is in, whoever put it. */
	if (claimed)
		atomic_fetch_sub(&b->unplaced, 1);
	if (ret == ALREADY) {
		/* Someone placed it first; make sure no thread keeps waiting. */
		cnt_add(&dst->st.eexist, 1);
		if (claimed)
			count_back(b, 0, op != SINGLE_POISON, op == SINGLE_ZERO);
		dst_wake(dst, addr, b->page_size);
	} else if (op == SINGLE_POISON) {
		cnt_add(&dst->st.poisoned, 1);
	}
	if (bit_test_clear(b->requested, page)) {
		uint64_t t_placed = clock_mono_ns();

		dst_track_placed(dst, addr, t ? t : t_placed, t_placed);
	}
	return ret;
}

PCRAM_EXPORT
int pcram_dst_place_page(struct pcram_dst *dst, void *host, const void *src)
{
	if (!dst || !src)
		return -EINVAL;
	return place_one(dst, host, src, SINGLE_COPY, "place_page");
}

PCRAM_EXPORT
int pcram_dst_place_zero(struct pcram_dst *dst, void *host)
{
	if (!dst)
		return -EINVAL;
	return place_one(dst, host, NULL, SINGLE_ZERO, "place_zero");
}

PCRAM_EXPORT
int pcram_dst_place_continue(struct pcram_dst *dst, void *host)
{
	if (!dst)
		return -EINVAL;
	return place_one(dst, host, NULL, SINGLE_CONTINUE, "place_continue");
}

PCRAM_EXPORT
int pcram_dst_poison(struct pcram_dst *dst, void *host)
{
	if (!dst)
		return -EINVAL;
	return place_one(dst, host, NULL, SINGLE_POISON, "poison");
}

/* ---- batches ------------------------------------------------------------------ */

/* Can op @b continue the run of @a: same kind, next page, data next to it? */
static bool mergeable(const struct pcram_place_op *a,
		      const struct pcram_place_op *n, uint64_t ps)
{
	if (a->type != n->type ||
	    (const uint8_t *)n->host != (const uint8_t *)a->host + ps)
		return false;
	return a->type != PCRAM_OP_COPY ||
	       (const uint8_t *)n->src == (const uint8_t *)a->src + ps;
}

static int check_op(struct pcram_dst *dst, const struct pcram_place_op *op,
		    struct dst_block **bp)
{
	int err;

	if (op->type < PCRAM_OP_COPY || op->type > PCRAM_OP_CONTINUE)
		return dst_error(dst, -EINVAL, "place_batch: unknown op type %u",
				 op->type);
	if (op->type == PCRAM_OP_COPY && !op->src)
		return dst_error(dst, -EINVAL, "place_batch: COPY without .src");
	*bp = page_block(dst, op->host, "place_batch", &err);
	if (!*bp)
		return err;
	if (op->type == PCRAM_OP_CONTINUE && !(*bp)->minor)
		return dst_error(dst, -EINVAL,
				 "place_batch: CONTINUE into block %s, which is not registered MINOR",
				 (*bp)->name);
	return 0;
}

/* Ops [i, i + n): one ioctl without waking; per-page retry on failure. */
static int place_group(struct pcram_dst *dst, struct dst_block *b,
		       struct pcram_place_op *ops, unsigned int n, uint64_t t)
{
	uint64_t addr = (uint64_t)(uintptr_t)ops[0].host, page, done = 0;
	bool zero = ops[0].type == PCRAM_OP_ZERO;
	unsigned int claimed;
	int ret;

	page = blk_page(b, addr);
	if (b->minor && ops[0].type != PCRAM_OP_CONTINUE) {
		/* Through the alias: page by page. */
		for (unsigned int i = 0; i < n; i++) {
			bool claimed = page_claim(b, page + i);

			ret = claimed ? place_alias(dst, b, page + i,
						    zero ? NULL : ops[i].src, false) :
			      ALREADY;
			ops[i].result = ret;
			if (claimed)
				page_release(b, page + i, ret >= 0);
			if (ret < 0) {
				dst_wake(dst, (uint64_t)(uintptr_t)ops[i].host,
					 b->page_size);
				dst_error(dst, ret, "place_batch: block %s: %s",
					  b->name, place_strerror(b, ret));
				return i;
			}
			if (ret == PLACED)
				count_placed(b, 1, zero);
			else
				cnt_add(&dst->st.eexist, 1);
			if (claimed)
				pages_in(b, 1);
			if (bit_test_clear(b->requested, page + i))
				dst_track_placed(dst, (uint64_t)(uintptr_t)ops[i].host,
						 t, clock_mono_ns());
		}
		return n;
	}

	/*
	 * Claim every page before the ioctl, as place_one does: a discard
	 * after the wake must find bits to clear. A page in already (or
	 * poisoned, or being placed) is never written again: those go one
	 * by one.
	 */
	for (claimed = 0; claimed < n; claimed++)
		if (!page_claim(b, page + claimed))
			break;
	if (claimed == n) {
		if (ops[0].type == PCRAM_OP_COPY)
			ret = do_copy(dst, b, addr, ops[0].src, n, false, &done);
		else if (ops[0].type == PCRAM_OP_ZERO)
			ret = do_zero(dst, b, addr, n, false, &done);
		else
			ret = do_continue(dst, b, addr, n, false, &done);
		for (unsigned int i = 0; i < n; i++)
			page_release(b, page + i, ret == PLACED || i < done);
		if (ret == PLACED) {
			for (unsigned int i = 0; i < n; i++)
				ops[i].result = PLACED;
			count_placed(b, n, zero);
			settle(dst, b, page, n, t, false);
			return n;
		}
		/* Pages [done, n) were not placed: released as missing above. */
	} else {
		for (unsigned int i = 0; i < claimed; i++)
			page_release(b, page + i, false);
		done = 0;
	}

	/* Some page was there already, or something failed: one by one. */
	for (unsigned int i = 0; i < n; i++) {
		uint64_t a = addr + ((uint64_t)i << b->page_shift), d;
		bool said = false;

		if (i < done) {
			ret = PLACED;
		} else if (!page_claim(b, page + i)) {
			ops[i].result = ALREADY;
			cnt_add(&dst->st.eexist, 1);
			continue;
		} else {
			if (ops[i].type == PCRAM_OP_COPY)
				ret = do_copy(dst, b, a, ops[i].src, 1, false, &d);
			else if (ops[i].type == PCRAM_OP_ZERO)
				ret = do_zero(dst, b, a, 1, false, &d);
			else
				ret = do_continue(dst, b, a, 1, false, &d);
			if (ret == ALREADY) {
				ret = check_already(dst, b, a);
				said = ret < 0;
			}
			page_release(b, page + i, ret >= 0);
		}
		ops[i].result = ret;
		if (ret < 0) {
			dst_wake(dst, a, b->page_size);
			if (ret == -EAGAIN)
				cnt_add(&dst->st.eagain, 1);
			if (!said)
				dst_error(dst, ret, "place_batch: block %s at %#" PRIx64 ": %s",
					  b->name, a - (uint64_t)(uintptr_t)b->host,
					  place_strerror(b, ret));
			return i;
		}
		if (ret == PLACED)
			count_placed(b, 1, zero);
		else
			cnt_add(&dst->st.eexist, 1);
		settle(dst, b, page + i, 1, t, false);
	}
	return n;
}

/* ---- the same through pcram.ko -------------------------------------------------- */

#define MODULE_GROUPS 64	/* groups one PCRAM_IOC_BATCH carries here */

struct module_group {
	struct dst_block *b;
	unsigned int first, n;	/* ops[first, first + n) */
};

/* Bytes the kernel placed for @k, as the uffdio struct's output says. */
static int64_t module_op_done(const struct pcram_batch_op *k)
{
	if (k->op == PCRAM_BATCH_OP_COPY)
		return k->copy.copy;
	if (k->op == PCRAM_BATCH_OP_ZEROPAGE)
		return k->zeropage.zeropage;
	return k->cont.mapped;
}

/*
 * Let go of group @g's pages, the first @placed of them placed. A fault
 * on a claimed page was dropped, its placement due to wake it: wake the
 * ones not placed, so that their threads fault again and are asked for.
 */
static void module_release(struct pcram_dst *dst, struct module_group *g,
			   const struct pcram_place_op *ops, uint64_t placed)
{
	uint64_t page = blk_page(g->b, (uint64_t)(uintptr_t)ops[g->first].host);

	for (unsigned int j = 0; j < g->n; j++)
		page_release(g->b, page + j, j < placed);
	if (placed < g->n)
		dst_wake(dst, (uint64_t)(uintptr_t)ops[g->first + placed].host,
			 (g->n - placed) << g->b->page_shift);
}

/*
 * Groups of the batch, as the loop below would make them, in one
 * PCRAM_IOC_BATCH: one syscall for what is otherwise an ioctl a group and
 * a wake a run (the module wakes each run of placed pages once). Only the
 * plain case goes: pages that can all be claimed, no alias copies, no
 * huge zero pages. Returns how many ops are done; the caller places the
 * rest, from the first that did not go, the usual way.
 */
static unsigned int place_batch_module(struct pcram_dst *dst, struct pcram_place_op *ops,
				       unsigned int n, uint64_t t)
{
	struct pcram_batch_op kops[MODULE_GROUPS];
	struct module_group grp[MODULE_GROUPS];
	unsigned int ng = 0, i = 0, ok, next;
	int ret;

	while (i < n && ng < MODULE_GROUPS) {
		struct module_group *g = &grp[ng];
		struct pcram_batch_op *k = &kops[ng];
		struct dst_block *b, *nb;
		uint64_t addr, page, len;
		unsigned int e, c;

		if (check_op(dst, &ops[i], &b) ||
		    (b->minor && ops[i].type != PCRAM_OP_CONTINUE) ||
		    (ops[i].type == PCRAM_OP_ZERO && zero_page(dst, b->page_size)))
			break;
		for (e = i + 1; e < n && mergeable(&ops[e - 1], &ops[e], b->page_size) &&
		     !check_op(dst, &ops[e], &nb) && nb == b; e++)
			;
		addr = (uint64_t)(uintptr_t)ops[i].host;
		page = blk_page(b, addr);
		for (c = 0; c < e - i; c++)
			if (!page_claim(b, page + c))
				break;
		if (c < e - i) {
			while (c--)
				page_release(b, page + c, false);
			break;
		}
		/* The module wakes each run as it goes: counted before it. */
		count_ahead(b, e - i, ops[i].type == PCRAM_OP_ZERO, true);
		len = (uint64_t)(e - i) << b->page_shift;
		memset(k, 0, sizeof(*k));
		if (ops[i].type == PCRAM_OP_COPY) {
			k->op = PCRAM_BATCH_OP_COPY;
			k->copy = (struct uffdio_copy) {
				.dst = addr, .src = (uint64_t)(uintptr_t)ops[i].src, .len = len,
			};
		} else if (ops[i].type == PCRAM_OP_ZERO) {
			k->op = PCRAM_BATCH_OP_ZEROPAGE;
			k->zeropage.range = (struct uffdio_range) { addr, len };
		} else {
			k->op = PCRAM_BATCH_OP_CONTINUE;
			k->cont.range = (struct uffdio_range) { addr, len };
		}
		*g = (struct module_group) { b, i, e - i };
		ng++;
		i = e;
	}
	if (!ng)
		return 0;

	kops[0].result = 0;
	ret = pcram_kmod_batch(dst->module_fd, kops, ng, 0);
	if (ret < 0 && !kops[0].result) {
		/* Refused as a whole, nothing ran: the usual way, then. */
		for (unsigned int k = 0; k < ng; k++) {
			count_back(grp[k].b, grp[k].n, grp[k].n,
				   ops[grp[k].first].type == PCRAM_OP_ZERO);
			module_release(dst, &grp[k], ops, 0);
		}
		return 0;
	}
	cnt_add(&dst->st.module_batches, 1);
	ok = ret < 0 ? 0 : (unsigned int)ret;
	next = i;
	for (unsigned int k = 0; k < ng; k++) {
		struct module_group *g = &grp[k];
		uint64_t page = blk_page(g->b, (uint64_t)(uintptr_t)ops[g->first].host);
		uint64_t placed = g->n;
		bool zero = ops[g->first].type == PCRAM_OP_ZERO;

		if (k > ok) {
			placed = 0;
		} else if (k == ok) {
			int64_t bytes = module_op_done(&kops[k]);

			placed = bytes > 0 ? (uint64_t)bytes >> g->b->page_shift : 0;
			next = g->first + (unsigned int)placed;
		}
		if (placed < g->n)
			count_back(g->b, g->n - placed, g->n - placed, zero);
		module_release(dst, g, ops, placed);
		if (!placed)
			continue;
		for (unsigned int j = 0; j < placed; j++)
			ops[g->first + j].result = PLACED;
		settle(dst, g->b, page, placed, t, true);	/* the module woke them */
	}
	return next;
}

PCRAM_EXPORT
int pcram_dst_place_batch(struct pcram_dst *dst, struct pcram_place_op *ops,
			  unsigned int n)
{
	uint64_t t = clock_mono_ns();
	unsigned int i = 0;
	int ret;

	if (!dst || (!ops && n))
		return -EINVAL;
	if (n > INT32_MAX)
		return dst_error(dst, -E2BIG, "place_batch: %u ops", n);
	if (dst->state != DST_NOTIFY)
		return dst_error(dst, -EBUSY,
				 "place_batch: only between enable_notify and cleanup");
	if (dst->module_fd >= 0)
		i = place_batch_module(dst, ops, n, t);

	while (i < n) {
		struct dst_block *b;
		unsigned int run_end, g;
		uint64_t run_start;

		ret = check_op(dst, &ops[i], &b);
		if (ret) {
			ops[i].result = ret;
			break;
		}
		/* A wake run: the following pages of the same block. */
		run_start = (uint64_t)(uintptr_t)ops[i].host;
		for (run_end = i + 1; run_end < n; run_end++) {
			struct dst_block *nb;

			if ((const uint8_t *)ops[run_end].host !=
			    (const uint8_t *)ops[run_end - 1].host + b->page_size ||
			    check_op(dst, &ops[run_end], &nb) || nb != b)
				break;
		}
		/* Groups: one ioctl each where the data is contiguous too. */
		for (g = i; g < run_end;) {
			unsigned int ge = g + 1;

			while (ge < run_end && mergeable(&ops[ge - 1], &ops[ge], b->page_size))
				ge++;
			g += place_group(dst, b, &ops[g], ge - g, t);
			if (g < ge)
				break;
		}
		/* Placed without waking: one wake for all of them. */
		if (g > i)
			dst_wake(dst, run_start, (uint64_t)(g - i) << b->page_shift);
		if (g < run_end)
			return g;
		i = run_end;
	}
	return i;
}

/* ---- queries ------------------------------------------------------------------ */

PCRAM_EXPORT
int pcram_dst_page_received(const struct pcram_dst *dst, const void *host)
{
	const struct dst_block *b;

	if (!dst)
		return -EINVAL;
	b = dst_find(dst, (uint64_t)(uintptr_t)host);
	if (!b)
		return -ENOENT;
	return bit_test(b->received, blk_page(b, (uint64_t)(uintptr_t)host));
}

uint64_t dst_pages_unplaced(const struct pcram_dst *dst)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < dst->nr_blocks; i++)
		n += (uint64_t)atomic_load(&dst->blocks[i].unplaced);
	return n;
}

PCRAM_EXPORT
uint64_t pcram_dst_pages_missing(const struct pcram_dst *dst)
{
	uint64_t n = 0;

	if (!dst)
		return 0;
	for (unsigned int i = 0; i < dst->nr_blocks; i++)
		n += (uint64_t)atomic_load(&dst->blocks[i].missing);
	return n;
}
