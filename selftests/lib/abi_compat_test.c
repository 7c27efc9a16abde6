// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libpcram's ABI, from its callers' side: a program linked to 0.1.0 calls
 * the PCRAM_0.1 versions of the stats calls, which took no size, and must
 * get the 0.1 struct filled and not one byte past it; the current calls
 * fill what the caller's size says: never past it, zeros where the
 * caller's struct is longer than the library's, -EINVAL below the 0.1
 * size. Each struct here is followed by a canary the library must leave.
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "common.h"

/*
 * The 0.1.0 calls, bound to their version as the linker bound them for
 * programs built against that release's header.
 */
int old_probe(struct pcram_probe_result *res);
int old_dst_stats(const struct pcram_dst *dst, struct pcram_dst_stats *st);
int old_dst_kernel_stats(struct pcram_dst *dst, struct pcram_kernel_stats *ks);
int old_dst_thread_stats(const struct pcram_dst *dst,
			 struct pcram_thread_stats *out, unsigned int max);
int old_dst_block_stats(const struct pcram_dst *dst, unsigned int index,
			struct pcram_block_stats *st);
int old_src_stats(const struct pcram_src *src, struct pcram_src_stats *st);
int old_in_stats(const struct pcram_in *in, struct pcram_in_stats *st);
__asm__(".symver old_probe, pcram_probe@PCRAM_0.1");
__asm__(".symver old_dst_stats, pcram_dst_stats@PCRAM_0.1");
__asm__(".symver old_dst_kernel_stats, pcram_dst_kernel_stats@PCRAM_0.1");
__asm__(".symver old_dst_thread_stats, pcram_dst_thread_stats@PCRAM_0.1");
__asm__(".symver old_dst_block_stats, pcram_dst_block_stats@PCRAM_0.1");
__asm__(".symver old_src_stats, pcram_src_stats@PCRAM_0.1");
__asm__(".symver old_in_stats, pcram_in_stats@PCRAM_0.1");

#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* Where each struct of 0.1.0 ended: stated here, apart from the library. */
#define DST_STATS_0_1		END_OF(struct pcram_dst_stats, fault_to_placed)
#define SRC_STATS_0_1		END_OF(struct pcram_src_stats, verified_differ)
#define IN_STATS_0_1		END_OF(struct pcram_in_stats, complete_ns)
#define BLOCK_STATS_0_1		END_OF(struct pcram_block_stats, pages_missing)
#define PROBE_RESULT_0_1	END_OF(struct pcram_probe_result, diagnosis)
/* An array's stride: 0.1's struct with its padding, 32 bytes everywhere. */
#define THREAD_STATS_0_1	32

#define CANARY		0xa5
#define SLACK		256	/* bytes past a struct, canary-filled */

/* A buffer of @n bytes and SLACK more, every byte CANARY. */
static uint8_t *canaried(size_t n)
{
	uint8_t *p = malloc(n + SLACK);

	if (p)
		memset(p, CANARY, n + SLACK);
	return p;
}

/* The first index in [from, to) of @p that is not @byte, or -1. */
static long first_not(const uint8_t *p, size_t from, size_t to, uint8_t byte)
{
	for (size_t i = from; i < to; i++)
		if (p[i] != byte)
			return (long)i;
	return -1;
}

FIXTURE(lib) {
	struct pcram_dst *dst;
	struct pcram_src *src;
	struct pcram_in *in;
	void *mem;
	size_t ps;
};

FIXTURE_SETUP(lib)
{
	struct pcram_block blk;

	self->ps = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	ASSERT_EQ(0, pcram_src_new(&self->src, NULL));
	ASSERT_EQ(0, pcram_in_new(&self->in, NULL));
	self->mem = mmap(NULL, 4 * self->ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	blk = (struct pcram_block) {
		.name = "ram", .host = self->mem, .length = 4 * self->ps,
		.type = PCRAM_BLOCK_ANON, .fd = -1,
	};
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	/* Two named threads, so that a stride shows in the array. */
	ASSERT_EQ(0, pcram_dst_set_vcpu(self->dst, (uint32_t)syscall(SYS_gettid), 7));
	ASSERT_EQ(0, pcram_dst_set_vcpu(self->dst, 1, 9));
}

FIXTURE_TEARDOWN(lib)
{
	pcram_in_free(self->in);
	pcram_src_free(self->src);
	pcram_dst_free(self->dst);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, 4 * self->ps);
}

