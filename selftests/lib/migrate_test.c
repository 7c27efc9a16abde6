// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Loopback migration through libpcram's source and destination over two
 * socket pairs: every backing type, content checked byte for byte and by
 * the protocol's own checksums, with threads faulting during postcopy; a
 * connection cut mid-postcopy and resumed.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <pcram.h>
#include "kselftest_harness.h"
#include "common.h"
#include "memory.h"
#include "dst_util.h"

struct source {
	struct pcram_src *src;
	int fds[2];		/* the source's ends */
	pthread_t thread;
	int ret;
	_Atomic bool switched;
	bool cut_at_switchover;	/* break both connections right then */
	unsigned int flags;	/* PCRAM_SRC_F_x */
};

static void on_switchover(void *opaque)
{
	struct source *s = opaque;

	s->switched = true;
	if (s->cut_at_switchover) {
		shutdown(s->fds[0], SHUT_RDWR);
		shutdown(s->fds[1], SHUT_RDWR);
	}
}

static void *source_main(void *arg)
{
	struct source *s = arg;

	s->ret = pcram_src_serve(s->src, s->fds[0], s->fds[1]);
	return NULL;
}

/* Two socket pairs: the destination's ends in @dst_fds (bulk, urgent). */
static int pairs(int src_fds[2], int dst_fds[2])
{
	for (int i = 0; i < 2; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -errno;
		dst_fds[i] = sv[0];
		src_fds[1 - i] = sv[1];	/* the source takes them in any order */
	}
	return 0;
}

FIXTURE(mig) {
	struct test_region r;
	uint8_t *src;
	size_t pages;
	struct source s;
	struct pcram_in *in;
	struct pcram_dst *dst;
	struct crowd *crowd;
	int dst_fds[2];
};

MEMORY_VARIANTS(mig);

FIXTURE_SETUP(mig)
{
	const char *why;

	if (variant->mem == MEM_HUGETLB_1G)
		SETUP_SKIP("a 1 GiB page takes 34 s to place under TCG: dst_place_test places one");
	self->pages = region_pages(variant->mem, 256, 8, 1);
	why = region_map(&self->r, variant->mem, self->pages);
	if (why)
		SETUP_SKIP("%s", why);
	self->src = source_make(self->pages, self->r.page_size, 3);
	ASSERT_NE(NULL, self->src);
	/* Some zero pages, to go as flags. */
	for (size_t p = 0; p < self->pages; p += 5)
		memset(self->src + p * self->r.page_size, 0, self->r.page_size);
	self->crowd = calloc(1, sizeof(*self->crowd));
	ASSERT_NE(NULL, self->crowd);
	self->dst_fds[0] = self->dst_fds[1] = -1;
	self->s.fds[0] = self->s.fds[1] = -1;
}

FIXTURE_TEARDOWN(mig)
{
	if (self->dst)
		pcram_dst_cleanup(self->dst);
	if (self->crowd) {
		crowd_reap(self->crowd);
		free(self->crowd);
	}
	pcram_in_free(self->in);
	pcram_dst_free(self->dst);
	for (int i = 0; i < 2; i++) {
		if (self->dst_fds[i] >= 0)
			close(self->dst_fds[i]);
		if (self->s.fds[i] >= 0)
			close(self->s.fds[i]);
	}
	pcram_src_free(self->s.src);
	if (self->src)
		munmap(self->src, self->r.length);
	region_unmap(&self->r);
}

static void start_source(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self)
{
	struct pcram_src_options so = {
		.flags = self->s.flags, .switchover = on_switchover, .opaque = &self->s,
	};
	struct pcram_src_block sb = {
		.name = "pc.ram", .host = self->src, .length = self->r.length,
		.page_size = self->r.page_size,
	};

	ASSERT_EQ(0, pcram_src_new(&self->s.src, &so));
	ASSERT_EQ(0, pcram_src_add_block(self->s.src, &sb)) TH_LOG("%s", pcram_src_strerror(self->s.src));
	ASSERT_EQ(0, pairs(self->s.fds, self->dst_fds));
	ASSERT_EQ(0, pthread_create(&self->s.thread, NULL, source_main, &self->s));
}

