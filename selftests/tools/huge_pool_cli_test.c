// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 'pcram serve' and 'pcram recv' with 2 MiB pages and a huge page pool
 * too small for them: each refuses up front, saying how many pages it
 * needs and how to get them, instead of dying of SIGBUS (the source,
 * whose MAP_NORESERVE mapping hid the missing pages until it wrote them)
 * or hanging (the destination, whose placements could never succeed).
 * With enough pages, the same migration verifies every page.
 *
 * The pool is the machine's: each test sizes it (as root) and gives
 * back what it found.
 */
#include "kselftest_harness.h"
#include "common.h"
#include "lib/memory.h"

FIXTURE(pool) {
	struct cmd_result r;
	long saved;
	char dir[64];
	int port;
};

FIXTURE_SETUP(pool)
{
	self->saved = huge_pool_read("nr_hugepages");
	if (self->saved < 0)
		SETUP_SKIP("no 2 MiB huge page pool here");
	snprintf(self->dir, sizeof(self->dir), "/tmp/pcram-pool.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->port = free_port();
	ASSERT_LT(0, self->port);
}

FIXTURE_TEARDOWN(pool)
{
	run(&self->r, "cat %s/*.pid 2>/dev/null | xargs -r kill -9 2>/dev/null; rm -rf %s",
	    self->dir, self->dir);
	if (self->saved >= 0)
		huge_pool_write(self->saved);
}

#define POOL_FREE(n) do {						\
	const char *why_ = huge_pool_set_free(n);			\
	if (why_)							\
		SKIP(return, "%s", why_);				\
} while (0)

/* 64 MiB is 32 huge pages: none free. */
TEST_F_TIMEOUT(pool, serve_refuses_an_empty_pool, 30)
{
	POOL_FREE(0);
	EXPECT_EQ(1, run(&self->r, "pcram serve --listen 127.0.0.1:%d --size 64M --page-size 2m",
			 self->port)) TH_LOG("status %d: %s", self->r.status, self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "needs 32 free")) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "sysctl vm.nr_hugepages=")) TH_LOG("%s", self->r.err);
}

TEST_F_TIMEOUT(pool, serve_refuses_a_pool_too_small, 30)
{
	POOL_FREE(16);
	EXPECT_EQ(1, run(&self->r, "pcram serve --listen 127.0.0.1:%d --size 64M --page-size 2m",
			 self->port)) TH_LOG("status %d: %s", self->r.status, self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "which has 16")) TH_LOG("%s", self->r.err);
	/* Nothing of it was taken: the pool is as it was. */
	EXPECT_EQ(16, huge_pool_read("free_hugepages"));
}

/*
 * The source has its 32 pages; the destination finds 8: it says so and
 * ends, and the source, left before READY, ends too (--wait 2).
 */
TEST_F_TIMEOUT(pool, recv_refuses_a_pool_too_small, 60)
{
	double t0;

	POOL_FREE(40);
	t0 = mono_s();
	run(&self->r,
	    "cd %s || exit 1\n"
	    "pcram serve --listen 127.0.0.1:%d --size 64M --page-size 2m --wait 2 "
	    ">serve.out 2>serve.err & echo $! >serve.pid; S=$!\n"
	    "i=0; while [ $i -lt 50 ] && ! grep -q listening serve.err; do sleep 0.1; i=$((i+1)); done\n"
	    "pcram recv --connect 127.0.0.1:%d -q --vcpus 1 >recv.out 2>recv.err; echo $? >recv.rc\n"
	    "wait $S; echo $? >serve.rc",
	    self->dir, self->port, self->port);
	run(&self->r, "cd %s && cat recv.rc serve.rc; cat recv.err serve.err >&2", self->dir);
	EXPECT_LT(mono_s() - t0, 20.0) TH_LOG("a side waited too long");
	EXPECT_EQ(0, strncmp(self->r.out, "1\n1\n", 4)) TH_LOG("exit codes: %s; %s",
							     self->r.out, self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "block pc.ram")) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "which has 8")) TH_LOG("%s", self->r.err);
}

/* The control: with pages for both sides, every page arrives and verifies. */
TEST_F_TIMEOUT(pool, enough_pages_migrate, 120)
{
	POOL_FREE(64);
	ASSERT_EQ(0, run(&self->r, "pcram demo -j --size 64M --page-size 2m --vcpus 2"))
		TH_LOG("%s", self->r.err);
	EXPECT_EQ(32, jq_u64(self->r.out, ".pages"));
	EXPECT_EQ(32, jq_u64(self->r.out, ".verified"));
}

TEST_HARNESS_MAIN
