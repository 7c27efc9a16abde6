// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PCRAM_IOC_BATCH: placing pages through the attached userfaultfd, the
 * per-op results, the batch statistics, and the refusals.
 */
#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod.h"

#define PAGES 64

FIXTURE(batch) {
	int fd;
	int uffd;
	int id;
	uint8_t *area;		/* PAGES registered pages */
	uint8_t *src;		/* PAGES pages of pattern */
	struct pcram_batch_op ops[PCRAM_BATCH_MAX + 1];
};

static uint8_t pattern(size_t page)
{
	return 0x11 + page * 7;
}

FIXTURE_SETUP(batch)
{
	size_t i;

	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	self->uffd = uffd_open(0);
	if (self->uffd < 0)
		SETUP_SKIP("no userfaultfd: %s", strerror(-self->uffd));
	self->area = uffd_area(self->uffd, PAGES);
	ASSERT_NE(NULL, self->area);
	self->src = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->src);
	for (i = 0; i < PAGES; i++)
		memset(self->src + i * PAGE, pattern(i), PAGE);
	self->fd = pcram_open();
	ASSERT_LE(0, self->fd);
	self->id = pcram_attach(self->fd, self->uffd, "batch", 0);
	ASSERT_LT(0, self->id);
}

FIXTURE_TEARDOWN(batch)
{
	close(self->fd);
	close(self->uffd);
}

/* Page i of the area holds its pattern (checked without faulting). */
static bool placed_right(uint8_t *area, size_t i)
{
	unsigned char vec;

	if (mincore(area + i * PAGE, PAGE, &vec) || !(vec & 1))
		return false;
	return area[i * PAGE] == pattern(i) && area[i * PAGE + PAGE - 1] == pattern(i);
}

static bool is_present(uint8_t *area, size_t i)
{
	unsigned char vec;

	return !mincore(area + i * PAGE, PAGE, &vec) && (vec & 1);
}

TEST_F(batch, copy_contiguous_run)
{
	struct vm_answer v;
	size_t i;

	for (i = 0; i < PAGES; i++)
		self->ops[i] = op_copy(self->area + i * PAGE, self->src + i * PAGE, PAGE, 0);
	ASSERT_EQ(PAGES, pcram_batch(self->fd, self->ops, PAGES, 0));
	for (i = 0; i < PAGES; i++) {
		EXPECT_EQ(0, self->ops[i].result) TH_LOG("op %zu", i);
		EXPECT_EQ(PAGE, self->ops[i].copy.copy) TH_LOG("op %zu", i);
		/* the inputs the module borrowed are the caller's again */
		EXPECT_EQ((uintptr_t)(self->area + i * PAGE), self->ops[i].copy.dst);
		EXPECT_EQ((uintptr_t)(self->src + i * PAGE), self->ops[i].copy.src);
		EXPECT_EQ(PAGE, self->ops[i].copy.len);
		EXPECT_EQ(0, self->ops[i].copy.mode);
		EXPECT_TRUE(placed_right(self->area, i)) TH_LOG("page %zu", i);
	}
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(1, v.batches);
	EXPECT_EQ(PAGES, v.ops);
	EXPECT_EQ(PAGES, v.pages);
	EXPECT_EQ(PAGES * PAGE, v.bytes);
	EXPECT_EQ(0, v.zero_pages);
	EXPECT_EQ(1, v.wakes);		/* one run, one wake */
	EXPECT_EQ(0, v.eexist);
	EXPECT_EQ(0, v.errors);
	EXPECT_EQ(1, v.size_hist[6]);	/* 64 ops: [2^6, 2^7) */
}

TEST_F(batch, scattered_ops_wake_per_run)
{
	struct vm_answer v;
	/* three runs: 0-3, 10-11, 20 (from a non-contiguous source too) */
	size_t pages[] = { 0, 1, 2, 3, 10, 11, 20 }, n = 7, i;

	for (i = 0; i < n; i++)
		self->ops[i] = op_copy(self->area + pages[i] * PAGE,
				       self->src + pages[i] * PAGE, PAGE, 0);
	ASSERT_EQ(n, pcram_batch(self->fd, self->ops, n, 0));
	for (i = 0; i < n; i++)
		EXPECT_TRUE(placed_right(self->area, pages[i]));
	EXPECT_FALSE(is_present(self->area, 4));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(3, v.wakes);
	EXPECT_EQ(1, v.size_hist[2]);	/* 7 ops: [4, 8) */
}

