// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libpcram's destination engine: RAM blocks (adding, refusing, looking up),
 * the arguments and stages every pcram_dst_* call refuses, and the
 * histogram quantile arithmetic.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "common.h"
#include "memory.h"

#define BLK_PAGES	16	/* pages of each test mapping */

/*
 * @call must fail with @err, and pcram_dst_strerror() must say why in words
 * that contain @word. Each case uses a block name of its own as @word where
 * it can, so that a message left over from an earlier failure cannot pass.
 */
#define EXPECT_REFUSED(dst, err, call, word) do {				\
	int __ret = (call);							\
	const char *__msg = pcram_dst_strerror(dst);				\
										\
	EXPECT_EQ(err, __ret) TH_LOG("%s: \"%s\"", #call, __msg);		\
	EXPECT_NE(0, __msg[0]) TH_LOG("%s: no message", #call);		\
	EXPECT_TRUE(strstr(__msg, word) != NULL)				\
		TH_LOG("%s: \"%s\" does not mention \"%s\"", #call, __msg, word); \
} while (0)

static size_t base_page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static struct pcram_block anon_block(const char *name, void *host, size_t len)
{
	return (struct pcram_block) {
		.name = name, .host = host, .length = len,
		.type = PCRAM_BLOCK_ANON, .fd = -1,
	};
}

/* @len bytes of private anonymous memory aligned to @align, or NULL. */
static void *map_aligned(size_t len, size_t align)
{
	uint8_t *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	/* Give back the slack, so that the caller unmaps exactly [a, a+len). */
	if (a > p)
		munmap(p, a - p);
	if (a + len < p + len + align)
		munmap(a + len, p + len + align - (a + len));
	return a;
}

static int refuse_request(struct pcram_dst *dst, const struct pcram_request *req,
			  void *opaque)
{
	return -EIO;
}

/* A provider for stages that need one; no test here touches missing pages. */
static const struct pcram_provider refusing_provider = {
	.request = refuse_request,
};

/* ---- adding blocks ------------------------------------------------------ */

FIXTURE(blocks) {
	struct pcram_dst *dst;
	size_t ps;
	uint8_t *anon;		/* BLK_PAGES, private anonymous */
	uint8_t *shm;		/* BLK_PAGES of @memfd, MAP_SHARED */
	int memfd;
};

FIXTURE_SETUP(blocks)
{
	self->ps = base_page();
	self->memfd = -1;
	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	self->anon = mmap(NULL, BLK_PAGES * self->ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->anon);
	self->memfd = memfd_create("dst-blocks", MFD_CLOEXEC);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, BLK_PAGES * self->ps));
	self->shm = mmap(NULL, BLK_PAGES * self->ps, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->shm);
}

FIXTURE_TEARDOWN(blocks)
{
	pcram_dst_free(self->dst);
	if (self->anon && self->anon != MAP_FAILED)
		munmap(self->anon, BLK_PAGES * self->ps);
	if (self->shm && self->shm != MAP_FAILED)
		munmap(self->shm, BLK_PAGES * self->ps);
	if (self->memfd >= 0)
		close(self->memfd);
}

TEST_F(blocks, null_arguments_refused)
{
	struct pcram_block blk = anon_block("ram", self->anon, self->ps);

	EXPECT_EQ(-EINVAL, pcram_dst_add_block(NULL, &blk));
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, NULL),
		       "block");

	blk.name = NULL;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "name");

	blk = anon_block("null-host", NULL, self->ps);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "null-host");
	EXPECT_EQ(0, pcram_dst_nr_blocks(self->dst));
}

TEST_F(blocks, name_of_255_bytes_accepted_256_refused)
{
	char name[PCRAM_BLOCK_NAME_MAX + 2];
	struct pcram_block blk, got;

	memset(name, 'n', sizeof(name));
	name[PCRAM_BLOCK_NAME_MAX + 1] = '\0';
	blk = anon_block(name, self->anon, self->ps);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "255");

	name[PCRAM_BLOCK_NAME_MAX] = '\0';
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, pcram_dst_block(self->dst, 0, &got));
	EXPECT_EQ(PCRAM_BLOCK_NAME_MAX, strlen(got.name));
	EXPECT_STREQ(name, got.name);
	/* The library keeps its own copy of the name. */
	EXPECT_TRUE(got.name != name);

	blk = anon_block("", self->anon + self->ps, self->ps);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "name");
	EXPECT_EQ(1, pcram_dst_nr_blocks(self->dst));
}

TEST_F(blocks, duplicate_name_refused)
{
	struct pcram_block blk = anon_block("dup-ram", self->anon, 4 * self->ps);

	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk));
	blk.host = self->anon + 4 * self->ps;
	EXPECT_REFUSED(self->dst, -EEXIST, pcram_dst_add_block(self->dst, &blk),
		       "dup-ram");
	/* The same range under another name is fine. */
	blk.name = "dup-ram2";
	EXPECT_EQ(0, pcram_dst_add_block(self->dst, &blk));
	EXPECT_EQ(2, pcram_dst_nr_blocks(self->dst));
}

TEST_F(blocks, unknown_type_refused)
{
	const int types[] = { 0, PCRAM_BLOCK_HUGETLB_SHARED + 1, 1000, -1 };
	struct pcram_block blk = anon_block("typeless", self->anon, self->ps);

	for (unsigned int i = 0; i < ARRAY_SIZE(types); i++) {
		blk.type = (enum pcram_block_type)types[i];
		EXPECT_REFUSED(self->dst, -EINVAL,
			       pcram_dst_add_block(self->dst, &blk), "typeless");
		EXPECT_TRUE(strstr(pcram_dst_strerror(self->dst), "type") != NULL)
			TH_LOG("type %d: \"%s\"", types[i],
			       pcram_dst_strerror(self->dst));
	}
	EXPECT_EQ(0, pcram_dst_nr_blocks(self->dst));
}

TEST_F(blocks, misaligned_or_empty_range_refused)
{
	size_t ps = self->ps;
	struct pcram_block blk;

	blk = anon_block("mis-host", self->anon + 1, ps);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "mis-host");
	blk = anon_block("mis-len", self->anon, ps + 1);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "mis-len");
	blk = anon_block("half-page", self->anon, ps / 2);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "half-page");
	blk = anon_block("zero-len", self->anon, 0);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "zero-len");
	/* A range that wraps around the end of the address space. */
	blk = anon_block("wraps", (void *)(UINTPTR_MAX & ~(uintptr_t)(ps - 1)),
			 2 * ps);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "wraps");
	/* Page sizes that are no page size at all. */
	blk = anon_block("ps-three", self->anon, 3 * ps);
	blk.page_size = 3 * ps;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "ps-three");
	blk = anon_block("ps-small", self->anon, ps);
	blk.page_size = ps / 2;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "ps-small");
	EXPECT_EQ(0, pcram_dst_nr_blocks(self->dst));
}