static void start_destination(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
			      unsigned int flags)
{
	struct pcram_in_options io = { .flags = flags };
	struct pcram_remote_block rb[4];
	struct pcram_block b = region_block(&self->r, "pc.ram");
	int ret;

	ASSERT_EQ(0, pcram_in_new(&self->in, &io));
	ASSERT_EQ(1, pcram_in_connect(self->in, self->dst_fds[0], self->dst_fds[1], rb, 4))
		TH_LOG("%s", pcram_in_strerror(self->in));
	EXPECT_STREQ("pc.ram", rb[0].name);
	EXPECT_EQ(self->r.length, rb[0].length);
	EXPECT_EQ(self->r.page_size, rb[0].page_size);
	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &b)) TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	ASSERT_EQ(0, pcram_dst_prepare_discard(self->dst));
	ret = pcram_in_start(self->in, self->dst);
	if (ret == -EOPNOTSUPP)
		SKIP(return, "%s", pcram_in_strerror(self->in));
	ASSERT_EQ(0, ret) TH_LOG("%s", pcram_in_strerror(self->in));
}

/*
 * The migration runs to its end: every thread's pages came right, the
 * source served without error and every byte is the source's.
 */
static void wait_complete(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self)
{
	long diff;

	ASSERT_EQ(0, pcram_in_wait(self->in, DEADLINE_MS)) TH_LOG("%s", pcram_in_strerror(self->in));
	ASSERT_EQ(0, crowd_wait(self->crowd, DEADLINE_MS)) TH_LOG("threads still blocked");
	EXPECT_CROWD_READ_RIGHT(self->crowd);
	pthread_join(self->s.thread, NULL);
	EXPECT_EQ(0, self->s.ret) TH_LOG("%s", pcram_src_strerror(self->s.src));
	diff = first_diff(self->r.host, self->src, self->r.length);
	EXPECT_EQ(-1, diff) TH_LOG("differs at %ld", diff);
}

/*
 * The whole migration: threads fault pages while the bulk stream pushes
 * the rest; afterwards every byte is the source's, the checksums agree
 * on every page, and the source sent every page once at least.
 */
TEST_F_TIMEOUT(mig, loopback_byte_for_byte, 120)
{
	struct pcram_src_stats ss;
	struct pcram_in_stats is;

	start_source(_metadata, self);
	start_destination(_metadata, self, PCRAM_IN_F_VERIFY);
	/* Four threads touch every page, in different orders. */
	crowd_add_interleaved(self->crowd, &self->r, self->src, 4, self->pages, true);
	ASSERT_EQ(0, crowd_start(self->crowd, false));
	wait_complete(_metadata, self);
	EXPECT_TRUE(self->s.switched);
	ASSERT_EQ(0, pcram_src_stats(self->s.src, &ss, sizeof(ss)));
	ASSERT_EQ(0, pcram_in_stats(self->in, &is, sizeof(is)));
	EXPECT_EQ(self->pages, ss.verified_equal);
	EXPECT_EQ(0, ss.verified_differ);
	EXPECT_EQ(self->pages, is.verified_equal);
	EXPECT_GE(ss.pages_pushed + ss.pages_requested, self->pages);
	EXPECT_GE(ss.zero_pages, (self->pages + 4) / 5);
	/* A page can come both ways; the second is found there already. */
	EXPECT_GE(is.pages_bulk + is.pages_urgent, self->pages)
		TH_LOG("bulk %llu urgent %llu", (unsigned long long)is.pages_bulk,
		       (unsigned long long)is.pages_urgent);
	EXPECT_EQ(0, pcram_dst_pages_missing(self->dst));
}

/*
 * Both connections break at the switchover, with threads already
 * faulting: the destination pauses (-ECONNRESET), their requests stay
 * outstanding, and a new pair of connections resumes: the received
 * bitmap goes over, the requests are sent again, and the migration
 * completes with every byte right.
 */
