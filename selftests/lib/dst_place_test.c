// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The destination engine's placement calls, on every kind of memory:
 * place_page and place_zero, a second placement of a page, the EEXIST
 * race between a background placement and faults, discard and refetch,
 * place_batch, place_continue through the shared alias, poison and the
 * scratch pages.
 *
 * Threads that may block on the userfaultfd are waited for with a
 * deadline; teardown's pcram_dst_cleanup() releases any still blocked
 * before they are joined.
 */
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/utsname.h>
#include <pcram.h>

#include <linux/pcram.h>
#include "kselftest_harness.h"
#include "common.h"
#include "memory.h"
#include "dst_util.h"

#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON	(1 << 14)
#endif

#define MAX_PAGES	64		/* of the largest region */

/* ---- content ------------------------------------------------------------ */

/* Offset of the first byte that is not zero, or -1. */
static long first_nonzero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return (long)i;
	return -1;
}

/* ---- SIGBUS, caught per thread ----------------------------------------- */

static __thread sigjmp_buf *bus_jump;
static __thread void *bus_addr;
static __thread int bus_code;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (!bus_jump)
		abort();	/* a SIGBUS nobody expected */
	bus_addr = si->si_addr;
	bus_code = si->si_code;
	siglongjmp(*bus_jump, 1);
}

static int catch_sigbus(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL);
}

/* Read @p; true if that raised SIGBUS, its address in *@addr. */
static bool read_gets_sigbus(const volatile uint8_t *p, void **addr, int *code)
{
	sigjmp_buf jb;

	bus_jump = &jb;
	if (sigsetjmp(jb, 1)) {
		bus_jump = NULL;
		*addr = bus_addr;
		*code = bus_code;
		return true;
	}
	(void)*p;
	bus_jump = NULL;
	return false;
}

struct bus_reader {
	pthread_t thread;
	const volatile uint8_t *addr;
	_Atomic bool done;
	bool sigbus;
	void *bus_addr;
	int bus_code;
};

static void *bus_reader_main(void *arg)
{
	struct bus_reader *br = arg;

	br->sigbus = read_gets_sigbus(br->addr, &br->bus_addr, &br->bus_code);
	br->done = true;
	return NULL;
}

/* ==== the fixture: one region of each kind, watched ======================= */

FIXTURE(place) {
	struct test_region r;
	size_t pages, ps;
	uint8_t *gen1, *gen2;	/* two generations of the content */
	struct pcram_dst *dst;
	struct source_feed feed;	/* places from gen1, or only counts */
	struct crowd *crowd;
	pthread_t bg;		/* a background placer */
	bool bg_started;
	struct bus_reader *bus;
};

MEMORY_VARIANTS(place);

static void make_sources(struct __test_metadata *_metadata, FIXTURE_DATA(place) *self)
{
	if (self->gen1)
		return;
	self->gen1 = source_make(self->pages, self->ps, 1);
	self->gen2 = source_make(self->pages, self->ps, 2);
	ASSERT_NE(NULL, self->gen1);
	ASSERT_NE(NULL, self->gen2);
	self->feed.src[0] = self->gen1;
}

FIXTURE_SETUP(place)
{
	struct pcram_provider prov = { .request = source_feed_request, .opaque = &self->feed };
	struct pcram_block b;
	const char *why;
	int ret;

	self->pages = region_pages(variant->mem, MAX_PAGES, 8, 1);
	why = region_map(&self->r, variant->mem, self->pages);
	if (why)
		SETUP_SKIP("%s", why);
	self->ps = self->r.page_size;
	/* The 1 GiB variant places in place_page_and_zero only, which makes them. */
	if (variant->mem != MEM_HUGETLB_1G)
		make_sources(_metadata, self);
	self->crowd = calloc(1, sizeof(*self->crowd));
	ASSERT_NE(NULL, self->crowd);

	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	self->feed.dst = self->dst;
	b = region_block(&self->r, "pc.ram");
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &b)) TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst)) TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, pcram_dst_prepare_discard(self->dst)) TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, pcram_dst_set_provider(self->dst, &prov));
	ret = pcram_dst_enable_notify(self->dst);
	if (ret == -EOPNOTSUPP)
		SETUP_SKIP("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, ret) TH_LOG("%s", pcram_dst_strerror(self->dst));
}

FIXTURE_TEARDOWN(place)
{
	if (self->bg_started)
		pthread_join(self->bg, NULL);	/* it never waits on a fault */
	dst_release_crowd(self->dst, self->crowd);
	if (self->bus)		/* released by the cleanup too */
		pthread_join(self->bus->thread, NULL);
	pcram_dst_free(self->dst);
	free(self->crowd);
	free(self->bus);
	if (self->gen1)
		munmap(self->gen1, self->r.length);
	if (self->gen2)
		munmap(self->gen2, self->r.length);
	region_unmap(&self->r);
}

/*
 * Placing a 1 GiB page copies a gigabyte in the kernel 4 KiB at a time:
 * 34 s under the VM's TCG emulation. Only place_page_and_zero does it.
 */
#define ONE_GIG_ELSEWHERE() do {					\
	if (variant->mem == MEM_HUGETLB_1G)				\
		SKIP(return, "one 1 GiB placement per file (34 s under TCG): place_page_and_zero covers it"); \
} while (0)