TEST_F(blocks, overlap_refused_on_either_side)
{
	size_t ps = self->ps;
	struct pcram_block blk, got;
	const char *const order[] = { "below", "mid", "above" };

	blk = anon_block("mid", self->anon + 4 * ps, 4 * ps);		/* [4, 8) */
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk));

	blk = anon_block("left", self->anon + 2 * ps, 4 * ps);		/* [2, 6) */
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_add_block(self->dst, &blk),
		       "left");
	EXPECT_TRUE(strstr(pcram_dst_strerror(self->dst), "mid") != NULL);
	blk = anon_block("right", self->anon + 7 * ps, 4 * ps);		/* [7, 11) */
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_add_block(self->dst, &blk),
		       "right");
	EXPECT_TRUE(strstr(pcram_dst_strerror(self->dst), "mid") != NULL);
	blk = anon_block("inside", self->anon + 5 * ps, ps);		/* [5, 6) */
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_add_block(self->dst, &blk),
		       "inside");
	blk = anon_block("around", self->anon + 3 * ps, 6 * ps);	/* [3, 9) */
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_add_block(self->dst, &blk),
		       "around");
	blk = anon_block("same", self->anon + 4 * ps, 4 * ps);		/* [4, 8) */
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_add_block(self->dst, &blk),
		       "same");

	/* Touching neighbours are no overlap. */
	blk = anon_block("above", self->anon + 8 * ps, 4 * ps);	/* [8, 12) */
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk));
	blk = anon_block("below", self->anon, 4 * ps);			/* [0, 4) */
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk));

	/* Between two blocks, overlapping both. */
	blk = anon_block("between", self->anon + 3 * ps, 2 * ps);	/* [3, 5) */
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_add_block(self->dst, &blk),
		       "between");

	ASSERT_EQ(3, pcram_dst_nr_blocks(self->dst));
	for (unsigned int i = 0; i < 3; i++) {
		ASSERT_EQ(0, pcram_dst_block(self->dst, i, &got));
		EXPECT_STREQ(order[i], got.name);
		EXPECT_EQ(self->anon + 4 * i * ps, got.host);
		EXPECT_EQ(4 * ps, got.length);
	}
}

TEST_F(blocks, unmapped_range_refused)
{
	size_t ps = self->ps;
	uint8_t *p = mmap(NULL, 5 * ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pcram_block blk;

	/* Pages 0, 1 and 3 mapped; 2 and 4 not. */
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + 2 * ps, ps));
	ASSERT_EQ(0, munmap(p + 4 * ps, ps));

	blk = anon_block("holey", p, 4 * ps);
	EXPECT_REFUSED(self->dst, -ENOENT, pcram_dst_add_block(self->dst, &blk),
		       "holey");
	/* Also with the page size given, so that no lookup decides it. */
	blk = anon_block("holey-ps", p, 4 * ps);
	blk.page_size = ps;
	EXPECT_REFUSED(self->dst, -ENOENT, pcram_dst_add_block(self->dst, &blk),
		       "holey-ps");
	blk = anon_block("hole", p + 2 * ps, ps);
	EXPECT_REFUSED(self->dst, -ENOENT, pcram_dst_add_block(self->dst, &blk),
		       "hole");
	blk = anon_block("tail-hole", p + 3 * ps, 2 * ps);	/* [3, 5) */
	EXPECT_REFUSED(self->dst, -ENOENT, pcram_dst_add_block(self->dst, &blk),
		       "tail-hole");
	/* The mapped parts on their own are fine. */
	blk = anon_block("front", p, 2 * ps);
	EXPECT_EQ(0, pcram_dst_add_block(self->dst, &blk));
	munmap(p, 2 * ps);
	munmap(p + 3 * ps, ps);
}

