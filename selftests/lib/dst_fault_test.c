// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The destination engine's fault path: 16 and 32 threads faulting the
 * same and different pages at once, a provider that places inline and one
 * that hands requests to another thread, several fault threads, per-thread
 * statistics, events that are not ordinary faults, and provider errors.
 *
 * Every thread that may block on the userfaultfd is waited for with a
 * deadline, and teardown's pcram_dst_cleanup() releases whatever is still
 * blocked before the threads are joined; the harness timeout is the last
 * resort.
 */
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "common.h"
#include "memory.h"
#include "dst_util.h"

#define LOG_MAX		2048		/* requests one test may hand out */
#define EVENT_MAX	64

/* ---- a provider that logs what it is asked ------------------------------ */

enum feed_mode {
	FEED_INLINE,		/* place from the source before returning */
	FEED_RECORD,		/* only log: the test places */
	FEED_QUEUE,		/* log; a placer thread places from the log */
};

struct logged_request {
	bool named;		/* .block was not NULL */
	char name[64];
	unsigned int block_index;
	uint64_t offset, length;
	void *host;
	uint32_t tid;
	unsigned int fault_thread;
};

struct feed {
	struct source_feed base;	/* dst, sources, placements, returns */
	enum feed_mode mode;
	useconds_t delay_us;		/* before each inline placement */

	/*
	 * Provider errors: always @fail_error for @fail_host; -EAGAIN the
	 * first @again_left times for @again_host.
	 */
	void *fail_host;
	int fail_error;
	void *again_host;
	unsigned int again_left;

	/* Hold the first request until another fault thread hands one out. */
	bool hold_first;
	bool first_taken;
	bool held_until_other;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct logged_request log[LOG_MAX];
	unsigned int nr_log;
	bool overflow;
	uint64_t thread_mask;		/* fault threads that handed out */
	_Atomic unsigned int queue_placed; /* log entries the placer placed */

	struct pcram_event events[EVENT_MAX];
	unsigned int nr_events;

	/* FEED_QUEUE */
	pthread_t placer;
	bool placer_started;
	bool stop;
	unsigned int next;		/* next log entry to place */
};

static void feed_init(struct feed *f, enum feed_mode mode)
{
	memset(f, 0, sizeof(*f));
	f->mode = mode;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
}

static void cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, int ms)
{
	struct timespec end = realtime_after_ms(ms);

	pthread_cond_timedwait(cond, lock, &end);
}

static int feed_request(struct pcram_dst *dst, const struct pcram_request *req,
			void *opaque)
{
	struct feed *f = opaque;
	uint64_t me = 1ULL << req->fault_thread;
	int ret;

	pthread_mutex_lock(&f->lock);
	if (f->nr_log < LOG_MAX) {
		struct logged_request *l = &f->log[f->nr_log++];

		*l = (struct logged_request) {
			.named = req->block != NULL,
			.block_index = req->block_index, .offset = req->offset,
			.length = req->length, .host = req->host, .tid = req->tid,
			.fault_thread = req->fault_thread,
		};
		if (req->block)
			snprintf(l->name, sizeof(l->name), "%s", req->block);
	} else {
		f->overflow = true;
	}
	f->thread_mask |= me;
	pthread_cond_broadcast(&f->cond);
	if (f->hold_first && !f->first_taken) {
		uint64_t end = now_ms() + DEADLINE_MS;

		f->first_taken = true;
		while (!(f->thread_mask & ~me) && now_ms() < end)
			cond_wait_ms(&f->cond, &f->lock, 100);
		f->held_until_other = f->thread_mask & ~me;
	}
	pthread_mutex_unlock(&f->lock);

	if (req->host == f->fail_host) {
		ret = f->fail_error;
	} else if (req->host == f->again_host && f->again_left) {
		f->again_left--;
		ret = -EAGAIN;
	} else if (f->mode == FEED_INLINE) {
		if (f->delay_us)
			usleep(f->delay_us);
		ret = source_feed_place(&f->base, req->block_index, req->offset,
					req->host);
		ret = ret < 0 ? ret : 0;
	} else {
		ret = 0;
	}
	f->base.returned++;
	return ret;
}

static void feed_event(struct pcram_dst *dst, const struct pcram_event *ev,
		       void *opaque)
{
	struct feed *f = opaque;

	pthread_mutex_lock(&f->lock);
	if (f->nr_events < EVENT_MAX)
		f->events[f->nr_events++] = *ev;
	pthread_mutex_unlock(&f->lock);
}

/* Index of the first logged event of @type at or after @from, or -1. */
static int feed_find_event(struct feed *f, enum pcram_event_type type,
			   unsigned int from)
{
	int found = -1;

	pthread_mutex_lock(&f->lock);
	for (unsigned int i = from; i < f->nr_events && found < 0; i++)
		if (f->events[i].type == type)
			found = (int)i;
	pthread_mutex_unlock(&f->lock);
	return found;
}

/*
 * Wait for the first logged event of @type: its index, with the event in
 * *@ev, or -1 when none came by the deadline.
 */
static int feed_wait_event(struct feed *f, enum pcram_event_type type,
			   struct pcram_event *ev)
{
	int i;

	WAIT_FOR(feed_find_event(f, type, 0) >= 0, DEADLINE_MS);
	i = feed_find_event(f, type, 0);
	if (i >= 0) {
		pthread_mutex_lock(&f->lock);
		*ev = f->events[i];
		pthread_mutex_unlock(&f->lock);
	}
	return i;
}

