// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libpcram's destination lifecycle over every kind of guest RAM: what
 * incoming_init, prepare_discard, enable_notify and cleanup do to the
 * memory, to THP and mlock, and that cleanup at every stage (and a failed
 * enable_notify) leaves no fd, mapping or thread behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "common.h"
#include "memory.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define BLOCK_NAME	"guest-ram"
/* Bytes of pattern at each end of a page bigger than 2 MiB; zeros between. */
#define EDGE		(64 << 10)

static size_t base_page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static uint32_t my_tid(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

/* Small regions: 8 pages, or the one 1 GiB page a VM reserves. */
static size_t region_pages(enum test_mem m)
{
	return m == MEM_HUGETLB_1G ? 1 : 8;
}

static uint8_t touch(const uint8_t *p)
{
	return *(volatile const uint8_t *)p;
}

static bool is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Bytes of [p, p + len) that are not zero, looking at the first and last
 * 64 bytes of every base page: enough to see a page that was not emptied,
 * and quick on a 1 GiB page under emulation.
 */
static size_t nonzero_bytes(const uint8_t *p, size_t len)
{
	size_t base = base_page(), n = 0;

	for (size_t off = 0; off < len; off += base)
		for (size_t i = 0; i < 64; i++)
			n += p[off + i] != 0 || p[off + base - 64 + i] != 0;
	return n;
}

/*
 * Is [a, a + len) the same as [b, b + len)? Pages over 2 MiB are compared
 * where source_map() wrote (both ends) and at the start of every base page
 * between: a byte-wise compare of 1 GiB takes too long under emulation.
 */
static bool same_content(const uint8_t *a, const uint8_t *b, size_t len,
			 size_t page_size)
{
	size_t base = base_page();

	if (page_size <= SZ_2M)
		return !memcmp(a, b, len);
	for (size_t pg = 0; pg < len; pg += page_size) {
		if (memcmp(a + pg, b + pg, EDGE) ||
		    memcmp(a + pg + page_size - EDGE, b + pg + page_size - EDGE, EDGE))
			return false;
		for (size_t off = EDGE; off < page_size - EDGE; off += base)
			if (memcmp(a + pg + off, b + pg + off, 64))
				return false;
	}
	return true;
}

/* Base pages of [p, p + len) that mincore() says are resident. */
static size_t resident_pages(const void *p, size_t len)
{
	size_t n = len / base_page(), count = 0;
	unsigned char *vec = malloc(n);

	if (!vec)
		return SIZE_MAX;
	if (mincore((void *)p, len, vec)) {
		free(vec);
		return SIZE_MAX;
	}
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

/*
 * The VmFlags of the mapping that holds @addr, as " rd wr ... " so that
 * has_flag() can look for a blank-bounded name; "" if none.
 */
static void vm_flags(const void *addr, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	uintptr_t a = (uintptr_t)addr;
	bool inside = false;
	char line[512];

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = lo <= a && a < hi;
			continue;
		}
		if (inside && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, size, "%s", line + 8);
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

static bool has_flag(const char *flags, const char *name)
{
	char pat[8];

	snprintf(pat, sizeof(pat), " %s ", name);
	return strstr(flags, pat) != NULL;
}

/* VmLck of this process in kB, or -1. */
static long vm_locked_kb(void)
{
	char buf[4096], *p;

	read_whole("/proc/self/status", buf, sizeof(buf));
	p = strstr(buf, "VmLck:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* ---- what a process holds: fds, threads, mappings ------------------------ */

#define MAX_MAPS 2048

struct proc_state {
	int fds;
	int tasks;
	unsigned int nr_maps;
	struct { uint64_t lo, hi; } maps[MAX_MAPS];
};

/*
 * A joined thread can stay listed in /proc/self/task for a moment: the
 * kernel wakes its joiner before it reaps it, and under emulation that
 * moment is long. Wait, bounded, for @threads entries.
 */
static int task_count(int threads)
{
	int n = count_dir("/proc/self/task");

	for (int i = 0; i < 2000 && n != threads; i++) {
		usleep(1000);
		n = count_dir("/proc/self/task");
	}
	return n;
}

/*
 * What the process holds, expecting @threads threads. The heap and the
 * main stack grow and shrink with malloc() and calls; they are no mapping
 * anyone could leak. Every other line counts.
 */
static void proc_state(struct proc_state *s, int threads)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];

	s->nr_maps = 0;
	if (f) {
		while (fgets(line, sizeof(line), f) && s->nr_maps < MAX_MAPS) {
			unsigned long lo, hi;

			if (strstr(line, "[heap]") || strstr(line, "[stack]") ||
			    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
				continue;
			s->maps[s->nr_maps].lo = lo;
			s->maps[s->nr_maps].hi = hi;
			s->nr_maps++;
		}
		fclose(f);
	}
	/* After the maps: fopen's fd is closed again by now. */
	s->fds = count_dir("/proc/self/fd");
	s->tasks = task_count(threads);
}

/*
 * A mapping of @now that lies at least partly outside every mapping of
 * @before is new memory; old mappings split or merged by madvise() or
 * mlock() are not.
 */
static bool find_new_mapping(const struct proc_state *before,
			     const struct proc_state *now,
			     uint64_t *lo, uint64_t *hi)
{
	for (unsigned int i = 0; i < now->nr_maps; i++) {
		uint64_t pos = now->maps[i].lo;
		bool moved = true;

		while (pos < now->maps[i].hi && moved) {
			moved = false;
			for (unsigned int j = 0; j < before->nr_maps; j++) {
				if (before->maps[j].lo <= pos && pos < before->maps[j].hi) {
					pos = before->maps[j].hi;
					moved = true;
					break;
				}
			}
		}
		if (pos < now->maps[i].hi) {
			*lo = now->maps[i].lo;
			*hi = now->maps[i].hi;
			return true;
		}
	}
	return false;
}

/* Nothing more is open, running or mapped than at @before. */
static void expect_same_state(struct __test_metadata *_metadata,
			      const struct proc_state *before, const char *when)
{
	static struct proc_state state;
	struct proc_state *now = &state;
	uint64_t lo = 0, hi = 0;

	proc_state(now, before->tasks);
	EXPECT_LT(0, before->fds);
	EXPECT_EQ(before->fds, now->fds) TH_LOG("%s: open fds", when);
	EXPECT_EQ(before->tasks, now->tasks) TH_LOG("%s: threads", when);
	EXPECT_FALSE(find_new_mapping(before, now, &lo, &hi))
		TH_LOG("%s: new mapping %#llx-%#llx", when, (unsigned long long)lo,
		       (unsigned long long)hi);
}

static void *idle_thread(void *arg)
{
	return arg;
}

/*
 * glibc keeps the stack of a joined thread for the next thread it starts.
 * Run two at once (a fault thread and a thread of the test) before the
 * first snapshot, so that later threads take those stacks and give them
 * back, instead of leaving new ones cached that would look like leaks.
 */
static void warm_thread_stack_cache(void)
{
	pthread_t t[2];
	int ok[2];

	for (int i = 0; i < 2; i++)
		ok[i] = !pthread_create(&t[i], NULL, idle_thread, NULL);
	for (int i = 0; i < 2; i++)
		if (ok[i])
			pthread_join(t[i], NULL);
}

/* ---- the provider: pages from a pattern buffer ------------------------- */

struct pattern_provider {
	const uint8_t *src;		/* the block's content */
	atomic_bool hold;		/* keep requests, place nothing */
	atomic_uint requests;
	atomic_int error;		/* first placement failure */
	struct pcram_request first;	/* the first request handed over */
	char first_block[PCRAM_BLOCK_NAME_MAX + 1];
};

static int pattern_request(struct pcram_dst *dst, const struct pcram_request *req,
			   void *opaque)
{
	struct pattern_provider *pp = opaque;
	int ret, none = 0;

	if (atomic_fetch_add(&pp->requests, 1) == 0) {
		pp->first = *req;
		snprintf(pp->first_block, sizeof(pp->first_block), "%s",
			 req->block ? req->block : "(null)");
	}
	if (atomic_load(&pp->hold))
		return 0;
	ret = pcram_dst_place_page(dst, req->host, pp->src + req->offset);
	if (ret < 0)
		atomic_compare_exchange_strong(&pp->error, &none, ret);
	return ret < 0 ? ret : 0;
}

/*
 * The content the provider serves: the pattern, except that pages over
 * 2 MiB get it only at both ends (cheap under emulation, still different
 * on every page). Every page of it is touched, so that UFFDIO_COPY never
 * faults on its source: a faulting copy into a 1 GiB page retries with a
 * second 1 GiB page, and a VM reserves one.
 */
static uint8_t *source_map(const struct test_region *r)
{
	size_t base = base_page(), ps = r->page_size;
	uint8_t *src = mmap(NULL, r->length, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (src == MAP_FAILED)
		return NULL;
	if (ps <= SZ_2M) {
		pattern_fill(src, r->length, ps, 1);
		return src;
	}
	for (size_t off = 0; off < r->length; off += base)
		touch(src + off);
	for (size_t pg = 0; pg < r->length / ps; pg++) {
		for (size_t i = 0; i < EDGE; i++) {
			src[pg * ps + i] = pattern_byte(pg, i, 1);
			src[pg * ps + ps - EDGE + i] = pattern_byte(pg, ps - EDGE + i, 1);
		}
	}
	return src;
}

/* ---- the fixture: one region of each kind -------------------------------- */

FIXTURE(life) {
	struct test_region r;
	uint8_t *src;
	struct pcram_dst *dst;
	struct pattern_provider pp;
	struct pcram_provider provider;
};

MEMORY_VARIANTS(life);

FIXTURE_SETUP(life)
{
	const char *why = region_map(&self->r, variant->mem, region_pages(variant->mem));

	if (why)
		SETUP_SKIP("%s", why);
	self->src = source_map(&self->r);
	ASSERT_NE(NULL, self->src);
	self->pp.src = self->src;
	self->provider = (struct pcram_provider) {
		.request = pattern_request, .opaque = &self->pp,
	};
	warm_thread_stack_cache();
}

FIXTURE_TEARDOWN(life)
{
	pcram_dst_free(self->dst);
	if (self->src)
		munmap(self->src, self->r.length);
	region_unmap(&self->r);
}

/*
 * pcram_dst_place_page() wakes the faulting thread with its UFFDIO_COPY
 * and only then marks the page received and counts it: a thread back from
 * its fault can look before the books are done. Wait for them, bounded.
 */
static void wait_until_missing(struct pcram_dst *dst, uint64_t missing)
{
	for (int i = 0; i < 2000 && pcram_dst_pages_missing(dst) > missing; i++)
		usleep(1000);
}

/* pcram_dst_new into *@dst, region @r as block BLOCK_NAME, incoming_init. */
static void start(struct __test_metadata *_metadata, struct pcram_dst **dst,
		  const struct test_region *r)
{
	struct pcram_block blk = region_block(r, BLOCK_NAME);

	ASSERT_EQ(0, pcram_dst_new(dst, NULL));
	ASSERT_EQ(0, pcram_dst_add_block(*dst, &blk))
		TH_LOG("%s", pcram_dst_strerror(*dst));
	ASSERT_EQ(0, pcram_dst_incoming_init(*dst))
		TH_LOG("%s", pcram_dst_strerror(*dst));
}

/* ... and @provider, and enable_notify. */
static void start_notify(struct __test_metadata *_metadata, struct pcram_dst **dst,
			 const struct test_region *r,
			 const struct pcram_provider *provider)
{
	start(_metadata, dst, r);
	ASSERT_EQ(0, pcram_dst_set_provider(*dst, provider));
	ASSERT_EQ(0, pcram_dst_enable_notify(*dst))
		TH_LOG("%s", pcram_dst_strerror(*dst));
}

TEST_F(life, incoming_init_empties_the_memory)
{
	const struct test_region *r = &self->r;
	size_t base = base_page(), pages = r->length / r->page_size;
	struct stat st;
	uint8_t buf[64];

	/* A byte in every base page: every page is there, not zero. */
	for (size_t off = 0; off < r->length; off += base)
		r->host[off] = 0xa5;
	ASSERT_EQ(r->length / base, resident_pages(r->host, r->length));
	if (r->fd >= 0) {
		ASSERT_EQ(0, fstat(r->fd, &st));
		ASSERT_LT(0, st.st_blocks);
	}

	start(_metadata, &self->dst, &self->r);
	EXPECT_EQ(0, resident_pages(r->host, r->length));
	EXPECT_EQ(pages, pcram_dst_pages_missing(self->dst));
	if (r->fd >= 0) {
		/* The file itself lost the pages, not just this mapping. */
		ASSERT_EQ(0, fstat(r->fd, &st));
		EXPECT_EQ(0, st.st_blocks);
		if (r->kind == MEM_SHMEM) {
			errno = 0;
			EXPECT_EQ(-1, lseek(r->fd, 0, SEEK_DATA));
			EXPECT_EQ(ENXIO, errno);
		}
		for (size_t pg = 0; pg < pages; pg++) {
			memset(buf, 0xff, sizeof(buf));
			ASSERT_EQ(sizeof(buf), pread(r->fd, buf, sizeof(buf),
						     pg * r->page_size));
			EXPECT_TRUE(is_zero(buf, sizeof(buf))) TH_LOG("page %zu", pg);
		}
	}
	/* Nothing watches the range yet: a read is an ordinary fault, zeros. */
	EXPECT_EQ(0, nonzero_bytes(r->host, r->length));
	EXPECT_EQ(0, atomic_load(&self->pp.requests));
}

TEST_F(life, prepare_discard_turns_thp_off_and_cleanup_back_on)
{
	const struct test_region *r = &self->r;
	char before[512], now[512];

	vm_flags(r->host, before, sizeof(before));
	ASSERT_NE(0, before[0]);
	/* region_map() gives THP regions MADV_HUGEPAGE, and nothing else. */
	ASSERT_EQ(r->kind == MEM_THP, has_flag(before, "hg")) TH_LOG("%s", before);
	ASSERT_FALSE(has_flag(before, "nh")) TH_LOG("%s", before);

	/*
	 * THP can rebuild a discarded range only where it acts: a THP block,
	 * or any anonymous block when THP is "always". Elsewhere the flags
	 * stay as they were: no madvise could put "default" back afterwards.
	 */
	bool thp_acts = r->kind == MEM_THP ||
			(r->kind == MEM_ANON && strstr(thp_mode(), "[always]"));

	start(_metadata, &self->dst, &self->r);
	ASSERT_EQ(0, pcram_dst_prepare_discard(self->dst))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	vm_flags(r->host, now, sizeof(now));
	if (thp_acts) {
		EXPECT_TRUE(has_flag(now, "nh")) TH_LOG("%s", now);
		EXPECT_FALSE(has_flag(now, "hg")) TH_LOG("%s", now);
	} else {
		/* Nothing for THP to rebuild here. */
		EXPECT_STREQ(before, now);
	}

	/* It stays so while pages arrive; the block is registered MISSING. */
	ASSERT_EQ(0, pcram_dst_set_provider(self->dst, &self->provider));
	ASSERT_EQ(0, pcram_dst_enable_notify(self->dst))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	vm_flags(r->host, now, sizeof(now));
	EXPECT_TRUE(has_flag(now, "um")) TH_LOG("%s", now);
	EXPECT_EQ(thp_acts, has_flag(now, "nh")) TH_LOG("%s", now);

	ASSERT_EQ(0, pcram_dst_cleanup(self->dst))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	vm_flags(r->host, now, sizeof(now));
	EXPECT_FALSE(has_flag(now, "um")) TH_LOG("%s", now);
	EXPECT_FALSE(has_flag(now, "ui")) TH_LOG("%s", now);
	if (thp_acts) {
		/* THP back on: MADV_HUGEPAGE, as good as "always" was. */
		EXPECT_TRUE(has_flag(now, "hg")) TH_LOG("%s", now);
		EXPECT_FALSE(has_flag(now, "nh")) TH_LOG("%s", now);
	} else {
		/* Never had MADV_HUGEPAGE: cleanup must not invent it. */
		EXPECT_FALSE(has_flag(now, "hg")) TH_LOG("%s", now);
		EXPECT_FALSE(has_flag(now, "nh")) TH_LOG("%s", now);
	}
}

TEST_F(life, mlocked_block_unlocked_then_locked_again)
{
	const struct test_region *r = &self->r;
	size_t pages = r->length / r->page_size, ps = r->page_size;
	long locked_kb = vm_locked_kb();
	char flags[512];

	ASSERT_LE(0, locked_kb);
	if (mlock(r->host, r->length))
		SKIP(return, "mlock: %s", strerror(errno));
	vm_flags(r->host, flags, sizeof(flags));
	if (!has_flag(flags, "lo"))
		SKIP(return, "mlock() sets no VM_LOCKED on %s mappings: nothing to lift",
		     mem_name(r->kind));
	ASSERT_EQ(locked_kb + (long)(r->length >> 10), vm_locked_kb());
	ASSERT_EQ(r->length / base_page(), resident_pages(r->host, r->length));

	/* Locked pages cannot be dropped and would never fault: unlocked. */
	start(_metadata, &self->dst, &self->r);
	vm_flags(r->host, flags, sizeof(flags));
	EXPECT_FALSE(has_flag(flags, "lo")) TH_LOG("%s", flags);
	EXPECT_EQ(locked_kb, vm_locked_kb());
	EXPECT_EQ(0, resident_pages(r->host, r->length));

	ASSERT_EQ(0, pcram_dst_set_provider(self->dst, &self->provider));
	ASSERT_EQ(0, pcram_dst_enable_notify(self->dst))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_EQ(self->src[1], touch(r->host + 1));

	/* Locked again, with every page in: placed or zero. */
	ASSERT_EQ(0, pcram_dst_cleanup(self->dst))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	vm_flags(r->host, flags, sizeof(flags));
	EXPECT_TRUE(has_flag(flags, "lo")) TH_LOG("%s", flags);
	EXPECT_EQ(locked_kb + (long)(r->length >> 10), vm_locked_kb());
	EXPECT_EQ(r->length / base_page(), resident_pages(r->host, r->length));
	EXPECT_EQ(0, memcmp(r->host, self->src, ps));
	for (size_t pg = 1; pg < pages; pg++) {
		EXPECT_TRUE(is_zero(r->host + pg * ps, ps)) TH_LOG("page %zu", pg);
	}
	EXPECT_EQ(1, atomic_load(&self->pp.requests));
	munlock(r->host, r->length);
}

TEST_F(life, enable_notify_needs_a_provider)
{
	const struct test_region *r = &self->r;
	static struct proc_state before, now;
	char flags[512];

	start(_metadata, &self->dst, &self->r);
	proc_state(&before, 1);
	EXPECT_EQ(-EINVAL, pcram_dst_enable_notify(self->dst));
	EXPECT_TRUE(strstr(pcram_dst_strerror(self->dst), "provider") != NULL)
		TH_LOG("\"%s\"", pcram_dst_strerror(self->dst));
	expect_same_state(_metadata, &before, "refused enable_notify");
	vm_flags(r->host, flags, sizeof(flags));
	EXPECT_FALSE(has_flag(flags, "um")) TH_LOG("%s", flags);

	/* The refusal changed nothing: with a provider it goes on. */
	ASSERT_EQ(0, pcram_dst_set_provider(self->dst, &self->provider));
	ASSERT_EQ(0, pcram_dst_enable_notify(self->dst))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	proc_state(&now, before.tasks + 1);
	EXPECT_EQ(before.tasks + 1, now.tasks);
	vm_flags(r->host, flags, sizeof(flags));
	EXPECT_TRUE(has_flag(flags, "um")) TH_LOG("%s", flags);
	/* A 1 GiB UFFDIO_COPY takes half a minute under TCG: only one test does it. */
	if (r->page_size <= SZ_2M) {
		EXPECT_EQ(self->src[5], touch(r->host + 5));
		EXPECT_EQ(1, atomic_load(&self->pp.requests));
	}
	EXPECT_EQ(0, pcram_dst_cleanup(self->dst));
}

/* A 1 GiB page takes ~25 s to copy in a VM under TCG. */
TEST_F_TIMEOUT(life, touch_is_served_by_the_provider, 120)
{
	const struct test_region *r = &self->r;
	size_t ps = r->page_size, pages = r->length / ps;
	size_t pg = pages > 1 ? 1 : 0, inside = ps / 2 + 3;
	uint8_t *page = r->host + pg * ps;
	struct pcram_dst_stats st;
	struct pcram_block_stats bs;

	start_notify(_metadata, &self->dst, &self->r, &self->provider);

	/* A byte inside the page: the whole page comes, exact. */
	EXPECT_EQ(self->src[pg * ps + inside], touch(page + inside));
	EXPECT_TRUE(same_content(page, self->src + pg * ps, ps, ps));
	EXPECT_EQ(0, atomic_load(&self->pp.error));
	ASSERT_EQ(1, atomic_load(&self->pp.requests));

	/* The request described the page. */
	EXPECT_STREQ(BLOCK_NAME, self->pp.first_block);
	EXPECT_EQ(0, self->pp.first.block_index);
	EXPECT_EQ(pg * ps, self->pp.first.offset);
	EXPECT_EQ(ps, self->pp.first.length);
	EXPECT_EQ(page, self->pp.first.host);
	EXPECT_EQ(0, self->pp.first.fault_thread);

	/* Counted before the placement woke us: no wait for it. */
	EXPECT_EQ(pages - 1, pcram_dst_pages_missing(self->dst));
	/*
	 * The request's latency sample is taken once the placement's ioctl
	 * has returned, which may be just after this thread ran again.
	 */
	for (int i = 0; i < 2000; i++) {
		ASSERT_EQ(0, pcram_dst_stats(self->dst, &st, sizeof(st)));
		if (st.fault_to_placed.count)
			break;
		usleep(1000);
	}
	if (st.features & UFFD_FEATURE_THREAD_ID) {
		EXPECT_EQ(my_tid(), self->pp.first.tid);
	}
	EXPECT_LE(1, st.faults);
	EXPECT_EQ(st.faults, st.requests + st.duplicates + st.stale + st.refaults +
		  st.outside);
	EXPECT_EQ(1, st.requests);
	EXPECT_EQ(1, st.pages_placed);
	EXPECT_EQ(ps, st.bytes_placed);
	EXPECT_EQ(0, st.provider_errors);
	EXPECT_EQ(0, st.outside);
	EXPECT_EQ(pages - 1, st.pages_missing);
	/* One request went from fault to placement, and was timed. */
	EXPECT_EQ(1, st.fault_to_placed.count);
	EXPECT_EQ(1, st.read_to_request.count);
	EXPECT_EQ(st.fault_to_placed.max, pcram_hist_quantile(&st.fault_to_placed, 1));
	ASSERT_EQ(0, pcram_dst_block_stats(self->dst, 0, &bs, sizeof(bs)));
	EXPECT_EQ(st.faults, bs.faults);
	EXPECT_EQ(1, bs.requests);
	EXPECT_EQ(1, bs.pages_placed);
	EXPECT_EQ(pages - 1, bs.pages_missing);
	for (size_t i = 0; i < pages; i++) {
		EXPECT_EQ(i == pg, pcram_dst_page_received(self->dst, r->host + i * ps));
	}

	/* The other pages, one touch each. */
	for (size_t i = 0; i < pages; i++)
		touch(r->host + i * ps + ps - 1);
	EXPECT_EQ(pages, atomic_load(&self->pp.requests));
	EXPECT_TRUE(same_content(r->host, self->src, r->length, ps));
	wait_until_missing(self->dst, 0);
	EXPECT_EQ(0, pcram_dst_pages_missing(self->dst));
	EXPECT_EQ(0, pcram_dst_cleanup(self->dst));
}

enum stage {
	ST_NEW, ST_ADDED, ST_INIT, ST_PREPARED, ST_NOTIFY,
	ST_WAITING,	/* as NOTIFY, with a thread blocked on a missing page */
	ST_PLACED,	/* as NOTIFY, with pages placed */
	NR_STAGES
};

static const char *const stage_names[] = {
	"right after new", "after add_block", "after incoming_init",
	"after prepare_discard and discard_range", "after enable_notify",
	"with a thread waiting for a page", "after pages were placed",
};

struct toucher {
	const uint8_t *addr;
	uint8_t value;
};

static void *touch_thread(void *arg)
{
	struct toucher *t = arg;

	t->value = touch(t->addr);
	return NULL;
}

/* Wait, bounded, until the provider has seen @n requests. */
static unsigned int wait_requests(struct pattern_provider *pp, unsigned int n)
{
	for (int i = 0; i < 10000 && atomic_load(&pp->requests) < n; i++)
		usleep(1000);
	return atomic_load(&pp->requests);
}

TEST_F(life, cleanup_at_every_stage_leaks_nothing)
{
	const struct test_region *r = &self->r;
	size_t ps = r->page_size, pages = r->length / ps;
	static struct proc_state before, during;
	uint8_t *last = r->host + (pages - 1) * ps;
	unsigned int requests = 0;

	for (int s = ST_NEW; s < NR_STAGES; s++) {
		const char *when = stage_names[s];
		struct pcram_block blk = region_block(r, BLOCK_NAME);
		struct toucher waiter = { .addr = last + 7, .value = 0xee };
		struct timespec deadline;
		pthread_t thread;

		/* A 1 GiB UFFDIO_COPY takes half a minute under TCG: only one test does it. */
		if (s == ST_PLACED && ps > SZ_2M)
			continue;
		proc_state(&before, 1);
		ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
		if (s >= ST_ADDED) {
			ASSERT_EQ(0, pcram_dst_add_block(self->dst, &blk))
				TH_LOG("%s", pcram_dst_strerror(self->dst));
		}
		if (s >= ST_INIT) {
			ASSERT_EQ(0, pcram_dst_incoming_init(self->dst))
				TH_LOG("%s", pcram_dst_strerror(self->dst));
		}
		if (s >= ST_PREPARED) {
			ASSERT_EQ(0, pcram_dst_prepare_discard(self->dst));
			ASSERT_EQ(0, pcram_dst_discard_range(self->dst, BLOCK_NAME, 0, ps))
				TH_LOG("%s", pcram_dst_strerror(self->dst));
		}
		if (s >= ST_NOTIFY) {
			ASSERT_EQ(0, pcram_dst_set_provider(self->dst, &self->provider));
			ASSERT_EQ(0, pcram_dst_enable_notify(self->dst))
				TH_LOG("%s", pcram_dst_strerror(self->dst));
			/* What cleanup must take back: a thread, uffd, eventfd. */
			proc_state(&during, before.tasks + 1);
			EXPECT_EQ(before.tasks + 1, during.tasks);
			EXPECT_LE(before.fds + 2, during.fds);
		}
		if (s == ST_WAITING) {
			/* The provider keeps the request: the page never comes. */
			atomic_store(&self->pp.hold, true);
			ASSERT_EQ(0, pthread_create(&thread, NULL, touch_thread, &waiter));
			requests++;
			ASSERT_EQ(requests, wait_requests(&self->pp, requests));
		}
		if (s == ST_PLACED) {
			ASSERT_EQ(0, pcram_dst_place_page(self->dst, r->host, self->src))
				TH_LOG("%s", pcram_dst_strerror(self->dst));
			if (pages > 1) {
				EXPECT_EQ(self->src[ps + 9], touch(r->host + ps + 9));
				requests++;
			}
		}

		EXPECT_EQ(0, pcram_dst_cleanup(self->dst))
			TH_LOG("%s: %s", when, pcram_dst_strerror(self->dst));
		if (s == ST_WAITING) {
			/* Cleanup releases the waiter: it finds empty memory. */
			clock_gettime(CLOCK_REALTIME, &deadline);
			deadline.tv_sec += 30;
			ASSERT_EQ(0, pthread_timedjoin_np(thread, NULL, &deadline))
				TH_LOG("the thread waiting for a page was not released");
			EXPECT_EQ(0, waiter.value);
			atomic_store(&self->pp.hold, false);
		}
		EXPECT_EQ(0, pcram_dst_cleanup(self->dst)) TH_LOG("%s, again", when);
		EXPECT_EQ(-EBUSY, pcram_dst_place_page(self->dst, r->host, self->src))
			TH_LOG("%s", when);

		/* What arrived stays; nothing serves, or blocks, the rest. */
		if (s == ST_PLACED) {
			EXPECT_TRUE(same_content(r->host, self->src,
						 pages > 1 ? 2 * ps : ps, ps));
		}
		if (s >= ST_NOTIFY && (s != ST_PLACED || pages > 2)) {
			EXPECT_EQ(0, nonzero_bytes(last, ps)) TH_LOG("%s", when);
		}

		pcram_dst_free(self->dst);
		self->dst = NULL;
		expect_same_state(_metadata, &before, when);
	}
	/* The touches above went to the provider; reads after cleanup did not. */
	EXPECT_EQ(requests, atomic_load(&self->pp.requests));
}

/* A userfaultfd of the test's own, not libpcram's: -errno if none. */
static int own_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -errno;
	}
	return fd;
}

TEST_F(life, failed_enable_notify_leaves_nothing)
{
	const struct test_region *r = &self->r;
	size_t base = base_page();
	static struct proc_state start_state, before;
	struct pcram_block taken_blk;
	struct uffdio_register reg;
	char flags[512];
	uint8_t *taken;
	int uffd, ret;

	proc_state(&start_state, 1);
	uffd = own_uffd();
	if (uffd < 0)
		SKIP(return, "userfaultfd(2): %s", strerror(-uffd));
	taken = mmap(NULL, base, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	ASSERT_NE(MAP_FAILED, taken);

	/* A second block that another userfaultfd watches already. */
	ASSERT_EQ(0, pcram_dst_new(&self->dst, NULL));
	taken_blk = region_block(r, BLOCK_NAME);
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &taken_blk));
	taken_blk = (struct pcram_block) {
		.name = "taken", .host = taken, .length = base,
		.type = PCRAM_BLOCK_ANON, .fd = -1,
	};
	ASSERT_EQ(0, pcram_dst_add_block(self->dst, &taken_blk))
		TH_LOG("%s", pcram_dst_strerror(self->dst));
	ASSERT_EQ(0, pcram_dst_incoming_init(self->dst));
	ASSERT_EQ(0, pcram_dst_set_provider(self->dst, &self->provider));
	reg = (struct uffdio_register) {
		.range = { .start = (uintptr_t)taken, .len = base },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	/*
	 * The fault thread is running and the other block may be registered
	 * by the time "taken" is refused: all of it must be undone.
	 */
	proc_state(&before, 1);
	ret = pcram_dst_enable_notify(self->dst);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("%s", pcram_dst_strerror(self->dst));
	EXPECT_TRUE(strstr(pcram_dst_strerror(self->dst), "taken") != NULL)
		TH_LOG("\"%s\"", pcram_dst_strerror(self->dst));
	expect_same_state(_metadata, &before, "failed enable_notify");
	vm_flags(r->host, flags, sizeof(flags));
	EXPECT_FALSE(has_flag(flags, "um")) TH_LOG("%s", flags);
	/* Nothing watches the region: a read is an ordinary fault. */
	EXPECT_EQ(0, touch(r->host + 1));
	EXPECT_EQ(0, atomic_load(&self->pp.requests));

	pcram_dst_free(self->dst);
	self->dst = NULL;
	close(uffd);
	munmap(taken, base);
	expect_same_state(_metadata, &start_state, "after pcram_dst_free");
}

TEST_F(life, after_cleanup_missing_pages_read_empty)
{
	const struct test_region *r = &self->r;
	size_t ps = r->page_size, pages = r->length / ps, placed = pages / 2;
	struct pcram_place_op op = { .type = PCRAM_OP_ZERO, .host = r->host };
	struct pcram_dst_stats st;
	uint8_t buf[64];

	start_notify(_metadata, &self->dst, &self->r, &self->provider);
	for (size_t pg = 0; pg < placed; pg++) {
		ASSERT_EQ(0, pcram_dst_place_page(self->dst, r->host + pg * ps,
						  self->src + pg * ps))
			TH_LOG("%s", pcram_dst_strerror(self->dst));
	}
	ASSERT_EQ(0, pcram_dst_cleanup(self->dst))
		TH_LOG("%s", pcram_dst_strerror(self->dst));

	/* Placing is over. */
	EXPECT_EQ(-EBUSY, pcram_dst_place_page(self->dst, r->host + placed * ps, self->src));
	EXPECT_EQ(-EBUSY, pcram_dst_place_zero(self->dst, r->host + placed * ps));
	EXPECT_EQ(-EBUSY, pcram_dst_place_continue(self->dst, r->host + placed * ps));
	EXPECT_EQ(-EBUSY, pcram_dst_poison(self->dst, r->host + placed * ps));
	EXPECT_EQ(-EBUSY, pcram_dst_place_batch(self->dst, &op, 1));
	EXPECT_EQ(pages - placed, pcram_dst_pages_missing(self->dst));

	/* A file keeps holes where nothing arrived, which read as zeros. */
	if (r->fd >= 0) {
		if (r->kind == MEM_SHMEM) {
			errno = 0;
			EXPECT_EQ(-1, lseek(r->fd, placed * ps, SEEK_DATA));
			EXPECT_EQ(ENXIO, errno);
		}
		for (size_t pg = placed; pg < pages; pg++) {
			memset(buf, 0xff, sizeof(buf));
			ASSERT_EQ(sizeof(buf), pread(r->fd, buf, sizeof(buf), pg * ps));
			EXPECT_TRUE(is_zero(buf, sizeof(buf))) TH_LOG("page %zu", pg);
		}
	}
	/* In memory: what was placed, then zeros, with no provider asked. */
	EXPECT_TRUE(same_content(r->host, self->src, placed * ps, ps));
	EXPECT_EQ(0, nonzero_bytes(r->host + placed * ps, (pages - placed) * ps));
	EXPECT_EQ(0, atomic_load(&self->pp.requests));
	ASSERT_EQ(0, pcram_dst_stats(self->dst, &st, sizeof(st)));
	EXPECT_EQ(0, st.faults);
	EXPECT_EQ(placed, st.pages_placed);
}

/* ---- PCRAM_DST_F_KERNEL_FAULTS with only a user-mode-only uffd --------- */

enum { CHILD_PASS = 0, CHILD_FAIL = 1, CHILD_SKIP = 4 };

static int fixed_page_request(struct pcram_dst *dst, const struct pcram_request *req,
				void *opaque)
{
	int ret = pcram_dst_place_page(dst, req->host, opaque);

	return ret < 0 ? ret : 0;
}

/*
 * In a child that became nobody: with /dev/userfaultfd closed to it and
 * vm.unprivileged_userfaultfd=0, only a user-mode-only userfaultfd opens.
 * Reports on @out; returns CHILD_x.
 */
static int kernel_faults_child(int out)
{
	static struct proc_state before, now;
	size_t ps = base_page();
	struct pcram_dst_options opts = { .flags = PCRAM_DST_F_KERNEL_FAULTS };
	struct pcram_provider provider = { .request = fixed_page_request };
	struct pcram_dst_stats st;
	struct pcram_block blk;
	struct pcram_dst *dst;
	uint64_t lo, hi;
	uint8_t *mem, *page, value;
	int fd, ret;

	if (geteuid() == 0 && drop_to_nobody()) {
		dprintf(out, "cannot become nobody: %s", strerror(errno));
		return CHILD_SKIP;
	}
	/* Changing credentials made us undumpable; /proc/self stays ours. */
	prctl(PR_SET_DUMPABLE, 1);
	fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dprintf(out, "/dev/userfaultfd is open to nobody here: a full userfaultfd is possible");
		return CHILD_SKIP;
	}
	fd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (fd >= 0) {
		dprintf(out, "vm.unprivileged_userfaultfd=1: a full userfaultfd is possible");
		return CHILD_SKIP;
	}
	fd = syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0) {
		dprintf(out, "no user-mode-only userfaultfd either: %s", strerror(errno));
		return CHILD_SKIP;
	}
	close(fd);

	mem = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	page = malloc(ps);
	if (mem == MAP_FAILED || !page) {
		dprintf(out, "out of memory");
		return CHILD_FAIL;
	}
	memset(page, 0x3c, ps);
	provider.opaque = page;
	warm_thread_stack_cache();
	blk = (struct pcram_block) {
		.name = "kvm-ram", .host = mem, .length = 4 * ps,
		.type = PCRAM_BLOCK_ANON, .fd = -1,
	};

	for (int kernel_faults = 1; kernel_faults >= 0; kernel_faults--) {
		opts.flags = kernel_faults ? PCRAM_DST_F_KERNEL_FAULTS : 0;
		if (pcram_dst_new(&dst, &opts) || pcram_dst_add_block(dst, &blk) ||
		    pcram_dst_incoming_init(dst) || pcram_dst_set_provider(dst, &provider)) {
			dprintf(out, "setting up: %s", pcram_dst_strerror(dst));
			return CHILD_FAIL;
		}
		proc_state(&before, 1);
		ret = pcram_dst_enable_notify(dst);
		if (!kernel_faults)
			break;
		if (ret != -EPERM || !strstr(pcram_dst_strerror(dst), "user-mode-only")) {
			dprintf(out, "enable_notify with PCRAM_DST_F_KERNEL_FAULTS: %d (%s) \"%s\", want -EPERM",
				ret, strerror(-ret), pcram_dst_strerror(dst));
			return CHILD_FAIL;
		}
		proc_state(&now, before.tasks);
		if (now.fds != before.fds || now.tasks != before.tasks ||
		    find_new_mapping(&before, &now, &lo, &hi)) {
			dprintf(out, "refused enable_notify left fds %d -> %d, threads %d -> %d, or a mapping",
				before.fds, now.fds, before.tasks, now.tasks);
			return CHILD_FAIL;
		}
		pcram_dst_free(dst);
	}

	/* Without the flag the same userfaultfd is good enough. */
	if (ret) {
		dprintf(out, "enable_notify without the flag: %s", pcram_dst_strerror(dst));
		return CHILD_FAIL;
	}
	memset(&st, 0, sizeof(st));
	value = touch(mem + ps + 1);
	ret = pcram_dst_stats(dst, &st, sizeof(st));
	if (value != 0x3c || ret || st.opener != PCRAM_OPENER_SYSCALL_USER_ONLY ||
	    st.requests != 1) {
		dprintf(out, "user-mode-only dst: read %#x (want 0x3c), stats %d, opener %d (want %d), %llu requests, %llu faults",
			value, ret, st.opener, PCRAM_OPENER_SYSCALL_USER_ONLY,
			(unsigned long long)st.requests, (unsigned long long)st.faults);
		return CHILD_FAIL;
	}
	pcram_dst_free(dst);
	proc_state(&now, before.tasks);
	if (now.fds != before.fds || now.tasks != before.tasks ||
	    find_new_mapping(&before, &now, &lo, &hi)) {
		dprintf(out, "pcram_dst_free left fds %d -> %d, threads %d -> %d, or a mapping",
			before.fds, now.fds, before.tasks, now.tasks);
		return CHILD_FAIL;
	}
	return CHILD_PASS;
}

TEST(kernel_faults_flag_refuses_user_mode_only_uffd)
{
	char why[512] = "";
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(pipefd[0]);
		_exit(kernel_faults_child(pipefd[1]));
	}
	close(pipefd[1]);
	n = read(pipefd[0], why, sizeof(why) - 1);
	why[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child status %#x", status);
	if (WEXITSTATUS(status) == CHILD_SKIP)
		SKIP(return, "%s", why);
	EXPECT_EQ(CHILD_PASS, WEXITSTATUS(status)) TH_LOG("%s", why);
}

TEST_HARNESS_MAIN