TEST_F(blocks, type_must_match_mapping)
{
	size_t ps = self->ps;
	struct pcram_block blk;
	uint8_t *ro, *mixed;
	int procfd, badfd;

	/* Private types on shared memory. */
	blk = anon_block("anon-on-memfd", self->shm, 2 * ps);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "anon-on-memfd");
	blk = anon_block("thp-on-memfd", self->shm, 2 * ps);
	blk.type = PCRAM_BLOCK_ANON_THP;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "thp-on-memfd");

	/* A shared block needs its file. */
	blk = anon_block("shmem-no-fd", self->shm, 2 * ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "shmem-no-fd");
	EXPECT_TRUE(strstr(pcram_dst_strerror(self->dst), ".fd") != NULL);

	/* Shared or hugetlbfs types on private anonymous memory. */
	blk = anon_block("shmem-on-anon", self->anon, 2 * ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = self->memfd;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "shmem-on-anon");
	blk = anon_block("hugetlb-on-anon", self->anon, 2 * ps);
	blk.type = PCRAM_BLOCK_HUGETLB;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "hugetlb-on-anon");
	blk = anon_block("hugetlb-shared-on-memfd", self->shm, 2 * ps);
	blk.type = PCRAM_BLOCK_HUGETLB_SHARED;
	blk.fd = self->memfd;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "hugetlb-shared-on-memfd");

	/* Anonymous memory has no file. */
	blk = anon_block("anon-with-fd", self->anon, 2 * ps);
	blk.fd = self->memfd;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "anon-with-fd");

	/* Bad files behind a shared block. */
	procfd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, procfd);
	blk = anon_block("fd-on-procfs", self->shm, 2 * ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = procfd;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "fd-on-procfs");
	close(procfd);
	blk = anon_block("fd-offset-odd", self->shm, 2 * ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = self->memfd;
	blk.fd_offset = 1;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "fd-offset-odd");
	blk = anon_block("fd-too-short", self->shm, 2 * ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = self->memfd;
	blk.fd_offset = (BLK_PAGES - 1) * ps;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "fd-too-short");
	/* An fd number that is not open. */
	badfd = dup(self->memfd);
	ASSERT_LE(0, badfd);
	close(badfd);
	blk = anon_block("fd-closed", self->shm, 2 * ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = badfd;
	EXPECT_REFUSED(self->dst, -EBADF, pcram_dst_add_block(self->dst, &blk),
		       "fd-closed");

	/* Read-only memory can never be filled. */
	ro = mmap(NULL, 2 * ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	blk = anon_block("read-only", ro, 2 * ps);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "read-only");
	munmap(ro, 2 * ps);

	/* Half anonymous, half memfd: neither type fits. */
	mixed = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mixed);
	ASSERT_NE(MAP_FAILED, mmap(mixed + 2 * ps, 2 * ps, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_FIXED, self->memfd, 0));
	blk = anon_block("mixed-anon", mixed, 4 * ps);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "mixed-anon");
	blk = anon_block("mixed-shmem", mixed, 4 * ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = self->memfd;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "mixed-shmem");
	munmap(mixed, 4 * ps);

	EXPECT_EQ(0, pcram_dst_nr_blocks(self->dst));

	/* The right types on the same memory are accepted. */
	blk = anon_block("anon", self->anon, 2 * ps);
	EXPECT_EQ(0, pcram_dst_add_block(self->dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	blk = anon_block("shmem", self->shm, 2 * ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = self->memfd;
	EXPECT_EQ(0, pcram_dst_add_block(self->dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(2, pcram_dst_nr_blocks(self->dst));
}

TEST_F(blocks, page_size_must_match_mapping)
{
	size_t ps = self->ps;
	uint8_t *big = map_aligned(2 * SZ_2M, SZ_2M);
	struct pcram_block blk;
	char declared[32];

	ASSERT_NE(NULL, big);
	/* Private anonymous memory is placed in base pages, THP or not. */
	blk = anon_block("anon-2x", big, 4 * ps);
	blk.page_size = 2 * ps;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "anon-2x");
	blk = anon_block("thp-2m", big, SZ_2M);
	blk.type = PCRAM_BLOCK_ANON_THP;
	blk.page_size = SZ_2M;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "thp-2m");
	/* hugetlbfs page sizes declared on base-page memory. */
	blk = anon_block("hugetlb-2m-on-anon", big, SZ_2M);
	blk.type = PCRAM_BLOCK_HUGETLB;
	blk.page_size = SZ_2M;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "hugetlb-2m-on-anon");
	/* shmem is mapped in base pages; a bigger one is a lie. */
	blk = anon_block("shmem-2x", self->shm, 4 * ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = self->memfd;
	blk.page_size = 2 * ps;
	if ((uintptr_t)self->shm % (2 * ps)) {
		blk.host = self->shm + ps;
		blk.fd_offset = ps;
	}
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_add_block(self->dst, &blk),
		       "shmem-2x");
	/* The message names the size that was declared. */
	snprintf(declared, sizeof(declared), "%zu", 2 * ps);
	EXPECT_TRUE(strstr(pcram_dst_strerror(self->dst), declared) != NULL)
		TH_LOG("\"%s\"", pcram_dst_strerror(self->dst));
	EXPECT_EQ(0, pcram_dst_nr_blocks(self->dst));
	munmap(big, 2 * SZ_2M);
}

TEST(hugetlb_page_size_must_match_mapping)
{
	size_t ps = base_page();
	struct pcram_dst *dst;
	struct pcram_block blk, got;
	uint8_t *huge;

	if (free_hugepages(SZ_2M) < 1)
		SKIP(return, "no free 2 MiB huge page (sysctl vm.nr_hugepages)");
	huge = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT),
		    -1, 0);
	if (huge == MAP_FAILED)
		SKIP(return, "MAP_HUGETLB 2 MiB: %s", strerror(errno));
	ASSERT_EQ(0, pcram_dst_new(&dst, NULL));

	blk = anon_block("huge-as-4k", huge, SZ_2M);
	blk.type = PCRAM_BLOCK_HUGETLB;
	blk.page_size = ps;
	EXPECT_REFUSED(dst, -EINVAL, pcram_dst_add_block(dst, &blk), "huge-as-4k");
	blk = anon_block("huge-as-anon", huge, SZ_2M);
	EXPECT_REFUSED(dst, -EINVAL, pcram_dst_add_block(dst, &blk), "huge-as-anon");
	blk = anon_block("huge-short", huge, ps);
	blk.type = PCRAM_BLOCK_HUGETLB;
	EXPECT_REFUSED(dst, -EINVAL, pcram_dst_add_block(dst, &blk), "huge-short");
	blk = anon_block("huge-shared", huge, SZ_2M);
	blk.type = PCRAM_BLOCK_HUGETLB_SHARED;
	EXPECT_REFUSED(dst, -EINVAL, pcram_dst_add_block(dst, &blk), "huge-shared");

	/* Page size 0: the mapping's own. */
	blk = anon_block("huge", huge, SZ_2M);
	blk.type = PCRAM_BLOCK_HUGETLB;
	ASSERT_EQ(0, pcram_dst_add_block(dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(dst));
	ASSERT_EQ(0, pcram_dst_block(dst, 0, &got));
	EXPECT_EQ(SZ_2M, got.page_size);
	pcram_dst_free(dst);
	munmap(huge, SZ_2M);
}

TEST_F(blocks, add_after_incoming_init_refused)
{
	size_t ps = self->ps;
	struct pcram_block blk = anon_block("early", self->anon, 4 * ps);

	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk));
	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	blk = anon_block("late", self->anon + 8 * ps, 4 * ps);
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_add_block(self->dst, &blk),
		       "add_block");
	EXPECT_TRUE(strstr(pcram_dst_strerror(self->dst), "incoming_init") != NULL);
	ASSERT_EQ(0, pcram_dst_cleanup(self->dst));
	blk.name = "after-cleanup";
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_add_block(self->dst, &blk),
		       "add_block");
	EXPECT_EQ(1, pcram_dst_nr_blocks(self->dst));
}