#define PAGE(self, i) ((self)->r.host + (size_t)(i) * (self)->ps)
#define SRC(buf, self, i) ((buf) + (size_t)(i) * (self)->ps)

/*
 * place_page and place_zero put exactly that there; placing a page that is
 * there already returns 1, counts eexist and changes nothing.
 */
TEST_F_TIMEOUT(place, place_page_and_zero, 100)
{
	struct pcram_block_stats bs;
	struct pcram_dst_stats st;
	bool two = self->pages >= 2;
	uint64_t placed = two ? 2 : 1;
	long at;

	make_sources(_metadata, self);
	ASSERT_EQ(0, pcram_dst_place_page(self->dst, PAGE(self, 0), self->gen1))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	at = first_diff(PAGE(self, 0), self->gen1, self->ps);
	EXPECT_EQ(-1, at) TH_LOG("page 0 differs at %ld", at);
	EXPECT_EQ(1, pcram_dst_page_received(self->dst, PAGE(self, 0)));
	if (two) {
		ASSERT_EQ(0, pcram_dst_place_zero(self->dst, PAGE(self, 1)))
			TH_LOG("%s", pcram_dst_strerror(self->dst));
		at = first_nonzero(PAGE(self, 1), self->ps);
		EXPECT_EQ(-1, at) TH_LOG("zero page has a byte at %ld", at);
		EXPECT_EQ(1, pcram_dst_page_received(self->dst, PAGE(self, 1)));
	}
	if (self->pages > 2) {
		EXPECT_EQ(0, pcram_dst_page_received(self->dst, PAGE(self, 2)));
	}
	st = stats_of(self->dst);
	EXPECT_EQ(placed, st.pages_placed);
	EXPECT_EQ(placed * self->ps, st.bytes_placed);
	EXPECT_EQ(two ? 1 : 0, st.zero_pages);
	EXPECT_EQ(self->pages - placed, st.pages_missing);
	EXPECT_EQ(0, st.eexist);
	/* Placed before anyone touched them: nothing faulted. */
	EXPECT_EQ(0, st.faults);

	/* Again, with other data: refused as there already, content kept. */
	EXPECT_EQ(1, pcram_dst_place_page(self->dst, PAGE(self, 0), self->gen2));
	EXPECT_EQ(1, pcram_dst_place_zero(self->dst, PAGE(self, 0)));
	at = first_diff(PAGE(self, 0), self->gen1, self->ps);
	EXPECT_EQ(-1, at) TH_LOG("page 0 changed at %ld", at);
	if (two) {
		EXPECT_EQ(1, pcram_dst_place_page(self->dst, PAGE(self, 1), SRC(self->gen1, self, 1)));
		at = first_nonzero(PAGE(self, 1), self->ps);
		EXPECT_EQ(-1, at) TH_LOG("zero page changed at %ld", at);
	}
	st = stats_of(self->dst);
	EXPECT_EQ(two ? 3 : 2, st.eexist);
	EXPECT_EQ(placed, st.pages_placed);
	EXPECT_EQ(self->pages - placed, st.pages_missing);
	ASSERT_EQ(0, pcram_dst_block_stats(self->dst, 0, &bs, sizeof(bs)));
	EXPECT_EQ(placed, bs.pages_placed);
	EXPECT_EQ(two ? 1 : 0, bs.zero_pages);
	EXPECT_EQ(self->pages - placed, bs.pages_missing);

	/* Refused: unaligned, outside every block, no data. */
	EXPECT_EQ(-EINVAL, pcram_dst_place_page(self->dst, PAGE(self, 0) + self->ps / 2,
						self->gen1));
	EXPECT_EQ(-ENOENT, pcram_dst_place_zero(self->dst, self->r.host + self->r.length));
	EXPECT_NE(NULL, strstr(pcram_dst_strerror(self->dst), "no block"))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(-EINVAL, pcram_dst_place_page(self->dst, PAGE(self, 0), NULL));
}

struct bg_placer {
	FIXTURE_DATA(place) *self;
	struct source_feed from;	/* gen1, and how its placements went */
	bool started_late;
};

/* Wait until the provider placed a page, then place every page in order. */
static void *bg_main(void *arg)
{
	struct bg_placer *bg = arg;
	FIXTURE_DATA(place) *self = bg->self;

	bg->started_late = WAIT_FOR(self->feed.placed >= 1, DEADLINE_MS);
	for (size_t p = 0; p < self->pages; p++)
		source_feed_place(&bg->from, 0, p * self->ps, PAGE(self, p));
	return NULL;
}

/*
 * A background thread places every page while 16 threads fault on them in
 * random order and the provider places what they ask for: each page lands
 * once, every other attempt is an EEXIST, and nothing is left missing.
 */
