/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers the destination-engine tests share: deadlines and polling, the
 * content pages are placed from, a provider that places from a source
 * buffer, and threads that touch pages and check what they read. Include
 * after kselftest_harness.h and "memory.h".
 *
 *   self->src = source_make(pages, page_size, 1);
 *   t = crowd_add(crowd, &self->r, self->src);	// a thread, then its pages
 *   toucher_add_page(t, 3);
 *   ASSERT_EQ(0, crowd_start_together(crowd));
 *   ASSERT_EQ(0, crowd_wait(crowd, DEADLINE_MS));
 *   EXPECT_CROWD_READ_RIGHT(crowd);
 */
#ifndef PCRAM_SELFTESTS_DST_UTIL_H
#define PCRAM_SELFTESTS_DST_UTIL_H

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <pcram.h>

#include "memory.h"

#define DEADLINE_MS		20000		/* for anything that waits on a fault */
#define CHECK_WINDOW		(64UL << 10)	/* bytes a toucher compares a page */
#define CONTENT_CHUNK		SZ_2M		/* the unit content is made in */
#define CROWD_MAX_THREADS	32		/* touchers in one crowd */
#define TOUCH_MAX		512		/* pages one toucher touches */

/* ---- time --------------------------------------------------------------- */

/* Milliseconds on the monotonic clock: what WAIT_FOR() measures with. */
static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * @ms from now on CLOCK_REALTIME: the absolute deadline that
 * pthread_timedjoin_np() and pthread_cond_timedwait() take.
 */
static inline struct timespec realtime_after_ms(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/*
 * Poll @cond every millisecond for up to @ms; its last value. The engine
 * counts and wakes from its own threads, so a test waits for what it
 * expects rather than sleeping for a guessed time.
 */
#define WAIT_FOR(cond, ms) ({						\
	uint64_t __end = now_ms() + (ms);				\
	bool __ok;							\
	while (!(__ok = (cond)) && now_ms() < __end)			\
		usleep(1000);						\
	__ok; })

/* The engine's counters as a value, to compare or poll in one expression. */
static inline struct pcram_dst_stats stats_of(const struct pcram_dst *dst)
{
	struct pcram_dst_stats st;

	pcram_dst_stats(dst, &st, sizeof(st));
	return st;
}

/*
 * Has every fault read been sorted into one kind? A fault thread counts a
 * fault when it reads it, and its kind a moment later: after the last
 * toucher is done it may still be sorting a stale message.
 */
static inline bool faults_sorted(const struct pcram_dst *dst)
{
	struct pcram_dst_stats st = stats_of(dst);

	return st.faults == st.requests + st.duplicates + st.stale +
			    st.refaults + st.outside;
}

/* ---- content ------------------------------------------------------------ */

/*
 * Page @page of generation @gen, @len bytes: pattern_byte() (which repeats
 * every 256 bytes) with each 4 KiB stamped with @gen, @page and its index
 * in the 2 MiB chunk, so that data of another generation or page, or
 * placed a few KiB off, never matches.
 */
static inline void content_fill(uint8_t *p, size_t page, size_t len, unsigned int gen)
{
	for (size_t i = 0; i < 256; i++)
		p[i] = pattern_byte(page, i, gen);
	for (size_t done = 256; done < len; done *= 2)
		memcpy(p + done, p, done < len - done ? done : len - done);
	for (size_t off = 0; off < len; off += 4096) {
		uint64_t stamp = (uint64_t)gen << 48 | (uint64_t)page << 16 |
				 (off % CONTENT_CHUNK) >> 12;

		memcpy(p + off, &stamp, sizeof(stamp));
	}
}

/*
 * What a provider places from: @pages pages of @ps bytes, generation @gen,
 * or NULL. A page bigger than 2 MiB is one 2 MiB memfd chunk mapped over
 * and over, so that a 1 GiB page costs neither a gigabyte nor the time to
 * fill it. Unmap it with munmap(buf, pages * ps).
 */