/*
 * @old filled @n0 bytes of @a and nothing past; @b, filled by the current
 * call with the full size, says the same in those bytes.
 */
#define EXPECT_OLD_FILL(a, b, n0) do {						\
	EXPECT_EQ(-1, first_not(a, n0, n0 + SLACK, CANARY))			\
		TH_LOG("written past the 0.1 struct's %zu bytes", (size_t)(n0));	\
	EXPECT_NE(-1, first_not(a, 0, n0, CANARY)) TH_LOG("nothing filled");	\
	EXPECT_EQ(0, memcmp(a, b, n0)) TH_LOG("0.1 and current calls differ");	\
} while (0)

TEST_F(lib, dst_stats_0_1_fills_the_old_struct_only)
{
	size_t n = sizeof(struct pcram_dst_stats);
	uint8_t *a = canaried(n), *b = canaried(n);

	ASSERT_TRUE(a && b);
	ASSERT_EQ(0, old_dst_stats(self->dst, (struct pcram_dst_stats *)a));
	ASSERT_EQ(0, pcram_dst_stats(self->dst, (struct pcram_dst_stats *)b, n));
	EXPECT_OLD_FILL(a, b, DST_STATS_0_1);
	EXPECT_EQ(4, ((struct pcram_dst_stats *)a)->pages_missing);
	EXPECT_EQ(-EINVAL, old_dst_stats(self->dst, NULL));
	free(a);
	free(b);
}

TEST_F(lib, src_and_in_stats_0_1_fill_the_old_struct_only)
{
	size_t ns = sizeof(struct pcram_src_stats), ni = sizeof(struct pcram_in_stats);
	uint8_t *a = canaried(ns), *b = canaried(ns), *c = canaried(ni), *d = canaried(ni);

	ASSERT_TRUE(a && b && c && d);
	ASSERT_EQ(0, old_src_stats(self->src, (struct pcram_src_stats *)a));
	ASSERT_EQ(0, pcram_src_stats(self->src, (struct pcram_src_stats *)b, ns));
	EXPECT_OLD_FILL(a, b, SRC_STATS_0_1);
	ASSERT_EQ(0, old_in_stats(self->in, (struct pcram_in_stats *)c));
	ASSERT_EQ(0, pcram_in_stats(self->in, (struct pcram_in_stats *)d, ni));
	EXPECT_OLD_FILL(c, d, IN_STATS_0_1);
	free(a);
	free(b);
	free(c);
	free(d);
}

TEST_F(lib, block_stats_0_1_fills_the_old_struct_only)
{
	size_t n = sizeof(struct pcram_block_stats);
	uint8_t *a = canaried(n), *b = canaried(n);

	ASSERT_TRUE(a && b);
	ASSERT_EQ(0, old_dst_block_stats(self->dst, 0, (struct pcram_block_stats *)a));
	ASSERT_EQ(0, pcram_dst_block_stats(self->dst, 0, (struct pcram_block_stats *)b, n));
	EXPECT_OLD_FILL(a, b, BLOCK_STATS_0_1);
	EXPECT_EQ(4, ((struct pcram_block_stats *)a)->pages_missing);
	EXPECT_EQ(-ENOENT, old_dst_block_stats(self->dst, 1, (struct pcram_block_stats *)a));
	free(a);
	free(b);
}

TEST_F(lib, thread_stats_0_1_uses_the_old_stride)
{
	size_t n = 2 * THREAD_STATS_0_1;
	uint8_t *a = canaried(n);
	struct pcram_thread_stats t[2];

	ASSERT_NE(NULL, a);
	ASSERT_EQ(THREAD_STATS_0_1, sizeof(struct pcram_thread_stats));
	ASSERT_EQ(2, old_dst_thread_stats(self->dst, (struct pcram_thread_stats *)a, 2));
	ASSERT_EQ(2, pcram_dst_thread_stats(self->dst, t, 2, sizeof(t[0])));
	EXPECT_OLD_FILL(a, t, n);
	EXPECT_EQ(2, old_dst_thread_stats(self->dst, NULL, 0));
	free(a);
}

TEST_F(lib, kernel_stats_0_1_is_there)
{
	struct pcram_kernel_stats ks;

	/* Without pcram.ko attached it can only refuse; the VM run fills. */
	EXPECT_EQ(-EINVAL, old_dst_kernel_stats(self->dst, NULL));
	EXPECT_EQ(-ENODEV, old_dst_kernel_stats(self->dst, &ks));
}