TEST_F_TIMEOUT(place, eexist_race, 60)
{
	struct bg_placer bg = {
		.self = self, .from = { .dst = self->dst, .src = { self->gen1 } },
	};
	struct crowd *c = self->crowd;
	struct pcram_dst_stats st;
	long at;

	ONE_GIG_ELSEWHERE();
	crowd_add_every_page(c, &self->r, self->gen1, 16, self->pages, true);
	ASSERT_EQ(0, pthread_create(&self->bg, NULL, bg_main, &bg));
	self->bg_started = true;
	ASSERT_EQ(0, crowd_start_together(c));
	ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS)) TH_LOG("threads still blocked: lost wakeup");
	pthread_join(self->bg, NULL);
	self->bg_started = false;
	/* A stale message may still be being sorted after the last touch. */
	SETTLE(source_feed_settled(&self->feed) && faults_sorted(self->dst));

	EXPECT_TRUE(bg.started_late);
	EXPECT_CROWD_READ_RIGHT(c);
	at = first_diff(self->r.host, self->gen1, self->r.length);
	EXPECT_EQ(-1, at) TH_LOG("region differs at %ld", at);
	EXPECT_EQ(0, bg.from.errors) TH_LOG("background placement: %d", bg.from.last_error);
	EXPECT_EQ(0, self->feed.errors) TH_LOG("provider placement: %d", self->feed.last_error);
	st = stats_of(self->dst);
	EXPECT_EQ(self->pages, st.pages_placed);
	EXPECT_EQ(self->pages, bg.from.placed + self->feed.placed);
	/* Every attempt beyond the one that placed a page found it there. */
	EXPECT_EQ(st.requests, st.eexist);
	EXPECT_EQ(bg.from.already + self->feed.already, st.eexist);
	EXPECT_GE(st.eexist, 1);
	EXPECT_EQ(0, st.pages_missing);
	EXPECT_EQ(0, pcram_dst_pages_missing(self->dst));
	/* The documented identity: a refault is rare but allowed (one was
	 * seen under load; its cause is not pinned down yet). */
	EXPECT_EQ(st.faults, st.requests + st.duplicates + st.stale + st.refaults + st.outside)
		TH_LOG("requests %llu duplicates %llu stale %llu refaults %llu outside %llu",
		       (unsigned long long)st.requests, (unsigned long long)st.duplicates,
		       (unsigned long long)st.stale, (unsigned long long)st.refaults,
		       (unsigned long long)st.outside);
}

/*
 * A page discarded during postcopy (the source says it changed) is missing
 * again: its received bit is clear, and the next touch fetches the new
 * generation while the other pages keep the old one.
 */
TEST_F_TIMEOUT(place, discard_refetches_new_content, 60)
{
	size_t first = 1, n = self->pages / 2;
	struct crowd *c = self->crowd;
	struct pcram_dst_stats st;
	uint8_t *expect;
	long at;

	ONE_GIG_ELSEWHERE();
	NEED_PAGES(4);
	for (size_t p = 0; p < self->pages; p++) {
		ASSERT_EQ(0, pcram_dst_place_page(self->dst, PAGE(self, p), SRC(self->gen1, self, p)));
	}
	ASSERT_EQ(0, pcram_dst_pages_missing(self->dst));

	self->feed.src[0] = self->gen2;
	ASSERT_EQ(0, pcram_dst_discard_range(self->dst, "pc.ram", first * self->ps,
					     n * self->ps))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	for (size_t p = 0; p < self->pages; p++) {
		EXPECT_EQ(p >= first && p < first + n ? 0 : 1,
			  pcram_dst_page_received(self->dst, PAGE(self, p))) TH_LOG("page %zu", p);
	}
	EXPECT_EQ(n, pcram_dst_pages_missing(self->dst));

	expect = malloc(self->r.length);
	ASSERT_NE(NULL, expect);
	memcpy(expect, self->gen1, self->r.length);
	memcpy(expect + first * self->ps, SRC(self->gen2, self, first), n * self->ps);
	crowd_add_interleaved(c, &self->r, expect, 4, self->pages, false);
	ASSERT_EQ(0, crowd_start_together(c));
	ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS)) TH_LOG("a discarded page was not fetched again");
	SETTLE(source_feed_settled(&self->feed));
	EXPECT_CROWD_READ_RIGHT(c);
	at = first_diff(self->r.host, expect, self->r.length);
	EXPECT_EQ(-1, at) TH_LOG("region differs at %ld (page %ld)", at, at / (long)self->ps);
	free(expect);

	st = stats_of(self->dst);
	EXPECT_EQ(n, st.requests);
	EXPECT_EQ(self->pages + n, st.pages_placed);
	EXPECT_EQ(0, st.pages_missing);
	for (size_t p = first; p < first + n; p++) {
		EXPECT_EQ(1, pcram_dst_page_received(self->dst, PAGE(self, p)));
	}
}

/*
 * One batch: a contiguous run whose data is contiguous (one ioctl), a zero
 * run, pages out of order, data from elsewhere. All n complete, each page
 * has its data, and each contiguous run is woken once.
 */