TEST_F_TIMEOUT(mig, cut_and_resume, 120)
{
	struct pcram_src_stats ss;
	struct pcram_in_stats is;
	int ret;

	self->s.cut_at_switchover = true;
	start_source(_metadata, self);
	crowd_add_interleaved(self->crowd, &self->r, self->src, 2, self->pages, true);
	start_destination(_metadata, self, PCRAM_IN_F_VERIFY);
	ASSERT_EQ(0, crowd_start(self->crowd, false));
	ret = pcram_in_wait(self->in, DEADLINE_MS);
	ASSERT_EQ(-ECONNRESET, ret) TH_LOG("%s", pcram_in_strerror(self->in));
	pthread_join(self->s.thread, NULL);
	EXPECT_EQ(-ECONNRESET, self->s.ret) TH_LOG("%s", pcram_src_strerror(self->s.src));
	/* Paused: the threads are still blocked, nothing lost. */
	EXPECT_NE(0, pcram_dst_pages_missing(self->dst));

	for (int i = 0; i < 2; i++) {
		close(self->dst_fds[i]);
		close(self->s.fds[i]);
	}
	self->s.cut_at_switchover = false;
	ASSERT_EQ(0, pairs(self->s.fds, self->dst_fds));
	ASSERT_EQ(0, pthread_create(&self->s.thread, NULL, source_main, &self->s));
	ASSERT_EQ(0, pcram_in_resume(self->in, self->dst_fds[0], self->dst_fds[1]))
		TH_LOG("%s", pcram_in_strerror(self->in));
	ASSERT_EQ(0, pcram_in_wait(self->in, DEADLINE_MS)) TH_LOG("%s", pcram_in_strerror(self->in));
	ASSERT_EQ(0, crowd_wait(self->crowd, DEADLINE_MS)) TH_LOG("threads still blocked");
	EXPECT_CROWD_READ_RIGHT(self->crowd);
	pthread_join(self->s.thread, NULL);
	EXPECT_EQ(0, self->s.ret) TH_LOG("%s", pcram_src_strerror(self->s.src));
	EXPECT_EQ(-1, first_diff(self->r.host, self->src, self->r.length));
	ASSERT_EQ(0, pcram_src_stats(self->s.src, &ss, sizeof(ss)));
	ASSERT_EQ(0, pcram_in_stats(self->in, &is, sizeof(is)));
	EXPECT_EQ(1, ss.resumes);
	EXPECT_EQ(1, is.resumes);
	EXPECT_EQ(self->pages, ss.verified_equal);
}

/* A VM on the source: writes pages while it runs, held on request. */
struct writer {
	uint8_t *mem;
	size_t pages, page_size;
	pthread_mutex_t lock;	/* held by each write, and by hold() */
	pthread_t thread;
	bool stop;
	uint64_t writes;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t x = 88172645463325252ULL;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* A word somewhere in a page, never all zeros. */
		((uint64_t *)(w->mem + (x % w->pages) * w->page_size))[(x >> 32) % 512] =
			x | 1;
		w->writes++;
		pthread_mutex_unlock(&w->lock);
		usleep(20);
	}
}

static void writer_hold(void *opaque, int stop)
{
	struct writer *w = opaque;

	if (stop)
		pthread_mutex_lock(&w->lock);
	else
		pthread_mutex_unlock(&w->lock);
}

/* The VM stops, after a last few writes to pages precopy has sent. */
static void writer_switchover(void *opaque)
{
	struct writer *w = opaque;

	pthread_mutex_lock(&w->lock);
	w->stop = true;
	for (size_t p = 1; p < w->pages; p += w->pages / 8)
		w->mem[p * w->page_size + 7] ^= 0x5a;
	pthread_mutex_unlock(&w->lock);
}

/*
 * Precopy with a VM writing all along: passes while it runs, then the
 * switchover discards what it wrote since (those last few writes at
 * least), and postcopy brings them: the destination ends with the
 * source's final bytes, and the counts agree on both sides.
 */
