// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Emptying the destination's memory: incoming_init empties every block,
 * prepare_discard turns THP off where it would fill discarded ranges
 * again, and discard_range empties part of a block; each forgets the
 * pages it empties, and notes its own REMOVE events so that the fault
 * threads do not forget them twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dst.h"
#include "vma.h"

/*
 * Make [off, off + len) of a block missing. Files lose the pages (so the
 * next touch is a MISSING fault, not the old page cache page); private
 * mappings drop their copies.
 */
static int empty_range(struct pcram_dst *dst, struct dst_block *b,
		       uint64_t off, uint64_t len)
{
	if (b->fd >= 0 &&
	    fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(b->fd_offset + off), (off_t)len))
		return dst_error(dst, -errno, "block %s: punching a hole at %#" PRIx64 ": %s",
				 b->name, off, strerror(errno));
	if (!b->shared && madvise(b->host + off, len, MADV_DONTNEED))
		return dst_error(dst, -errno, "block %s: MADV_DONTNEED at %#" PRIx64 ": %s",
				 b->name, off, strerror(errno));
	return 0;
}

/* Forget that pages [first, first + n) arrived; returns how many had. */
static uint64_t forget_pages(struct pcram_dst *dst, struct dst_block *b,
			     uint64_t first, uint64_t n)
{
	uint64_t was = 0;

	for (uint64_t p = first; p < first + n; p++) {
		if (bit_test_clear(b->requested, p))
			dst_track_drop(dst, (uint64_t)(uintptr_t)b->host +
				       (p << b->page_shift));
		was += bit_test_clear(b->received, p);
	}
	pages_in(b, -(int64_t)was);
	return was;
}

/* The lowest block start above @a, or @end: where dst_forget_range() goes on. */
static uint64_t next_block_start(const struct pcram_dst *dst, uint64_t a, uint64_t end)
{
	uint64_t next = end;

	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		uint64_t h = (uint64_t)(uintptr_t)dst->blocks[i].host;

		if (h > a && h < next)
			next = h;
	}
	return next;
}

void dst_forget_range(struct pcram_dst *dst, uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end;) {
		struct dst_block *b = dst_find(dst, a);
		uint64_t bstart, bend, first, last;

		if (!b) {
			a = next_block_start(dst, a, end);
			continue;
		}
		bstart = (uint64_t)(uintptr_t)b->host;
		bend = bstart + b->length;
		first = blk_page(b, a);
		last = blk_page(b, (end < bend ? end : bend) - 1);
		/*
		 * MADV_DONTNEED on a shared mapping only unmaps: the data stays
		 * in the file and comes back by MINOR fault and CONTINUE.
		 * Asking the source again would overwrite newer data.
		 */
		if (!b->shared)
			forget_pages(dst, b, first, last - first + 1);
		a = bend;
	}
}

/* Locked pages cannot be dropped and would never fault: unlock, relock at cleanup. */
static int unlock_block(struct pcram_dst *dst, struct dst_block *b)
{
	struct vma_info vi;

	if (vma_info((uint64_t)(uintptr_t)b->host, b->length, &vi) || !vi.any_locked)
		return 0;
	if (munlock(b->host, b->length))
		return dst_error(dst, -errno, "block %s: munlock: %s",
				 b->name, strerror(errno));
	b->relock = true;
	return 0;
}

PCRAM_EXPORT
int pcram_dst_incoming_init(struct pcram_dst *dst)
{
	int ret;

	if (!dst)
		return -EINVAL;
	if (dst->state != DST_NEW && dst->state != DST_INIT)
		return dst_wrong_stage(dst, "incoming_init");
	if (!dst->nr_blocks)
		return dst_error(dst, -EINVAL, "incoming_init: no blocks added");

	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		struct dst_block *b = &dst->blocks[i];

		ret = unlock_block(dst, b);
		if (!ret)
			ret = empty_range(dst, b, 0, b->length);
		if (ret)
			return ret;
		forget_pages(dst, b, 0, b->nr_pages);
	}
	dst->state = DST_INIT;
	return 0;
}

/* Is THP "always" on, so that it applies without MADV_HUGEPAGE? */
static bool thp_always(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, "[always]") != NULL;
}

/*
 * Only where THP can act: the block is THP, the mapping has
 * MADV_HUGEPAGE, or THP is "always". No madvise returns a range to
 * "default", so cleanup gives those MADV_HUGEPAGE, which under "always"
 * behaves as the default did.
 */
static int block_nohugepage(struct pcram_dst *dst, struct dst_block *b, bool always)
{
	struct vma_info vi;
	bool thp;

	if (b->type != PCRAM_BLOCK_ANON && b->type != PCRAM_BLOCK_ANON_THP)
		return 0;
	if (b->nohugepage_set)
		return 0;
	thp = b->type == PCRAM_BLOCK_ANON_THP || always;
	if (!vma_info((uint64_t)(uintptr_t)b->host, b->length, &vi))
		thp |= vi.any_hugepage;
	if (!thp)
		return 0;
	b->thp_restore = true;
	/* EINVAL: a kernel without THP has nothing to turn off. */
	if (madvise(b->host, b->length, MADV_NOHUGEPAGE) && errno != EINVAL)
		return dst_error(dst, -errno, "block %s: MADV_NOHUGEPAGE: %s",
				 b->name, strerror(errno));
	b->nohugepage_set = true;
	return 0;
}