TEST_F_TIMEOUT(place, batch_mixed_ops, 60)
{
	struct pcram_dst_stats before, st;
	long at;

	ONE_GIG_ELSEWHERE();
	NEED_PAGES(8);
	struct pcram_place_op ops[] = {
		{ .type = PCRAM_OP_COPY, .host = PAGE(self, 0), .src = SRC(self->gen1, self, 0) },
		{ .type = PCRAM_OP_COPY, .host = PAGE(self, 1), .src = SRC(self->gen1, self, 1) },
		{ .type = PCRAM_OP_COPY, .host = PAGE(self, 2), .src = SRC(self->gen1, self, 2) },
		{ .type = PCRAM_OP_ZERO, .host = PAGE(self, 3) },
		{ .type = PCRAM_OP_ZERO, .host = PAGE(self, 4) },
		{ .type = PCRAM_OP_COPY, .host = PAGE(self, 6), .src = SRC(self->gen1, self, 6) },
		{ .type = PCRAM_OP_COPY, .host = PAGE(self, 5), .src = SRC(self->gen1, self, 5) },
		{ .type = PCRAM_OP_COPY, .host = PAGE(self, 7), .src = SRC(self->gen2, self, 7) },
	};
	/* Page 0 again, page 7 again: there already. */
	struct pcram_place_op again[] = {
		{ .type = PCRAM_OP_ZERO, .host = PAGE(self, 0) },
		{ .type = PCRAM_OP_COPY, .host = PAGE(self, 7), .src = SRC(self->gen1, self, 7) },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(ops); i++)
		ops[i].result = -1;
	before = stats_of(self->dst);
	ASSERT_EQ(ARRAY_SIZE(ops), pcram_dst_place_batch(self->dst, ops, ARRAY_SIZE(ops)))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	for (unsigned int i = 0; i < ARRAY_SIZE(ops); i++) {
		const uint8_t *want = ops[i].type == PCRAM_OP_COPY ? ops[i].src : NULL;

		EXPECT_EQ(0, ops[i].result) TH_LOG("op %u", i);
		at = want ? first_diff(ops[i].host, want, self->ps) :
			    first_nonzero(ops[i].host, self->ps);
		EXPECT_EQ(-1, at) TH_LOG("op %u: differs at %ld", i, at);
		EXPECT_EQ(1, pcram_dst_page_received(self->dst, ops[i].host));
	}
	st = stats_of(self->dst);
	EXPECT_EQ(8, st.pages_placed - before.pages_placed);
	EXPECT_EQ(2, st.zero_pages - before.zero_pages);
	EXPECT_EQ(self->pages - 8, st.pages_missing);
	/*
	 * Runs: pages 0-4, 6, 5, 7; woken by pcram.ko for what it placed,
	 * by the library for the rest. Huge zero pages never go through the
	 * module: it places and wakes 0-2, the library 3-4, so run 0-4 costs
	 * two wakes there.
	 */
	if (st.module_batches) {
		bool huge = self->ps != (size_t)sysconf(_SC_PAGESIZE);
		struct pcram_kernel_stats ks;

		ASSERT_EQ(0, pcram_dst_kernel_stats(self->dst, &ks, sizeof(ks)));
		EXPECT_EQ(4 + huge, ks.batch_wakes + st.wakes - before.wakes);
	} else {
		EXPECT_EQ(4, st.wakes - before.wakes);
	}

	ASSERT_EQ(ARRAY_SIZE(again), pcram_dst_place_batch(self->dst, again, ARRAY_SIZE(again)));
	EXPECT_EQ(1, again[0].result);
	EXPECT_EQ(1, again[1].result);
	EXPECT_EQ(-1, first_diff(PAGE(self, 0), self->gen1, self->ps));
	EXPECT_EQ(-1, first_diff(PAGE(self, 7), SRC(self->gen2, self, 7), self->ps));
	st = stats_of(self->dst);
	EXPECT_EQ(8, st.pages_placed - before.pages_placed);
	EXPECT_EQ(2, st.eexist - before.eexist);
	EXPECT_EQ(0, pcram_dst_place_batch(self->dst, NULL, 0));
}

/*
 * A batch stops at its first failing op and says how many completed; the
 * ops after it are not placed.
 */
TEST_F_TIMEOUT(place, batch_stops_at_first_failure, 60)
{
	ONE_GIG_ELSEWHERE();
	NEED_PAGES(3);

	size_t a = self->pages - 3, b = self->pages - 2, c = self->pages - 1;
	struct pcram_place_op ops[] = {
		{ .type = PCRAM_OP_COPY, .host = PAGE(self, a), .src = SRC(self->gen1, self, a) },
		{ .type = PCRAM_OP_ZERO, .host = PAGE(self, b) },
		/* just past the block: in no block */
		{ .type = PCRAM_OP_COPY, .host = self->r.host + self->r.length, .src = self->gen1 },
		{ .type = PCRAM_OP_COPY, .host = PAGE(self, c), .src = SRC(self->gen1, self, c) },
	};
	struct pcram_place_op bad_type[] = {
		{ .type = 99, .host = PAGE(self, c), .src = self->gen1 },
	};
	struct pcram_place_op unaligned[] = {
		{ .type = PCRAM_OP_ZERO, .host = PAGE(self, c) + self->ps / 2 },
	};

	ops[3].result = 12345;
	ASSERT_EQ(2, pcram_dst_place_batch(self->dst, ops, ARRAY_SIZE(ops)));
	EXPECT_EQ(0, ops[0].result);
	EXPECT_EQ(0, ops[1].result);
	EXPECT_EQ(-ENOENT, ops[2].result);
	EXPECT_EQ(12345, ops[3].result);	/* never tried */
	EXPECT_NE(0, strlen(pcram_dst_strerror(self->dst)));
	EXPECT_EQ(-1, first_diff(PAGE(self, a), SRC(self->gen1, self, a), self->ps));
	EXPECT_EQ(-1, first_nonzero(PAGE(self, b), self->ps));
	EXPECT_EQ(1, pcram_dst_page_received(self->dst, PAGE(self, b)));
	EXPECT_EQ(0, pcram_dst_page_received(self->dst, PAGE(self, c)));
	EXPECT_EQ(2, stats_of(self->dst).pages_placed);

	EXPECT_EQ(0, pcram_dst_place_batch(self->dst, bad_type, 1));
	EXPECT_EQ(-EINVAL, bad_type[0].result);
	EXPECT_EQ(0, pcram_dst_place_batch(self->dst, unaligned, 1));
	EXPECT_EQ(-EINVAL, unaligned[0].result);
	EXPECT_EQ(0, pcram_dst_page_received(self->dst, PAGE(self, c)));
	EXPECT_EQ(-EINVAL, pcram_dst_place_batch(self->dst, NULL, 1));
}

