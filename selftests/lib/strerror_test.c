// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The strerror calls of libpcram from many threads at once: while some
 * threads fail calls on one object, each with a message of its own, other
 * threads read the object's message over and over. Every string a reader
 * gets must be one of the whole messages, never a mix of two nor one cut
 * short, and must stay as it was while other threads fail.
 *
 * The messages differ in length (10 to 250 bytes of block name) so that a
 * reader of a buffer being rewritten sees the difference, even on two CPUs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "memory.h"
#include "dst_util.h"

#define WRITERS		3
#define READERS		3
#define MSG_MAX		1024
#define RUN_MS		2000		/* or READS_MAX reads, whichever first */
#define READS_MAX	300000

static const unsigned int name_len[WRITERS] = { 250, 130, 10 };

/* One object's failing call and strerror, so dst and src share the race. */
struct race_ops {
	int (*fail)(void *obj, const char *name);
	const char *(*strerror)(const void *obj);
};

struct race {
	const struct race_ops *ops;
	void *obj;
	char names[WRITERS][PCRAM_BLOCK_NAME_MAX + 1];
	char expected[WRITERS][MSG_MAX];
	atomic_bool stop;
	atomic_ulong reads, torn, fails;
	pthread_mutex_t first_lock;
	char first_torn[MSG_MAX];
};

struct race_thread {
	struct race *r;
	unsigned int index;
};

/* pcram_dst: a block of an unknown type, refused with its name. */
static int dst_fail(void *obj, const char *name)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct pcram_block blk = {
		.name = name, .host = page, .length = sizeof(page),
		.type = (enum pcram_block_type)99, .fd = -1,
	};

	return pcram_dst_add_block(obj, &blk);
}

static const char *dst_strerror(const void *obj)
{
	return pcram_dst_strerror(obj);
}

static const struct race_ops dst_ops = { dst_fail, dst_strerror };

/* pcram_src: a block of 3-byte pages, refused with its name. */
static int src_fail(void *obj, const char *name)
{
	static uint8_t page[4096];
	struct pcram_src_block blk = {
		.name = name, .host = page, .length = sizeof(page), .page_size = 3,
	};

	return pcram_src_add_block(obj, &blk);
}

static const char *src_strerror(const void *obj)
{
	return pcram_src_strerror(obj);
}

static const struct race_ops src_ops = { src_fail, src_strerror };

static void *writer_main(void *arg)
{
	struct race_thread *t = arg;
	struct race *r = t->r;

	while (!atomic_load(&r->stop))
		if (r->ops->fail(r->obj, r->names[t->index]) != -EINVAL)
			atomic_fetch_add(&r->fails, 1);
	return NULL;
}

static bool is_expected(const struct race *r, const char *s)
{
	for (unsigned int i = 0; i < WRITERS; i++)
		if (!strcmp(s, r->expected[i]))
			return true;
	return false;
}

static void note_torn(struct race *r, const char *s)
{
	if (atomic_fetch_add(&r->torn, 1))
		return;
	pthread_mutex_lock(&r->first_lock);
	snprintf(r->first_torn, sizeof(r->first_torn), "%s", s);
	pthread_mutex_unlock(&r->first_lock);
}

static void *reader_main(void *arg)
{
	struct race_thread *t = arg;
	struct race *r = t->r;

	while (!atomic_load(&r->stop)) {
		const char *s = r->ops->strerror(r->obj);
		char copy[MSG_MAX];

		/* Read twice: the string must not change under its reader. */
		snprintf(copy, sizeof(copy), "%s", s);
		if (!is_expected(r, copy) || strcmp(copy, s))
			note_torn(r, copy);
		if (atomic_fetch_add(&r->reads, 1) + 1 >= READS_MAX)
			atomic_store(&r->stop, true);
	}
	return NULL;
}

/*
 * The message each writer's failure leaves, learnt from one failure on
 * this thread: the test holds the library to its own words, whatever they
 * are, and only asks that they name the block and differ.
 */
static bool race_init(struct race *r, const struct race_ops *ops, void *obj)
{
	memset(r, 0, sizeof(*r));
	r->ops = ops;
	r->obj = obj;
	pthread_mutex_init(&r->first_lock, NULL);
	for (unsigned int i = 0; i < WRITERS; i++) {
		memset(r->names[i], 'a' + i, name_len[i]);
		if (ops->fail(obj, r->names[i]) != -EINVAL)
			return false;
		snprintf(r->expected[i], MSG_MAX, "%s", ops->strerror(obj));
		if (!strstr(r->expected[i], r->names[i]))
			return false;
	}
	return true;
}

