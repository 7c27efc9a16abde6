// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The built-in image provider, pcram_dst_use_image(): lazy restore of two
 * RAM blocks from a memory image, laid out back to back or at explicit
 * offsets, touched page by page from several threads in random order; and
 * the images and calls it refuses.
 *
 * Threads that may block on the userfaultfd are waited for with a
 * deadline; teardown's pcram_dst_cleanup() releases any still blocked
 * before they are joined.
 */
#include <inttypes.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "common.h"
#include "memory.h"
#include "dst_util.h"

#define NR_THREADS	8
#define GARBAGE		0xaa		/* image bytes no block may receive */

/* ---- the image ------------------------------------------------------------ */

/* Page @page of block @block is all zeros in the image: a third of them. */
static bool zero_page(unsigned int block, size_t page, size_t pages_per_block)
{
	return (block * pages_per_block + page) % 3 == 1;
}

/*
 * Write block @block's pages at @at in @fd: content_fill() of a generation
 * per block, so that a page from the wrong block, page or offset never
 * matches. Zero pages are written as zeros, or left a hole when @holes:
 * both read as zeros.
 */
static int image_write_block(int fd, off_t at, unsigned int block, size_t pages,
			     size_t ps, bool holes, uint8_t *buf)
{
	for (size_t p = 0; p < pages; p++) {
		bool zero = zero_page(block, p, pages);

		if (zero && holes)
			continue;
		if (zero)
			memset(buf, 0, ps);
		else
			content_fill(buf, p, ps, 10 + block);
		if (pwrite(fd, buf, ps, at + (off_t)(p * ps)) != (ssize_t)ps)
			return -errno;
	}
	return 0;
}

static int image_write_garbage(int fd, off_t at, size_t len)
{
	uint8_t buf[4096];

	memset(buf, GARBAGE, sizeof(buf));
	for (size_t done = 0; done < len; done += sizeof(buf))
		if (pwrite(fd, buf, sizeof(buf), at + (off_t)done) != sizeof(buf))
			return -errno;
	return 0;
}

/* ==== lazy restore, one memory kind at a time ================================== */

FIXTURE(image) {
	struct test_region r[2];
	size_t pages, ps;		/* per block */
	struct pcram_dst *dst;
	struct pcram_block blk[2];	/* by block index (address order) */
	int fd;
	char path[64];
	bool unlink_path;
	uint8_t *map;			/* the image, to compare against */
	size_t size;
	struct crowd *crowd;
};

MEMORY_VARIANTS(image);

FIXTURE_SETUP(image)
{
	const char *why;

	self->fd = -1;
	/*
	 * Two blocks of a 1 GiB page each: two reserved pages, and gigabytes
	 * written and copied in the kernel (34 s per GiB under TCG).
	 * dst_place_test places a 1 GiB page.
	 */
	if (variant->mem == MEM_HUGETLB_1G)
		SETUP_SKIP("two 1 GiB blocks: two reserved 1 GiB pages and over a minute under TCG; dst_place_test covers 1 GiB placement");
	/* Per block; each toucher touches both blocks' pages (TOUCH_MAX). */
	self->pages = region_pages(variant->mem, 48, 2, 0);
	for (int i = 0; i < 2; i++) {
		why = region_map(&self->r[i], variant->mem, self->pages);
		if (why)
			SETUP_SKIP("%s", why);
	}
	self->ps = self->r[0].page_size;
	self->crowd = calloc(1, sizeof(*self->crowd));
	ASSERT_NE(NULL, self->crowd);
	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	for (int i = 0; i < 2; i++) {
		struct pcram_block b = region_block(&self->r[i], i ? "pc.ram-b" : "pc.ram-a");

		ASSERT_EQ(0, pcram_dst_add_block(self->dst, &b))
			TH_LOG("%s", pcram_dst_strerror(self->dst));
	}
	for (unsigned int i = 0; i < 2; i++)
		ASSERT_EQ(0, pcram_dst_block(self->dst, i, &self->blk[i]));
}