/*
 * Threads blocked on pages before a batch are all woken by it: the batch
 * places without waking and then wakes each run.
 */
TEST_F_TIMEOUT(place, batch_wakes_waiters, 60)
{
	struct pcram_place_op ops[MAX_PAGES];
	struct crowd *c = self->crowd;
	unsigned int nr = 16;
	uint8_t *expect;

	ONE_GIG_ELSEWHERE();
	self->feed.record_only = true;
	expect = malloc(self->r.length);
	ASSERT_NE(NULL, expect);
	memcpy(expect, self->gen1, self->r.length);
	/* Every fourth page arrives as zeros. */
	for (size_t p = 3; p < self->pages; p += 4)
		memset(expect + p * self->ps, 0, self->ps);
	for (unsigned int i = 0; i < nr; i++)
		toucher_add_page(crowd_add(c, &self->r, expect), i % self->pages);
	ASSERT_EQ(0, crowd_start_together(c));
	/* One fault per blocked thread: all of them are waiting now. */
	ASSERT_TRUE(WAIT_FOR(stats_of(self->dst).faults >= nr, DEADLINE_MS))
		TH_LOG("%" PRIu64 " of %u faults", stats_of(self->dst).faults, nr);
	for (unsigned int i = 0; i < nr; i++) {
		EXPECT_FALSE(c->t[i].done);
	}

	for (size_t p = 0; p < self->pages; p++)
		ops[p] = (struct pcram_place_op) {
			.type = p % 4 == 3 ? PCRAM_OP_ZERO : PCRAM_OP_COPY,
			.host = PAGE(self, p),
			.src = p % 4 == 3 ? NULL : SRC(self->gen1, self, p),
		};
	ASSERT_EQ(self->pages, pcram_dst_place_batch(self->dst, ops, self->pages))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS)) TH_LOG("the batch left threads blocked");
	EXPECT_CROWD_READ_RIGHT(c);
	EXPECT_EQ(-1, first_diff(self->r.host, expect, self->r.length));
	EXPECT_EQ(0, pcram_dst_pages_missing(self->dst));
	free(expect);
}

/*
 * Shared blocks: data written through the library's alias is in the page
 * cache but not mapped; place_continue maps it and wakes the waiters.
 * Private blocks have no alias and refuse CONTINUE.
 */