TEST_F(batch, no_coalesce_same_results)
{
	struct vm_answer v;
	size_t i;

	for (i = 0; i < 16; i++)
		self->ops[i] = op_copy(self->area + i * PAGE, self->src + i * PAGE, PAGE, 0);
	ASSERT_EQ(16, pcram_batch(self->fd, self->ops, 16, PCRAM_BATCH_F_NO_COALESCE));
	for (i = 0; i < 16; i++) {
		EXPECT_EQ(0, self->ops[i].result);
		EXPECT_EQ(PAGE, self->ops[i].copy.copy);
		EXPECT_TRUE(placed_right(self->area, i));
	}
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(1, v.wakes);		/* the wakes are still coalesced */
}

TEST_F(batch, zeropage_and_multi_page_ops)
{
	struct vm_answer v;
	size_t i;

	self->ops[0] = op_zero(self->area, 4 * PAGE, 0);
	self->ops[1] = op_copy(self->area + 4 * PAGE, self->src + 4 * PAGE, 2 * PAGE, 0);
	self->ops[2] = op_zero(self->area + 6 * PAGE, PAGE, 0);
	ASSERT_EQ(3, pcram_batch(self->fd, self->ops, 3, 0));
	EXPECT_EQ(4 * PAGE, self->ops[0].zeropage.zeropage);
	EXPECT_EQ(2 * PAGE, self->ops[1].copy.copy);
	EXPECT_EQ(PAGE, self->ops[2].zeropage.zeropage);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, self->area[i * PAGE + 100]);
	EXPECT_TRUE(placed_right(self->area, 4));
	EXPECT_TRUE(placed_right(self->area, 5));
	EXPECT_EQ(0, self->area[6 * PAGE]);
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(7, v.pages);
	EXPECT_EQ(5, v.zero_pages);
	EXPECT_EQ(1, v.wakes);		/* 0-6 is one contiguous run */
}

TEST_F(batch, continue_on_shmem_minor)
{
	int uffd = uffd_open(UFFD_FEATURE_MINOR_SHMEM), memfd, fd, i;
	struct pcram_batch_op ops[4];
	uint8_t *guest, *backing;

	if (uffd < 0)
		SKIP(return, "no UFFD_FEATURE_MINOR_SHMEM: %s", strerror(-uffd));
	memfd = memfd_create("minor", MFD_CLOEXEC);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, 4 * PAGE));
	guest = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	backing = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, guest);
	ASSERT_NE(MAP_FAILED, backing);
	ASSERT_EQ(0, uffd_register(uffd, guest, 4 * PAGE, UFFDIO_REGISTER_MODE_MINOR));
	memset(backing, 0x77, 4 * PAGE);	/* page cache filled, not mapped */
	fd = pcram_open();
	ASSERT_LE(0, fd);
	ASSERT_LT(0, pcram_attach(fd, uffd, "minor", 0));
	for (i = 0; i < 4; i++)
		ops[i] = op_cont(guest + i * PAGE, PAGE, 0);
	ASSERT_EQ(4, pcram_batch(fd, ops, 4, 0));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, ops[i].result);
		EXPECT_EQ(PAGE, ops[i].cont.mapped);
		EXPECT_TRUE(is_present(guest, i));
		EXPECT_EQ(0x77, guest[i * PAGE]);
	}
	close(fd);
	close(uffd);
	close(memfd);
}

TEST_F(batch, empty_batch)
{
	struct vm_answer v;

	EXPECT_EQ(0, pcram_batch(self->fd, NULL, 0, 0));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(1, v.batches);
	EXPECT_EQ(1, v.size_hist[0]);
}