static inline uint8_t *source_make(size_t pages, size_t ps, unsigned int gen)
{
	size_t len = pages * ps;
	uint8_t *buf;

	if (ps <= CONTENT_CHUNK) {
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			return NULL;
		for (size_t p = 0; p < pages; p++)
			content_fill(buf + p * ps, p, ps, gen);
		return buf;
	}
	buf = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (buf == MAP_FAILED)
		return NULL;
	for (size_t p = 0; p < pages; p++) {
		int fd = memfd_create("pattern", MFD_CLOEXEC);
		uint8_t *c;

		if (fd < 0 || ftruncate(fd, CONTENT_CHUNK))
			goto fail;
		c = mmap(NULL, CONTENT_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (c == MAP_FAILED)
			goto fail;
		content_fill(c, p, CONTENT_CHUNK, gen);
		munmap(c, CONTENT_CHUNK);
		for (size_t off = 0; off < ps; off += CONTENT_CHUNK)
			if (mmap(buf + p * ps + off, CONTENT_CHUNK, PROT_READ,
				 MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) == MAP_FAILED)
				goto fail;
		close(fd);
		continue;
fail:
		if (fd >= 0)
			close(fd);
		munmap(buf, len);
		return NULL;
	}
	return buf;
}

/*
 * Offset of the first byte that differs, or -1: where a region stopped
 * being its source, for the message. memcmp() runs a chunk at a time, and
 * only a chunk that differs is searched byte by byte.
 */
static inline long first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t off = 0; off < len; off += CONTENT_CHUNK) {
		size_t n = len - off < CONTENT_CHUNK ? len - off : CONTENT_CHUNK;

		if (memcmp(a + off, b + off, n))
			for (size_t i = 0; i < n; i++)
				if (a[off + i] != b[off + i])
					return (long)(off + i);
	}
	return -1;
}

/* ---- region size -------------------------------------------------------- */

/*
 * How many pages a test region of kind @m has: @small of 4 KiB memory,
 * fewer of huge pages, whose pool is small (the VM reserves 64 x 2 MiB and
 * one 1 GiB page).
 */
static inline size_t region_pages(enum test_mem m, size_t small, size_t huge_2m,
				  size_t huge_1g)
{
	switch (m) {
	case MEM_HUGETLB:
	case MEM_HUGETLB_SHARED:
		return huge_2m;
	case MEM_HUGETLB_1G:
		return huge_1g;
	default:
		return small;
	}
}

/*
 * In a TEST_F of a MEMORY_VARIANTS fixture with .pages: SKIP, saying why,
 * where the region is too small for the test (the 1 GiB variant has one).
 */
#define NEED_PAGES(n) do {						\
	if (self->pages < (n))						\
		SKIP(return, "needs %u pages; the %s region has %zu (one 1 GiB page is reserved)", \
		     (unsigned int)(n), mem_name(variant->mem), self->pages); \
} while (0)

/* ---- placing from a source buffer --------------------------------------- */

/*
 * Places pages from a source buffer, at the request's offset in its block,
 * and counts how each placement went. Its .request (source_feed_request)
 * is a provider that places inline; a test's own provider or a background
 * placer calls source_feed_place() for the same placement and counts.
 */
struct source_feed {
	struct pcram_dst *dst;
	_Atomic(const uint8_t *) src[2];	/* by block index; swapped mid-test */
	_Atomic bool record_only;		/* count, do not place: the test does */
	_Atomic unsigned int returned;		/* .request calls that returned */
	_Atomic unsigned int placed;		/* placements that put the page there */
	_Atomic unsigned int already;		/* placements that found it there */
	_Atomic unsigned int errors;		/* placements that failed */
	_Atomic int last_error;
};

/* Place @host from the source of @block_index at @offset; as place_page. */
static inline int source_feed_place(struct source_feed *f, unsigned int block_index,
				    uint64_t offset, void *host)
{
	int ret = pcram_dst_place_page(f->dst, host, f->src[block_index] + offset);

	if (ret == 0) {
		f->placed++;
	} else if (ret == 1) {
		f->already++;
	} else {
		f->errors++;
		f->last_error = ret;
	}
	return ret;
}

/* The provider's .request: place what is asked for, unless recording only. */
static inline int source_feed_request(struct pcram_dst *dst, const struct pcram_request *req,
				      void *opaque)
{
	struct source_feed *f = opaque;
	int ret = 0;

	if (!f->record_only)
		ret = source_feed_place(f, req->block_index, req->offset, req->host);
	f->returned++;
	return ret < 0 ? ret : 0;
}

/*
 * Has the provider returned from every request the engine counted? A
 * placement wakes the faulting thread inside the ioctl, before the engine
 * counts it: a test that saw its threads finish waits for this (SETTLE)
 * before it reads the counters.
 */
static inline bool source_feed_settled(struct source_feed *f)
{
	return f->returned == stats_of(f->dst).requests;
}

/* In a test: wait until @settled (an expression) holds, or fail. */
#define SETTLE(settled) ASSERT_TRUE(WAIT_FOR(settled, DEADLINE_MS))	\
	TH_LOG("the provider is still busy")

/* ---- threads that touch pages ------------------------------------------- */

/* One page a toucher reads, and what it must read there. */
struct touch {
	const uint8_t *host;
	const uint8_t *want;
	long page;			/* its index, for messages */
};

/*
 * A thread that touches its pages in order, each at a random byte (the
 * fault when the page is missing), and compares a window around it with
 * what it must hold: a lost wakeup leaves it blocked, a wrong placement
 * counts in .bad.
 */
