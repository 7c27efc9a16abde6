/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Which pages of the source's blocks were written since the last look:
 * userfaultfd write-protect in async mode read with PAGEMAP_SCAN where the
 * kernel has both (6.7 on), soft-dirty bits otherwise.
 */
#ifndef PCRAM_DIRTY_H
#define PCRAM_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

#include "pcram.h"

struct dirty_range {
	uint8_t *start;
	uint64_t len;
	/* Soft-dirty cannot track it (hugetlbfs): the range is never clean. */
	bool untracked;
};

struct dirty {
	enum pcram_dirty_tracking kind;
	int uffd;		/* UFFD_WP: the write-protecting userfaultfd */
	int pagemap;		/* /proc/self/pagemap */
	struct dirty_range *ranges;
	unsigned int nr;
};

/* Called for each written span [off, off + len) of range @i. */
typedef void (*dirty_mark_fn)(void *opaque, unsigned int i, uint64_t off,
			      uint64_t len);

/*
 * Start tracking @nr ranges: every page counts as clean from here. The
 * best kind the kernel has (soft-dirty if @soft_dirty_only); @why says
 * why a better one was not used.
 * 0 or -errno (-EOPNOTSUPP: neither kind works here).
 */
int dirty_start(struct dirty *d, const struct dirty_range *r, unsigned int nr,
		bool soft_dirty_only, char *why, size_t whylen);

/*
 * Report every page written since the start or the last harvest, and
 * make them clean. With UFFD_WP each page is read and re-protected in one
 * step; soft-dirty reads all bits and then clears them, so nothing may
 * write in between (the caller holds the writers).
 */
int dirty_harvest(struct dirty *d, dirty_mark_fn mark, void *opaque);

void dirty_stop(struct dirty *d);

#endif /* PCRAM_DIRTY_H */