/* Refusals of the whole batch: nothing runs, nothing is written. */
TEST_F(batch, refused_batches_run_nothing)
{
	struct pcram_batch_op *ops = self->ops;
	struct vm_answer v;
	unsigned int bit;
	int fd = pcram_open(), i;

	ASSERT_LE(0, fd);
	for (i = 0; i <= PCRAM_BATCH_MAX; i++) {
		ops[i] = op_copy(self->area, self->src, PAGE, 0);
		ops[i].result = 12345;
	}
	EXPECT_EQ(-ENOTCONN, pcram_batch(fd, ops, 1, 0));
	close(fd);
	EXPECT_EQ(-E2BIG, pcram_batch(self->fd, ops, PCRAM_BATCH_MAX + 1, 0));
	EXPECT_EQ(-E2BIG, pcram_batch(self->fd, ops, UINT32_MAX, 0));
	for (bit = 0; bit < 32; bit++)
		if (!((1U << bit) & PCRAM_BATCH_F_ALL))
			EXPECT_EQ(-EINVAL, pcram_batch(self->fd, ops, 1, 1U << bit));
	/* an unknown op anywhere refuses it all */
	ops[5].op = PCRAM_BATCH_OP_UNSPEC;
	EXPECT_EQ(-EINVAL, pcram_batch(self->fd, ops, 8, 0));
	ops[5].op = __PCRAM_BATCH_OP_MAX;
	EXPECT_EQ(-EINVAL, pcram_batch(self->fd, ops, 8, 0));
	ops[5].op = 0xdeadbeef;
	EXPECT_EQ(-EINVAL, pcram_batch(self->fd, ops, 8, 0));
	/* bytes an op's struct leaves unused must be zero */
	ops[5] = op_wake(self->area, PAGE);
	ops[5].result = 12345;
	ops[5].__reserved[3] = 1;
	EXPECT_EQ(-EINVAL, pcram_batch(self->fd, ops, 8, 0));
	ops[5] = op_zero(self->area, PAGE, 0);
	ops[5].result = 12345;
	ops[5].__reserved[4] = 1;
	EXPECT_EQ(-EINVAL, pcram_batch(self->fd, ops, 8, 0));
	/* ops that cannot be read */
	EXPECT_EQ(-EFAULT, pcram_batch(self->fd, NULL, 1, 0));
	EXPECT_EQ(-EFAULT, pcram_batch(self->fd, (void *)-4096L, 1, 0));

	for (i = 0; i <= PCRAM_BATCH_MAX; i++)
		if (ops[i].result != 12345)
			break;
	EXPECT_EQ(PCRAM_BATCH_MAX + 1, i) TH_LOG("op %d was written", i);
	EXPECT_FALSE(is_present(self->area, 0));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(0, v.batches);
	EXPECT_EQ(0, v.ops);
}

TEST_F(batch, maximum_count_accepted)
{
	uint8_t *big = NULL;
	int uffd = uffd_open(0), fd = pcram_open(), i;

	ASSERT_LE(0, uffd);
	ASSERT_LE(0, fd);
	big = uffd_area(uffd, PCRAM_BATCH_MAX);
	ASSERT_NE(NULL, big);
	ASSERT_LT(0, pcram_attach(fd, uffd, "max", 0));
	for (i = 0; i < PCRAM_BATCH_MAX; i++)
		self->ops[i] = op_copy(big + i * PAGE, self->src + (i % PAGES) * PAGE, PAGE, 0);
	EXPECT_EQ(PCRAM_BATCH_MAX, pcram_batch(fd, self->ops, PCRAM_BATCH_MAX, 0));
	EXPECT_EQ(pattern(1023 % PAGES), big[1023 * PAGE]);
	close(fd);
	close(uffd);
}

TEST_F(batch, unaligned_first_op_fails_the_call)
{
	self->ops[0] = op_copy(self->area + 1, self->src, PAGE, 0);
	self->ops[1] = op_copy(self->area + PAGE, self->src + PAGE, PAGE, 0);
	self->ops[1].result = 777;
	EXPECT_EQ(-EINVAL, pcram_batch(self->fd, self->ops, 2, 0));
	EXPECT_EQ(-EINVAL, self->ops[0].result);
	EXPECT_EQ(777, self->ops[1].result);	/* not run, not written */
	EXPECT_FALSE(is_present(self->area, 1));
}

TEST_F(batch, stops_at_first_error_and_says_where)
{
	struct vm_answer v;
	int i;

	for (i = 0; i < 8; i++)
		self->ops[i] = op_copy(self->area + i * PAGE, self->src + i * PAGE, PAGE, 0);
	self->ops[3].copy.len = PAGE / 2;	/* unaligned length */
	self->ops[4].result = 777;
	EXPECT_EQ(3, pcram_batch(self->fd, self->ops, 8, 0));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, self->ops[i].result);
		EXPECT_TRUE(placed_right(self->area, i));
	}
	EXPECT_EQ(-EINVAL, self->ops[3].result);
	EXPECT_EQ(-EINVAL, self->ops[3].copy.copy);
	EXPECT_EQ(PAGE / 2, self->ops[3].copy.len);
	EXPECT_EQ(777, self->ops[4].result);
	EXPECT_FALSE(is_present(self->area, 4));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(4, v.ops);
	EXPECT_EQ(1, v.errors);
	EXPECT_EQ(3, v.pages);
}