struct toucher {
	pthread_t thread;
	bool started, joined;
	const uint8_t *host;		/* toucher_add_page(): region start */
	const uint8_t *expect;		/* and what it must read there */
	size_t page_size;
	struct touch touch[TOUCH_MAX];	/* in touch order */
	unsigned int nr_pages;
	unsigned int seed;
	pthread_barrier_t *ready;	/* after the tid is known */
	pthread_barrier_t *go;		/* then all touch together */
	bool escapable;			/* SIGUSR1 takes it out of a fault */

	_Atomic pid_t tid;
	_Atomic bool done;
	_Atomic bool escaped;
	unsigned int bad;		/* windows whose content differed */
	long bad_page, bad_off;		/* the first of them */
	uint8_t last;
};

/* Touchers started, waited for and reaped together. */
struct crowd {
	struct toucher t[CROWD_MAX_THREADS];
	unsigned int n;
	pthread_barrier_t ready, go;
	bool barriers;
};

/*
 * A thread blocked in a userfault is interruptible: with on_escape() the
 * SIGUSR1 handler, an escapable toucher jumps out instead of returning to
 * retry the fault, so a test can end faults it will not serve.
 */
static __thread sigjmp_buf *escape_jump;

static inline void on_escape(int sig)
{
	if (escape_jump)
		siglongjmp(*escape_jump, 1);
}

static inline void *toucher_main(void *arg)
{
	struct toucher *t = arg;
	sigjmp_buf jb;

	if (t->escapable) {
		if (sigsetjmp(jb, 1)) {
			escape_jump = NULL;
			t->escaped = true;
			t->done = true;
			return NULL;
		}
		escape_jump = &jb;
	}
	t->tid = (pid_t)syscall(SYS_gettid);
	if (t->ready)
		pthread_barrier_wait(t->ready);
	if (t->go)
		pthread_barrier_wait(t->go);
	for (unsigned int i = 0; i < t->nr_pages; i++) {
		const struct touch *to = &t->touch[i];
		size_t ps = t->page_size, win = ps < CHECK_WINDOW ? ps : CHECK_WINDOW;
		size_t off = (size_t)rand_r(&t->seed) % ps, start = off / win * win;
		const volatile uint8_t *p = to->host;

		t->last = p[off];	/* the fault, if the page is missing */
		if (memcmp((const uint8_t *)p + start, to->want + start, win) && !t->bad++) {
			t->bad_page = to->page;
			t->bad_off = (long)start;
		}
	}
	escape_jump = NULL;
	t->done = true;
	return NULL;
}

/* A test that asks for more than a crowd holds is wrong: stop it loudly. */
static inline void crowd_overflow(const char *what, unsigned int max)
{
	fprintf(stderr, "dst_util.h: more than %u %s\n", max, what);
	abort();
}

/* A toucher of pages of @page_size; its pages are added with toucher_add(). */
static inline struct toucher *crowd_add_thread(struct crowd *c, size_t page_size)
{
	struct toucher *t;

	if (c->n >= CROWD_MAX_THREADS)
		crowd_overflow("touchers in a crowd", CROWD_MAX_THREADS);
	t = &c->t[c->n];
	memset(t, 0, sizeof(*t));
	t->page_size = page_size;
	t->seed = 0x5eed + c->n * 7919;
	c->n++;
	return t;
}

/* A toucher of region @r reading @expect; pages by toucher_add_page(). */
static inline struct toucher *crowd_add(struct crowd *c, const struct test_region *r,
					const uint8_t *expect)
{
	struct toucher *t = crowd_add_thread(c, r->page_size);

	t->host = r->host;
	t->expect = expect;
	return t;
}

/* Touch the page at @host, which must read as @want; @page names it. */
static inline void toucher_add(struct toucher *t, const uint8_t *host,
			       const uint8_t *want, long page)
{
	if (t->nr_pages >= TOUCH_MAX)
		crowd_overflow("pages for one toucher", TOUCH_MAX);
	t->touch[t->nr_pages++] = (struct touch) { .host = host, .want = want, .page = page };
}

/*
 * Touch page @page of the toucher's region. With no @expect (nothing is
 * placed, the test ends the fault another way) there is nothing to compare.
 */
static inline void toucher_add_page(struct toucher *t, size_t page)
{
	size_t at = page * t->page_size;

	toucher_add(t, t->host + at, t->expect ? t->expect + at : NULL, (long)page);
}

/* Touch the pages in a random order of the toucher's own seed. */
static inline void toucher_shuffle(struct toucher *t)
{
	for (unsigned int i = t->nr_pages; i > 1; i--) {
		unsigned int j = (unsigned int)rand_r(&t->seed) % i;
		struct touch tmp = t->touch[i - 1];

		t->touch[i - 1] = t->touch[j];
		t->touch[j] = tmp;
	}
}

/*
 * @nr touchers of region @r, of @pages pages: toucher i touches pages i,
 * i + @nr, ..., so no two touch the same page; in random order if @shuffled.
 */
