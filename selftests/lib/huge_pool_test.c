// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A hugetlb block whose pool has no page to give: a placement there is an
 * error, never "in already". Some kernels fail such a UFFDIO_COPY with
 * EEXIST (6.18 does), which libpcram used to count as a page in: the
 * faulting thread then waited for good. Here the page stays missing, its
 * thread stays blocked (not woken into a page that is not there), and a
 * placement once the pool has a page brings the data and wakes it.
 *
 * The pool is the machine's: the fixture shrinks it to its pages in use
 * (none free), as root, and gives it back afterwards.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "common.h"
#include "memory.h"
#include "dst_util.h"

#define HUGE (2UL << 20)

struct toucher_arg {
	const volatile uint8_t *page;
	_Atomic bool done;
	uint8_t seen;
};

static void *toucher(void *arg)
{
	struct toucher_arg *t = arg;

	t->seen = t->page[4096];
	t->done = true;
	return NULL;
}

struct asked {
	_Atomic unsigned int n;
};

static int note_request(struct pcram_dst *dst, const struct pcram_request *req, void *opaque)
{
	struct asked *a = opaque;

	a->n++;
	return 0;
}

FIXTURE(pool) {
	long saved;
	uint8_t *host, *src;
	struct pcram_dst *dst;
	struct asked asked;
};

FIXTURE_SETUP(pool)
{
	struct pcram_provider prov = { .request = note_request, .opaque = &self->asked };
	struct pcram_block b = { .name = "pc.ram", .length = 2 * HUGE, .page_size = HUGE,
				 .type = PCRAM_BLOCK_HUGETLB, .fd = -1 };
	const char *why;

	self->saved = huge_pool_read("nr_hugepages");
	why = huge_pool_set_free(0);
	if (why)
		SETUP_SKIP("%s", why);
	/* MAP_NORESERVE: the pool is not asked at mmap, only at placement. */
	self->host = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->host);
	self->src = mmap(NULL, HUGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->src);
	memset(self->src, 0xa5, HUGE);
	b.host = self->host;
	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &b));
	ASSERT_EQ(0, pcram_dst_set_provider(self->dst, &prov));
	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	ASSERT_EQ(0, pcram_dst_enable_notify(self->dst)) TH_LOG("%s",
		pcram_dst_strerror(self->dst));
}

FIXTURE_TEARDOWN(pool)
{
	if (self->dst) {
		pcram_dst_cleanup(self->dst);
		pcram_dst_free(self->dst);
	}
	if (self->host && self->host != MAP_FAILED)
		munmap(self->host, 2 * HUGE);
	if (self->src && self->src != MAP_FAILED)
		munmap(self->src, HUGE);
	if (self->saved >= 0)
		huge_pool_write(self->saved);
}

/* place_page: an error naming the pool, and nothing counted in. */
TEST_F(pool, empty_pool_placement_is_an_error)
{
	struct pcram_dst_stats st;
	int ret;

	ret = pcram_dst_place_page(self->dst, self->host, self->src);
	EXPECT_EQ(-ENOMEM, ret) TH_LOG("place_page returned %d: %s", ret,
				       pcram_dst_strerror(self->dst));
	EXPECT_NE(NULL, strstr(pcram_dst_strerror(self->dst), "huge page pool"))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(0, pcram_dst_page_received(self->dst, self->host));
	EXPECT_EQ(2, pcram_dst_pages_missing(self->dst));
	ASSERT_EQ(0, pcram_dst_stats(self->dst, &st, sizeof(st)));
	EXPECT_EQ(0, st.pages_placed);
	EXPECT_EQ(0, st.eexist);

	/* The zero page goes the same way (a COPY of zeros on hugetlbfs). */
	EXPECT_EQ(-ENOMEM, pcram_dst_place_zero(self->dst, self->host + HUGE));
	EXPECT_EQ(2, pcram_dst_pages_missing(self->dst));
}

/* place_batch: the op that failed says so; the batch stops there. */
TEST_F(pool, empty_pool_batch_stops_at_the_page)
{
	struct pcram_place_op ops[2] = {
		{ .type = PCRAM_OP_COPY, .host = self->host, .src = self->src },
		{ .type = PCRAM_OP_ZERO, .host = self->host + HUGE },
	};
	int ret = pcram_dst_place_batch(self->dst, ops, 2);

	EXPECT_EQ(0, ret) TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(-ENOMEM, ops[0].result);
	EXPECT_EQ(2, pcram_dst_pages_missing(self->dst));
	EXPECT_EQ(0, pcram_dst_page_received(self->dst, self->host));
}

/*
 * A thread blocked on the page stays blocked while the placement fails
 * (it is not woken into a page that is not there), and finds the data
 * once a page is free and the placement is made again.
 */
TEST_F_TIMEOUT(pool, blocked_thread_waits_for_a_real_page, 60)
{
	struct toucher_arg t = { .page = self->host };
	pthread_t th;
	const char *why;

	ASSERT_EQ(0, pthread_create(&th, NULL, toucher, &t));
	ASSERT_TRUE(WAIT_FOR(self->asked.n >= 1, DEADLINE_MS));
	EXPECT_EQ(-ENOMEM, pcram_dst_place_page(self->dst, self->host, self->src));
	usleep(200 * 1000);
	EXPECT_FALSE(t.done) TH_LOG("the thread ran on a page that is not there");
	EXPECT_EQ(2, pcram_dst_pages_missing(self->dst));

	why = huge_pool_set_free(1);
	ASSERT_EQ(NULL, why) TH_LOG("%s", why);
	EXPECT_EQ(0, pcram_dst_place_page(self->dst, self->host, self->src))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_TRUE(WAIT_FOR(t.done, DEADLINE_MS));
	pthread_join(th, NULL);
	EXPECT_EQ(0xa5, t.seen);
	EXPECT_EQ(1, pcram_dst_pages_missing(self->dst));
}

TEST_HARNESS_MAIN