TEST_F(blocks, shared_block_keeps_its_own_fd)
{
	size_t ps = self->ps;
	struct pcram_block blk = anon_block("shm", self->shm, 4 * ps), got;
	struct stat mine, theirs;
	void *alias;

	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = self->memfd;
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, fstat(self->memfd, &mine));
	/* "duplicated, so the caller may close its own" */
	close(self->memfd);
	self->memfd = -1;

	ASSERT_EQ(0, pcram_dst_block(self->dst, 0, &got));
	ASSERT_LE(0, got.fd);
	ASSERT_EQ(0, fstat(got.fd, &theirs));
	EXPECT_EQ(mine.st_ino, theirs.st_ino);
	EXPECT_EQ(mine.st_dev, theirs.st_dev);
	EXPECT_EQ(FD_CLOEXEC, fcntl(got.fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(PCRAM_BLOCK_SHMEM, got.type);
	EXPECT_EQ(ps, got.page_size);

	/* The alias is the same file: a write there shows at .host. */
	ASSERT_EQ(0, pcram_dst_block_alias(self->dst, 0, &alias));
	ASSERT_NE(NULL, alias);
	EXPECT_NE((void *)self->shm, alias);
	((volatile uint8_t *)alias)[ps + 7] = 0x5a;
	EXPECT_EQ(0x5a, ((volatile uint8_t *)self->shm)[ps + 7]);
}

/*
 * The alias and the holes punched at incoming_init go through .fd: a file
 * other than the one mapped at .host, or another offset in it, would empty
 * and fill the wrong pages.
 */
TEST_F(blocks, shared_block_fd_must_be_the_mapped_file)
{
	size_t ps = self->ps;
	struct pcram_block blk = anon_block("shm-other", self->shm, 4 * ps);
	int other = memfd_create("other", MFD_CLOEXEC);

	ASSERT_LE(0, other);
	ASSERT_EQ(0, ftruncate(other, 16 * ps));
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = other;
	EXPECT_EQ(-EINVAL, pcram_dst_add_block(self->dst, &blk));
	EXPECT_NE(NULL, strstr(pcram_dst_strerror(self->dst), "not the file mapped"))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	close(other);

	/* The right file at the wrong offset. */
	blk.name = "shm-offset";
	blk.fd = self->memfd;
	blk.fd_offset = ps;
	EXPECT_EQ(-EINVAL, pcram_dst_add_block(self->dst, &blk));
	EXPECT_NE(NULL, strstr(pcram_dst_strerror(self->dst), "not the file mapped"))
		TH_LOG("%s", pcram_dst_strerror(self->dst));

	/* A block starting one page into the mapping is at offset ps. */
	blk.name = "shm-inner";
	blk.host = self->shm + ps;
	blk.length = 2 * ps;
	EXPECT_EQ(0, pcram_dst_add_block(self->dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(1, pcram_dst_nr_blocks(self->dst));
}

/* ---- lookup over many blocks ------------------------------------------- */

#define LOOKUP_BLOCKS		200
#define LOOKUP_AREA_PAGES	2048

struct placed_block {
	char name[16];
	size_t first, pages;	/* in pages of the area */
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

TEST(lookup_many_blocks)
{
	size_t ps = base_page(), area_len = LOOKUP_AREA_PAGES * ps, next = 0;
	struct placed_block pb[LOOKUP_BLOCKS];
	unsigned int order[LOOKUP_BLOCKS];
	int owner[LOOKUP_AREA_PAGES];	/* block index of each page, or -1 */
	uint64_t seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	struct pcram_dst *dst;
	struct pcram_block blk;
	unsigned int index;
	uint64_t offset;
	uint8_t *area;

	seed |= 1;
	TH_LOG("layout seed %#llx", (unsigned long long)seed);
	/* Reserve, then open up only the blocks: gaps stay unmapped-like. */
	area = mmap(NULL, area_len, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, area);

	/* Blocks of 1..4 pages with gaps of 0..3 pages, never at page 0. */
	next = 1;
	for (unsigned int i = 0; i < LOOKUP_BLOCKS; i++) {
		if (i)
			next += xorshift(&seed) % 4;
		pb[i].first = next;
		pb[i].pages = 1 + xorshift(&seed) % 4;
		next += pb[i].pages;
		snprintf(pb[i].name, sizeof(pb[i].name), "blk-%03u", i);
		order[i] = i;
	}
	ASSERT_LT(next, LOOKUP_AREA_PAGES);
	for (size_t p = 0; p < LOOKUP_AREA_PAGES; p++)
		owner[p] = -1;
	for (unsigned int i = 0; i < LOOKUP_BLOCKS; i++) {
		ASSERT_EQ(0, mprotect(area + pb[i].first * ps, pb[i].pages * ps,
				      PROT_READ | PROT_WRITE));
		for (size_t p = 0; p < pb[i].pages; p++)
			owner[pb[i].first + p] = (int)i;
	}
	/* Add them in a random order: the library must sort them. */
	for (unsigned int i = LOOKUP_BLOCKS - 1; i > 0; i--) {
		unsigned int j = xorshift(&seed) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}

	ASSERT_EQ(0, pcram_dst_new(&dst, NULL));
	for (unsigned int k = 0; k < LOOKUP_BLOCKS; k++) {
		const struct placed_block *b = &pb[order[k]];

		blk = anon_block(b->name, area + b->first * ps, b->pages * ps);
		ASSERT_EQ(0, pcram_dst_add_block(dst, &blk))
			TH_LOG("%s", pcram_dst_strerror(dst));
	}

	/* Blocks come back in address order. */
	ASSERT_EQ(LOOKUP_BLOCKS, pcram_dst_nr_blocks(dst));
	for (unsigned int i = 0; i < LOOKUP_BLOCKS; i++) {
		ASSERT_EQ(0, pcram_dst_block(dst, i, &blk));
		EXPECT_STREQ(pb[i].name, blk.name);
		EXPECT_EQ(area + pb[i].first * ps, blk.host);
		EXPECT_EQ(pb[i].pages * ps, blk.length);
		EXPECT_EQ(ps, blk.page_size);
		EXPECT_EQ(PCRAM_BLOCK_ANON, blk.type);
		EXPECT_EQ(-1, blk.fd);
	}
	EXPECT_EQ(-ENOENT, pcram_dst_block(dst, LOOKUP_BLOCKS, &blk));

	/*
	 * Every address of the area, at a stride that lands on every page at
	 * several offsets, plus both edges of every block and of every gap.
	 */
	for (size_t off = 0; off < area_len; off += 509) {
		int want = owner[off / ps], ret;

		index = ~0u;
		offset = ~0ull;
		ret = pcram_dst_lookup(dst, area + off, &index, &offset);
		if (want < 0) {
			ASSERT_EQ(-ENOENT, ret) TH_LOG("area + %#zx", off);
			continue;
		}
		ASSERT_EQ(0, ret) TH_LOG("area + %#zx", off);
		ASSERT_EQ(want, index) TH_LOG("area + %#zx", off);
		ASSERT_EQ(off - pb[want].first * ps, offset) TH_LOG("area + %#zx", off);
	}
	for (unsigned int i = 0; i < LOOKUP_BLOCKS; i++) {
		uint8_t *start = area + pb[i].first * ps;
		uint8_t *end = start + pb[i].pages * ps;

		ASSERT_EQ(0, pcram_dst_lookup(dst, start, &index, &offset));
		EXPECT_EQ(i, index);
		EXPECT_EQ(0, offset);
		ASSERT_EQ(0, pcram_dst_lookup(dst, end - 1, &index, &offset));
		EXPECT_EQ(i, index);
		EXPECT_EQ(pb[i].pages * ps - 1, offset);
		/* The byte before: the previous block when they touch, or a gap. */
		if (owner[pb[i].first - 1] < 0) {
			EXPECT_EQ(-ENOENT, pcram_dst_lookup(dst, start - 1, &index, &offset));
		} else {
			EXPECT_EQ(0, pcram_dst_lookup(dst, start - 1, &index, &offset));
			EXPECT_EQ(i - 1, index);
		}
		if (owner[pb[i].first + pb[i].pages] < 0) {
			EXPECT_EQ(-ENOENT, pcram_dst_lookup(dst, end, &index, &offset));
		}
	}
	/* Both ends of the address space and of the area. */
	EXPECT_EQ(-ENOENT, pcram_dst_lookup(dst, NULL, &index, &offset));
	EXPECT_EQ(-ENOENT, pcram_dst_lookup(dst, area, &index, &offset));
	EXPECT_EQ(-ENOENT, pcram_dst_lookup(dst, area + area_len - 1, &index, &offset));
	EXPECT_EQ(-ENOENT, pcram_dst_lookup(dst, (void *)UINTPTR_MAX, &index, &offset));

	pcram_dst_free(dst);
	munmap(area, area_len);
}

/* ---- every call refuses bad arguments ------------------------------------ */

TEST(new_refuses_bad_options)
{
	struct pcram_dst_options opts = { 0 };
	struct pcram_dst *dst = (struct pcram_dst *)&opts;

	EXPECT_EQ(-EINVAL, pcram_dst_new(NULL, NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_new(NULL, &opts));

	opts.flags = PCRAM_DST_F_ALL + 1;
	EXPECT_EQ(-EINVAL, pcram_dst_new(&dst, &opts));
	EXPECT_EQ(NULL, dst);
	opts.flags = 1u << 31;
	EXPECT_EQ(-EINVAL, pcram_dst_new(&dst, &opts));
	EXPECT_EQ(NULL, dst);

	opts.flags = 0;
	opts.fault_threads = PCRAM_MAX_FAULT_THREADS + 1;
	EXPECT_EQ(-E2BIG, pcram_dst_new(&dst, &opts));
	EXPECT_EQ(NULL, dst);
	opts.fault_threads = ~0u;
	EXPECT_EQ(-E2BIG, pcram_dst_new(&dst, &opts));

	/* The limits themselves are allowed. */
	opts.fault_threads = PCRAM_MAX_FAULT_THREADS;
	/* Every flag but one: REQUIRE_MODULE and NO_MODULE exclude each other. */
	opts.flags = PCRAM_DST_F_ALL & ~PCRAM_DST_F_NO_MODULE;
	ASSERT_EQ(0, pcram_dst_new(&dst, &opts));
	ASSERT_NE(NULL, dst);
	/* Nothing failed yet: the message is empty. */
	EXPECT_STREQ("", pcram_dst_strerror(dst));
	pcram_dst_free(dst);
}

TEST(null_dst_refused_everywhere)
{
	struct pcram_block blk = { 0 };
	struct pcram_place_op op = { .type = PCRAM_OP_ZERO };
	struct pcram_dst_stats st;
	struct pcram_thread_stats ts;
	struct pcram_block_stats bs;
	unsigned int index;
	uint64_t offset;
	uint8_t page[64];
	void *p;

	pcram_dst_free(NULL);	/* documented: NULL is allowed */
	EXPECT_NE(NULL, pcram_dst_strerror(NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_add_block(NULL, &blk));
	EXPECT_EQ(-EINVAL, pcram_dst_nr_blocks(NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_block(NULL, 0, &blk));
	EXPECT_EQ(-EINVAL, pcram_dst_lookup(NULL, page, &index, &offset));
	EXPECT_EQ(-EINVAL, pcram_dst_block_alias(NULL, 0, &p));
	EXPECT_EQ(-EINVAL, pcram_dst_set_provider(NULL, &refusing_provider));
	EXPECT_EQ(-EINVAL, pcram_dst_use_image(NULL, "/dev/null", NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_incoming_init(NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_prepare_discard(NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_discard_range(NULL, "ram", 0, base_page()));
	EXPECT_EQ(-EINVAL, pcram_dst_enable_notify(NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_cleanup(NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_place_page(NULL, page, page));
	EXPECT_EQ(-EINVAL, pcram_dst_place_zero(NULL, page));
	EXPECT_EQ(-EINVAL, pcram_dst_place_continue(NULL, page));
	EXPECT_EQ(-EINVAL, pcram_dst_poison(NULL, page));
	EXPECT_EQ(-EINVAL, pcram_dst_place_batch(NULL, &op, 1));
	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(NULL, base_page(), &p));
	EXPECT_EQ(-EINVAL, pcram_dst_page_received(NULL, page));
	EXPECT_EQ(0, pcram_dst_pages_missing(NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_stats(NULL, &st, sizeof(st)));
	EXPECT_EQ(-EINVAL, pcram_dst_set_vcpu(NULL, (uint32_t)syscall(SYS_gettid), 0));
	EXPECT_EQ(-EINVAL, pcram_dst_thread_stats(NULL, &ts, 1, sizeof(ts)));
	EXPECT_EQ(-EINVAL, pcram_dst_block_stats(NULL, 0, &bs, sizeof(bs)));
	EXPECT_EQ(0, pcram_hist_quantile(NULL, 0.5));
}

/*
 * A dst with a private anonymous block "ram" and a memfd block "shm",
 * walked through the lifecycle by each test as far as it needs.
 */
FIXTURE(calls) {
	struct pcram_dst *dst;
	size_t ps;
	uint8_t *anon, *shm, *page;
	int memfd;
};

FIXTURE_SETUP(calls)
{
	struct pcram_block blk;

	self->ps = base_page();
	self->memfd = -1;
	self->anon = mmap(NULL, BLK_PAGES * self->ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->anon);
	self->memfd = memfd_create("dst-calls", MFD_CLOEXEC);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, BLK_PAGES * self->ps));
	self->shm = mmap(NULL, BLK_PAGES * self->ps, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->shm);
	self->page = malloc(self->ps);
	ASSERT_NE(NULL, self->page);
	memset(self->page, 0x77, self->ps);

	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	blk = anon_block("ram", self->anon, BLK_PAGES * self->ps);
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	blk = anon_block("shm", self->shm, BLK_PAGES * self->ps);
	blk.type = PCRAM_BLOCK_SHMEM;
	blk.fd = self->memfd;
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
}

FIXTURE_TEARDOWN(calls)
{
	pcram_dst_free(self->dst);
	free(self->page);
	if (self->anon && self->anon != MAP_FAILED)
		munmap(self->anon, BLK_PAGES * self->ps);
	if (self->shm && self->shm != MAP_FAILED)
		munmap(self->shm, BLK_PAGES * self->ps);
	if (self->memfd >= 0)
		close(self->memfd);
}

/* Index of the block at @host in address order. */
static unsigned int index_of(struct pcram_dst *dst, void *host)
{
	unsigned int index = ~0u;

	pcram_dst_lookup(dst, host, &index, NULL);
	return index;
}

/* incoming_init and enable_notify, or the reason the notify part cannot run. */
static const char *to_notify(struct pcram_dst *dst)
{
	static char why[300];
	int ret;

	if (pcram_dst_incoming_init(dst) || pcram_dst_set_provider(dst, &refusing_provider))
		return "incoming_init or set_provider failed";
	ret = pcram_dst_enable_notify(dst);
	if (ret) {
		snprintf(why, sizeof(why), "enable_notify: %s: %s", strerror(-ret),
			 pcram_dst_strerror(dst));
		return why;
	}
	return NULL;
}

/* Every placement call at a stage where none is allowed. */
static void expect_place_busy(struct __test_metadata *_metadata,
			      struct pcram_dst *dst, uint8_t *host,
			      const uint8_t *src)
{
	struct pcram_place_op op = { .type = PCRAM_OP_COPY, .host = host, .src = src };

	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_place_page(dst, host, src), "place_page");
	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_place_zero(dst, host), "place_zero");
	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_place_continue(dst, host), "place_continue");
	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_poison(dst, host), "poison");
	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_place_batch(dst, &op, 1), "place_batch");
	EXPECT_EQ(0, pcram_dst_page_received(dst, host));
}

TEST_F(calls, null_pointers_refused)
{
	struct pcram_provider no_request = { .request = NULL };
	struct pcram_place_op op = { 0 };

	EXPECT_EQ(-EINVAL, pcram_dst_block(self->dst, 0, NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_block_alias(self->dst, 0, NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_set_provider(self->dst, NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_set_provider(self->dst, &no_request));
	EXPECT_EQ(-EINVAL, pcram_dst_use_image(self->dst, NULL, NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_place_page(self->dst, self->anon, NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_place_batch(self->dst, NULL, 1));
	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(self->dst, self->ps, NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_stats(self->dst, NULL, sizeof(struct pcram_dst_stats)));
	EXPECT_EQ(-EINVAL, pcram_dst_thread_stats(self->dst, NULL, 1,
						   sizeof(struct pcram_thread_stats)));
	EXPECT_EQ(-EINVAL, pcram_dst_block_stats(self->dst, 0, NULL,
						  sizeof(struct pcram_block_stats)));
	/* Not NULL, but empty: refused only for the stage (new). */
	EXPECT_EQ(-EBUSY, pcram_dst_place_batch(self->dst, &op, 0));

	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	EXPECT_REFUSED(self->dst, -EINVAL,
		       pcram_dst_discard_range(self->dst, NULL, 0, self->ps),
		       "block name");
}

TEST_F(calls, index_out_of_range_refused)
{
	struct pcram_block blk;
	struct pcram_block_stats bs;
	void *alias;

	EXPECT_EQ(-ENOENT, pcram_dst_block(self->dst, 2, &blk));
	EXPECT_EQ(-ENOENT, pcram_dst_block(self->dst, ~0u, &blk));
	EXPECT_EQ(-ENOENT, pcram_dst_block_alias(self->dst, 2, &alias));
	EXPECT_EQ(-ENOENT, pcram_dst_block_stats(self->dst, 2, &bs, sizeof(bs)));
	EXPECT_EQ(-ENOENT, pcram_dst_page_received(self->dst, &blk));
}

/*
 * After enable_notify, and after cleanup, every setup call is too late:
 * each refused with -EBUSY and a message naming it.
 */
static void expect_setup_busy(struct __test_metadata *_metadata,
			      struct pcram_dst *dst, const struct pcram_block *blk)
{
	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_add_block(dst, blk), "add_block");
	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_set_provider(dst, &refusing_provider),
		       "set_provider");
	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_use_image(dst, "/dev/null", NULL),
		       "use_image");
	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_incoming_init(dst), "incoming_init");
	EXPECT_REFUSED(dst, -EBUSY, pcram_dst_prepare_discard(dst),
		       "prepare_discard");
}

TEST_F(calls, stage_new)
{
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_prepare_discard(self->dst),
		       "prepare_discard");
	EXPECT_REFUSED(self->dst, -EBUSY,
		       pcram_dst_discard_range(self->dst, "ram", 0, self->ps),
		       "discard_range");
	EXPECT_EQ(0, pcram_dst_set_provider(self->dst, &refusing_provider));
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_enable_notify(self->dst),
		       "enable_notify");
	expect_place_busy(_metadata, self->dst, self->anon, self->page);
	expect_place_busy(_metadata, self->dst, self->shm, self->page);
	EXPECT_EQ(2 * BLK_PAGES, pcram_dst_pages_missing(self->dst));
}

TEST(incoming_init_without_blocks_refused)
{
	struct pcram_dst *dst;

	ASSERT_EQ(0, pcram_dst_new(&dst, NULL));
	EXPECT_REFUSED(dst, -EINVAL, pcram_dst_incoming_init(dst), "no blocks");
	EXPECT_REFUSED(dst, -EINVAL, pcram_dst_use_image(dst, "/dev/null", NULL),
		       "blocks");
	pcram_dst_free(dst);
}

TEST_F(calls, stage_init)
{
	struct pcram_block blk = anon_block("late", self->anon, self->ps);

	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_add_block(self->dst, &blk),
		       "add_block");
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_enable_notify(self->dst),
		       "provider");
	expect_place_busy(_metadata, self->dst, self->anon, self->page);
	expect_place_busy(_metadata, self->dst, self->shm, self->page);
	EXPECT_EQ(0, pcram_dst_prepare_discard(self->dst));
	EXPECT_EQ(0, pcram_dst_discard_range(self->dst, "ram", 0, self->ps));
}

TEST_F(calls, stage_notify)
{
	struct pcram_block blk = anon_block("late", self->anon, self->ps);
	const char *why = to_notify(self->dst);

	if (why)
		SKIP(return, "%s", why);
	expect_setup_busy(_metadata, self->dst, &blk);
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_enable_notify(self->dst),
		       "enable_notify");
	/* Placement is what this stage is for. */
	EXPECT_EQ(0, pcram_dst_place_page(self->dst, self->anon, self->page))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(0x77, self->anon[self->ps - 1]);
	EXPECT_EQ(0, pcram_dst_discard_range(self->dst, "ram", 0, self->ps));
	EXPECT_EQ(0, pcram_dst_cleanup(self->dst));
}

TEST_F(calls, stage_cleaned)
{
	struct pcram_block blk = anon_block("late", self->anon, self->ps);
	void *p;

	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	ASSERT_EQ(0, pcram_dst_cleanup(self->dst));
	EXPECT_EQ(0, pcram_dst_cleanup(self->dst));

	expect_setup_busy(_metadata, self->dst, &blk);
	EXPECT_REFUSED(self->dst, -EBUSY,
		       pcram_dst_discard_range(self->dst, "ram", 0, self->ps),
		       "discard_range");
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_enable_notify(self->dst),
		       "enable_notify");
	EXPECT_REFUSED(self->dst, -EBUSY, pcram_dst_tmp_page(self->dst, self->ps, &p),
		       "tmp_page");
	expect_place_busy(_metadata, self->dst, self->anon, self->page);
	expect_place_busy(_metadata, self->dst, self->shm, self->page);
	/* The alias stays valid until pcram_dst_free(). */
	EXPECT_EQ(0, pcram_dst_block_alias(self->dst, index_of(self->dst, self->shm), &p));
}