TEST_F_TIMEOUT(place, place_continue, 60)
{
	struct pcram_place_op ops[2];
	void *alias_ptr = NULL;
	uint8_t *alias;
	struct crowd *c = self->crowd;
	uint64_t minor;

	if (self->r.fd < 0) {
		EXPECT_EQ(-EINVAL, pcram_dst_block_alias(self->dst, 0, &alias_ptr));
		EXPECT_EQ(-EINVAL, pcram_dst_place_continue(self->dst, PAGE(self, 0)));
		EXPECT_NE(NULL, strstr(pcram_dst_strerror(self->dst), "MINOR"))
			TH_LOG("%s", pcram_dst_strerror(self->dst));
		ops[0] = (struct pcram_place_op) { .type = PCRAM_OP_CONTINUE, .host = PAGE(self, 0) };
		EXPECT_EQ(0, pcram_dst_place_batch(self->dst, ops, 1));
		EXPECT_EQ(-EINVAL, ops[0].result);
		EXPECT_EQ(0, pcram_dst_page_received(self->dst, PAGE(self, 0)));
		return;
	}
	minor = variant->mem == MEM_SHMEM ? UFFD_FEATURE_MINOR_SHMEM : UFFD_FEATURE_MINOR_HUGETLBFS;
	if (!(stats_of(self->dst).features & minor))
		SKIP(return, "the kernel has no minor faults on %s: no UFFDIO_CONTINUE",
		     mem_name(variant->mem));
	NEED_PAGES(4);
	ASSERT_EQ(0, pcram_dst_block_alias(self->dst, 0, &alias_ptr));
	alias = alias_ptr;

	/* Page 0: nobody waits for it. */
	memcpy(alias, self->gen1, self->ps);
	ASSERT_EQ(0, pcram_dst_place_continue(self->dst, PAGE(self, 0)))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(-1, first_diff(PAGE(self, 0), self->gen1, self->ps));
	EXPECT_EQ(1, pcram_dst_page_received(self->dst, PAGE(self, 0)));
	EXPECT_EQ(1, pcram_dst_place_continue(self->dst, PAGE(self, 0)));

	/* Page 1: a thread is blocked on it first. */
	self->feed.record_only = true;
	toucher_add_page(crowd_add(c, &self->r, self->gen1), 1);
	ASSERT_EQ(0, crowd_start_together(c));
	ASSERT_TRUE(WAIT_FOR(stats_of(self->dst).requests >= 1, DEADLINE_MS));
	EXPECT_FALSE(c->t[0].done);
	memcpy(alias + self->ps, SRC(self->gen1, self, 1), self->ps);
	ASSERT_EQ(0, pcram_dst_place_continue(self->dst, PAGE(self, 1)))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS)) TH_LOG("CONTINUE did not wake the waiter");
	EXPECT_CROWD_READ_RIGHT(c);

	/* Pages 2 and 3 in one batch of CONTINUE ops. */
	memcpy(alias + 2 * self->ps, SRC(self->gen1, self, 2), 2 * self->ps);
	ops[0] = (struct pcram_place_op) { .type = PCRAM_OP_CONTINUE, .host = PAGE(self, 2) };
	ops[1] = (struct pcram_place_op) { .type = PCRAM_OP_CONTINUE, .host = PAGE(self, 3) };
	ASSERT_EQ(2, pcram_dst_place_batch(self->dst, ops, 2)) TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(0, ops[0].result);
	EXPECT_EQ(0, ops[1].result);
	EXPECT_EQ(-1, first_diff(self->r.host, self->gen1, 4 * self->ps));
	EXPECT_EQ(4, stats_of(self->dst).pages_placed);
	EXPECT_EQ(self->pages - 4, pcram_dst_pages_missing(self->dst));
}

/*
 * A page that can never arrive is poisoned: a touch gets SIGBUS at once,
 * and a thread already blocked on it gets SIGBUS instead of hanging.
 */
TEST_F_TIMEOUT(place, poison_gives_sigbus, 60)
{
	struct pcram_dst_stats st;
	struct utsname un;
	void *addr = NULL;
	int code = 0;

	uname(&un);
	if (!(stats_of(self->dst).features & UFFD_FEATURE_POISON)) {
		EXPECT_EQ(-EOPNOTSUPP, pcram_dst_poison(self->dst, PAGE(self, 0)));
		SKIP(return, "the kernel has no UFFDIO_POISON (Linux 6.6+); this is %s",
		     un.release);
	}
	ASSERT_EQ(0, catch_sigbus());
	ASSERT_EQ(0, pcram_dst_poison(self->dst, PAGE(self, 0)))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(1, pcram_dst_page_received(self->dst, PAGE(self, 0)));
	EXPECT_EQ(1, pcram_dst_poison(self->dst, PAGE(self, 0)));
	EXPECT_TRUE(read_gets_sigbus(PAGE(self, 0) + 17, &addr, &code));
	EXPECT_GE((uintptr_t)addr, (uintptr_t)PAGE(self, 0));
	EXPECT_LT((uintptr_t)addr, (uintptr_t)PAGE(self, 1));
	st = stats_of(self->dst);
	EXPECT_EQ(1, st.poisoned);
	EXPECT_EQ(self->pages - 1, st.pages_missing);
	EXPECT_EQ(0, st.faults);

	if (self->pages < 2)
		return;
	/* A thread blocked on page 1 before it is poisoned. */
	self->feed.record_only = true;
	self->bus = calloc(1, sizeof(*self->bus));
	ASSERT_NE(NULL, self->bus);
	self->bus->addr = PAGE(self, 1) + 5;
	ASSERT_EQ(0, pthread_create(&self->bus->thread, NULL, bus_reader_main, self->bus));
	ASSERT_TRUE(WAIT_FOR(stats_of(self->dst).requests >= 1, DEADLINE_MS));
	EXPECT_FALSE(self->bus->done);
	ASSERT_EQ(0, pcram_dst_poison(self->dst, PAGE(self, 1)))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_TRUE(WAIT_FOR(self->bus->done, DEADLINE_MS)) TH_LOG("the waiter was not released");
	EXPECT_TRUE(self->bus->sigbus);
	EXPECT_EQ((uintptr_t)PAGE(self, 1) + 5, (uintptr_t)self->bus->bus_addr);
	EXPECT_EQ(2, stats_of(self->dst).poisoned);
}

/*
 * A scratch page per page size: writable over its whole size, the same
 * buffer on every call, fit to be placed from.
 */
