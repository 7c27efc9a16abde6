/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The memory matrix of the destination-engine tests: one region of each
 * kind of RAM a VMM gives a guest, mapped the way a VMM maps it, or the
 * reason it cannot be here. Include after kselftest_harness.h.
 *
 *   MEMORY_VARIANTS(fixture);	// FIXTURE_VARIANT with .mem, and one
 *				// FIXTURE_VARIANT_ADD per kind
 *   reason = region_map(&self->r, variant->mem, pages);
 *   if (reason) SETUP_SKIP("%s", reason);
 */
#ifndef PCRAM_SELFTESTS_MEMORY_H
#define PCRAM_SELFTESTS_MEMORY_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pcram.h>

#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif

#define SZ_2M (2UL << 20)
#define SZ_1G (1UL << 30)

enum test_mem {
	MEM_ANON,		/* private anonymous, 4 KiB */
	MEM_THP,		/* private anonymous, MADV_HUGEPAGE, 2 MiB aligned */
	MEM_HUGETLB,		/* MAP_HUGETLB private, 2 MiB */
	MEM_HUGETLB_1G,		/* MAP_HUGETLB private, 1 GiB */
	MEM_SHMEM,		/* memfd, MAP_SHARED */
	MEM_HUGETLB_SHARED,	/* memfd MFD_HUGETLB 2 MiB, MAP_SHARED */
};

struct test_region {
	enum test_mem kind;
	uint8_t *host;
	size_t length;
	size_t page_size;	/* the block's page size */
	size_t map_length;	/* what was mapped (THP: with alignment slack) */
	uint8_t *map;
	int fd;			/* memfd of shared kinds, else -1 */
	enum pcram_block_type type;
};

static inline const char *mem_name(enum test_mem m)
{
	static const char *const names[] = {
		"anon", "thp", "hugetlb-2M", "hugetlb-1G", "memfd-shmem",
		"memfd-hugetlb",
	};
	return names[m];
}

/* Free huge pages of @size bytes, from sysfs; 0 when there is no pool. */
static inline unsigned long free_hugepages(size_t size)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB/free_hugepages",
		 size >> 10);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return strtoul(buf, NULL, 10);
}

/*
 * The machine's 2 MiB huge page pool, for tests of what happens when it
 * runs dry. Changing it takes root; a test gives back what it found.
 */
#define HUGE_POOL "/sys/kernel/mm/hugepages/hugepages-2048kB/"

static inline long huge_pool_read(const char *name)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), HUGE_POOL "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return buf[0] ? strtol(buf, NULL, 10) : -1;
}