/*
 * The results cannot all be written back: the ops end on a page made
 * read-only. The count of ops completed comes back all the same, never
 * an EFAULT that hides placed pages, and a result the caller zeroed and
 * finds still 0 says the results are missing.
 */
TEST_F(batch, count_survives_failed_write_back)
{
	enum { K = 4 };	/* ops on the writable page; op K on the other */
	struct pcram_batch_op *ops;
	uint8_t *mem;
	int i, first;

	mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ops = (struct pcram_batch_op *)(mem + PAGE) - K;

	/* one call places all, through op 0: only op K's results are lost */
	for (i = 0; i <= K; i++)
		ops[i] = op_copy(self->area + i * PAGE, self->src + i * PAGE, PAGE, 0);
	ASSERT_EQ(0, mprotect(mem + PAGE, PAGE, PROT_READ));
	EXPECT_EQ(K + 1, pcram_batch(self->fd, ops, K + 1, 0));
	for (i = 0; i <= K; i++)
		EXPECT_TRUE(placed_right(self->area, i)) TH_LOG("page %d", i);
	for (i = 0; i < K; i++) {
		EXPECT_EQ(0, ops[i].result);
		EXPECT_EQ(PAGE, ops[i].copy.copy);
	}
	EXPECT_EQ(0, ops[K].copy.copy);	/* as the caller left it */

	/* op by op: op K cannot be used, and its result cannot be written */
	first = 8;
	ASSERT_EQ(0, mprotect(mem + PAGE, PAGE, PROT_READ | PROT_WRITE));
	for (i = 0; i <= K; i++)
		ops[i] = op_copy(self->area + (first + i) * PAGE,
				 self->src + (first + i) * PAGE, PAGE, 0);
	ASSERT_EQ(0, mprotect(mem + PAGE, PAGE, PROT_READ));
	EXPECT_EQ(K, pcram_batch(self->fd, ops, K + 1, PCRAM_BATCH_F_NO_COALESCE));
	for (i = 0; i < K; i++) {
		EXPECT_TRUE(placed_right(self->area, first + i)) TH_LOG("page %d", first + i);
		EXPECT_EQ(0, ops[i].result);
	}
	EXPECT_EQ(0, ops[K].result);	/* zeroed by the caller: missing */
	EXPECT_FALSE(is_present(self->area, first + K));

	/* nothing completed and nothing written: only then EFAULT */
	EXPECT_EQ(-EFAULT, pcram_batch(self->fd, ops + K, 1, 0));
	EXPECT_FALSE(is_present(self->area, first + K));
	munmap(mem, 2 * PAGE);
}

TEST_F(batch, out_of_range_addresses)
{
	uint8_t *unregistered = self->src;

	/* beyond the user address space */
	self->ops[0] = op_copy((void *)0xffff800000000000UL, self->src, PAGE, 0);
	EXPECT_EQ(-EINVAL, pcram_batch(self->fd, self->ops, 1, 0));
	/* wrapping around */
	self->ops[0] = op_zero((void *)-PAGE, 2 * PAGE, 0);
	EXPECT_EQ(-EINVAL, pcram_batch(self->fd, self->ops, 1, 0));
	/* not registered with the userfaultfd */
	self->ops[0] = op_copy(unregistered, self->src, PAGE, 0);
	EXPECT_EQ(-ENOENT, pcram_batch(self->fd, self->ops, 1, 0));
	EXPECT_EQ(-ENOENT, self->ops[0].copy.copy);
	/* a source that cannot be read */
	self->ops[0] = op_copy(self->area, NULL, PAGE, 0);
	EXPECT_EQ(-EFAULT, pcram_batch(self->fd, self->ops, 1, 0));
	/* a registered range running past its end */
	self->ops[0] = op_zero(self->area + (PAGES - 1) * PAGE, 2 * PAGE, 0);
	EXPECT_EQ(-ENOENT, pcram_batch(self->fd, self->ops, 1, 0));
	/* an empty op: an error of its own, even within a run */
	self->ops[0] = op_zero(self->area, PAGE, 0);
	self->ops[1] = op_zero(self->area + PAGE, 0, 0);
	EXPECT_EQ(1, pcram_batch(self->fd, self->ops, 2, 0));
	EXPECT_EQ(-EINVAL, self->ops[1].result);
}