static void precopy_with_writer(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
				const FIXTURE_VARIANT(mig) *variant, unsigned int flags)
{
	struct test_region sr;
	struct writer w = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct pcram_src_options so = {
		.flags = flags, .precopy_rounds = 3, .switchover = writer_switchover,
		.hold = writer_hold, .opaque = &w,
	};
	struct pcram_src_block sb = { .name = "pc.ram" };
	struct pcram_src_stats ss;
	struct pcram_in_stats is;
	const char *why;
	long diff;
	int ret;

	/* The source's RAM of the same kind: dirty tracking on each. */
	why = region_map(&sr, variant->mem, self->pages);
	ASSERT_EQ(NULL, why) TH_LOG("%s", why);
	memcpy(sr.host, self->src, sr.length);
	w.mem = sr.host;
	w.pages = self->pages;
	w.page_size = sr.page_size;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, writer_main, &w));

	sb.host = sr.host;
	sb.length = sr.length;
	sb.page_size = sr.page_size;
	ASSERT_EQ(0, pcram_src_new(&self->s.src, &so));
	ASSERT_EQ(0, pcram_src_add_block(self->s.src, &sb));
	ASSERT_EQ(0, pairs(self->s.fds, self->dst_fds));
	ASSERT_EQ(0, pthread_create(&self->s.thread, NULL, source_main, &self->s));
	start_destination(_metadata, self, PCRAM_IN_F_VERIFY);
	ret = pcram_in_wait(self->in, DEADLINE_MS);
	pthread_join(self->s.thread, NULL);
	/* Stopped by the switchover, or now if it never came. */
	pthread_mutex_lock(&w.lock);
	w.stop = true;
	pthread_mutex_unlock(&w.lock);
	pthread_join(w.thread, NULL);
	if (ret == -EOPNOTSUPP && self->s.ret == -EOPNOTSUPP) {
		region_unmap(&sr);
		SKIP(return, "%s", pcram_src_strerror(self->s.src));
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", pcram_in_strerror(self->in));
	ASSERT_EQ(0, self->s.ret) TH_LOG("%s", pcram_src_strerror(self->s.src));

	diff = first_diff(self->r.host, sr.host, sr.length);
	EXPECT_EQ(-1, diff) TH_LOG("differs at %ld", diff);
	ASSERT_EQ(0, pcram_src_stats(self->s.src, &ss, sizeof(ss)));
	ASSERT_EQ(0, pcram_in_stats(self->in, &is, sizeof(is)));
	TH_LOG("tracking %d, %llu rounds, %llu precopy pages, %llu dirtied, %llu writes, "
	       "%llu ranges in %llu discards", ss.dirty_tracking,
	       (unsigned long long)ss.precopy_rounds, (unsigned long long)ss.pages_precopy,
	       (unsigned long long)ss.pages_dirtied, (unsigned long long)w.writes,
	       (unsigned long long)ss.discard_ranges, (unsigned long long)ss.discard_commands);
	if (flags & PCRAM_SRC_F_SOFT_DIRTY) {
		EXPECT_EQ(PCRAM_DIRTY_SOFT_DIRTY, ss.dirty_tracking);
	} else {
		EXPECT_NE(PCRAM_DIRTY_NONE, ss.dirty_tracking);
	}
	EXPECT_EQ(ss.pages_precopy, is.pages_precopy);
	if ((sr.kind == MEM_HUGETLB || sr.kind == MEM_HUGETLB_SHARED) &&
	    ss.dirty_tracking == PCRAM_DIRTY_SOFT_DIRTY) {
		/* clear_refs skips hugetlbfs: such a block waits for postcopy. */
		EXPECT_EQ(0, ss.pages_precopy);
		EXPECT_EQ(0, ss.discard_ranges);
	} else {
		EXPECT_GE(ss.precopy_rounds, 1);
		EXPECT_GE(ss.pages_precopy, self->pages);
		/*
		 * The last writes at least: 8 pages (7 of 8 huge pages), none
		 * next to another unless the block is that small.
		 */
		EXPECT_GE(ss.pages_dirtied, self->pages / 8 >= 2 ? 8 : 7);
		EXPECT_GE(ss.discard_ranges, self->pages / 8 >= 2 ? 8 : 1);
	}
	EXPECT_EQ(ss.discard_ranges, is.discards);
	EXPECT_EQ((ss.discard_ranges + 11) / 12, ss.discard_commands);
	EXPECT_EQ(self->pages, ss.verified_equal);
	EXPECT_EQ(0, ss.verified_differ);
	EXPECT_EQ(0, pcram_dst_pages_missing(self->dst));
	region_unmap(&sr);
}

/* The best tracker here: uffd-wp async where the kernel has it. */
TEST_F_TIMEOUT(mig, precopy_with_writer, 120)
{
	precopy_with_writer(_metadata, self, variant, 0);
}