FIXTURE_TEARDOWN(image)
{
	dst_release_crowd(self->dst, self->crowd);
	pcram_dst_free(self->dst);
	free(self->crowd);
	if (self->map)
		munmap(self->map, self->size);
	if (self->fd >= 0)
		close(self->fd);
	if (self->unlink_path)
		unlink(self->path);
	region_unmap(&self->r[0]);
	region_unmap(&self->r[1]);
}

/*
 * Restore from the image at self->path, block i at @offsets[i] (or back to
 * back): every page touched by NR_THREADS threads, each in its own random
 * order; then the blocks are the image, byte for byte, and the zero pages
 * went in as zero pages.
 */
static void restore_and_check(struct __test_metadata *_metadata,
			      FIXTURE_DATA(image) *self, const uint64_t *offsets)
{
	size_t len = self->pages * self->ps, total = 2 * self->pages, zeros = 0;
	uint64_t off[2];
	struct pcram_dst_stats st;
	int ret;

	for (unsigned int b = 0; b < 2; b++)
		off[b] = offsets ? offsets[b] : b * len;
	for (unsigned int b = 0; b < 2; b++)
		for (size_t p = 0; p < self->pages; p++)
			zeros += zero_page(b, p, self->pages);
	self->map = mmap(NULL, self->size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->map);

	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	ASSERT_EQ(0, pcram_dst_use_image(self->dst, self->path, offsets))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	ret = pcram_dst_enable_notify(self->dst);
	if (ret == -EOPNOTSUPP)
		SKIP(return, "%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, ret) TH_LOG("%s", pcram_dst_strerror(self->dst));

	for (unsigned int i = 0; i < NR_THREADS; i++) {
		struct toucher *t = crowd_add_thread(self->crowd, self->ps);

		/* Pages numbered across both blocks, in address order. */
		t->seed = 0x1ade + i * 104729;
		for (unsigned int b = 0; b < 2; b++)
			for (size_t p = 0; p < self->pages; p++)
				toucher_add(t, (uint8_t *)self->blk[b].host + p * self->ps,
					    self->map + off[b] + p * self->ps,
					    (long)(b * self->pages + p));
		toucher_shuffle(t);
	}
	ASSERT_EQ(0, crowd_start_together(self->crowd));
	ASSERT_EQ(0, crowd_wait(self->crowd, DEADLINE_MS)) TH_LOG("threads still blocked: lost wakeup");
	EXPECT_CROWD_READ_RIGHT(self->crowd);

	for (unsigned int b = 0; b < 2; b++) {
		long at = first_diff(self->blk[b].host, self->map + off[b], len);

		EXPECT_EQ(-1, at) TH_LOG("block %s differs from the image at %ld",
					 self->blk[b].name, at);
	}
	/* The last placement wakes its thread before it is counted. */
	ASSERT_TRUE(WAIT_FOR(stats_of(self->dst).pages_placed >= total, DEADLINE_MS))
		TH_LOG("%" PRIu64 " of %zu pages counted", stats_of(self->dst).pages_placed, total);
	SETTLE(faults_sorted(self->dst));
	st = stats_of(self->dst);
	EXPECT_EQ(total, st.requests);
	EXPECT_EQ(total, st.pages_placed);
	EXPECT_EQ(zeros, st.zero_pages);
	EXPECT_EQ(total * self->ps, st.bytes_placed);
	EXPECT_EQ(0, st.pages_missing);
	EXPECT_EQ(0, st.eexist);
	EXPECT_EQ(0, st.provider_errors);
	/* The documented identity: a refault is rare but allowed (one was
	 * seen under load; its cause is not pinned down yet). */
	EXPECT_EQ(st.faults, st.requests + st.duplicates + st.stale + st.refaults + st.outside)
		TH_LOG("requests %llu duplicates %llu stale %llu refaults %llu outside %llu",
		       (unsigned long long)st.requests, (unsigned long long)st.duplicates,
		       (unsigned long long)st.stale, (unsigned long long)st.refaults,
		       (unsigned long long)st.outside);
	for (unsigned int b = 0; b < 2; b++) {
		struct pcram_block_stats bs;
		size_t bz = 0;

		for (size_t p = 0; p < self->pages; p++)
			bz += zero_page(b, p, self->pages);
		ASSERT_EQ(0, pcram_dst_block_stats(self->dst, b, &bs, sizeof(bs)));
		EXPECT_EQ(self->pages, bs.pages_placed);
		EXPECT_EQ(self->pages, bs.requests);
		EXPECT_EQ(bz, bs.zero_pages);
		EXPECT_EQ(0, bs.pages_missing);
	}

	/* Too late to change the provider now. */
	EXPECT_EQ(-EBUSY, pcram_dst_use_image(self->dst, self->path, offsets));
}

/* An image file in /tmp, the blocks back to back, zero pages written out. */
TEST_F_TIMEOUT(image, back_to_back_file, 60)
{
	size_t len = self->pages * self->ps;
	uint8_t *buf = malloc(self->ps);

	ASSERT_NE(NULL, buf);
	strcpy(self->path, "/tmp/pcram-image-XXXXXX");
	self->fd = mkstemp(self->path);
	ASSERT_LE(0, self->fd);
	self->unlink_path = true;
	self->size = 2 * len;
	for (unsigned int b = 0; b < 2; b++)
		ASSERT_EQ(0, image_write_block(self->fd, (off_t)(b * len), b, self->pages,
					       self->ps, false, buf));
	free(buf);
	restore_and_check(_metadata, self, NULL);
}

/*
 * A memfd image opened by its /proc/self/fd path, the blocks in reverse
 * order at explicit offsets with garbage around them, zero pages as holes.
 */
TEST_F_TIMEOUT(image, explicit_offsets_memfd, 60)
{
	size_t len = self->pages * self->ps, gap = 4096;
	uint64_t offsets[2] = { gap + len + gap, gap };
	uint8_t *buf = malloc(self->ps);

	ASSERT_NE(NULL, buf);
	self->fd = memfd_create("pcram-image", MFD_CLOEXEC);
	ASSERT_LE(0, self->fd);
	snprintf(self->path, sizeof(self->path), "/proc/self/fd/%d", self->fd);
	self->size = gap + len + gap + len + gap;
	ASSERT_EQ(0, ftruncate(self->fd, (off_t)self->size));
	ASSERT_EQ(0, image_write_garbage(self->fd, 0, gap));
	ASSERT_EQ(0, image_write_block(self->fd, (off_t)offsets[1], 1, self->pages, self->ps,
				       true, buf));
	ASSERT_EQ(0, image_write_garbage(self->fd, (off_t)(gap + len), gap));
	ASSERT_EQ(0, image_write_block(self->fd, (off_t)offsets[0], 0, self->pages, self->ps,
				       true, buf));
	ASSERT_EQ(0, image_write_garbage(self->fd, (off_t)(self->size - gap), gap));
	free(buf);
	restore_and_check(_metadata, self, offsets);
}

/* ==== images and calls refused ================================================= */

#define ERR_PAGES 16

FIXTURE(refused) {
	struct test_region r;
	struct pcram_dst *dst;
	char path[64];
	int fd;
};

FIXTURE_SETUP(refused)
{
	struct pcram_block b;
	const char *why = region_map(&self->r, MEM_ANON, ERR_PAGES);

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	b = region_block(&self->r, "pc.ram");
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &b));
	/* An image one page short of the block. */
	strcpy(self->path, "/tmp/pcram-image-XXXXXX");
	self->fd = mkstemp(self->path);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, (off_t)(self->r.length - self->r.page_size)));
}