TEST(probe_0_1_fills_the_old_struct_only)
{
	size_t n = sizeof(struct pcram_probe_result);
	uint8_t *a = canaried(n), *b = canaried(n);
	struct pcram_probe_result *ra = (void *)a, *rb = (void *)b;

	ASSERT_TRUE(a && b);
	/* Either may fail on this host; both say the same. */
	EXPECT_EQ(old_probe(ra), pcram_probe(rb, n));
	EXPECT_EQ(-1, first_not(a, PROBE_RESULT_0_1, PROBE_RESULT_0_1 + SLACK, CANARY));
	EXPECT_EQ(ra->opener, rb->opener);
	EXPECT_EQ(ra->features, rb->features);
	EXPECT_EQ(ra->page_size, rb->page_size);
	EXPECT_STREQ(ra->diagnosis, rb->diagnosis);
	EXPECT_EQ(-EINVAL, old_probe(NULL));
	free(a);
	free(b);
}

/* ---- the sized calls ------------------------------------------------------ */

TEST_F(lib, a_size_below_the_0_1_struct_is_refused)
{
	size_t n = sizeof(struct pcram_dst_stats);
	uint8_t *a = canaried(n);

	ASSERT_NE(NULL, a);
	EXPECT_EQ(-EINVAL, pcram_dst_stats(self->dst, (void *)a, 0));
	EXPECT_EQ(-EINVAL, pcram_dst_stats(self->dst, (void *)a, DST_STATS_0_1 - 1));
	EXPECT_EQ(-EINVAL, pcram_src_stats(self->src, (void *)a, SRC_STATS_0_1 - 1));
	EXPECT_EQ(-EINVAL, pcram_in_stats(self->in, (void *)a, IN_STATS_0_1 - 1));
	EXPECT_EQ(-EINVAL, pcram_dst_block_stats(self->dst, 0, (void *)a, BLOCK_STATS_0_1 - 1));
	EXPECT_EQ(-EINVAL, pcram_dst_thread_stats(self->dst, (void *)a, 1, 8));
	EXPECT_EQ(-EINVAL, pcram_dst_kernel_stats(self->dst, (void *)a, 8));
	EXPECT_EQ(-EINVAL, pcram_probe((void *)a, PROBE_RESULT_0_1 - 1));
	/* Refused before anything is written. */
	EXPECT_EQ(-1, first_not(a, 0, n + SLACK, CANARY));
	free(a);
}

/*
 * A caller built against a newer header, whose struct is longer: the
 * library fills its own, zeroes the rest of the caller's, and stops at
 * the caller's size.
 */
TEST_F(lib, a_longer_struct_gets_zeros_up_to_its_size)
{
	size_t n = sizeof(struct pcram_dst_stats), big = n + 40;
	uint8_t *a = canaried(big), *b = canaried(n);

	ASSERT_TRUE(a && b);
	ASSERT_EQ(0, pcram_dst_stats(self->dst, (void *)a, big));
	ASSERT_EQ(0, pcram_dst_stats(self->dst, (void *)b, n));
	EXPECT_EQ(0, memcmp(a, b, n));
	EXPECT_EQ(-1, first_not(a, n, big, 0));
	EXPECT_EQ(-1, first_not(a, big, big + SLACK - 40, CANARY));
	free(a);
	free(b);
}

TEST_F(lib, thread_stats_elements_are_size_apart)
{
	size_t n = sizeof(struct pcram_thread_stats), stride = n + 24;
	uint8_t *a = canaried(2 * stride);
	struct pcram_thread_stats t[2];

	ASSERT_NE(NULL, a);
	ASSERT_EQ(2, pcram_dst_thread_stats(self->dst, t, 2, n));
	/* Room for one only: the count says two, one is written. */
	ASSERT_EQ(2, pcram_dst_thread_stats(self->dst, (void *)a, 1, stride));
	EXPECT_EQ(0, memcmp(a, &t[0], n));
	EXPECT_EQ(-1, first_not(a, n, stride, 0));
	EXPECT_EQ(-1, first_not(a, stride, 2 * stride + SLACK, CANARY));
	ASSERT_EQ(2, pcram_dst_thread_stats(self->dst, (void *)a, 2, stride));
	EXPECT_EQ(0, memcmp(a + stride, &t[1], n));
	EXPECT_EQ(-1, first_not(a, stride + n, 2 * stride, 0));
	EXPECT_EQ(-1, first_not(a, 2 * stride, 2 * stride + SLACK, CANARY));
	free(a);
}

TEST_HARNESS_MAIN
