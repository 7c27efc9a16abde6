// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Dirty-page tracking for precopy. With userfaultfd write-protect in
 * async mode a write to a protected page just clears its protection, and
 * PAGEMAP_SCAN reports the written pages and protects them again in one
 * walk under the page-table lock: no write is ever missed. Kernels
 * before 6.7 lack one or the other; there the soft-dirty bits serve, read
 * from /proc/self/pagemap and cleared through /proc/self/clear_refs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dirty.h"
#include "internal.h"
#include "vma.h"

/* PAGEMAP_SCAN (Linux 6.7), newer than Debian 12's headers. */
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start, end, categories;
};

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)
#endif

#define PM_SOFT_DIRTY		(1ULL << 55)
#define SCAN_REGIONS		512
#define PAGEMAP_CHUNK		4096	/* entries read at once */

static long base_page(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* ---- userfaultfd write-protect, async ----------------------------------------- */

static int wp_start(struct dirty *d, char *why, size_t whylen)
{
	uint64_t want = UFFD_FEATURE_WP_ASYNC, have;
	struct uffdio_api api;
	struct pm_scan_arg scan;
	int fd, ret;

	fd = pcram_uffd_open(O_CLOEXEC | O_NONBLOCK, NULL);
	if (fd < 0) {
		snprintf(why, whylen, "no userfaultfd: %s", strerror(-fd));
		return fd;
	}
	ret = pcram_uffd_api(fd, 0, &api);
	close(fd);
	if (ret) {
		snprintf(why, whylen, "UFFDIO_API: %s", strerror(-ret));
		return ret;
	}
	have = api.features;
	if (!(have & UFFD_FEATURE_WP_ASYNC)) {
		snprintf(why, whylen, "the kernel has no UFFD_FEATURE_WP_ASYNC (6.7)");
		return -EOPNOTSUPP;
	}
	/* Never-touched pages are protected too; shmem and hugetlbfs work. */
	want |= have & (UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM);

	fd = pcram_uffd_open(O_CLOEXEC | O_NONBLOCK, NULL);
	if (fd < 0)
		return fd;
	ret = pcram_uffd_api(fd, want, &api);
	if (ret) {
		snprintf(why, whylen, "UFFDIO_API with WP_ASYNC: %s", strerror(-ret));
		goto err;
	}
	for (unsigned int i = 0; i < d->nr; i++) {
		struct uffdio_register reg = {
			.range = { (uintptr_t)d->ranges[i].start, d->ranges[i].len },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};
		struct uffdio_writeprotect wp = {
			.range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP,
		};

		if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
			ret = -errno;
			snprintf(why, whylen, "write-protect registration of a block: %s"
				 " (uffd-wp needs anonymous, shmem or hugetlbfs memory)",
				 strerror(errno));
			goto err;
		}
		if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) {
			ret = -errno;
			snprintf(why, whylen, "UFFDIO_WRITEPROTECT: %s", strerror(errno));
			goto err;
		}
	}
	/* An empty scan says whether PAGEMAP_SCAN exists. */
	memset(&scan, 0, sizeof(scan));
	scan.size = sizeof(scan);
	scan.start = scan.end = (uintptr_t)d->ranges[0].start;
	if (ioctl(d->pagemap, PAGEMAP_SCAN, &scan) < 0) {
		ret = -errno;
		snprintf(why, whylen, "PAGEMAP_SCAN: %s", strerror(errno));
		goto err;
	}
	d->uffd = fd;
	return 0;
err:
	close(fd);	/* unregisters and unprotects everything */
	return ret;
}

static int wp_harvest(struct dirty *d, dirty_mark_fn mark, void *opaque)
{
	struct page_region regions[SCAN_REGIONS];

	for (unsigned int i = 0; i < d->nr; i++) {
		uint64_t start = (uintptr_t)d->ranges[i].start;
		uint64_t end = start + d->ranges[i].len;

		while (start < end) {
			struct pm_scan_arg scan = {
				.size = sizeof(scan),
				.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
				.start = start, .end = end,
				.vec = (uintptr_t)regions, .vec_len = SCAN_REGIONS,
				.category_mask = PAGE_IS_WRITTEN,
				.return_mask = PAGE_IS_WRITTEN,
			};
			int n = ioctl(d->pagemap, PAGEMAP_SCAN, &scan);

			if (n < 0)
				return -errno;
			for (int k = 0; k < n; k++)
				mark(opaque, i, regions[k].start - (uintptr_t)d->ranges[i].start,
				     regions[k].end - regions[k].start);
			if (scan.walk_end <= start)
				return -EIO;	/* no progress: never loop */
			start = scan.walk_end;
		}
	}
	return 0;
}

/* ---- soft-dirty ------------------------------------------------------------------ */