static inline int huge_pool_write(long pages)
{
	char buf[32];
	int fd = open(HUGE_POOL "nr_hugepages", O_WRONLY | O_CLOEXEC), len, ret = 0;

	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%ld\n", pages);
	if (write(fd, buf, (size_t)len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* Make the pool have exactly @free_pages free: NULL, or why not. */
static inline const char *huge_pool_set_free(long free_pages)
{
	long total = huge_pool_read("nr_hugepages");
	long now = huge_pool_read("free_hugepages");

	if (total < 0 || now < 0)
		return "no 2 MiB huge page pool here";
	if (huge_pool_read("nr_overcommit_hugepages") > 0)
		return "vm.nr_overcommit_hugepages is set: the pool has no end";
	if (huge_pool_write(total - now + free_pages))
		return "cannot write vm.nr_hugepages (not root?)";
	if (huge_pool_read("free_hugepages") != free_pages)
		return "the kernel would not size the pool as asked";
	return NULL;
}

static inline const char *thp_mode(void)
{
	static char buf[64];
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/*
 * Map a region of @pages block pages of kind @m. Returns NULL, or why it
 * cannot be here (the test SKIPs with it).
 */
static inline const char *region_map(struct test_region *r, enum test_mem m,
				     size_t pages)
{
	static char why[160];
	size_t base = (size_t)sysconf(_SC_PAGESIZE), hp = 0;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;

	memset(r, 0, sizeof(*r));
	r->kind = m;
	r->fd = -1;
	switch (m) {
	case MEM_ANON:
		r->page_size = base;
		r->type = PCRAM_BLOCK_ANON;
		break;
	case MEM_THP:
		if (!strstr(thp_mode(), "[always]") && !strstr(thp_mode(), "[madvise]"))
			return "transparent huge pages are off or absent here";
		r->page_size = base;
		r->type = PCRAM_BLOCK_ANON_THP;
		break;
	case MEM_HUGETLB:
	case MEM_HUGETLB_SHARED:
		hp = SZ_2M;
		break;
	case MEM_HUGETLB_1G:
		hp = SZ_1G;
		break;
	case MEM_SHMEM:
		r->page_size = base;
		r->type = PCRAM_BLOCK_SHMEM;
		break;
	}
	if (hp) {
		if (free_hugepages(hp) < pages) {
			snprintf(why, sizeof(why),
				 "needs %zu free %zu MiB huge pages, %lu reserved and free (sysctl vm.nr_hugepages, or hugepagesz= hugepages= at boot)",
				 pages, hp >> 20, free_hugepages(hp));
			return why;
		}
		r->page_size = hp;
		r->type = m == MEM_HUGETLB_SHARED ? PCRAM_BLOCK_HUGETLB_SHARED :
			  PCRAM_BLOCK_HUGETLB;
	}
	r->length = pages * r->page_size;

	if (m == MEM_SHMEM || m == MEM_HUGETLB_SHARED) {
		unsigned int mfd = MFD_CLOEXEC;

		if (m == MEM_HUGETLB_SHARED)
			mfd |= MFD_HUGETLB | (21U << MFD_HUGE_SHIFT);
		r->fd = memfd_create(mem_name(m), mfd);
		if (r->fd < 0 || ftruncate(r->fd, (off_t)r->length)) {
			snprintf(why, sizeof(why), "memfd_create(%s): %s",
				 mem_name(m), strerror(errno));
			return why;
		}
		r->map = mmap(NULL, r->length, PROT_READ | PROT_WRITE, MAP_SHARED,
			      r->fd, 0);
		r->map_length = r->length;
	} else if (hp) {
		flags |= MAP_HUGETLB | ((hp == SZ_1G ? 30 : 21) << MAP_HUGE_SHIFT);
		r->map = mmap(NULL, r->length, PROT_READ | PROT_WRITE, flags, -1, 0);
		r->map_length = r->length;
	} else {
		/* THP wants 2 MiB alignment: map with slack and align. */
		r->map_length = r->length + (m == MEM_THP ? SZ_2M : 0);
		r->map = mmap(NULL, r->map_length, PROT_READ | PROT_WRITE, flags, -1, 0);
	}
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		snprintf(why, sizeof(why), "mmap(%s): %s", mem_name(m),
			 strerror(errno));
		if (r->fd >= 0)
			close(r->fd);
		r->fd = -1;
		return why;
	}
	r->host = r->map;
	if (m == MEM_THP) {
		r->host = (uint8_t *)(((uintptr_t)r->map + SZ_2M - 1) & ~(SZ_2M - 1));
		if (madvise(r->host, r->length, MADV_HUGEPAGE)) {
			snprintf(why, sizeof(why), "MADV_HUGEPAGE: %s", strerror(errno));
			return why;
		}
	}
	return NULL;
}

static inline void region_unmap(struct test_region *r)
{
	if (r->map)
		munmap(r->map, r->map_length);
	if (r->fd >= 0)
		close(r->fd);
	r->map = NULL;
	r->fd = -1;
}

static inline struct pcram_block region_block(const struct test_region *r,
					      const char *name)
{
	return (struct pcram_block) {
		.name = name, .host = r->host, .length = r->length,
		.page_size = r->page_size, .type = r->type, .fd = r->fd,
	};
}

/* A byte of recognisable content: page @page, byte @i, generation @gen. */
static inline uint8_t pattern_byte(size_t page, size_t i, unsigned int gen)
{
	return (uint8_t)(page * 131 + i * 7 + gen * 29 + 1);
}

static inline void pattern_fill(uint8_t *p, size_t len, size_t page_size,
				unsigned int gen)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_byte(i / page_size, i % page_size, gen);
}

#define MEMORY_VARIANTS(f)						\
	FIXTURE_VARIANT(f) { enum test_mem mem; };			\
	FIXTURE_VARIANT_ADD(f, anon) { .mem = MEM_ANON };		\
	FIXTURE_VARIANT_ADD(f, thp) { .mem = MEM_THP };			\
	FIXTURE_VARIANT_ADD(f, hugetlb) { .mem = MEM_HUGETLB };		\
	FIXTURE_VARIANT_ADD(f, hugetlb_1g) { .mem = MEM_HUGETLB_1G };	\
	FIXTURE_VARIANT_ADD(f, memfd_shmem) { .mem = MEM_SHMEM };	\
	FIXTURE_VARIANT_ADD(f, memfd_hugetlb) { .mem = MEM_HUGETLB_SHARED }

#endif /* PCRAM_SELFTESTS_MEMORY_H */