/* Soft-dirty, which every kernel since 3.11 with MEM_SOFT_DIRTY has. */
TEST_F_TIMEOUT(mig, precopy_with_writer_soft_dirty, 120)
{
	precopy_with_writer(_metadata, self, variant, PCRAM_SRC_F_SOFT_DIRTY);
}

/*
 * A source that pushes nothing (PCRAM_SRC_F_NO_PUSH): every page comes
 * because a thread asked for it, once, on the urgent connection, and the
 * migration completes when the last one is in. Unknown flags are refused.
 */
TEST_F_TIMEOUT(mig, no_push_serves_requests_only, 120)
{
	struct pcram_src_options bad = { .flags = ~PCRAM_SRC_F_ALL };
	struct pcram_src *refused = NULL;
	struct pcram_src_stats ss;
	struct pcram_in_stats is;

	EXPECT_EQ(-EINVAL, pcram_src_new(&refused, &bad));
	EXPECT_EQ(NULL, refused);
	self->s.flags = PCRAM_SRC_F_NO_PUSH;
	start_source(_metadata, self);
	start_destination(_metadata, self, PCRAM_IN_F_VERIFY);
	crowd_add_interleaved(self->crowd, &self->r, self->src, 2, self->pages, true);
	ASSERT_EQ(0, crowd_start(self->crowd, false));
	wait_complete(_metadata, self);
	ASSERT_EQ(0, pcram_src_stats(self->s.src, &ss, sizeof(ss)));
	ASSERT_EQ(0, pcram_in_stats(self->in, &is, sizeof(is)));
	EXPECT_EQ(0, ss.pages_pushed);
	EXPECT_EQ(self->pages, ss.pages_requested);
	EXPECT_EQ(0, is.pages_bulk);
	EXPECT_EQ(self->pages, is.pages_urgent);
	EXPECT_EQ(self->pages, ss.verified_equal);
}

/* Threads of this process at nice 19. */
static int threads_at_nice_19(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], stat[512], *p;
		long nice;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		read_whole(path, stat, sizeof(stat));
		/* After "(comm)": state is field 3, nice field 19. */
		p = strrchr(stat, ')');
		for (int field = 2; p && field < 19; field++)
			p = strchr(p + 1, ' ');
		if (p && sscanf(p + 1, "%ld", &nice) == 1 && nice == 19)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * The bulk receiver yields the CPU to the urgent path: nice 19 unless
 * PCRAM_IN_F_BULK_SAME_PRIORITY. (The source's push thread does the
 * same; 'pcram bench migrate' measures what it is for.)
 */
static void bulk_priority(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
			  unsigned int in_flags, int want)
{
	struct toucher *first, *rest;

	if (threads_at_nice_19())
		SKIP(return, "threads at nice 19 here already (run under nice?)");
	self->s.flags = PCRAM_SRC_F_NO_PUSH;
	start_source(_metadata, self);
	start_destination(_metadata, self, in_flags);
	/* The receivers are running once a request is answered. */
	first = crowd_add(self->crowd, &self->r, self->src);
	toucher_add_page(first, 0);
	ASSERT_EQ(0, toucher_start(first));
	ASSERT_TRUE(WAIT_FOR(pcram_dst_pages_missing(self->dst) < self->pages, DEADLINE_MS));
	/*
	 * The bulk receiver sets its nice value as it starts, which under
	 * TCG can be after the urgent one has placed a page: wait for it.
	 */
	EXPECT_TRUE(WAIT_FOR(threads_at_nice_19() == want, DEADLINE_MS))
		TH_LOG("%d threads at nice 19, want %d", threads_at_nice_19(), want);
	rest = crowd_add(self->crowd, &self->r, self->src);
	for (size_t p = 1; p < self->pages; p++)
		toucher_add_page(rest, p);
	ASSERT_EQ(0, toucher_start(rest));
	wait_complete(_metadata, self);
}

TEST_F_TIMEOUT(mig, bulk_receiver_at_nice_19, 120)
{
	bulk_priority(_metadata, self, 0, 1);
}

TEST_F_TIMEOUT(mig, bulk_receiver_same_priority, 120)
{
	bulk_priority(_metadata, self, PCRAM_IN_F_BULK_SAME_PRIORITY, 0);
}