static unsigned int feed_requests_for(struct feed *f, const void *host)
{
	unsigned int n = 0;

	pthread_mutex_lock(&f->lock);
	for (unsigned int i = 0; i < f->nr_log; i++)
		n += f->log[i].host == host;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* FEED_QUEUE: place what the fault thread logged, like a network receiver. */
static void *placer_main(void *arg)
{
	struct feed *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		struct logged_request l;

		while (f->next == f->nr_log && !f->stop)
			pthread_cond_wait(&f->cond, &f->lock);
		if (f->stop)
			break;
		l = f->log[f->next++];
		pthread_mutex_unlock(&f->lock);
		source_feed_place(&f->base, l.block_index, l.offset, l.host);
		f->queue_placed++;
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/*
 * Has every request been dealt with: returned from (source_feed_settled),
 * and with FEED_QUEUE placed by the placer too? For SETTLE().
 */
static bool feed_settled(struct feed *f)
{
	bool queue_done;

	pthread_mutex_lock(&f->lock);
	queue_done = !f->placer_started || f->queue_placed == f->nr_log;
	pthread_mutex_unlock(&f->lock);
	return source_feed_settled(&f->base) && queue_done;
}

static void feed_stop(struct feed *f)
{
	if (!f->placer_started)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->placer, NULL);
	f->placer_started = false;
}

/* ---- the engine ----------------------------------------------------------- */

/* Blocks per region: one, or its two halves (the second at .fd_offset). */
static int engine_start(struct pcram_dst **dstp, const struct test_region *r,
			struct feed *f, const uint8_t *src,
			const struct pcram_dst_options *opts, unsigned int nr_blocks)
{
	struct pcram_provider prov = {
		.request = feed_request, .event = feed_event, .opaque = f,
	};
	struct pcram_dst *dst;
	int ret;

	ret = pcram_dst_new(&dst, opts);
	if (ret)
		return ret;
	*dstp = dst;
	f->base.dst = dst;
	if (nr_blocks == 1) {
		struct pcram_block b = region_block(r, "pc.ram");

		ret = pcram_dst_add_block(dst, &b);
		f->base.src[0] = src;
	} else {
		struct pcram_block lo = region_block(r, "pc.ram");
		struct pcram_block hi = region_block(r, "pc.ram-high");

		lo.length = hi.length = r->length / 2;
		hi.host = r->host + r->length / 2;
		hi.fd_offset = r->length / 2;
		ret = pcram_dst_add_block(dst, &lo);
		if (!ret)
			ret = pcram_dst_add_block(dst, &hi);
		f->base.src[0] = src;
		f->base.src[1] = src + r->length / 2;
	}
	if (!ret)
		ret = pcram_dst_incoming_init(dst);
	if (!ret)
		ret = pcram_dst_set_provider(dst, &prov);
	if (!ret)
		ret = pcram_dst_enable_notify(dst);
	return ret;
}

/*
 * Both fixtures' feed, placing inline, and crowd: calloc'd, as the harness
 * keeps the fixture on the stack.
 */
static void feed_and_crowd_new(struct __test_metadata *_metadata,
			       struct feed **feed, struct crowd **crowd)
{
	*feed = calloc(1, sizeof(**feed));
	*crowd = calloc(1, sizeof(**crowd));
	ASSERT_NE(NULL, *feed);
	ASSERT_NE(NULL, *crowd);
	feed_init(*feed, FEED_INLINE);
}

/*
 * Both fixtures' teardown of the engine: stop the placer, release every
 * thread still blocked in a fault (cleanup), then join them and free.
 */
static void engine_teardown(struct pcram_dst *dst, struct feed *feed,
			    struct crowd *crowd)
{
	if (feed)
		feed_stop(feed);
	dst_release_crowd(dst, crowd);
	pcram_dst_free(dst);
	free(feed);
	free(crowd);
}

/* ==== many threads, one memory kind at a time =========================== */

FIXTURE(crowd) {
	struct test_region r;
	uint8_t *src;
	size_t pages;
	struct pcram_dst *dst;
	struct feed *feed;
	struct crowd *crowd;
};

MEMORY_VARIANTS(crowd);

FIXTURE_SETUP(crowd)
{
	const char *why;

	/*
	 * As many pages as one toucher touches (run_same() touches them all);
	 * of 2 MiB, one per thread at most; one 1 GiB page, all that is
	 * reserved.
	 */
	self->pages = region_pages(variant->mem, TOUCH_MAX, CROWD_MAX_THREADS, 1);
	why = region_map(&self->r, variant->mem, self->pages);
	if (why)
		SETUP_SKIP("%s", why);
	/* Nothing here places a 1 GiB page: see ONE_GIG_ELSEWHERE. */
	if (variant->mem != MEM_HUGETLB_1G) {
		self->src = source_make(self->pages, self->r.page_size, 1);
		ASSERT_NE(NULL, self->src);
	}
	feed_and_crowd_new(_metadata, &self->feed, &self->crowd);
}

FIXTURE_TEARDOWN(crowd)
{
	engine_teardown(self->dst, self->feed, self->crowd);
	if (self->src)
		munmap(self->src, self->r.length);
	region_unmap(&self->r);
}

/* Start the engine over the region, or SKIP where the kernel cannot watch it. */
#define START(opts, nr_blocks) do {					\
	int __ret = engine_start(&self->dst, &self->r, self->feed,	\
				 self->src, opts, nr_blocks);		\
	if (__ret == -EOPNOTSUPP)					\
		SKIP(return, "%s", pcram_dst_strerror(self->dst));	\
	ASSERT_EQ(0, __ret) TH_LOG("%s", pcram_dst_strerror(self->dst)); \
} while (0)

/*
 * Placing a 1 GiB page copies a gigabyte in the kernel 4 KiB at a time:
 * 34 s under the VM's TCG emulation. dst_place_test does it once; here
 * one_page_many_waiters faults on the 1 GiB page without placing it.
 */
#define ONE_GIG_ELSEWHERE() do {					\
	if (variant->mem == MEM_HUGETLB_1G)				\
		SKIP(return, "placing a 1 GiB page takes 34 s under TCG: dst_place_test places one, one_page_many_waiters faults on one"); \
} while (0)