static inline void crowd_add_interleaved(struct crowd *c, const struct test_region *r,
					 const uint8_t *expect, unsigned int nr,
					 size_t pages, bool shuffled)
{
	for (unsigned int i = 0; i < nr; i++) {
		struct toucher *t = crowd_add(c, r, expect);

		for (size_t p = i; p < pages; p += nr)
			toucher_add_page(t, p);
		if (shuffled)
			toucher_shuffle(t);
	}
}

/* @nr touchers that each touch all @pages pages; in random order if @shuffled. */
static inline void crowd_add_every_page(struct crowd *c, const struct test_region *r,
					const uint8_t *expect, unsigned int nr,
					size_t pages, bool shuffled)
{
	for (unsigned int i = 0; i < nr; i++) {
		struct toucher *t = crowd_add(c, r, expect);

		for (size_t p = 0; p < pages; p++)
			toucher_add_page(t, p);
		if (shuffled)
			toucher_shuffle(t);
	}
}

/* Start one toucher on its own (no barriers, unless set). */
static inline int toucher_start(struct toucher *t)
{
	if (pthread_create(&t->thread, NULL, toucher_main, t))
		return -1;
	t->started = true;
	return 0;
}

/*
 * Start every toucher; with @sync they report their tid and wait until
 * crowd_go(), so that a test can name them first and all touch at once.
 */
static inline int crowd_start(struct crowd *c, bool sync)
{
	if (sync) {
		if (pthread_barrier_init(&c->ready, NULL, c->n + 1))
			return -1;
		if (pthread_barrier_init(&c->go, NULL, c->n + 1)) {
			pthread_barrier_destroy(&c->ready);
			return -1;
		}
		c->barriers = true;
	}
	for (unsigned int i = 0; i < c->n; i++) {
		struct toucher *t = &c->t[i];

		t->ready = sync ? &c->ready : NULL;
		t->go = sync ? &c->go : NULL;
		if (toucher_start(t))
			return -1;
	}
	if (sync)
		pthread_barrier_wait(&c->ready);
	return 0;
}

static inline void crowd_go(struct crowd *c)
{
	pthread_barrier_wait(&c->go);
}

/* Start every toucher and let them all touch at once: the most contention. */
static inline int crowd_start_together(struct crowd *c)
{
	if (crowd_start(c, true))
		return -1;
	crowd_go(c);
	return 0;
}

/* Join every toucher by a deadline @ms from now; how many are still running. */
static inline unsigned int crowd_wait(struct crowd *c, int ms)
{
	struct timespec end = realtime_after_ms(ms);
	unsigned int left = 0;

	for (unsigned int i = 0; i < c->n; i++) {
		struct toucher *t = &c->t[i];

		if (!t->started || t->joined)
			continue;
		if (pthread_timedjoin_np(t->thread, NULL, &end))
			left++;
		else
			t->joined = true;
	}
	return left;
}

/*
 * Teardown, after pcram_dst_cleanup() released every thread blocked in a
 * fault: join the rest without a deadline, and free the barriers.
 */
static inline void crowd_reap(struct crowd *c)
{
	for (unsigned int i = 0; i < c->n; i++) {
		if (c->t[i].started && !c->t[i].joined)
			pthread_join(c->t[i].thread, NULL);
		c->t[i].joined = true;
	}
	if (c->barriers) {
		pthread_barrier_destroy(&c->ready);
		pthread_barrier_destroy(&c->go);
		c->barriers = false;
	}
}

/*
 * Teardown of a test with touchers: pcram_dst_cleanup() releases every
 * thread still blocked in a fault, so that crowd_reap() can join them.
 * Either may be NULL (setup did not get that far).
 */
static inline void dst_release_crowd(struct pcram_dst *dst, struct crowd *c)
{
	if (dst)
		pcram_dst_cleanup(dst);
	if (c)
		crowd_reap(c);
}

/* Wrong windows read by all touchers; the first one's page and offset. */
static inline unsigned int crowd_bad(const struct crowd *c, long *page, long *off)
{
	unsigned int bad = 0;

	for (unsigned int i = 0; i < c->n; i++) {
		if (c->t[i].bad && !bad) {
			*page = c->t[i].bad_page;
			*off = c->t[i].bad_off;
		}
		bad += c->t[i].bad;
	}
	return bad;
}

/* In a test: every toucher of @c read what it must, or say where not. */
#define EXPECT_CROWD_READ_RIGHT(c) do {					\
	long __page = -1, __off = -1;					\
									\
	EXPECT_EQ(0, crowd_bad(c, &__page, &__off))			\
		TH_LOG("a thread read wrong data: page %ld offset %ld",	\
		       __page, __off);					\
} while (0)

#endif /* PCRAM_SELFTESTS_DST_UTIL_H */