TEST_F(calls, discard_range_checks)
{
	size_t ps = self->ps, len = BLK_PAGES * ps;

	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	EXPECT_REFUSED(self->dst, -ENOENT,
		       pcram_dst_discard_range(self->dst, "no-such-block", 0, ps),
		       "no-such-block");
	EXPECT_REFUSED(self->dst, -ENOENT,
		       pcram_dst_discard_range(self->dst, "", 0, ps), "no block");
	EXPECT_REFUSED(self->dst, -EINVAL,
		       pcram_dst_discard_range(self->dst, "ram", 1, ps), "ram");
	EXPECT_REFUSED(self->dst, -EINVAL,
		       pcram_dst_discard_range(self->dst, "ram", ps, ps - 1), "ram");
	EXPECT_REFUSED(self->dst, -EINVAL,
		       pcram_dst_discard_range(self->dst, "shm", 0, 0), "shm");
	EXPECT_REFUSED(self->dst, -ERANGE,
		       pcram_dst_discard_range(self->dst, "ram", len, ps), "ram");
	EXPECT_REFUSED(self->dst, -ERANGE,
		       pcram_dst_discard_range(self->dst, "shm", len - ps, 2 * ps), "shm");
	EXPECT_REFUSED(self->dst, -ERANGE,
		       pcram_dst_discard_range(self->dst, "ram", ps, UINT64_MAX & ~(uint64_t)(ps - 1)),
		       "ram");
	/* The whole block and its last page are in range. */
	EXPECT_EQ(0, pcram_dst_discard_range(self->dst, "ram", 0, len));
	EXPECT_EQ(0, pcram_dst_discard_range(self->dst, "shm", len - ps, ps));
}