/* Everything the engine counted adds up, and the region is the source. */
static void check_all_placed(struct __test_metadata *_metadata,
			     FIXTURE_DATA(crowd) *self)
{
	struct pcram_dst_stats st;
	long diff;

	SETTLE(feed_settled(self->feed) && faults_sorted(self->dst));
	st = stats_of(self->dst);

	EXPECT_CROWD_READ_RIGHT(self->crowd);
	diff = first_diff(self->r.host, self->src, self->r.length);
	EXPECT_EQ(-1, diff) TH_LOG("region differs from the source at %ld", diff);
	EXPECT_EQ(0, self->feed->base.errors)
		TH_LOG("provider placement failed: %d", self->feed->base.last_error);
	EXPECT_EQ(st.faults, st.requests + st.duplicates + st.stale + st.refaults +
		  st.outside);
	EXPECT_GE(st.faults, st.requests);
	EXPECT_EQ(self->pages, st.requests);
	EXPECT_EQ(self->pages, st.pages_placed);
	EXPECT_EQ(self->pages * self->r.page_size, st.bytes_placed);
	EXPECT_EQ(0, st.pages_missing);
	EXPECT_EQ(0, st.outside);
	EXPECT_EQ(0, st.provider_errors);
	EXPECT_FALSE(self->feed->overflow);
	if (!_metadata->passed)
		TH_LOG("faults %" PRIu64 " requests %" PRIu64 " duplicates %" PRIu64
		       " stale %" PRIu64 " placed %" PRIu64 " eexist %" PRIu64
		       " eagain %" PRIu64 " wakes %" PRIu64,
		       st.faults, st.requests, st.duplicates, st.stale,
		       st.pages_placed, st.eexist, st.eagain, st.wakes);
}

/* Let the crowd touch all at once; then every page is there, and right. */
static void run_and_check(struct __test_metadata *_metadata,
			  FIXTURE_DATA(crowd) *self)
{
	ASSERT_EQ(0, crowd_start_together(self->crowd));
	ASSERT_EQ(0, crowd_wait(self->crowd, DEADLINE_MS))
		TH_LOG("threads still blocked: lost wakeup");
	check_all_placed(_metadata, self);
}

/* @nr threads, each its own pages, all at once. */
static void run_distinct(struct __test_metadata *_metadata,
			 FIXTURE_DATA(crowd) *self, unsigned int nr)
{
	struct pcram_dst_stats st;

	crowd_add_interleaved(self->crowd, &self->r, self->src, nr, self->pages, true);
	run_and_check(_metadata, self);
	st = stats_of(self->dst);
	/* Nobody else touched a thread's pages: one fault each. */
	EXPECT_EQ(0, st.duplicates);
	EXPECT_EQ(0, st.stale);
	EXPECT_EQ(self->pages, st.faults);
}

/* @nr threads touching every page in the same order, at once. */
static void run_same(struct __test_metadata *_metadata,
		     FIXTURE_DATA(crowd) *self, unsigned int nr)
{
	crowd_add_every_page(self->crowd, &self->r, self->src, nr, self->pages, false);
	run_and_check(_metadata, self);
}

TEST_F_TIMEOUT(crowd, distinct_pages_16_threads, 60)
{
	NEED_PAGES(16);
	START(NULL, 1);
	run_distinct(_metadata, self, 16);
}

TEST_F_TIMEOUT(crowd, distinct_pages_32_threads, 60)
{
	NEED_PAGES(32);
	START(NULL, 1);
	run_distinct(_metadata, self, 32);
}

TEST_F_TIMEOUT(crowd, same_pages_16_threads, 60)
{
	ONE_GIG_ELSEWHERE();
	START(NULL, 1);
	run_same(_metadata, self, 16);
}

TEST_F_TIMEOUT(crowd, same_pages_32_threads, 60)
{
	ONE_GIG_ELSEWHERE();
	START(NULL, 1);
	run_same(_metadata, self, 32);
}

/*
 * 16 threads block on one page before anything is placed: one request,
 * 15 duplicates, and the one placement wakes all 16.
 */
TEST_F_TIMEOUT(crowd, one_page_many_waiters, 60)
{
	bool one_gig = variant->mem == MEM_HUGETLB_1G;
	struct crowd *c = self->crowd;
	uint8_t *page = self->r.host + (self->pages - 1) * self->r.page_size;
	struct sigaction sa = { .sa_handler = on_escape };
	struct pcram_dst_stats st;

	self->feed->mode = FEED_RECORD;
	START(NULL, 1);
	for (unsigned int i = 0; i < 16; i++) {
		struct toucher *t = crowd_add(c, &self->r, self->src);

		toucher_add_page(t, self->pages - 1);
		t->escapable = one_gig;
	}
	ASSERT_EQ(0, crowd_start_together(c));
	ASSERT_TRUE(WAIT_FOR(stats_of(self->dst).faults >= 16, DEADLINE_MS))
		TH_LOG("only %" PRIu64 " of 16 faults arrived", stats_of(self->dst).faults);
	st = stats_of(self->dst);
	EXPECT_EQ(16, st.faults);
	EXPECT_EQ(1, st.requests);
	EXPECT_EQ(15, st.duplicates);
	EXPECT_EQ(0, st.stale);
	EXPECT_EQ(1, feed_requests_for(self->feed, page));
	/* Asked for whole: its block offset, the block's page size. */
	EXPECT_EQ((self->pages - 1) * self->r.page_size, self->feed->log[0].offset);
	EXPECT_EQ(self->r.page_size, self->feed->log[0].length);
	EXPECT_EQ((uintptr_t)page, (uintptr_t)self->feed->log[0].host);
	for (unsigned int i = 0; i < c->n; i++) {
		EXPECT_FALSE(c->t[i].done);
	}

	if (one_gig) {
		/*
		 * Placing 1 GiB takes 34 s under TCG (dst_place_test does
		 * it): a signal takes each waiter out of its fault instead.
		 */
		sigemptyset(&sa.sa_mask);
		ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
		for (unsigned int i = 0; i < c->n; i++)
			ASSERT_EQ(0, pthread_kill(c->t[i].thread, SIGUSR1));
		ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS));
		for (unsigned int i = 0; i < c->n; i++) {
			EXPECT_TRUE(c->t[i].escaped);
		}
		st = stats_of(self->dst);
		EXPECT_EQ(16, st.faults);
		EXPECT_EQ(1, st.requests);
		EXPECT_EQ(0, st.pages_placed);
		return;
	}

	ASSERT_EQ(0, pcram_dst_place_page(self->dst, page,
					  self->src + (self->pages - 1) * self->r.page_size));
	ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS)) TH_LOG("a waiter was not woken");
	EXPECT_CROWD_READ_RIGHT(c);
	st = stats_of(self->dst);
	EXPECT_EQ(1, st.pages_placed);
	EXPECT_EQ(1, st.fault_to_placed.count);
}