/* Writers and readers together for RUN_MS or READS_MAX reads. */
static void race_run(struct race *r)
{
	struct race_thread w[WRITERS], rd[READERS];
	pthread_t tw[WRITERS], tr[READERS];
	uint64_t end = now_ms() + RUN_MS;

	for (unsigned int i = 0; i < WRITERS; i++) {
		w[i] = (struct race_thread) { r, i };
		pthread_create(&tw[i], NULL, writer_main, &w[i]);
	}
	for (unsigned int i = 0; i < READERS; i++) {
		rd[i] = (struct race_thread) { r, i };
		pthread_create(&tr[i], NULL, reader_main, &rd[i]);
	}
	while (!atomic_load(&r->stop) && now_ms() < end)
		usleep(10000);
	atomic_store(&r->stop, true);
	for (unsigned int i = 0; i < WRITERS; i++)
		pthread_join(tw[i], NULL);
	for (unsigned int i = 0; i < READERS; i++)
		pthread_join(tr[i], NULL);
	pthread_mutex_destroy(&r->first_lock);
}

/* Plain copies of the counts: the harness's EXPECTs take no atomics. */
#define EXPECT_RACE_CLEAN(r) do {						\
	unsigned long __reads = atomic_load(&(r)->reads);			\
	unsigned long __torn = atomic_load(&(r)->torn);				\
	unsigned long __fails = atomic_load(&(r)->fails);			\
										\
	EXPECT_EQ(0, __fails) TH_LOG("a failing call did not fail as expected"); \
	EXPECT_EQ(0, __torn)							\
		TH_LOG("%lu of %lu reads torn; the first: \"%s\"",		\
		       __torn, __reads, (r)->first_torn);			\
	EXPECT_LT(1000, __reads) TH_LOG("readers barely ran");			\
	if (!__torn)								\
		TH_LOG("%lu reads, none torn", __reads);			\
} while (0)

TEST(dst_strerror_whole_while_other_threads_fail)
{
	static struct race r;
	struct pcram_dst *dst;

	ASSERT_EQ(0, pcram_dst_new(&dst, NULL));
	ASSERT_TRUE(race_init(&r, &dst_ops, dst)) TH_LOG("%s", pcram_dst_strerror(dst));
	race_run(&r);
	EXPECT_RACE_CLEAN(&r);
	pcram_dst_free(dst);
}

TEST(src_strerror_whole_while_other_threads_fail)
{
	static struct race r;
	struct pcram_src *src;

	ASSERT_EQ(0, pcram_src_new(&src, NULL));
	ASSERT_TRUE(race_init(&r, &src_ops, src)) TH_LOG("%s", pcram_src_strerror(src));
	race_run(&r);
	EXPECT_RACE_CLEAN(&r);
	pcram_src_free(src);
}

static void *fail_once(void *arg)
{
	struct race *r = arg;

	r->ops->fail(r->obj, r->names[1]);
	return NULL;
}

/* The string is the reader's own: another thread's failure leaves it be. */
TEST(dst_strerror_string_is_the_callers_copy)
{
	static struct race r;
	struct pcram_dst *dst;
	const char *s;
	pthread_t t;

	ASSERT_EQ(0, pcram_dst_new(&dst, NULL));
	ASSERT_TRUE(race_init(&r, &dst_ops, dst));
	ASSERT_EQ(-EINVAL, dst_fail(dst, r.names[0]));
	s = pcram_dst_strerror(dst);
	ASSERT_EQ(0, pthread_create(&t, NULL, fail_once, &r));
	pthread_join(t, NULL);
	EXPECT_STREQ(r.expected[0], s);
	EXPECT_STREQ(r.expected[1], pcram_dst_strerror(dst));
	pcram_dst_free(dst);
}

TEST(strerror_of_null)
{
	EXPECT_STREQ("no pcram_dst", pcram_dst_strerror(NULL));
	EXPECT_STREQ("no source", pcram_src_strerror(NULL));
	EXPECT_STREQ("no incoming migration", pcram_in_strerror(NULL));
}

/* Two objects' messages quoted at once, as one printf would: both hold. */
TEST(two_objects_at_once)
{
	struct pcram_dst *dst1, *dst2;
	struct pcram_src *src;
	const char *a, *b, *c;

	ASSERT_EQ(0, pcram_dst_new(&dst1, NULL));
	ASSERT_EQ(0, pcram_dst_new(&dst2, NULL));
	ASSERT_EQ(0, pcram_src_new(&src, NULL));
	EXPECT_GT(0, dst_fail(dst1, "first-dst"));
	EXPECT_GT(0, dst_fail(dst2, "second-dst"));
	EXPECT_GT(0, src_fail(src, "the-src"));
	a = pcram_dst_strerror(dst1);
	b = pcram_dst_strerror(dst2);
	c = pcram_src_strerror(src);
	EXPECT_NE(NULL, strstr(a, "first-dst")) TH_LOG("%s", a);
	EXPECT_NE(NULL, strstr(b, "second-dst")) TH_LOG("%s", b);
	EXPECT_NE(NULL, strstr(c, "the-src")) TH_LOG("%s", c);
	/* asking again for one object's message renews its copy only */
	EXPECT_GT(0, dst_fail(dst1, "first-again"));
	EXPECT_EQ(a, pcram_dst_strerror(dst1));
	EXPECT_NE(NULL, strstr(a, "first-again"));
	EXPECT_NE(NULL, strstr(b, "second-dst"));
	pcram_src_free(src);
	pcram_dst_free(dst2);
	pcram_dst_free(dst1);
}

TEST_HARNESS_MAIN