TEST_F(calls, block_alias_only_for_shared_blocks)
{
	unsigned int ram = index_of(self->dst, self->anon);
	unsigned int shm = index_of(self->dst, self->shm);
	void *alias = NULL;

	ASSERT_LT(ram, 2);
	ASSERT_LT(shm, 2);
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_block_alias(self->dst, ram, &alias),
		       "ram");
	EXPECT_EQ(NULL, alias);
	EXPECT_EQ(0, pcram_dst_block_alias(self->dst, shm, &alias));
	EXPECT_NE(NULL, alias);
}

TEST_F(calls, placement_checks_after_notify)
{
	size_t ps = self->ps;
	uint8_t outside[1];
	struct pcram_place_op ops[3];
	const char *why = to_notify(self->dst);

	if (why)
		SKIP(return, "%s", why);

	/* Continue is for shared blocks registered MINOR only. */
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_place_continue(self->dst, self->anon),
		       "ram");
	EXPECT_REFUSED(self->dst, -ENOENT, pcram_dst_place_page(self->dst, outside, self->page),
		       "place_page");
	EXPECT_REFUSED(self->dst, -EINVAL,
		       pcram_dst_place_page(self->dst, self->anon + 8, self->page), "ram");
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_place_zero(self->dst, self->shm + 1),
		       "shm");
	EXPECT_REFUSED(self->dst, -ENOENT, pcram_dst_place_zero(self->dst, outside),
		       "place_zero");
	EXPECT_REFUSED(self->dst, -ENOENT, pcram_dst_poison(self->dst, outside), "poison");

	/* Batches: an op of unknown type stops the batch there. */
	memset(ops, 0, sizeof(ops));
	ops[0] = (struct pcram_place_op) { .type = 0, .host = self->anon };
	EXPECT_REFUSED(self->dst, 0, pcram_dst_place_batch(self->dst, ops, 1), "type");
	EXPECT_EQ(-EINVAL, ops[0].result);
	ops[0] = (struct pcram_place_op) { .type = 99, .host = self->anon };
	EXPECT_REFUSED(self->dst, 0, pcram_dst_place_batch(self->dst, ops, 1), "99");
	EXPECT_EQ(-EINVAL, ops[0].result);
	ops[0] = (struct pcram_place_op) { .type = PCRAM_OP_COPY, .host = self->anon };
	EXPECT_REFUSED(self->dst, 0, pcram_dst_place_batch(self->dst, ops, 1), "src");
	EXPECT_EQ(-EINVAL, ops[0].result);
	ops[0] = (struct pcram_place_op) { .type = PCRAM_OP_CONTINUE, .host = self->anon };
	EXPECT_REFUSED(self->dst, 0, pcram_dst_place_batch(self->dst, ops, 1), "ram");
	EXPECT_EQ(-EINVAL, ops[0].result);
	ops[0] = (struct pcram_place_op) { .type = PCRAM_OP_ZERO, .host = outside };
	EXPECT_REFUSED(self->dst, 0, pcram_dst_place_batch(self->dst, ops, 1), "place_batch");
	EXPECT_EQ(-ENOENT, ops[0].result);
	EXPECT_EQ(0, pcram_dst_page_received(self->dst, self->anon));

	/* Good ops before a bad one are placed; the count says how many. */
	ops[0] = (struct pcram_place_op) { .type = PCRAM_OP_COPY, .host = self->anon,
					   .src = self->page };
	ops[1] = (struct pcram_place_op) { .type = PCRAM_OP_ZERO, .host = self->anon + ps };
	ops[2] = (struct pcram_place_op) { .type = 42, .host = self->anon + 2 * ps };
	EXPECT_EQ(2, pcram_dst_place_batch(self->dst, ops, 3));
	EXPECT_EQ(0, ops[0].result);
	EXPECT_EQ(0, ops[1].result);
	EXPECT_EQ(-EINVAL, ops[2].result);
	EXPECT_EQ(1, pcram_dst_page_received(self->dst, self->anon));
	EXPECT_EQ(1, pcram_dst_page_received(self->dst, self->anon + ps));
	EXPECT_EQ(0, pcram_dst_page_received(self->dst, self->anon + 2 * ps));
	EXPECT_EQ(0x77, self->anon[5]);
	EXPECT_EQ(0, self->anon[ps + 5]);
	EXPECT_EQ(0, pcram_dst_place_batch(self->dst, ops, 0));
}