/*
 * The provider only queues; a placer thread places later, as a network
 * receiver would. Two blocks alternated: the block name comes with a
 * request when it differs from the previous one's, NULL otherwise.
 */
TEST_F_TIMEOUT(crowd, queued_provider_and_block_name_elision, 60)
{
	struct feed *f = self->feed;
	struct crowd *c = self->crowd;
	size_t half = self->pages / 2;
	/* Block-relative pages: A0 B0 B1 A1 A2 B2. */
	const struct { unsigned int block; size_t page; } seq[] = {
		{ 0, 0 }, { 1, 0 }, { 1, 1 }, { 0, 1 }, { 0, 2 }, { 1, 2 },
	};
	const bool named[] = { true, true, false, true, false, true };
	struct pcram_block blk[2];
	struct toucher *t;
	unsigned int nr;

	NEED_PAGES(6);
	f->mode = FEED_QUEUE;
	START(NULL, 2);
	ASSERT_EQ(0, pcram_dst_block(self->dst, 0, &blk[0]));
	ASSERT_EQ(0, pcram_dst_block(self->dst, 1, &blk[1]));
	ASSERT_EQ(0, pthread_create(&f->placer, NULL, placer_main, f));
	f->placer_started = true;

	/* One thread, one page at a time: the order of requests is known. */
	t = crowd_add(c, &self->r, self->src);
	for (unsigned int i = 0; i < ARRAY_SIZE(seq); i++)
		toucher_add_page(t, seq[i].block * half + seq[i].page);
	ASSERT_EQ(0, crowd_start(c, false));
	ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS));
	EXPECT_EQ(0, t->bad);
	pthread_mutex_lock(&f->lock);
	nr = f->nr_log;
	pthread_mutex_unlock(&f->lock);
	ASSERT_EQ(ARRAY_SIZE(seq), nr);
	for (unsigned int i = 0; i < nr; i++) {
		const struct logged_request *l = &f->log[i];

		EXPECT_EQ(seq[i].block, l->block_index);
		EXPECT_EQ(seq[i].page * self->r.page_size, l->offset);
		EXPECT_EQ(named[i], l->named) TH_LOG("request %u", i);
		if (l->named) {
			EXPECT_STREQ(blk[seq[i].block].name, l->name);
		}
	}

	/* Then 16 threads over both blocks in random order. */
	c->n = 0;
	crowd_add_every_page(c, &self->r, self->src, 16, self->pages, true);
	run_and_check(_metadata, self);

	/* The rule holds over the whole log, one fault thread handing out. */
	pthread_mutex_lock(&f->lock);
	for (unsigned int i = 1; i < f->nr_log; i++) {
		const struct logged_request *l = &f->log[i];
		bool same = l->block_index == f->log[i - 1].block_index;

		EXPECT_EQ(!same, l->named) TH_LOG("request %u", i);
		if (l->named) {
			EXPECT_STREQ(blk[l->block_index].name, l->name);
		}
	}
	pthread_mutex_unlock(&f->lock);
}

/*
 * Four fault threads serve 16 faulting threads: each page is handed out
 * once, and while one fault thread is busy in the provider the others
 * keep handing out requests.
 */
TEST_F_TIMEOUT(crowd, four_fault_threads, 60)
{
	struct pcram_dst_options opts = { .fault_threads = 4 };
	struct feed *f = self->feed;
	struct crowd *c = self->crowd;
	struct pcram_dst_stats st;
	bool held;

	NEED_PAGES(16);
	f->hold_first = true;
	START(&opts, 1);
	st = stats_of(self->dst);
	EXPECT_EQ(4, st.fault_threads);

	/* Thread 0 first: its request holds one fault thread in the provider. */
	crowd_add_interleaved(c, &self->r, self->src, 16, self->pages, true);
	ASSERT_EQ(0, toucher_start(&c->t[0]));
	ASSERT_TRUE(WAIT_FOR(stats_of(self->dst).requests >= 1, DEADLINE_MS));
	for (unsigned int i = 1; i < 16; i++) {
		ASSERT_EQ(0, toucher_start(&c->t[i]));
	}
	ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS)) TH_LOG("threads still blocked: lost wakeup");
	check_all_placed(_metadata, self);

	pthread_mutex_lock(&f->lock);
	held = f->held_until_other;
	for (unsigned int i = 0; i < f->nr_log; i++) {
		EXPECT_LT(f->log[i].fault_thread, 4);
		for (unsigned int j = 0; j < i; j++) {
			EXPECT_NE((uintptr_t)f->log[j].host, (uintptr_t)f->log[i].host)
				TH_LOG("page at %p handed out twice", f->log[i].host);
		}
	}
	pthread_mutex_unlock(&f->lock);
	EXPECT_TRUE(held) TH_LOG("no other fault thread handed out a request while one was busy");
	EXPECT_GE(__builtin_popcountll(f->thread_mask), 2);
}

/*
 * Per-thread statistics: the faulting thread's tid comes with each fault
 * (UFFD_FEATURE_THREAD_ID), its requests and blocked time are kept, and
 * pcram_dst_set_vcpu() names it.
 */