PCRAM_EXPORT
int pcram_dst_prepare_discard(struct pcram_dst *dst)
{
	bool always;
	int ret;

	if (!dst)
		return -EINVAL;
	if (dst->state != DST_INIT)
		return dst_wrong_stage(dst, "prepare_discard");

	always = thp_always();
	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		ret = block_nohugepage(dst, &dst->blocks[i], always);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Our own MADV_DONTNEED raises a REMOVE event, and the kernel lets the
 * madvise return once a fault thread has read it, maybe before that
 * thread has handled it. By then discard_range has forgotten the pages
 * itself and a placement may have brought them again: forgetting them
 * once more would lose that placement's bits for good. So the range is
 * noted here first, and its events are taken as already handled.
 */
static void own_remove_add(struct pcram_dst *dst, uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&dst->own_lock);
	/* Full: only if events never came; the oldest goes. */
	if (dst->nr_own == DST_MAX_OWN_REMOVES) {
		memmove(&dst->own[0], &dst->own[1], sizeof(dst->own[0]) * (DST_MAX_OWN_REMOVES - 1));
		dst->nr_own--;
	}
	dst->own[dst->nr_own].start = start;
	dst->own[dst->nr_own].end = end;
	dst->own[dst->nr_own].left = end - start;
	dst->nr_own++;
	pthread_mutex_unlock(&dst->own_lock);
}

/* A REMOVE event can cover part of the madvise: one per VMA. */
bool dst_own_remove(struct pcram_dst *dst, uint64_t start, uint64_t end)
{
	bool own = false;

	pthread_mutex_lock(&dst->own_lock);
	for (unsigned int i = 0; i < dst->nr_own; i++) {
		if (start < dst->own[i].start || end > dst->own[i].end ||
		    end - start > dst->own[i].left)
			continue;
		own = true;
		dst->own[i].left -= end - start;
		if (!dst->own[i].left) {
			dst->nr_own--;
			memmove(&dst->own[i], &dst->own[i + 1],
				sizeof(dst->own[0]) * (dst->nr_own - i));
		}
		break;
	}
	pthread_mutex_unlock(&dst->own_lock);
	return own;
}

/* The block discard_range() names, and a range of it that it may empty. */
static int discard_target(struct pcram_dst *dst, const char *block, uint64_t start,
			  uint64_t length, struct dst_block **out)
{
	struct dst_block *b;

	if (!block)
		return dst_error(dst, -EINVAL, "discard_range: no block name");
	b = dst_find_name(dst, block);
	if (!b)
		return dst_error(dst, -ENOENT, "discard_range: no block %.255s",
				 block);
	if (!length || start % b->page_size || length % b->page_size)
		return dst_error(dst, -EINVAL,
				 "discard_range: block %s: [%#" PRIx64 ", +%#" PRIx64 ") is empty or not aligned to %" PRIu64,
				 b->name, start, length, b->page_size);
	if (start >= b->length || length > b->length - start)
		return dst_error(dst, -ERANGE,
				 "discard_range: block %s: [%#" PRIx64 ", +%#" PRIx64 ") is outside its %#" PRIx64 " bytes",
				 b->name, start, length, b->length);
	/*
	 * MADV_DONTNEED on a registered range waits until a fault thread has
	 * read the REMOVE event: from a fault thread it would wait forever.
	 */
	if (dst->state == DST_NOTIFY && dst_current_fault_thread(dst))
		return dst_error(dst, -EDEADLK,
				 "discard_range: called from a fault thread");
	*out = b;
	return 0;
}

PCRAM_EXPORT
int pcram_dst_discard_range(struct pcram_dst *dst, const char *block,
			    uint64_t start, uint64_t length)
{
	struct dst_block *b = NULL;	/* set when discard_target() passes */
	int ret;

	if (!dst)
		return -EINVAL;
	if (dst->state != DST_INIT && dst->state != DST_NOTIFY)
		return dst_wrong_stage(dst, "discard_range");
	ret = discard_target(dst, block, start, length, &b);
	if (ret)
		return ret;

	/*
	 * Before and after: a hole punched in a file sends no event, so a
	 * touch right after it must already find the page not received; a
	 * placement racing the discard may set a bit again in between.
	 */
	forget_pages(dst, b, start >> b->page_shift, length >> b->page_shift);
	if (dst->state == DST_NOTIFY && !b->shared &&
	    (dst->features & UFFD_FEATURE_EVENT_REMOVE))
		own_remove_add(dst, (uint64_t)(uintptr_t)b->host + start,
			       (uint64_t)(uintptr_t)b->host + start + length);
	ret = empty_range(dst, b, start, length);
	if (ret)
		return ret;
	forget_pages(dst, b, start >> b->page_shift, length >> b->page_shift);
	return 0;
}