FIXTURE_TEARDOWN(refused)
{
	pcram_dst_free(self->dst);
	if (self->fd >= 0) {
		close(self->fd);
		unlink(self->path);
	}
	region_unmap(&self->r);
}

static bool says(const struct pcram_dst *dst, const char *what)
{
	return strstr(pcram_dst_strerror(dst), what) != NULL;
}

TEST_F(refused, too_short)
{
	uint64_t past_end[1] = { 2 * self->r.page_size };

	EXPECT_EQ(-EINVAL, pcram_dst_use_image(self->dst, self->path, NULL));
	EXPECT_TRUE(says(self->dst, self->path)) TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_TRUE(says(self->dst, "pc.ram")) TH_LOG("%s", pcram_dst_strerror(self->dst));

	/* Long enough, but not from this offset. */
	ASSERT_EQ(0, ftruncate(self->fd, (off_t)self->r.length));
	EXPECT_EQ(-EINVAL, pcram_dst_use_image(self->dst, self->path, past_end));
	EXPECT_TRUE(says(self->dst, "pc.ram")) TH_LOG("%s", pcram_dst_strerror(self->dst));

	/* Refusals leave no provider behind. */
	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	EXPECT_EQ(-EINVAL, pcram_dst_enable_notify(self->dst));
	EXPECT_TRUE(says(self->dst, "no provider")) TH_LOG("%s", pcram_dst_strerror(self->dst));
}