static int clear_refs(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "4", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

static int soft_dirty_of(int pagemap, const void *p, bool *dirty)
{
	uint64_t e;

	if (pread(pagemap, &e, sizeof(e), (uintptr_t)p / base_page() * 8) != sizeof(e))
		return -EIO;
	*dirty = e & PM_SOFT_DIRTY;
	return 0;
}

/* A page of our own: clean after clear_refs, dirty after a write? */
static int soft_dirty_works(int pagemap, char *why, size_t whylen)
{
	/* Between two PROT_NONE pages: no neighbour merges into its mapping. */
	char *area = mmap(NULL, 3 * base_page(), PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	volatile char *p = area + base_page();
	bool before = true, after = false;
	int ret;

	if (area == MAP_FAILED)
		return -errno;
	if (mprotect((void *)p, base_page(), PROT_READ | PROT_WRITE)) {
		ret = -errno;
		munmap(area, 3 * base_page());
		return ret;
	}
	madvise((void *)p, base_page(), MADV_NOHUGEPAGE);
	p[0] = 1;
	ret = clear_refs();
	if (!ret)
		ret = soft_dirty_of(pagemap, (const void *)p, &before);
	p[0] = 2;
	if (!ret)
		ret = soft_dirty_of(pagemap, (const void *)p, &after);
	munmap(area, 3 * base_page());
	if (ret) {
		snprintf(why + strlen(why), whylen - strlen(why),
			 "; soft-dirty: /proc/self/clear_refs: %s", strerror(-ret));
		return ret;
	}
	if (before || !after) {
		snprintf(why + strlen(why), whylen - strlen(why),
			 "; soft-dirty: a page of ours reads %s after clear_refs and %s"
			 " after a write (no CONFIG_MEM_SOFT_DIRTY?)",
			 before ? "dirty" : "clean", after ? "dirty" : "clean");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int soft_start(struct dirty *d, char *why, size_t whylen)
{
	int ret = soft_dirty_works(d->pagemap, why, whylen);

	if (ret)
		return ret;
	/* clear_refs skips hugetlbfs mappings: their bits never clear. */
	for (unsigned int i = 0; i < d->nr; i++) {
		struct vma_info vi;

		if (vma_info((uintptr_t)d->ranges[i].start, d->ranges[i].len, &vi))
			return -ENOENT;
		d->ranges[i].untracked = vi.any_hugetlb;
	}
	return clear_refs();
}

static int soft_harvest(struct dirty *d, dirty_mark_fn mark, void *opaque)
{
	uint64_t *e = malloc(PAGEMAP_CHUNK * sizeof(*e));
	uint64_t bp = (uint64_t)base_page();
	int ret = 0;

	if (!e)
		return -ENOMEM;
	for (unsigned int i = 0; i < d->nr && !ret; i++) {
		uint64_t n = d->ranges[i].len / bp, first = (uintptr_t)d->ranges[i].start / bp;
		uint64_t run = 0, run_start = 0;

		if (d->ranges[i].untracked) {
			mark(opaque, i, 0, d->ranges[i].len);
			continue;
		}
		for (uint64_t k = 0; k < n && !ret; k += PAGEMAP_CHUNK) {
			uint64_t c = n - k < PAGEMAP_CHUNK ? n - k : PAGEMAP_CHUNK;
			ssize_t got = pread(d->pagemap, e, c * 8, (off_t)((first + k) * 8));

			if (got != (ssize_t)(c * 8)) {
				ret = got < 0 ? -errno : -EIO;
				break;
			}
			for (uint64_t j = 0; j < c; j++) {
				if (e[j] & PM_SOFT_DIRTY) {
					if (!run++)
						run_start = k + j;
					continue;
				}
				if (run)
					mark(opaque, i, run_start * bp, run * bp);
				run = 0;
			}
		}
		if (run && !ret)
			mark(opaque, i, run_start * bp, run * bp);
	}
	free(e);
	return ret ? ret : clear_refs();
}

/* ---- the interface ------------------------------------------------------------------ */

int dirty_start(struct dirty *d, const struct dirty_range *r, unsigned int nr,
		bool soft_dirty_only, char *why, size_t whylen)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->uffd = -1;
	why[0] = 0;
	if (!nr)
		return -EINVAL;
	d->ranges = calloc(nr, sizeof(*r));
	if (!d->ranges)
		return -ENOMEM;
	memcpy(d->ranges, r, nr * sizeof(*r));
	d->nr = nr;
	d->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (d->pagemap < 0) {
		ret = -errno;
		snprintf(why, whylen, "/proc/self/pagemap: %s", strerror(errno));
		goto err;
	}
	if (soft_dirty_only) {
		snprintf(why, whylen, "soft-dirty asked for");
		ret = -EOPNOTSUPP;
	} else {
		ret = wp_start(d, why, whylen);
	}
	if (!ret) {
		d->kind = PCRAM_DIRTY_UFFD_WP_ASYNC;
		return 0;
	}
	ret = soft_start(d, why, whylen);
	if (!ret) {
		d->kind = PCRAM_DIRTY_SOFT_DIRTY;
		return 0;
	}
	close(d->pagemap);
err:
	free(d->ranges);
	memset(d, 0, sizeof(*d));
	d->uffd = d->pagemap = -1;
	return ret == -ENOMEM ? ret : -EOPNOTSUPP;
}

int dirty_harvest(struct dirty *d, dirty_mark_fn mark, void *opaque)
{
	switch (d->kind) {
	case PCRAM_DIRTY_UFFD_WP_ASYNC:
		return wp_harvest(d, mark, opaque);
	case PCRAM_DIRTY_SOFT_DIRTY:
		return soft_harvest(d, mark, opaque);
	default:
		return -EINVAL;
	}
}

void dirty_stop(struct dirty *d)
{
	if (d->uffd >= 0)
		close(d->uffd);
	if (d->pagemap >= 0)
		close(d->pagemap);
	free(d->ranges);
	memset(d, 0, sizeof(*d));
	d->uffd = d->pagemap = -1;
	d->kind = PCRAM_DIRTY_NONE;
}