TEST_F(batch, eexist_stops_unless_ignored)
{
	struct vm_answer v;
	int i;

	/* page 5 is there already, in the middle of a joined run */
	ASSERT_EQ(0, uffd_copy(self->uffd, self->area + 5 * PAGE, self->src + 5 * PAGE, PAGE));
	for (i = 0; i < 16; i++)
		self->ops[i] = op_copy(self->area + i * PAGE, self->src + i * PAGE, PAGE, 0);
	EXPECT_EQ(5, pcram_batch(self->fd, self->ops, 16, 0));
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(0, self->ops[i].result);
		EXPECT_EQ(PAGE, self->ops[i].copy.copy);
	}
	EXPECT_EQ(-EEXIST, self->ops[5].result);
	EXPECT_EQ(-EEXIST, self->ops[5].copy.copy);
	EXPECT_FALSE(is_present(self->area, 6));

	/* again, going past what is there */
	for (i = 0; i < 16; i++)
		self->ops[i] = op_copy(self->area + i * PAGE, self->src + i * PAGE, PAGE, 0);
	EXPECT_EQ(16, pcram_batch(self->fd, self->ops, 16, PCRAM_BATCH_F_IGNORE_EEXIST));
	for (i = 0; i < 16; i++) {
		EXPECT_EQ(i <= 5 ? -EEXIST : 0, self->ops[i].result) TH_LOG("op %d", i);
		EXPECT_TRUE(placed_right(self->area, i));
	}
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(1 + 6, v.eexist);
	EXPECT_EQ(0, v.errors);
	EXPECT_EQ(5 + 10, v.pages);
}

/* An op of two pages, the second already there: placed half, then EEXIST. */
TEST_F(batch, partly_placed_op_reports_its_bytes)
{
	ASSERT_EQ(0, uffd_copy(self->uffd, self->area + PAGE, self->src + PAGE, PAGE));
	self->ops[0] = op_copy(self->area, self->src, 2 * PAGE, 0);
	EXPECT_EQ(-EEXIST, pcram_batch(self->fd, self->ops, 1, 0));
	EXPECT_EQ(-EEXIST, self->ops[0].result);
	EXPECT_EQ(PAGE, self->ops[0].copy.copy);
	EXPECT_EQ(2 * PAGE, self->ops[0].copy.len);
	EXPECT_TRUE(placed_right(self->area, 0));
}

/* Contiguous addresses in two vmas: the joined call fails, op by op works. */
TEST_F(batch, run_across_two_vmas)
{
	int i;

	/* A different protection splits the registered area in two vmas. */
	ASSERT_EQ(0, mprotect(self->area + 8 * PAGE, 8 * PAGE, PROT_READ));
	for (i = 0; i < 16; i++)
		self->ops[i] = op_copy(self->area + i * PAGE, self->src + i * PAGE, PAGE, 0);
	EXPECT_EQ(16, pcram_batch(self->fd, self->ops, 16, 0));
	for (i = 0; i < 16; i++) {
		EXPECT_EQ(0, self->ops[i].result) TH_LOG("op %d", i);
		EXPECT_TRUE(placed_right(self->area, i)) TH_LOG("page %d", i);
	}
}

static void *touch_one(void *p)
{
	return (void *)(uintptr_t)*(volatile uint8_t *)p;
}

/* A thread blocked on page 0 is woken by the batch's coalesced wake. */
TEST_F(batch, placing_wakes_blocked_threads)
{
	pthread_t t[4];
	void *ret;
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, touch_one, self->area + i * PAGE));
	ASSERT_TRUE(uffd_wait_blocked(self->uffd, 4));
	for (i = 0; i < 4; i++)
		self->ops[i] = op_copy(self->area + i * PAGE, self->src + i * PAGE, PAGE, 0);
	ASSERT_EQ(4, pcram_batch(self->fd, self->ops, 4, 0));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(pattern(i), (uintptr_t)ret);
	}
}