TEST_F_TIMEOUT(crowd, per_thread_stats, 60)
{
	enum { NR = 8, DELAY_US = 1000 };
	struct pcram_thread_stats ts[64];
	struct crowd *c = self->crowd;
	struct pcram_dst_stats st;
	size_t next = 0;
	int n;

	NEED_PAGES(20);
	self->feed->delay_us = DELAY_US;
	START(NULL, 1);
	st = stats_of(self->dst);
	if (!(st.features & UFFD_FEATURE_THREAD_ID))
		SKIP(return, "the kernel gives no UFFD_FEATURE_THREAD_ID: faults carry no tid");

	/* Thread i touches 1 + i % 4 pages of its own. */
	for (unsigned int i = 0; i < NR; i++) {
		struct toucher *t = crowd_add(c, &self->r, self->src);

		for (unsigned int k = 0; k < 1 + i % 4; k++)
			toucher_add_page(t, next++);
	}
	ASSERT_EQ(0, crowd_start(c, true));
	/* Every thread but the last is a vCPU, numbered from 100. */
	for (unsigned int i = 0; i + 1 < NR; i++) {
		ASSERT_EQ(0, pcram_dst_set_vcpu(self->dst, (uint32_t)c->t[i].tid, 100 + (int)i));
	}
	EXPECT_EQ(-EINVAL, pcram_dst_set_vcpu(self->dst, 0, 1));
	EXPECT_EQ(-EINVAL, pcram_dst_set_vcpu(self->dst, (uint32_t)c->t[0].tid, -1));
	crowd_go(c);
	ASSERT_EQ(0, crowd_wait(c, DEADLINE_MS)) TH_LOG("threads still blocked: lost wakeup");
	SETTLE(feed_settled(self->feed));

	n = pcram_dst_thread_stats(self->dst, ts, ARRAY_SIZE(ts), sizeof(*ts));
	ASSERT_EQ(NR, n);
	EXPECT_EQ(NR, pcram_dst_thread_stats(self->dst, NULL, 0,
					     sizeof(struct pcram_thread_stats)));
	for (unsigned int i = 0; i < NR; i++) {
		const struct toucher *t = &c->t[i];
		const struct pcram_thread_stats *s = NULL;

		EXPECT_EQ(0, t->bad);
		for (int k = 0; k < n; k++)
			if (ts[k].tid == (uint32_t)t->tid)
				s = &ts[k];
		ASSERT_NE(NULL, s) TH_LOG("thread %u (tid %d) not in the stats", i, t->tid);
		EXPECT_EQ(t->nr_pages, s->faults) TH_LOG("thread %u", i);
		EXPECT_EQ(i + 1 < NR ? 100 + (int)i : -1, s->vcpu) TH_LOG("thread %u", i);
		/* Each of its faults waited out the provider's delay. */
		EXPECT_GE(s->blocked_ns, s->faults * DELAY_US * 1000ULL);
		EXPECT_GE(s->max_ns, DELAY_US * 1000ULL);
		EXPECT_LE(s->max_ns, s->blocked_ns);
	}
	st = stats_of(self->dst);
	EXPECT_EQ(next, st.requests);
	EXPECT_EQ(next, st.fault_to_placed.count);
}

/* ==== pages that go after they were placed ================================ */

/* A thread that copies a page out, faulting it in. */
struct page_copier {
	pthread_t thread;
	const uint8_t *page;
	uint8_t *out;
	size_t len;
};

static void *page_copier_main(void *arg)
{
	struct page_copier *pc = arg;

	memcpy(pc->out, pc->page, pc->len);
	return NULL;
}

/*
 * Copy @len bytes at @page into @out on another thread, waiting at most
 * DEADLINE_MS: 0, or -ETIMEDOUT with the thread still blocked in its
 * fault. Then cleanup releases it, so it is joined before returning.
 */
static int copy_out(struct pcram_dst *dst, const uint8_t *page, uint8_t *out,
		    size_t len)
{
	struct page_copier pc = { .page = page, .out = out, .len = len };
	struct timespec end = realtime_after_ms(DEADLINE_MS);
	int ret;

	ret = pthread_create(&pc.thread, NULL, page_copier_main, &pc);
	if (ret)
		return -ret;
	if (!pthread_timedjoin_np(pc.thread, NULL, &end))
		return 0;
	pcram_dst_cleanup(dst);
	pthread_join(pc.thread, NULL);
	return -ETIMEDOUT;
}

static bool is_shared(const struct test_region *r)
{
	return r->type == PCRAM_BLOCK_SHMEM || r->type == PCRAM_BLOCK_HUGETLB_SHARED;
}

static int join_ms(pthread_t thread, int ms)
{
	struct timespec end = realtime_after_ms(ms);

	return pthread_timedjoin_np(thread, NULL, &end);
}

/* A thread that reads one byte of a page, faulting it in. */
static void *byte_reader_main(void *arg)
{
	return (void *)(uintptr_t)*(const volatile uint8_t *)arg;
}

/*
 * The guest writes a placed page, then drops it with MADV_DONTNEED; many
 * rounds, two fault threads, a slow provider. Private memory: the REMOVE
 * event forgets the page and the next touch fetches it from the source
 * again. Each round another thread faults a fresh page just before the
 * MADV_DONTNEED, so that one fault thread can read that fault and the
 * REMOVE in one read(), sit in the provider, and the other fault thread
 * read the refault before the REMOVE is handled. Shared memory: the file
 * keeps the guest's data, the next touch is a MINOR fault on a received
 * page, and the engine maps it again with CONTINUE. No touch may stay
 * blocked.
 */