TEST_F(calls, tmp_page_checks)
{
	size_t ps = self->ps;
	void *a = NULL, *b = NULL;

	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(self->dst, 3 * ps, &a));
	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(self->dst, ps + ps / 2, &a));
	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(self->dst, ps / 2, &a));
	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(self->dst, 0, &a));
	EXPECT_EQ(NULL, a);

	/* One buffer a size, the same each time, writable. */
	ASSERT_EQ(0, pcram_dst_tmp_page(self->dst, ps, &a));
	ASSERT_EQ(0, pcram_dst_tmp_page(self->dst, ps, &b));
	EXPECT_EQ(a, b);
	memset(a, 0xab, ps);
	ASSERT_EQ(0, pcram_dst_tmp_page(self->dst, 2 * ps, &b));
	EXPECT_NE(a, b);
	memset(b, 0xcd, 2 * ps);
	EXPECT_EQ(0xab, ((uint8_t *)a)[ps - 1]);
}

TEST_F(calls, set_vcpu_checks)
{
	uint32_t tid = (uint32_t)syscall(SYS_gettid);
	struct pcram_thread_stats ts[4];
	int n;

	EXPECT_EQ(-EINVAL, pcram_dst_set_vcpu(self->dst, 0, 0));
	EXPECT_EQ(-EINVAL, pcram_dst_set_vcpu(self->dst, tid, -1));
	EXPECT_EQ(0, pcram_dst_thread_stats(self->dst, NULL, 0, sizeof(struct pcram_thread_stats)));
	ASSERT_EQ(0, pcram_dst_set_vcpu(self->dst, tid, 3));
	/* Naming it again replaces the number. */
	ASSERT_EQ(0, pcram_dst_set_vcpu(self->dst, tid, 5));
	EXPECT_EQ(1, pcram_dst_thread_stats(self->dst, NULL, 0, sizeof(struct pcram_thread_stats)));
	n = pcram_dst_thread_stats(self->dst, ts, 4, sizeof(*ts));
	ASSERT_EQ(1, n);
	EXPECT_EQ(tid, ts[0].tid);
	EXPECT_EQ(5, ts[0].vcpu);
	EXPECT_EQ(0, ts[0].faults);
}