/* struct sched_attr to SCHED_ATTR_SIZE_VER0 (glibc before 2.41 has none). */
struct slice_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

/* A thread's time slice in ns (EEVDF, Linux 6.12); 0 where there is none. */
static uint64_t slice_ns(pid_t tid, int *nice)
{
	struct slice_attr a = { .size = sizeof(a) };

	if (syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0))
		return 0;
	*nice = a.nice;
	return a.runtime;
}

struct thread_sched {
	int n;			/* threads with the name */
	int short_slice;	/* of them, with libpcram's urgent slice */
	int nice_19;
};

/* This process's threads named @name (a prefix), and how they are scheduled. */
static struct thread_sched threads_named(const char *name)
{
	struct thread_sched ts = { 0 };
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		int nice = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		read_whole(path, comm, sizeof(comm));
		if (strncmp(comm, name, strlen(name)))
			continue;
		ts.n++;
		ts.short_slice += slice_ns(atoi(e->d_name), &nice) == 100000;
		ts.nice_19 += nice == 19;
	}
	if (d)
		closedir(d);
	return ts;
}

/*
 * The urgent path (fault threads, the urgent receiver, the source's
 * request server) asks for the shortest slice, so that its wakeup
 * preempts a background thread mid-slice; its nice value stays the
 * caller's. The bulk receiver keeps the default slice at nice 19.
 * ('pcram bench netfault' measures what it is for.)
 */
TEST_F_TIMEOUT(mig, urgent_threads_take_a_short_slice, 120)
{
	struct thread_sched fault, rx_urgent, urgent, rx_bulk;
	struct toucher *first, *rest;
	int nice = 0;

	if (!slice_ns((pid_t)syscall(SYS_gettid), &nice))
		SKIP(return, "the kernel keeps no time slice per thread (EEVDF custom slices, Linux 6.12)");
	if (threads_at_nice_19())
		SKIP(return, "threads at nice 19 here already (run under nice?)");
	self->s.flags = PCRAM_SRC_F_NO_PUSH;
	start_source(_metadata, self);
	start_destination(_metadata, self, 0);
	first = crowd_add(self->crowd, &self->r, self->src);
	toucher_add_page(first, 0);
	ASSERT_EQ(0, toucher_start(first));
	ASSERT_TRUE(WAIT_FOR(pcram_dst_pages_missing(self->dst) < self->pages, DEADLINE_MS));
	/* Each thread sets its own as it starts: wait for the last. */
	EXPECT_TRUE(WAIT_FOR(threads_named("pcram-rx-bulk").nice_19 == 1, DEADLINE_MS));
	fault = threads_named("pcram-fault/");
	rx_urgent = threads_named("pcram-rx-urgent");
	urgent = threads_named("pcram-urgent");
	rx_bulk = threads_named("pcram-rx-bulk");
	EXPECT_LE(1, fault.n);
	EXPECT_EQ(fault.n, fault.short_slice);
	EXPECT_EQ(1, rx_urgent.n);
	EXPECT_EQ(1, rx_urgent.short_slice);
	EXPECT_EQ(1, urgent.n);
	EXPECT_EQ(1, urgent.short_slice);
	EXPECT_EQ(0, fault.nice_19 + rx_urgent.nice_19 + urgent.nice_19);
	EXPECT_EQ(1, rx_bulk.n);
	EXPECT_EQ(0, rx_bulk.short_slice);
	rest = crowd_add(self->crowd, &self->r, self->src);
	for (size_t p = 1; p < self->pages; p++)
		toucher_add_page(rest, p);
	ASSERT_EQ(0, toucher_start(rest));
	wait_complete(_metadata, self);
}

/*
 * A source that sends a PAGE past the end of the block: the destination
 * refuses it, says why (to the caller and in a SHUTDOWN to the source),
 * and no page was placed.
 */
/*
 * A source that insists on verification and a destination that does not
 * verify: its COMPLETE is refused as a protocol error on both sides, and
 * neither reports the migration done.
 */