TEST_F_TIMEOUT(crowd, dontneed_then_touch_again, 120)
{
	struct pcram_dst_options opts = { .fault_threads = 2 };
	size_t ps = self->r.page_size, n = self->pages < 8 ? self->pages : 8;
	unsigned int rounds = ps > 4096 ? 24 : 400;
	bool shared = is_shared(&self->r);
	int expect[8];		/* -1: the source's page; else the guest's byte */
	struct pcram_dst_stats st;
	uint8_t *out, *want;

	ONE_GIG_ELSEWHERE();
	NEED_PAGES(n + rounds);
	self->feed->delay_us = 1000;
	START(&opts, 1);
	if (!(stats_of(self->dst).features & UFFD_FEATURE_EVENT_REMOVE))
		SKIP(return, "the kernel gives no UFFD_FEATURE_EVENT_REMOVE");
	out = malloc(ps);
	want = malloc(ps);
	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, want);
	for (size_t p = 0; p < n; p++)
		expect[p] = -1;

	for (unsigned int round = 0; round < rounds; round++) {
		size_t p = round % n;
		uint8_t *host = self->r.host + p * ps;
		uint8_t fill = (uint8_t)(round | 1);
		pthread_t other;
		long diff;

		ASSERT_EQ(0, copy_out(self->dst, host, out, ps))
			TH_LOG("round %u: the touch of page %zu stayed blocked", round, p);
		if (expect[p] < 0)
			memcpy(want, self->src + p * ps, ps);
		else
			memset(want, expect[p], ps);
		diff = first_diff(out, want, ps);
		ASSERT_EQ(-1, diff) TH_LOG("round %u: page %zu differs at %ld", round, p, diff);
		memset(host, fill, ps);
		ASSERT_EQ(0, pthread_create(&other, NULL, byte_reader_main,
					    self->r.host + (n + round) * ps));
		ASSERT_EQ(0, madvise(host, ps, MADV_DONTNEED));
		expect[p] = shared ? fill : -1;
		ASSERT_EQ(0, join_ms(other, DEADLINE_MS)) TH_LOG("round %u: a fresh page stayed blocked", round);
	}
	SETTLE(feed_settled(self->feed) && faults_sorted(self->dst));
	st = stats_of(self->dst);
	if (shared) {
		/*
		 * Asked for once; every later touch mapped the file's page
		 * again. The fresh pages' placements can meet the REMOVE of a
		 * MADV_DONTNEED too (EAGAIN, asked again), as below.
		 */
		EXPECT_EQ(n + rounds + self->feed->base.errors, st.requests);
		EXPECT_EQ(rounds - n, st.refaults);
	} else {
		/*
		 * A placement while the kernel delivers the REMOVE may fail
		 * with EAGAIN (mmap_changing); the provider passes that on,
		 * and the thread faults and is asked for again.
		 */
		EXPECT_EQ(2 * rounds + self->feed->base.errors, st.requests);
		EXPECT_EQ(0, st.refaults);
	}
	EXPECT_EQ(0, st.provider_errors);
	if (self->feed->base.errors) {
		EXPECT_EQ(-EAGAIN, self->feed->base.last_error);
	}
	free(out);
	free(want);
}

/*
 * MADV_REMOVE frees a shared page from the file itself: the data is gone,
 * and the next touch must read zeros (as the file does), not hang on a
 * page the engine had marked received, and not fetch old data again.
 */
TEST_F_TIMEOUT(crowd, madv_remove_then_touch_reads_zeros, 60)
{
	size_t ps = self->r.page_size;
	uint8_t *host = self->r.host, *out, *zeros;
	struct pcram_dst_stats st;

	if (!is_shared(&self->r))
		SKIP(return, "MADV_REMOVE frees a file's pages: shared memory only");
	NEED_PAGES(2);
	START(NULL, 1);
	out = malloc(ps);
	zeros = calloc(1, ps);
	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, zeros);

	ASSERT_EQ(0, copy_out(self->dst, host, out, ps)) TH_LOG("first touch stayed blocked");
	EXPECT_EQ(-1, first_diff(out, self->src, ps));
	memset(host, 0x5a, ps);
	ASSERT_EQ(0, madvise(host, ps, MADV_REMOVE)) TH_LOG("MADV_REMOVE: %s", strerror(errno));
	ASSERT_EQ(0, copy_out(self->dst, host, out, ps))
		TH_LOG("the touch after MADV_REMOVE stayed blocked");
	EXPECT_EQ(-1, first_diff(out, zeros, ps));
	EXPECT_EQ(1, pcram_dst_page_received(self->dst, host));

	/* The next page still comes from the source. */
	ASSERT_EQ(0, copy_out(self->dst, host + ps, out, ps));
	EXPECT_EQ(-1, first_diff(out, self->src + ps, ps));
	SETTLE(feed_settled(self->feed));
	st = stats_of(self->dst);
	EXPECT_EQ(2, st.requests);
	EXPECT_EQ(1, st.refaults);
	free(out);
	free(zeros);
}

/* ==== events and errors: anonymous memory ================================ */

#define EV_PAGES 16

FIXTURE(events) {
	struct test_region r;
	uint8_t *src;
	struct pcram_dst *dst;
	struct feed *feed;
	struct crowd *crowd;
	void *moved;		/* mremap target, unmapped at teardown */
	size_t moved_len;
};

FIXTURE_SETUP(events)
{
	const char *why = region_map(&self->r, MEM_ANON, EV_PAGES);

	if (why)
		SETUP_SKIP("%s", why);
	self->src = source_make(EV_PAGES, self->r.page_size, 1);
	ASSERT_NE(NULL, self->src);
	feed_and_crowd_new(_metadata, &self->feed, &self->crowd);
	ASSERT_EQ(0, engine_start(&self->dst, &self->r, self->feed, self->src, NULL, 1))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
}

FIXTURE_TEARDOWN(events)
{
	engine_teardown(self->dst, self->feed, self->crowd);
	if (self->moved)
		munmap(self->moved, self->moved_len);
	if (self->src)
		munmap(self->src, self->r.length);
	region_unmap(&self->r);
}

/* A toucher of pages @first to @first + @n - 1, in order. */
static struct toucher *touch_pages(FIXTURE_DATA(events) *self, size_t first,
				   size_t n)
{
	struct toucher *t = crowd_add(self->crowd, &self->r, self->src);

	for (size_t p = first; p < first + n; p++)
		toucher_add_page(t, p);
	return t;
}