TEST_F_TIMEOUT(place, tmp_page, 60)
{
	size_t base = (size_t)sysconf(_SC_PAGESIZE);
	size_t other_size = self->ps == base ? SZ_2M : base;
	void *tmp = NULL, *again = NULL, *other = NULL;
	uint8_t *p;

	ASSERT_EQ(0, pcram_dst_tmp_page(self->dst, self->ps, &tmp));
	ASSERT_NE(NULL, tmp);
	p = tmp;
	if (self->ps <= CONTENT_CHUNK) {
		content_fill(p, 0, self->ps, 3);
	} else {
		/* A gigabyte is too slow to fill under TCG: first, middle, last. */
		p[0] = 1;
		p[self->ps / 2] = 2;
		p[self->ps - 1] = 0xa5;
	}
	ASSERT_EQ(0, pcram_dst_tmp_page(self->dst, self->ps, &again));
	EXPECT_EQ((uintptr_t)tmp, (uintptr_t)again);
	if (self->ps > CONTENT_CHUNK) {
		EXPECT_EQ(0xa5, p[self->ps - 1]);
	}
	ASSERT_EQ(0, pcram_dst_tmp_page(self->dst, other_size, &other));
	EXPECT_NE((uintptr_t)tmp, (uintptr_t)other);
	((volatile uint8_t *)other)[other_size - 1] = 1;

	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(self->dst, 0, &again));
	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(self->dst, 3 * base, &again));
	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(self->dst, base / 2, &again));
	EXPECT_EQ(-EINVAL, pcram_dst_tmp_page(self->dst, self->ps, NULL));

	/* Assembled there, placed from there (1 GiB: see place_page_and_zero). */
	if (self->ps <= CONTENT_CHUNK) {
		uint8_t *want = malloc(self->ps);

		ASSERT_NE(NULL, want);
		content_fill(want, 0, self->ps, 3);
		EXPECT_EQ(-1, first_diff(p, want, self->ps));
		ASSERT_EQ(0, pcram_dst_place_page(self->dst, PAGE(self, 0), tmp));
		EXPECT_EQ(-1, first_diff(PAGE(self, 0), want, self->ps));
		free(want);
	}
	ASSERT_EQ(0, pcram_dst_cleanup(self->dst));
	EXPECT_EQ(-EBUSY, pcram_dst_tmp_page(self->dst, self->ps, &again));
}

/* ==== pcram.ko: attached when loaded ======================================= */

static bool is_shared_mem(enum test_mem m)
{
	return m == MEM_SHMEM || m == MEM_HUGETLB_SHARED;
}

static bool all_zeros(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Is pcram.ko attached here? A SKIP when it is not loaded, a failure when it is. */
#define NEED_MODULE(st) do {							\
	if (!(st).module_vm_id) {						\
		ASSERT_NE(0, access("/dev/" PCRAM_DEVICE_NAME, F_OK))		\
			TH_LOG("/dev/pcram is there, yet enable_notify did not attach"); \
		SKIP(return, "pcram.ko is not loaded: place_batch goes the usual way (tested above)"); \
	}									\
} while (0)

/*
 * place_batch through PCRAM_IOC_BATCH: even pages copied (each its own
 * group: the runs break at every odd page), then the odd ones as zeros.
 * Huge zero pages cannot go through the module (one COPY of the zero page
 * each), so there the batch is handed back to the usual path midway.
 */
TEST_F_TIMEOUT(place, batch_through_module, 100)
{
	struct pcram_place_op ops[MAX_PAGES];
	struct pcram_kernel_stats ks;
	struct pcram_dst_stats st = stats_of(self->dst);
	unsigned int n = 0, groups = 0;
	char name[PCRAM_VM_NAME_MAX];
	long at;

	NEED_MODULE(st);
	ONE_GIG_ELSEWHERE();
	for (size_t i = 0; i < self->pages; i += 2, groups++)
		ops[n++] = (struct pcram_place_op) {
			.type = PCRAM_OP_COPY, .host = PAGE(self, i), .src = SRC(self->gen1, self, i),
		};
	for (size_t i = 1; i < self->pages; i += 2)
		ops[n++] = (struct pcram_place_op) { .type = PCRAM_OP_ZERO, .host = PAGE(self, i) };
	ASSERT_EQ((int)n, pcram_dst_place_batch(self->dst, ops, n)) TH_LOG("%s", pcram_dst_strerror(self->dst));
	for (unsigned int i = 0; i < n; i++) {
		EXPECT_EQ(0, ops[i].result) TH_LOG("op %u", i);
	}
	for (size_t i = 0; i < self->pages; i++) {
		if (i % 2) {
			EXPECT_TRUE(all_zeros(PAGE(self, i), self->ps)) TH_LOG("page %zu", i);
		} else {
			at = first_diff(PAGE(self, i), SRC(self->gen1, self, i), self->ps);
			EXPECT_EQ(-1, at) TH_LOG("page %zu differs at %ld", i, at);
		}
	}
	st = stats_of(self->dst);
	EXPECT_EQ(0, st.pages_missing);
	EXPECT_EQ(self->pages, st.pages_placed);
	if (is_shared_mem(variant->mem) && (st.features & (UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MINOR_HUGETLBFS))) {
		/* Through the alias and CONTINUE, page by page: not the module. */
		EXPECT_EQ(0, st.module_batches);
		return;
	}
	EXPECT_GE(st.module_batches, 1);
	ASSERT_EQ(0, pcram_dst_kernel_stats(self->dst, &ks, sizeof(ks)))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(st.module_vm_id, ks.vm_id);
	snprintf(name, sizeof(name), "pcram-%d", (int)getpid());
	EXPECT_STREQ(name, ks.name);	/* no vm_name given */
	EXPECT_EQ(st.module_batches, ks.batches);
	/* One op a group: the copies at least, which never merge here. */
	EXPECT_GE(ks.batch_ops, groups);
	EXPECT_EQ(0, ks.batch_errors);
}