/* DONTWAKE asked by the caller is kept: only the WAKE op wakes. */
TEST_F(batch, caller_dontwake_and_wake_op)
{
	pthread_t t;
	void *ret;

	ASSERT_EQ(0, pthread_create(&t, NULL, touch_one, self->area));
	ASSERT_TRUE(uffd_wait_blocked(self->uffd, 1));
	self->ops[0] = op_copy(self->area, self->src, PAGE, UFFDIO_COPY_MODE_DONTWAKE);
	ASSERT_EQ(1, pcram_batch(self->fd, self->ops, 1, 0));
	EXPECT_EQ(UFFDIO_COPY_MODE_DONTWAKE, self->ops[0].copy.mode);
	usleep(100 * 1000);
	EXPECT_EQ(1, uffd_blocked(self->uffd));	/* still asleep */
	self->ops[0] = op_wake(self->area, PAGE);
	ASSERT_EQ(1, pcram_batch(self->fd, self->ops, 1, 0));
	EXPECT_EQ(0, self->ops[0].result);
	ASSERT_EQ(0, pthread_join(t, &ret));
	EXPECT_EQ(pattern(0), (uintptr_t)ret);
}

/* Serves the source page of a COPY, after making @ro read-only. */
struct src_server {
	pthread_t thread;
	int uffd;
	void *ro;
	const uint8_t *content;
};

static void *src_server_fn(void *arg)
{
	struct src_server *sv = arg;
	uint64_t addr = uffd_wait_fault(sv->uffd, 10000);

	if (!addr || mprotect(sv->ro, PAGE, PROT_READ))
		return (void *)1;
	return (void *)(uintptr_t)uffd_copy(sv->uffd, (void *)(uintptr_t)(addr & ~(PAGE - 1)),
					    sv->content, PAGE);
}

/*
 * The wake of a run fails: the op that carries its range (ops[1], the
 * run's first) became read-only while ops[2], whose source faults, was
 * being placed. The batch stops at ops[1]: 1 is returned, not an error;
 * ops[0] was placed and woken, and a thread blocked on page 0 is still
 * asleep. ops[1] and ops[2] cannot say so (read-only): their results are
 * still the 0 the caller left.
 */
TEST_F(batch, failed_wake_stops_where_it_began)
{
	struct src_server sv = { .content = self->src + PAGE };
	struct uffdio_range wake = { (uintptr_t)self->area, PAGE };
	struct pcram_batch_op *ops;
	pthread_t t;
	uint8_t *mem, *src2;
	void *ret;

	sv.uffd = uffd_open(0);
	ASSERT_LE(0, sv.uffd);
	src2 = uffd_area(sv.uffd, 1);
	ASSERT_NE(NULL, src2);
	mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ops = (struct pcram_batch_op *)(mem + PAGE) - 1;	/* ops[1], [2] on page 1 */
	ops[0] = op_copy(self->area + 20 * PAGE, self->src + 20 * PAGE, PAGE, 0);
	ops[1] = op_copy(self->area, self->src, PAGE, 0);
	ops[2] = op_copy(self->area + PAGE, src2, PAGE, 0);
	sv.ro = mem + PAGE;
	ASSERT_EQ(0, pthread_create(&sv.thread, NULL, src_server_fn, &sv));
	ASSERT_EQ(0, pthread_create(&t, NULL, touch_one, self->area));
	ASSERT_TRUE(uffd_wait_blocked(self->uffd, 1));

	EXPECT_EQ(1, pcram_batch(self->fd, ops, 3, 0));
	ASSERT_EQ(0, pthread_join(sv.thread, &ret));
	EXPECT_EQ(NULL, ret);
	EXPECT_EQ(0, ops[0].result);
	EXPECT_EQ(PAGE, ops[0].copy.copy);
	EXPECT_TRUE(placed_right(self->area, 20));
	EXPECT_TRUE(is_present(self->area, 0));
	EXPECT_TRUE(placed_right(self->area, 1));
	EXPECT_EQ(0, ops[1].result);
	EXPECT_EQ(0, ops[2].result);
	usleep(100 * 1000);
	EXPECT_EQ(1, uffd_blocked(self->uffd));	/* placed, not woken */
	ASSERT_EQ(0, ioctl(self->uffd, UFFDIO_WAKE, &wake));
	ASSERT_EQ(0, pthread_join(t, &ret));
	EXPECT_EQ(pattern(0), (uintptr_t)ret);
	munmap(mem, 2 * PAGE);
	close(sv.uffd);
}