TEST_F(refused, missing_file)
{
	char path[64];

	snprintf(path, sizeof(path), "/tmp/pcram-no-such-image-%d", getpid());
	EXPECT_EQ(-ENOENT, pcram_dst_use_image(self->dst, path, NULL));
	EXPECT_TRUE(says(self->dst, path)) TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(-EINVAL, pcram_dst_use_image(self->dst, NULL, NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_use_image(NULL, path, NULL));
}

TEST_F(refused, unaligned_offset)
{
	uint64_t offsets[1] = { 100 };

	ASSERT_EQ(0, ftruncate(self->fd, (off_t)(2 * self->r.length)));
	EXPECT_EQ(-EINVAL, pcram_dst_use_image(self->dst, self->path, offsets));
	EXPECT_TRUE(says(self->dst, "aligned")) TH_LOG("%s", pcram_dst_strerror(self->dst));
	/* The same image at an aligned offset is fine. */
	offsets[0] = self->r.page_size;
	EXPECT_EQ(0, pcram_dst_use_image(self->dst, self->path, offsets))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
}

TEST_F(refused, after_enable_notify)
{
	ASSERT_EQ(0, ftruncate(self->fd, (off_t)self->r.length));
	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	ASSERT_EQ(0, pcram_dst_use_image(self->dst, self->path, NULL))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, pcram_dst_enable_notify(self->dst)) TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(-EBUSY, pcram_dst_use_image(self->dst, self->path, NULL));
	ASSERT_EQ(0, pcram_dst_cleanup(self->dst));
	EXPECT_EQ(-EBUSY, pcram_dst_use_image(self->dst, self->path, NULL));
}

/* The image is laid out for the blocks there were: adding one later is refused. */
TEST_F(refused, block_added_after_image)
{
	struct test_region more;
	struct pcram_block b;
	const char *why = region_map(&more, MEM_ANON, 1);

	ASSERT_EQ(NULL, why);
	ASSERT_EQ(0, ftruncate(self->fd, (off_t)self->r.length));
	ASSERT_EQ(0, pcram_dst_use_image(self->dst, self->path, NULL));
	b = region_block(&more, "pc.rom");
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &b));
	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	EXPECT_EQ(-EINVAL, pcram_dst_enable_notify(self->dst));
	EXPECT_TRUE(says(self->dst, "after")) TH_LOG("%s", pcram_dst_strerror(self->dst));
	pcram_dst_free(self->dst);
	self->dst = NULL;
	region_unmap(&more);
}

TEST(use_image_needs_blocks)
{
	struct pcram_dst *dst;

	ASSERT_EQ(0, pcram_dst_new(&dst, NULL));
	EXPECT_EQ(-EINVAL, pcram_dst_use_image(dst, "/dev/null", NULL));
	EXPECT_NE(0, strlen(pcram_dst_strerror(dst)));
	pcram_dst_free(dst);
}

TEST_HARNESS_MAIN