TEST_F(calls, use_image_checks)
{
	size_t ps = self->ps, total = 2 * BLK_PAGES * ps;
	uint64_t offsets[2] = { 0, total / 2 };
	char path[64];
	int img = memfd_create("dst-image", MFD_CLOEXEC);

	ASSERT_LE(0, img);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", img);
	ASSERT_EQ(0, ftruncate(img, total - ps));
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_use_image(self->dst, path, NULL), path);
	ASSERT_EQ(0, ftruncate(img, total));
	offsets[1] = ps + 1;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_use_image(self->dst, path, offsets),
		       "aligned");
	offsets[1] = total / 2 + ps;
	EXPECT_REFUSED(self->dst, -EINVAL, pcram_dst_use_image(self->dst, path, offsets),
		       path);
	EXPECT_REFUSED(self->dst, -ENOENT,
		       pcram_dst_use_image(self->dst, "/nonexistent/pcram.img", NULL),
		       "/nonexistent/pcram.img");
	offsets[1] = total / 2;
	EXPECT_EQ(0, pcram_dst_use_image(self->dst, path, offsets))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(0, pcram_dst_use_image(self->dst, path, NULL));
	close(img);
}

/* ---- pcram_hist_quantile --------------------------------------------------- */

TEST(hist_quantile_empty_is_zero)
{
	struct pcram_hist h;

	memset(&h, 0, sizeof(h));
	EXPECT_EQ(0, pcram_hist_quantile(&h, 0));
	EXPECT_EQ(0, pcram_hist_quantile(&h, 0.5));
	EXPECT_EQ(0, pcram_hist_quantile(&h, 1));
	/* Only the buckets count: a stale max or sum alone is no data. */
	h.max = 1000;
	h.sum = 1000;
	EXPECT_EQ(0, pcram_hist_quantile(&h, 0.99));
}

TEST(hist_quantile_interpolates_inside_a_bucket)
{
	struct pcram_hist h;

	/* Four values in [1024, 2048): ranks 1..4 at quarters of the bucket. */
	memset(&h, 0, sizeof(h));
	h.bucket[10] = 4;
	h.count = 4;
	h.max = 4000;	/* above the bucket: no clamping yet */
	EXPECT_EQ(1280, pcram_hist_quantile(&h, 0));
	EXPECT_EQ(1280, pcram_hist_quantile(&h, 0.25));
	EXPECT_EQ(1536, pcram_hist_quantile(&h, 0.5));
	EXPECT_EQ(1792, pcram_hist_quantile(&h, 0.75));
	/* The top rank is the bucket's largest value, not the next bucket's first. */
	EXPECT_EQ(2047, pcram_hist_quantile(&h, 1));
	/* Out-of-range q is clamped to 0..1. */
	EXPECT_EQ(1280, pcram_hist_quantile(&h, -3));
	EXPECT_EQ(2047, pcram_hist_quantile(&h, 7));

	/* Ranks round to the nearest: q * 4 = 1.4 -> 1, 1.6 -> 2. */
	EXPECT_EQ(1280, pcram_hist_quantile(&h, 0.35));
	EXPECT_EQ(1536, pcram_hist_quantile(&h, 0.40));
}

TEST(hist_quantile_walks_buckets)
{
	struct pcram_hist h;

	/* 2 in [8, 16), 2 in [128, 256), 4 in bucket 0 (0 and 1). */
	memset(&h, 0, sizeof(h));
	h.bucket[0] = 4;
	h.bucket[3] = 2;
	h.bucket[7] = 2;
	h.count = 8;
	h.max = 200;
	EXPECT_EQ(0, pcram_hist_quantile(&h, 0));		/* rank 1: 0 + 2 * 1/4 */
	EXPECT_EQ(1, pcram_hist_quantile(&h, 0.25));		/* rank 2: 0 + 2 * 2/4 */
	EXPECT_EQ(1, pcram_hist_quantile(&h, 0.5));		/* rank 4: top of bucket 0 */
	EXPECT_EQ(12, pcram_hist_quantile(&h, 0.625));		/* rank 5: 8 + 8 * 1/2 */
	EXPECT_EQ(15, pcram_hist_quantile(&h, 0.75));		/* rank 6: top of [8, 16) */
	EXPECT_EQ(192, pcram_hist_quantile(&h, 0.875));	/* rank 7: 128 + 128 * 1/2 */
	/* rank 8 would be 255: clamped to the largest value seen. */
	EXPECT_EQ(200, pcram_hist_quantile(&h, 1));
	EXPECT_EQ(200, pcram_hist_quantile(&h, 0.99));
}

TEST(hist_quantile_never_above_max)
{
	struct pcram_hist h;
	uint64_t prev = 0;

	/* One value of 1: the top of bucket 0 is 1 as well. */
	memset(&h, 0, sizeof(h));
	h.bucket[0] = 1;
	h.count = 1;
	h.sum = 1;
	h.max = 1;
	EXPECT_EQ(1, pcram_hist_quantile(&h, 1));
	EXPECT_EQ(1, pcram_hist_quantile(&h, 0.5));

	/* Only zeros: every quantile is 0, the largest value seen. */
	memset(&h, 0, sizeof(h));
	h.bucket[0] = 5;
	h.count = 5;
	h.max = 0;
	EXPECT_EQ(0, pcram_hist_quantile(&h, 0));
	EXPECT_EQ(0, pcram_hist_quantile(&h, 0.5));
	EXPECT_EQ(0, pcram_hist_quantile(&h, 1));

	/* One value of 100 in [64, 128). */
	memset(&h, 0, sizeof(h));
	h.bucket[6] = 1;
	h.count = 1;
	h.max = 100;
	EXPECT_EQ(100, pcram_hist_quantile(&h, 0.5));

	/* Monotonic in q, and bounded by max, over a spread of buckets. */
	memset(&h, 0, sizeof(h));
	for (int i = 0; i < 40; i++) {
		h.bucket[i] = (uint64_t)(i * 7 % 5);
		h.count += h.bucket[i];
	}
	h.max = (1ULL << 39) + 12345;
	for (int k = 0; k <= 1000; k++) {
		uint64_t v = pcram_hist_quantile(&h, k / 1000.0);

		ASSERT_LE(prev, v) TH_LOG("q = %.3f", k / 1000.0);
		ASSERT_LE(v, h.max) TH_LOG("q = %.3f", k / 1000.0);
		prev = v;
	}
	EXPECT_EQ(h.max, pcram_hist_quantile(&h, 1));
}

TEST(hist_quantile_top_bucket)
{
	struct pcram_hist h;

	/* Values of 2^63 and more: the bucket's top is 2^64 - 1, not 0. */
	memset(&h, 0, sizeof(h));
	h.bucket[63] = 2;
	h.count = 2;
	h.max = UINT64_MAX;
	EXPECT_EQ((1ULL << 63) + (1ULL << 62), pcram_hist_quantile(&h, 0.5));
	EXPECT_EQ(UINT64_MAX, pcram_hist_quantile(&h, 1));
	h.max = (1ULL << 63) + 5;
	EXPECT_EQ(h.max, pcram_hist_quantile(&h, 1));

	/* The bucket below it. */
	memset(&h, 0, sizeof(h));
	h.bucket[62] = 1;
	h.count = 1;
	h.max = UINT64_MAX;
	EXPECT_EQ((1ULL << 63) - 1, pcram_hist_quantile(&h, 1));
}

TEST_HARNESS_MAIN