/*
 * The context holds the userfaultfd: with the caller's descriptor closed
 * it still places pages; after detach the userfaultfd is released, and a
 * batch has nothing to run through.
 */
TEST_F(batch, ops_after_uffd_closed)
{
	self->ops[0] = op_copy(self->area, self->src, PAGE, 0);
	close(self->uffd);
	self->uffd = -1;
	EXPECT_EQ(1, pcram_batch(self->fd, self->ops, 1, 0));
	EXPECT_TRUE(placed_right(self->area, 0));
	EXPECT_EQ(0, ioctl(self->fd, PCRAM_IOC_DETACH));
	self->ops[0] = op_copy(self->area + PAGE, self->src + PAGE, PAGE, 0);
	EXPECT_EQ(-ENOTCONN, pcram_batch(self->fd, self->ops, 1, 0));
	/* released: page 2 faults in as a zero page, it does not block */
	EXPECT_EQ(0, self->area[2 * PAGE]);
}

/* The process whose memory it was is gone: each op fails with ESRCH. */
TEST_F(batch, ops_after_owner_exited)
{
	int sv[2], uffd, fd = pcram_open(), st;
	uint64_t addr;
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(send_own_uffd(sv[1], NULL));
	uffd = recv_own_uffd(sv[0], &addr);
	ASSERT_LE(0, uffd);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_EQ(0, WEXITSTATUS(st));
	ASSERT_LT(0, pcram_attach(fd, uffd, "orphan", 0));
	self->ops[0] = op_copy((void *)(uintptr_t)addr, self->src, PAGE, 0);
	EXPECT_EQ(-ESRCH, pcram_batch(fd, self->ops, 1, 0));
	EXPECT_EQ(-ESRCH, self->ops[0].result);
	close(fd);
	close(uffd);
	close(sv[0]);
	close(sv[1]);
}

struct placer {
	pthread_t thread;
	int fd;
	uint8_t *area, *src;
	int first, n, per_batch;
	int placed;
};

static void *placer_fn(void *arg)
{
	struct placer *p = arg;
	struct pcram_batch_op ops[64];
	int i, j;

	for (i = 0; i < p->n; i += p->per_batch) {
		for (j = 0; j < p->per_batch; j++) {
			int page = p->first + i + j;

			ops[j] = op_copy(p->area + page * PAGE, p->src + (page % PAGES) * PAGE,
					 PAGE, 0);
		}
		if (pcram_batch(p->fd, ops, p->per_batch, 0) == p->per_batch)
			p->placed += p->per_batch;
	}
	return NULL;
}

TEST_F_TIMEOUT(batch, concurrent_batches_from_threads, 120)
{
	enum { THREADS = 4, EACH = 256 };
	struct placer p[THREADS];
	struct toucher t;
	struct vm_answer v;
	uint8_t *area;
	int uffd = uffd_open(0), fd = pcram_open(), id, i;

	ASSERT_LE(0, uffd);
	ASSERT_LE(0, fd);
	area = uffd_area(uffd, THREADS * EACH);
	ASSERT_NE(NULL, area);
	id = pcram_attach(fd, uffd, "concurrent", 0);
	ASSERT_LT(0, id);
	/* and a thread faulting on all of it meanwhile */
	t.stride = PAGE;
	ASSERT_EQ(0, toucher_start(&t, area, THREADS * EACH));
	for (i = 0; i < THREADS; i++) {
		p[i] = (struct placer){ .fd = fd, .area = area, .src = self->src,
					.first = i * EACH, .n = EACH, .per_batch = 16 };
		ASSERT_EQ(0, pthread_create(&p[i].thread, NULL, placer_fn, &p[i]));
	}
	for (i = 0; i < THREADS; i++) {
		ASSERT_EQ(0, pthread_join(p[i].thread, NULL));
		EXPECT_EQ(EACH, p[i].placed);
	}
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	for (i = 0; i < THREADS * EACH; i++)
		if (area[i * PAGE] != pattern(i % PAGES))
			break;
	EXPECT_EQ(THREADS * EACH, i);
	ASSERT_EQ(0, get_vm(id, &v));
	EXPECT_EQ(THREADS * EACH / 16, v.batches);
	EXPECT_EQ(THREADS * EACH, v.ops);
	EXPECT_EQ(THREADS * EACH, v.pages);
	EXPECT_EQ(0, v.errors);
	close(fd);
	close(uffd);
}

TEST_HARNESS_MAIN