/*
 * The kernel times each fault in handle_userfault(): every touch of a
 * missing page is one, from the touching thread, and the library's own
 * fault count agrees (the probe may miss some only when it says so).
 */
TEST_F_TIMEOUT(place, kernel_measures_faults, 100)
{
	struct pcram_dst_stats st = stats_of(self->dst);
	struct pcram_kernel_stats ks;
	struct crowd *c = self->crowd;
	size_t touched = self->pages < 8 ? self->pages : 8;
	bool thread_seen = false;

	NEED_MODULE(st);
	ONE_GIG_ELSEWHERE();
	crowd_add_interleaved(c, &self->r, self->gen1, 1, touched, false);
	ASSERT_EQ(0, crowd_start_together(c));
	ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS)) TH_LOG("threads still blocked");
	SETTLE(source_feed_settled(&self->feed));
	EXPECT_CROWD_READ_RIGHT(c);
	st = stats_of(self->dst);
	ASSERT_EQ(0, pcram_dst_kernel_stats(self->dst, &ks, sizeof(ks)))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	if (!ks.blocked.count && !ks.nmissed)
		SKIP(return, "pcram.ko measured no fault: its probe is off (probe=0) or unavailable");
	EXPECT_EQ(st.faults, ks.blocked.count + ks.nmissed);
	EXPECT_GE(ks.blocked.max, 1);
	EXPECT_LE(ks.blocked.max, ks.blocked.sum);
	for (unsigned int i = 0; i < ks.nr_threads; i++)
		if (ks.threads[i].tid == c->t[0].tid)
			thread_seen = true;
	EXPECT_TRUE(thread_seen) TH_LOG("toucher %d not in the kernel's %u threads",
					(int)c->t[0].tid, ks.nr_threads);
}

/* The module's absence is no error, unless required; bad options refused. */
TEST(module_options)
{
	struct pcram_dst_options both = {
		.flags = PCRAM_DST_F_REQUIRE_MODULE | PCRAM_DST_F_NO_MODULE,
	};
	struct pcram_dst_options long_name = { .vm_name = "a-name-longer-than-31-bytes-is-refused" };
	struct pcram_dst_options req = { .flags = PCRAM_DST_F_REQUIRE_MODULE, .vm_name = "req" };
	struct pcram_dst_options none = { .flags = PCRAM_DST_F_NO_MODULE };
	struct pcram_provider prov = { .request = source_feed_request };
	struct pcram_dst *dst = NULL;
	struct pcram_kernel_stats ks;
	struct test_region r;
	struct pcram_block b;
	bool loaded = !access("/dev/" PCRAM_DEVICE_NAME, F_OK);
	int ret;

	EXPECT_EQ(-EINVAL, pcram_dst_new(&dst, &both));
	EXPECT_EQ(-EINVAL, pcram_dst_new(&dst, &long_name));
	ASSERT_EQ(NULL, region_map(&r, MEM_ANON, 4));
	b = region_block(&r, "pc.ram");

	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, pcram_dst_new(&dst, i ? &none : &req));
		ASSERT_EQ(0, pcram_dst_add_block(dst, &b));
		ASSERT_EQ(0, pcram_dst_incoming_init(dst));
		ASSERT_EQ(0, pcram_dst_set_provider(dst, &prov));
		ret = pcram_dst_enable_notify(dst);
		if (i) {
			/* NO_MODULE: never attached, loaded or not. */
			ASSERT_EQ(0, ret) TH_LOG("%s", pcram_dst_strerror(dst));
			EXPECT_EQ(0, stats_of(dst).module_vm_id);
			EXPECT_EQ(-ENODEV, pcram_dst_kernel_stats(dst, &ks, sizeof(ks)));
			EXPECT_NE(NULL, strstr(pcram_dst_strerror(dst), "not attached"));
		} else if (loaded) {
			ASSERT_EQ(0, ret) TH_LOG("%s", pcram_dst_strerror(dst));
			EXPECT_LT(0, stats_of(dst).module_vm_id);
			ASSERT_EQ(0, pcram_dst_kernel_stats(dst, &ks, sizeof(ks)))
				TH_LOG("%s", pcram_dst_strerror(dst));
			EXPECT_EQ(stats_of(dst).module_vm_id, ks.vm_id);
			EXPECT_STREQ("req", ks.name);
			/* cleanup detaches: the module's figures go with it */
			EXPECT_EQ(0, pcram_dst_cleanup(dst));
			EXPECT_EQ(0, stats_of(dst).module_vm_id);
			EXPECT_EQ(-ENODEV, pcram_dst_kernel_stats(dst, &ks, sizeof(ks)));
		} else {
			EXPECT_EQ(-ENODEV, ret);
			EXPECT_NE(NULL, strstr(pcram_dst_strerror(dst), "pcram module load"))
				TH_LOG("%s", pcram_dst_strerror(dst));
		}
		pcram_dst_free(dst);
		dst = NULL;
	}
	region_unmap(&r);
}

TEST_HARNESS_MAIN