/* Start the touchers: each must finish (@what, if not) and read the source. */
static void run_touchers(struct __test_metadata *_metadata,
			 FIXTURE_DATA(events) *self, const char *what)
{
	ASSERT_EQ(0, crowd_start(self->crowd, false));
	ASSERT_EQ(0, crowd_wait(self->crowd, DEADLINE_MS)) TH_LOG("%s", what);
	EXPECT_CROWD_READ_RIGHT(self->crowd);
}

/* A thread that reads one byte anywhere and reports it. */
struct reader {
	pthread_t thread;
	const volatile uint8_t *addr;
	uint8_t value;
	_Atomic bool done;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	rd->value = *rd->addr;
	rd->done = true;
	return NULL;
}


/*
 * mremap() of part of a block: a REMAP event, then a touch at the new
 * address is a fault in no block. The engine reports and counts it, keeps
 * serving the blocks, and cleanup (closing the userfaultfd) releases the
 * thread stuck there.
 */
TEST_F_TIMEOUT(events, remap_then_fault_outside, 60)
{
	size_t ps = self->r.page_size, len = 4 * ps;
	uint8_t *from = self->r.host + 8 * ps, *to;
	struct reader stuck = { 0 };
	struct pcram_dst_stats st;
	struct pcram_event ev;
	int remap, outside;
	bool joined;

	st = stats_of(self->dst);
	if (!(st.features & UFFD_FEATURE_EVENT_REMAP))
		SKIP(return, "the kernel gives no UFFD_FEATURE_EVENT_REMAP");

	self->moved = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->moved);
	self->moved_len = len;
	to = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, self->moved);
	ASSERT_EQ((uintptr_t)self->moved, (uintptr_t)to) TH_LOG("mremap: %s", strerror(errno));
	remap = feed_wait_event(self->feed, PCRAM_EVENT_REMAP, &ev);
	ASSERT_LE(0, remap) TH_LOG("no REMAP event");
	EXPECT_EQ((uintptr_t)from, ev.addr);
	EXPECT_EQ((uintptr_t)to, ev.to);
	EXPECT_EQ(len, ev.length);

	/* The moved range is still watched, but belongs to no block. */
	stuck.addr = to + ps + 123;
	ASSERT_EQ(0, pthread_create(&stuck.thread, NULL, reader_main, &stuck));
	ASSERT_TRUE(WAIT_FOR(stats_of(self->dst).outside >= 1, DEADLINE_MS));
	outside = feed_find_event(self->feed, PCRAM_EVENT_FAULT_OUTSIDE, 0);
	ASSERT_GE(outside, 0);
	EXPECT_GT(outside, remap);
	ev = self->feed->events[outside];
	EXPECT_GE(ev.addr, (uintptr_t)to + ps);
	EXPECT_LT(ev.addr, (uintptr_t)to + 2 * ps);
	st = stats_of(self->dst);
	EXPECT_EQ(1, st.outside);
	EXPECT_EQ(0, st.requests);

	/* The blocks are still served, to other threads. */
	touch_pages(self, 0, 8);
	touch_pages(self, 12, 4);
	run_touchers(_metadata, self, "the blocks are no longer served");
	SETTLE(feed_settled(self->feed));
	EXPECT_EQ(12, stats_of(self->dst).pages_placed);
	EXPECT_FALSE(stuck.done);

	/* Cleanup lets the stuck thread go, onto empty memory. */
	EXPECT_EQ(0, pcram_dst_cleanup(self->dst));
	joined = join_ms(stuck.thread, DEADLINE_MS) == 0;
	ASSERT_TRUE(joined) TH_LOG("cleanup left the thread outside the blocks blocked");
	EXPECT_TRUE(stuck.done);
	EXPECT_EQ(0, stuck.value);
}

/* munmap() of part of a block: an UNMAP event with its range. */
TEST_F(events, munmap_reports_unmap)
{
	size_t ps = self->r.page_size;
	struct pcram_event ev;

	if (!(stats_of(self->dst).features & UFFD_FEATURE_EVENT_UNMAP))
		SKIP(return, "the kernel gives no UFFD_FEATURE_EVENT_UNMAP");
	ASSERT_EQ(0, munmap(self->r.host + 12 * ps, 4 * ps));
	ASSERT_LE(0, feed_wait_event(self->feed, PCRAM_EVENT_UNMAP, &ev)) TH_LOG("no UNMAP event");
	EXPECT_EQ((uintptr_t)self->r.host + 12 * ps, ev.addr);
	EXPECT_EQ(4 * ps, ev.length);
	EXPECT_GE(stats_of(self->dst).events, 1);

	/* The rest of the block is still served. */
	touch_pages(self, 0, 12);
	run_touchers(_metadata, self, "the rest of the block is no longer served");
}

/*
 * MADV_DONTNEED on placed pages from outside the engine: a REMOVE event,
 * and the pages are missing again, so the next touch fetches them anew.
 */
TEST_F(events, remove_event_forgets_pages)
{
	size_t ps = self->r.page_size;
	struct pcram_event ev;

	if (!(stats_of(self->dst).features & UFFD_FEATURE_EVENT_REMOVE))
		SKIP(return, "the kernel gives no UFFD_FEATURE_EVENT_REMOVE");
	for (size_t p = 0; p < 4; p++) {
		ASSERT_EQ(0, pcram_dst_place_page(self->dst, self->r.host + p * ps,
						  self->src + p * ps));
	}
	ASSERT_EQ(EV_PAGES - 4, pcram_dst_pages_missing(self->dst));
	ASSERT_EQ(0, madvise(self->r.host + ps, 2 * ps, MADV_DONTNEED));
	ASSERT_LE(0, feed_wait_event(self->feed, PCRAM_EVENT_REMOVE, &ev)) TH_LOG("no REMOVE event");
	EXPECT_EQ((uintptr_t)self->r.host + ps, ev.addr);
	EXPECT_EQ(2 * ps, ev.length);
	/* The fault thread forgets them after the event: wait for it. */
	ASSERT_TRUE(WAIT_FOR(pcram_dst_page_received(self->dst, self->r.host + 2 * ps) == 0,
			     DEADLINE_MS));
	EXPECT_EQ(1, pcram_dst_page_received(self->dst, self->r.host));
	EXPECT_EQ(0, pcram_dst_page_received(self->dst, self->r.host + ps));
	EXPECT_EQ(EV_PAGES - 2, pcram_dst_pages_missing(self->dst));

	touch_pages(self, 0, 4);
	run_touchers(_metadata, self, "the removed pages were not fetched again");
	EXPECT_EQ(2, stats_of(self->dst).requests);
}

