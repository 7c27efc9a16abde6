// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What a thread woken by a placement sees of the engine's counters: its
 * page received, one page fewer missing, one more placed, at once. The
 * placement's ioctl wakes the thread before it returns, so counts taken
 * after the ioctl show the woken thread a page still missing (a restore
 * that reported "1 missing" with every byte in). Everything runs on one
 * CPU, where the woken thread most often runs before the placer resumes.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "common.h"
#include "memory.h"
#include "dst_util.h"

#define PAGES 512

/* What a provider does for a request, on the fault thread. */
enum how { HOW_PAGE, HOW_ZERO, HOW_BATCH };

struct ctx {
	struct pcram_dst *dst;
	uint8_t *host, *src;
	size_t ps;
	enum how how;
};

static int provide(struct pcram_dst *dst, const struct pcram_request *req, void *opaque)
{
	struct ctx *c = opaque;
	struct pcram_place_op op = {
		.type = PCRAM_OP_COPY, .host = req->host, .src = c->src + req->offset,
	};

	if (c->how == HOW_PAGE)
		return pcram_dst_place_page(dst, req->host, c->src + req->offset) < 0 ? -EIO : 0;
	if (c->how == HOW_ZERO)
		return pcram_dst_place_zero(dst, req->host) < 0 ? -EIO : 0;
	return pcram_dst_place_batch(dst, &op, 1) == 1 && !op.result ? 0 : -EIO;
}

FIXTURE(woken) {
	struct ctx c;
	uint8_t *region;
};

FIXTURE_VARIANT(woken) {
	enum how how;
};

FIXTURE_VARIANT_ADD(woken, place_page) { .how = HOW_PAGE };
FIXTURE_VARIANT_ADD(woken, place_zero) { .how = HOW_ZERO };
FIXTURE_VARIANT_ADD(woken, place_batch) { .how = HOW_BATCH };

FIXTURE_SETUP(woken)
{
	struct pcram_provider prov = { .request = provide, .opaque = &self->c };
	struct pcram_dst_options opts = { .fault_threads = 1 };
	struct pcram_block b = { .name = "pc.ram", .type = PCRAM_BLOCK_ANON, .fd = -1 };
	cpu_set_t one;

	/* This test's process, every thread it starts too, on one CPU. */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));

	self->c.how = variant->how;
	self->c.ps = (size_t)sysconf(_SC_PAGESIZE);
	self->region = mmap(NULL, PAGES * self->c.ps, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	self->c.src = mmap(NULL, PAGES * self->c.ps, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->region);
	ASSERT_NE(MAP_FAILED, self->c.src);
	for (size_t p = 0; p < PAGES; p++)
		memset(self->c.src + p * self->c.ps, (int)(p % 251) + 1, self->c.ps);
	self->c.host = self->region;
	b.host = self->region;
	b.length = PAGES * self->c.ps;
	b.page_size = self->c.ps;
	ASSERT_EQ(0, pcram_dst_new(&self->c.dst, &opts));
	ASSERT_EQ(0, pcram_dst_add_block(self->c.dst, &b));
	ASSERT_EQ(0, pcram_dst_set_provider(self->c.dst, &prov));
	ASSERT_EQ(0, pcram_dst_incoming_init(self->c.dst));
	ASSERT_EQ(0, pcram_dst_enable_notify(self->c.dst))
		TH_LOG("%s", pcram_dst_strerror(self->c.dst));
}

FIXTURE_TEARDOWN(woken)
{
	pcram_dst_cleanup(self->c.dst);
	pcram_dst_free(self->c.dst);
	munmap(self->region, PAGES * self->c.ps);
	munmap(self->c.src, PAGES * self->c.ps);
}

/*
 * Touch every page in turn; right after each touch returns, the counters
 * must already say so. A count taken after the ioctl fails this on most
 * runs (hundreds of pages a run).
 */
TEST_F_TIMEOUT(woken, counts_are_settled_when_the_thread_runs, 60)
{
	unsigned int late_missing = 0, late_received = 0, late_placed = 0;
	uint8_t want;

	for (size_t p = 0; p < PAGES; p++) {
		const volatile uint8_t *at = self->c.host + p * self->c.ps;
		struct pcram_dst_stats st;
		uint8_t got = at[7];	/* faults; the placement wakes us */

		want = variant->how == HOW_ZERO ? 0 : (uint8_t)(p % 251) + 1;
		ASSERT_EQ(want, got) TH_LOG("page %zu", p);
		late_received += pcram_dst_page_received(self->c.dst, (void *)at) != 1;
		late_missing += pcram_dst_pages_missing(self->c.dst) != PAGES - p - 1;
		ASSERT_EQ(0, pcram_dst_stats(self->c.dst, &st, sizeof(st)));
		late_placed += st.pages_placed != p + 1;
	}
	EXPECT_EQ(0, late_received);
	EXPECT_EQ(0, late_missing) TH_LOG("pages_missing lagged the wake %u of %u times",
					  late_missing, PAGES);
	EXPECT_EQ(0, late_placed) TH_LOG("pages_placed lagged the wake %u of %u times",
					 late_placed, PAGES);
	EXPECT_EQ(0, pcram_dst_pages_missing(self->c.dst));
}

TEST_HARNESS_MAIN