TEST_F_TIMEOUT(mig, unverified_complete_refused, 60)
{
	int ret;

	self->s.flags = PCRAM_SRC_F_REQUIRE_VERIFY;
	start_source(_metadata, self);
	start_destination(_metadata, self, 0);
	ret = pcram_in_wait(self->in, DEADLINE_MS);
	EXPECT_EQ(-EPROTO, ret) TH_LOG("%s", pcram_in_strerror(self->in));
	EXPECT_NE(NULL, strstr(pcram_in_strerror(self->in), "COMPLETE without CHECKSUMs"))
		TH_LOG("%s", pcram_in_strerror(self->in));
	pthread_join(self->s.thread, NULL);
	EXPECT_EQ(-EPROTO, self->s.ret);
	EXPECT_NE(NULL, strstr(pcram_src_strerror(self->s.src),
			       "protocol error from the destination: COMPLETE without CHECKSUMs"))
		TH_LOG("%s", pcram_src_strerror(self->s.src));
	/* The same pair again is refused: the migration is over. */
	EXPECT_EQ(-EALREADY, pcram_in_resume(self->in, self->dst_fds[0], self->dst_fds[1]));
}

TEST_F_TIMEOUT(mig, malformed_page_refused, 60)
{
	struct pcram_in_options io = { 0 };
	struct pcram_block b = region_block(&self->r, "pc.ram");
	struct wire_blocks_msg;
	uint8_t buf[512], hello[64];
	size_t n;
	int sv[2][2], ret;

	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]));
	self->dst_fds[0] = sv[0][0];
	self->dst_fds[1] = sv[1][0];
	self->s.fds[0] = sv[0][1];
	self->s.fds[1] = sv[1][1];

	/* A hand-made source: BLOCKS, SWITCHOVER, then a bad PAGE. */
	{
		/* type 2 BLOCKS: session, 1 block "pc.ram", length, page size */
		uint8_t *p = buf;
		uint64_t len = self->r.length, ps = self->r.page_size;

		memset(buf, 0, sizeof(buf));
		p[1] = 2;
		p[7] = 12 + 1 + 6 + 16;
		p += 8 + 8;
		p[3] = 1;
		p[4] = 6;
		memcpy(p + 5, "pc.ram", 6);
		for (int i = 0; i < 8; i++) {
			p[11 + i] = (uint8_t)(len >> (56 - 8 * i));
			p[19 + i] = (uint8_t)(ps >> (56 - 8 * i));
		}
		n = 8 + 12 + 1 + 6 + 16;
	}
	ASSERT_EQ(0, pcram_in_new(&self->in, &io));
	ASSERT_EQ((ssize_t)n, write(self->s.fds[0], buf, n));
	ASSERT_EQ(1, pcram_in_connect(self->in, self->dst_fds[0], self->dst_fds[1], NULL, 0))
		TH_LOG("%s", pcram_in_strerror(self->in));
	ASSERT_EQ(32, read(self->s.fds[0], hello, 32));	/* HELLO, bulk */
	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &b));
	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	ret = pcram_in_start(self->in, self->dst);
	if (ret == -EOPNOTSUPP)
		SKIP(return, "%s", pcram_in_strerror(self->in));
	ASSERT_EQ(0, ret) TH_LOG("%s", pcram_in_strerror(self->in));

	/* PAGE at the block's end: header, block 0, flags 0, offset = length. */
	memset(buf, 0, 24);
	buf[1] = 6;
	{
		uint32_t plen = 16 + (uint32_t)self->r.page_size;
		uint64_t off = self->r.length;

		for (int i = 0; i < 4; i++)
			buf[4 + i] = (uint8_t)(plen >> (24 - 8 * i));
		for (int i = 0; i < 8; i++)
			buf[16 + i] = (uint8_t)(off >> (56 - 8 * i));
	}
	ASSERT_EQ(24, write(self->s.fds[0], buf, 24));
	ret = pcram_in_wait(self->in, DEADLINE_MS);
	EXPECT_EQ(-EPROTO, ret);
	EXPECT_NE(NULL, strstr(pcram_in_strerror(self->in), "PAGE: range"))
		TH_LOG("%s", pcram_in_strerror(self->in));
	EXPECT_EQ(self->pages, pcram_dst_pages_missing(self->dst));
	EXPECT_EQ(0, stats_of(self->dst).pages_placed);
}

TEST_HARNESS_MAIN