struct discarder {
	struct pcram_dst *dst;
	uint64_t offset, length;
	int ret;
};

static void *discarder_main(void *arg)
{
	struct discarder *d = arg;

	d->ret = pcram_dst_discard_range(d->dst, "pc.ram", d->offset, d->length);
	return NULL;
}

/*
 * discard_range's own MADV_DONTNEED raises a REMOVE as well, and the
 * madvise returns once a fault thread has read the event, which may be
 * before that thread handles it. A page placed again in that gap (the
 * source's postcopy send after its DISCARD) must stay placed. To open the
 * gap wide, the only fault thread is kept in a slow provider while a
 * fault and the REMOVE queue up, so one read() takes both and handles the
 * fault first.
 */
TEST_F(events, own_discard_keeps_later_placement)
{
	size_t ps = self->r.page_size;
	uint8_t *page = self->r.host + 5 * ps;
	struct discarder d = { .dst = self->dst, .offset = 5 * ps, .length = ps };
	pthread_t slow, queued, discard;
	struct pcram_event ev;

	if (!(stats_of(self->dst).features & UFFD_FEATURE_EVENT_REMOVE))
		SKIP(return, "the kernel gives no UFFD_FEATURE_EVENT_REMOVE");
	ASSERT_EQ(0, pcram_dst_place_page(self->dst, page, self->src + 5 * ps));
	self->feed->delay_us = 300 * 1000;
	ASSERT_EQ(0, pthread_create(&slow, NULL, byte_reader_main, self->r.host));
	ASSERT_TRUE(WAIT_FOR(feed_requests_for(self->feed, self->r.host) == 1, DEADLINE_MS));
	ASSERT_EQ(0, pthread_create(&queued, NULL, byte_reader_main, self->r.host + ps));
	usleep(50 * 1000);
	ASSERT_EQ(0, pthread_create(&discard, NULL, discarder_main, &d));
	ASSERT_EQ(0, join_ms(discard, DEADLINE_MS));
	ASSERT_EQ(0, d.ret) TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(0, pcram_dst_page_received(self->dst, page));

	/* The source sends it again after the DISCARD. */
	ASSERT_EQ(0, pcram_dst_place_page(self->dst, page, self->src + 5 * ps));
	ASSERT_LE(0, feed_wait_event(self->feed, PCRAM_EVENT_REMOVE, &ev)) TH_LOG("no REMOVE event");
	EXPECT_EQ((uintptr_t)page, ev.addr);
	ASSERT_EQ(0, join_ms(slow, DEADLINE_MS));
	ASSERT_EQ(0, join_ms(queued, DEADLINE_MS));
	EXPECT_EQ(1, pcram_dst_page_received(self->dst, page));
	/* Pages 0 and 1 came by their faults, and this one. */
	EXPECT_EQ(EV_PAGES - 3, pcram_dst_pages_missing(self->dst));
	EXPECT_EQ(0, first_diff(page, self->src + 5 * ps, ps) + 1);
}

/*
 * A provider that refuses a page: PROVIDER_ERROR with its error, counted;
 * the thread keeps waiting until the page is placed some other way.
 */
TEST_F(events, provider_error_then_placed)
{
	size_t ps = self->r.page_size;
	uint8_t *page = self->r.host + 3 * ps;
	struct toucher *t;
	struct pcram_event ev;

	self->feed->fail_host = page;
	self->feed->fail_error = -EIO;
	t = touch_pages(self, 3, 1);
	ASSERT_EQ(0, crowd_start(self->crowd, false));
	ASSERT_LE(0, feed_wait_event(self->feed, PCRAM_EVENT_PROVIDER_ERROR, &ev))
		TH_LOG("no PROVIDER_ERROR event");
	EXPECT_EQ(-EIO, ev.error);
	EXPECT_EQ((uintptr_t)page, ev.addr);
	EXPECT_EQ(ps, ev.length);
	EXPECT_EQ(1, stats_of(self->dst).provider_errors);

	/* Still waiting, and asking again would not help: place it here. */
	usleep(50 * 1000);
	EXPECT_FALSE(t->done);
	EXPECT_EQ(0, pcram_dst_page_received(self->dst, page));
	ASSERT_EQ(0, pcram_dst_place_page(self->dst, page, self->src + 3 * ps));
	ASSERT_EQ(0, crowd_wait(self->crowd, DEADLINE_MS)) TH_LOG("the placement did not wake it");
	EXPECT_EQ(0, t->bad);
	EXPECT_EQ(1, stats_of(self->dst).provider_errors);
}

/* -EAGAIN from the provider: the thread faults again until it is served. */
TEST_F(events, provider_eagain_retries)
{
	size_t ps = self->r.page_size;
	uint8_t *page = self->r.host + 5 * ps;
	struct pcram_dst_stats st;

	self->feed->again_host = page;
	self->feed->again_left = 3;
	touch_pages(self, 5, 1);
	run_touchers(_metadata, self, "the retried fault was not served");
	EXPECT_EQ(0, self->feed->again_left);
	EXPECT_EQ(4, feed_requests_for(self->feed, page));
	st = stats_of(self->dst);
	EXPECT_EQ(4, st.requests);
	EXPECT_EQ(3, st.retries);
	EXPECT_EQ(0, st.provider_errors);
	EXPECT_EQ(-1, feed_find_event(self->feed, PCRAM_EVENT_PROVIDER_ERROR, 0));
	SETTLE(feed_settled(self->feed));
	EXPECT_EQ(1, stats_of(self->dst).pages_placed);
}

TEST_HARNESS_MAIN
