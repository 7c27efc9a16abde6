// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram bench fault: what libpcram costs next to what the kernel alone costs.
 *
 * It times the userfaultfd fault round trip (a thread touches a missing
 * page until the page is placed and the thread runs again) through
 * libpcram with its built-in image provider, and through a bare handler in
 * the same run, the floor: threads that block in read() on the
 * userfaultfd and UFFDIO_COPY each faulting page from the same image,
 * nothing else. That is what a skilled engineer writes for this one job,
 * and the ratio of the two is what libpcram's bookkeeping costs.
 *
 * Both sides do the same work, set up the same way: the same image (in the
 * page cache, each side's mapping of it read through before a run), fresh
 * destination memory that nothing pre-faults, as many handler threads
 * (libpcram's fault_threads), up to 64 messages a read, and the same
 * threads on the same CPUs. Both are timed the same way, in the faulting
 * thread: the clock around the first touch of each page, exact
 * percentiles from the sorted samples of a run. Floor and libpcram runs
 * alternate; each figure is the median over rounds of that round's value,
 * shown with its spread (min, max) over the rounds.
 *
 * Rows: one faulting thread on the handler's CPU (same-cpu: a wakeup is a
 * context switch) and on another CPU (split-cpu: a wakeup is an
 * interrupt to that CPU), then a faulting thread on every CPU at once
 * (all-cpus) with 1, 2 and 4 handler threads left where the scheduler puts
 * them, as each side would be used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <pcram.h>

#include "bench.h"
#include "clock.h"
#include "json.h"
#include "cli.h"

/* Defaults: a whole run takes well under 30 s on a 2-CPU host. */
#define DEFAULT_PAGES 4096
#define DEFAULT_HUGE_PAGES 64
#define DEFAULT_ROUNDS 5
#define QUICK_PAGES 128
#define QUICK_HUGE_PAGES 8
#define QUICK_ROUNDS 2
#define MAX_ROUNDS 101
#define MAX_PAGES (1U << 22)

/* No run may take longer: a fault that is never served ends the bench. */
#define RUN_TIMEOUT_S 120

/* What one read() may return, for both sides (libpcram reads as many). */
#define MSGS_PER_READ 64

/* The handler threads of the all-cpus rows; the others have one. */
static const unsigned int all_cpus_handler_threads[] = { 1, 2, 4 };
#define NR_ALL_CPUS_ROWS (sizeof(all_cpus_handler_threads) / sizeof(all_cpus_handler_threads[0]))
#define MAX_HANDLER_THREADS 4
/* same-cpu, split-cpu, then the all-cpus rows. */
#define MAX_ROWS (2 + NR_ALL_CPUS_ROWS)

/*
 * What one clock read costs here: every sample holds about one, and a
 * clock source without a vDSO fast path (hpet, acpi_pm) makes it a system
 * call. The median of a few batches.
 */
static uint64_t clock_read_ns(void)
{
	uint64_t batch[5];

	for (int b = 0; b < 5; b++) {
		uint64_t t0 = mono_ns();

		for (int i = 0; i < 999; i++)
			mono_ns();
		batch[b] = (mono_ns() - t0) / 1000;
	}
	return bench_median_u64(batch, 5);
}

/* ---- the CPUs and the rows ------------------------------------------------- */

/* The CPUs this process may run on: all online ones unless it was restricted. */
static struct {
	unsigned int n;
	int id[CPU_SETSIZE];
} cpus;

enum placement { SAME_CPU, SPLIT_CPU, ALL_CPUS };
static const char *const placement_names[] = { "same-cpu", "split-cpu", "all-cpus" };

enum side { FLOOR = 0, PCRAM = 1 };
static const char *const side_names[] = { "floor", "libpcram" };

/* One side's figures in one row: each a spread over the rounds. */
struct side_stats {
	struct bench_spread p50, p99, p99_9, max, faults_per_s;	/* ns; faults/s */
	uint64_t faults_per_run;
	uint64_t served;		/* floor: faults read; libpcram: requests */
	uint64_t duplicates, eagain;	/* libpcram's; all sums over rounds */
	bool image_read_through;	/* in every round */
};

struct row {
	uint64_t page_size;
	enum placement placement;
	unsigned int faulters;		/* faulting threads, faulter i on faulter_cpus[i] */
	const int *faulter_cpus;
	unsigned int handler_threads;	/* the floor's, and libpcram's fault_threads */
	int handler_cpu;		/* -1: not pinned */
	char skipped[160];		/* why not measured; "" when measured */
	struct side_stats side[2];	/* [FLOOR], [PCRAM] */
};

/*
 * The rows of one page size: same-cpu and split-cpu (one faulting
 * thread), then all-cpus with each handler thread count (or only one).
 * A row that cannot be measured here says why.
 */
static unsigned int plan_rows(struct row *rows, uint64_t page_size, uint64_t pages,
			      unsigned int nr_all_cpus)
{
	unsigned int nr = 0;

	rows[nr++] = (struct row) {
		.page_size = page_size, .placement = SAME_CPU, .faulters = 1,
		.faulter_cpus = &cpus.id[0], .handler_threads = 1,
		.handler_cpu = cpus.id[0],
	};
	rows[nr++] = (struct row) {
		.page_size = page_size, .placement = SPLIT_CPU, .faulters = 1,
		.faulter_cpus = &cpus.id[1], .handler_threads = 1,
		.handler_cpu = cpus.id[0],
	};
	for (unsigned int i = 0; i < nr_all_cpus; i++)
		rows[nr++] = (struct row) {
			.page_size = page_size, .placement = ALL_CPUS, .faulters = cpus.n,
			.faulter_cpus = &cpus.id[0],
			.handler_threads = all_cpus_handler_threads[i], .handler_cpu = -1,
		};
	for (unsigned int i = 0; i < nr; i++) {
		struct row *r = &rows[i];

		if (r->placement != SAME_CPU && cpus.n < 2)
			snprintf(r->skipped, sizeof(r->skipped),
				 "this process may run on CPU %d only", cpus.id[0]);
		else if (r->faulters > pages)
			snprintf(r->skipped, sizeof(r->skipped),
				 "%" PRIu64 " page%s a run, fewer than its %u faulting threads",
				 pages, pages == 1 ? "" : "s", r->faulters);
	}
	return nr;
}

/* ---- the image ------------------------------------------------------------- */

struct image {
	int fd;			/* unlinked file; reached as /proc/self/fd/N */
	char path[64];
	char dir[PATH_MAX];
	uint64_t page_size;
	uint64_t nr_pages;
	uint64_t size;
	dev_t dev;
	ino_t ino;
};

/* Where the image goes: $TMPDIR, else tmpfs /dev/shm, else /tmp. */
static const char *image_dir(void)
{
	const char *t = getenv("TMPDIR");

	if (t && *t && !access(t, W_OK))
		return t;
	if (!access("/dev/shm", W_OK))
		return "/dev/shm";
	return "/tmp";
}

/* Read every page of [p, p + len) so that its page tables are in place. */
static void read_through(const void *p, uint64_t len)
{
	const volatile uint8_t *b = p;
	uint64_t step = (uint64_t)sysconf(_SC_PAGESIZE);

	for (uint64_t off = 0; off < len; off += step)
		(void)b[off];
}

static int image_create(struct image *img, uint64_t page_size, uint64_t nr_pages)
{
	char tmpl[PATH_MAX + 32];
	uint64_t *buf;
	struct stat st;
	int fd;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	snprintf(img->dir, sizeof(img->dir), "%s", image_dir());
	snprintf(tmpl, sizeof(tmpl), "%s/pcram-bench-XXXXXX", img->dir);
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return bench_err(-errno, "creating an image in %s: %s", img->dir,
				 strerror(errno));
	/* Gone from the directory at once: nothing to clean up, ever. */
	unlink(tmpl);
	img->fd = fd;
	img->page_size = page_size;
	img->nr_pages = nr_pages;
	img->size = page_size * nr_pages;
	snprintf(img->path, sizeof(img->path), "/proc/self/fd/%d", fd);

	buf = malloc(page_size);
	if (!buf)
		return bench_err(-ENOMEM, "out of memory");
	for (uint64_t p = 0; p < nr_pages; p++) {
		for (uint64_t i = 0; i < page_size / sizeof(*buf); i++)
			buf[i] = bench_pattern(p);
		if (pwrite(fd, buf, page_size, (off_t)(p * page_size)) != (ssize_t)page_size) {
			free(buf);
			return bench_err(errno ? -errno : -EIO,
					 "writing the %" PRIu64 " MiB image in %s: %s",
					 img->size / MIB, img->dir,
					 strerror(errno ? errno : EIO));
		}
	}
	/* Warm: every page of the file in the page cache. */
	for (uint64_t p = 0; p < nr_pages; p++)
		if (pread(fd, buf, page_size, (off_t)(p * page_size)) != (ssize_t)page_size) {
			free(buf);
			return bench_err(-EIO, "reading the image back: %s",
					 strerror(errno));
		}
	free(buf);
	if (fstat(fd, &st))
		return bench_err(-errno, "fstat: %s", strerror(errno));
	img->dev = st.st_dev;
	img->ino = st.st_ino;
	return 0;
}

static void image_close(struct image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

/*
 * libpcram maps the image itself and does not say where: find its mapping
 * of this file in /proc/self/maps and read it through, as the floor's own
 * mapping is, so that neither side pays for the source's page tables.
 */
static int read_through_mappings_of(const struct image *img)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128];
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, off, ino;
		unsigned int maj, min;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms,
			   &off, &maj, &min, &ino) != 7)
			continue;
		if (ino != img->ino || maj != major(img->dev) ||
		    min != minor(img->dev) || perms[0] != 'r')
			continue;
		read_through((const void *)start, end - start);
		found++;
	}
	fclose(f);
	return found;
}

/* ---- faulting threads ------------------------------------------------------ */

struct faulter {
	pthread_t thread;
	pthread_barrier_t *start;
	int cpu;
	uint8_t *dest;
	uint64_t page_size;
	uint64_t first, end;	/* pages [first, end) */
	uint64_t *lat;		/* lat[page]: ns from touch to data */
	uint64_t t_start, t_end;
	uint64_t bad;		/* pages whose content was wrong */
	uint64_t bad_page, bad_value;
};

static void *faulter_main(void *arg)
{
	struct faulter *f = arg;
	uint64_t words = f->page_size / sizeof(uint64_t);

	pthread_barrier_wait(f->start);
	f->t_start = mono_ns();
	for (uint64_t p = f->first; p < f->end; p++) {
		volatile uint64_t *page = (volatile uint64_t *)(f->dest + p * f->page_size);
		uint64_t t0, t1, v;

		t0 = mono_ns();
		v = page[0];	/* the first touch: a MISSING fault */
		t1 = mono_ns();
		f->lat[p] = t1 - t0;
		if ((v != bench_pattern(p) || page[words - 1] != bench_pattern(p)) && !f->bad++) {
			f->bad_page = p;
			f->bad_value = v;
		}
	}
	f->t_end = mono_ns();
	return NULL;
}

/* ---- the floor: a bare userfaultfd handler ---------------------------------- */

struct floor_handler;

struct floor_thread {
	pthread_t thread;
	struct floor_handler *h;
	uint64_t faults;	/* fault messages read and served */
	int error;
};

struct floor_handler {
	int uffd;		/* blocking: its handler threads sleep in read() */
	uint8_t *dest;
	const uint8_t *src;	/* the image, mapped */
	uint64_t page_size;
	uint64_t size;
	unsigned int started;
	struct floor_thread threads[MAX_HANDLER_THREADS];
};

/* Place the page at @addr from the image. */
static int floor_copy(const struct floor_handler *h, uint64_t addr)
{
	uint64_t page = addr & ~(h->page_size - 1);

	return bench_uffd_copy_page(h->uffd, page, h->src + (page - (uintptr_t)h->dest),
				    h->page_size);
}

/*
 * A handler thread: block in read() until a fault comes, serve every
 * message read. It ends by pthread_cancel() in read(), a cancellation
 * point, once every page is placed.
 */
static void *floor_main(void *arg)
{
	struct floor_thread *t = arg;
	const struct floor_handler *h = t->h;
	struct uffd_msg msgs[MSGS_PER_READ];

	for (;;) {
		ssize_t n = read(h->uffd, msgs, sizeof(msgs));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			t->error = -errno;
			return NULL;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++) {
			if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
				continue;	/* no event was asked for */
			t->faults++;
			t->error = floor_copy(h, msgs[i].arg.pagefault.address);
			if (t->error)
				return NULL;
		}
	}
}

static int floor_start(const struct image *img, const struct row *row, uint8_t *dest,
		       struct floor_handler *h, bool *read_through_done)
{
	struct uffdio_register reg = {
		.range = { .start = (uint64_t)(uintptr_t)dest, .len = img->size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	void *src;

	*h = (struct floor_handler) {
		.uffd = -1, .dest = dest, .page_size = img->page_size, .size = img->size,
	};
	src = mmap(NULL, img->size, PROT_READ, MAP_PRIVATE, img->fd, 0);
	if (src == MAP_FAILED)
		return bench_err(-errno, "floor: mapping the image: %s", strerror(errno));
	h->src = src;
	read_through(src, img->size);
	*read_through_done = true;

	/* Blocking: its handler threads sleep in read(). */
	h->uffd = bench_uffd_new(0);
	if (h->uffd < 0)
		return h->uffd;
	if (ioctl(h->uffd, UFFDIO_REGISTER, &reg))
		return bench_err(-errno, "floor: UFFDIO_REGISTER: %s", strerror(errno));
	for (unsigned int i = 0; i < row->handler_threads; i++) {
		struct floor_thread *t = &h->threads[i];
		int ret;

		t->h = h;
		ret = pthread_create(&t->thread, NULL, floor_main, t);
		if (ret)
			return bench_err(-ret, "floor: pthread_create: %s", strerror(ret));
		h->started++;
	}
	return 0;
}

/* Stop the handler threads (all in read(), every page placed); the first error. */
static int floor_stop(struct floor_handler *h, uint64_t *faults)
{
	int error = 0;

	*faults = 0;
	for (unsigned int i = 0; i < h->started; i++) {
		struct floor_thread *t = &h->threads[i];

		pthread_cancel(t->thread);
		pthread_join(t->thread, NULL);
		*faults += t->faults;
		if (t->error && !error)
			error = t->error;
	}
	if (h->uffd >= 0)
		close(h->uffd);
	if (h->src)
		munmap((void *)h->src, h->size);
	return error;
}

/* ---- libpcram ---------------------------------------------------------------- */

static int engine_start(const struct image *img, const struct row *row, uint8_t *dest,
			struct pcram_dst **dstp, bool *read_through_done)
{
	struct pcram_dst_options opts = { .fault_threads = row->handler_threads };
	struct pcram_block blk = {
		.name = "bench", .host = dest, .length = img->size,
		.page_size = img->page_size,
		.type = img->page_size == HUGE_SIZE ? PCRAM_BLOCK_HUGETLB : PCRAM_BLOCK_ANON,
		.fd = -1,
	};
	struct pcram_dst *dst;
	int ret;

	ret = pcram_dst_new(&dst, &opts);
	if (ret)
		return bench_err(ret, "pcram_dst_new: %s", strerror(-ret));
	*dstp = dst;
	ret = pcram_dst_add_block(dst, &blk);
	if (!ret)
		ret = pcram_dst_use_image(dst, img->path, NULL);
	if (!ret) {
		*read_through_done = read_through_mappings_of(img) > 0;
		ret = pcram_dst_incoming_init(dst);
	}
	if (!ret)
		ret = pcram_dst_enable_notify(dst);	/* starts its fault threads */
	if (ret)
		return bench_err(ret, "libpcram: %s", pcram_dst_strerror(dst));
	return 0;
}

/* ---- one run ---------------------------------------------------------------- */

/* One side, set up for one run: the floor's handler, or libpcram's. */
struct handler {
	enum side side;
	const struct image *img;
	const struct row *row;
	uint8_t *dest;
	struct floor_handler floor;
	struct pcram_dst *dst;
	bool read_through;
	int ret;
};

/*
 * Set up a side in a thread of its own, on the CPU where the row puts the
 * handler (or not pinned): the handler threads inherit its CPUs, the
 * floor's as libpcram's, which are made inside pcram_dst_enable_notify.
 */
static void *handler_start_main(void *arg)
{
	struct handler *hd = arg;

	if (hd->side == FLOOR)
		hd->ret = floor_start(hd->img, hd->row, hd->dest, &hd->floor, &hd->read_through);
	else
		hd->ret = engine_start(hd->img, hd->row, hd->dest, &hd->dst, &hd->read_through);
	return NULL;
}

/* What one run measured; p50 to max in ns. */
struct run_result {
	uint64_t p50, p99, p99_9, max;
	uint64_t faults_per_s;
	uint64_t faults;
	uint64_t served, duplicates, eagain;
	bool image_read_through;
};

/* Stop the side; its count of what it served; the first error, or @ret. */
static int handler_stop(struct handler *hd, struct run_result *res, int ret)
{
	int err;

	if (hd->side == FLOOR) {
		err = floor_stop(&hd->floor, &res->served);
		if (err && !ret)
			ret = bench_err(err, "floor: handler: %s", strerror(-err));
		return ret;
	}
	if (!hd->dst)
		return ret;
	if (!ret) {
		struct pcram_dst_stats st;

		if (!pcram_dst_stats(hd->dst, &st, sizeof(st))) {
			res->served = st.requests;
			res->duplicates = st.duplicates + st.stale;
			res->eagain = st.eagain;
			if (st.provider_errors)
				ret = bench_err(-EIO, "libpcram: the image provider failed %" PRIu64
						" times", st.provider_errors);
		}
	}
	err = pcram_dst_cleanup(hd->dst);
	if (err && !ret)
		ret = bench_err(err, "libpcram: cleanup: %s", pcram_dst_strerror(hd->dst));
	pcram_dst_free(hd->dst);
	return ret;
}

/* Start the faulting threads, each on its CPU, and wait for all of them. */
static int run_faulters(const struct row *row, enum side side, uint8_t *dest, uint64_t n,
			uint64_t *lat, struct faulter *f)
{
	pthread_barrier_t start;

	pthread_barrier_init(&start, NULL, row->faulters);
	for (unsigned int i = 0; i < row->faulters; i++) {
		int ret;

		f[i] = (struct faulter) {
			.start = &start, .cpu = row->faulter_cpus[i], .dest = dest,
			.page_size = row->page_size,
			.first = n * i / row->faulters, .end = n * (i + 1) / row->faulters,
			.lat = lat,
		};
		ret = bench_thread_on(&f[i].thread, f[i].cpu, faulter_main, &f[i]);
		if (ret) {
			/* The barrier would never open: nothing to do but leave. */
			fprintf(stderr, "%s bench: creating faulting thread %u on CPU %d: %s\n",
				prog, i, f[i].cpu, strerror(-ret));
			exit(1);
		}
	}
	for (unsigned int i = 0; i < row->faulters; i++)
		bench_join(f[i].thread, RUN_TIMEOUT_S, "fault run (a fault was never served)");
	pthread_barrier_destroy(&start);

	for (unsigned int i = 0; i < row->faulters; i++) {
		if (f[i].bad)
			return bench_err(-EIO, "%s: %" PRIu64 " pages arrived wrong; page %"
					 PRIu64 " read %#" PRIx64 ", not %#" PRIx64,
					 side_names[side], f[i].bad, f[i].bad_page, f[i].bad_value,
					 bench_pattern(f[i].bad_page));
	}
	return 0;
}

/* The run's figures from its samples (sorted here) and its threads' clocks. */
static void run_figures(uint64_t *lat, uint64_t n, const struct faulter *f,
			unsigned int nr_faulters, struct run_result *res)
{
	uint64_t t_start = UINT64_MAX, t_end = 0;

	for (unsigned int i = 0; i < nr_faulters; i++) {
		if (f[i].t_start < t_start)
			t_start = f[i].t_start;
		if (f[i].t_end > t_end)
			t_end = f[i].t_end;
	}
	res->faults = n;
	res->faults_per_s = bench_per_s(n, t_end > t_start ? t_end - t_start : 0);
	qsort(lat, n, sizeof(*lat), bench_cmp_u64);
	res->p50 = bench_percentile(lat, n, 0.50);
	res->p99 = bench_percentile(lat, n, 0.99);
	res->p99_9 = bench_percentile(lat, n, 0.999);
	res->max = lat[n - 1];
}

/* One run of one side: every page of @img faulted once into fresh memory. */
static int run_once(const struct image *img, const struct row *row, enum side side,
		    uint64_t *lat, struct faulter *faulters, struct run_result *res)
{
	struct handler hd = {
		.side = side, .img = img, .row = row, .floor = { .uffd = -1 },
	};
	pthread_t starter;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = bench_map_dest(img->size, img->page_size == HUGE_SIZE, &hd.dest);
	if (ret)
		return ret;
	ret = bench_thread_on(&starter, row->handler_cpu, handler_start_main, &hd);
	if (ret)
		goto out_unmap;
	pthread_join(starter, NULL);
	res->image_read_through = hd.read_through;
	ret = hd.ret;
	if (!ret)
		ret = run_faulters(row, side, hd.dest, img->nr_pages, lat, faulters);
	if (!ret)
		run_figures(lat, img->nr_pages, faulters, row->faulters, res);
	ret = handler_stop(&hd, res, ret);
out_unmap:
	munmap(hd.dest, img->size);
	return ret;
}

/* ---- rounds and spreads ------------------------------------------------------ */

struct rounds {
	unsigned int n;
	struct run_result r[MAX_ROUNDS];
};

static void summarize(const struct rounds *rs, struct side_stats *s)
{
	uint64_t v[MAX_ROUNDS];

	memset(s, 0, sizeof(*s));
	s->image_read_through = true;
	for (unsigned int i = 0; i < rs->n; i++) {
		const struct run_result *r = &rs->r[i];

		s->faults_per_run = r->faults;
		s->served += r->served;
		s->duplicates += r->duplicates;
		s->eagain += r->eagain;
		s->image_read_through &= r->image_read_through;
	}
#define SPREAD_OF(field) do {						\
		for (unsigned int i = 0; i < rs->n; i++)		\
			v[i] = rs->r[i].field;				\
		bench_spread_of(v, rs->n, &s->field);			\
	} while (0)
	SPREAD_OF(p50);
	SPREAD_OF(p99);
	SPREAD_OF(p99_9);
	SPREAD_OF(max);
	SPREAD_OF(faults_per_s);
#undef SPREAD_OF
}

/* What every run of a page size shares. */
struct bench {
	unsigned int rounds;
	uint64_t *lat;			/* one run's samples */
	struct faulter *faulters;	/* one run's faulting threads */
};

/* Floor and libpcram, @rounds times each, alternating which goes first. */
static int measure_row(const struct bench *b, const struct image *img, struct row *row)
{
	static struct rounds rs[2];
	int ret;

	rs[FLOOR].n = rs[PCRAM].n = 0;
	for (unsigned int r = 0; r < b->rounds; r++) {
		for (unsigned int k = 0; k < 2; k++) {
			enum side s = (r + k) % 2 ? PCRAM : FLOOR;

			ret = run_once(img, row, s, b->lat, b->faulters, &rs[s].r[rs[s].n]);
			if (ret)
				return ret;
			rs[s].n++;
		}
	}
	summarize(&rs[FLOOR], &row->side[FLOOR]);
	summarize(&rs[PCRAM], &row->side[PCRAM]);
	return 0;
}

/* ---- one page size ------------------------------------------------------------- */

struct section {
	uint64_t page_size;
	uint64_t pages_per_run;		/* 0 when skipped */
	bool capped;			/* fewer than asked for: all that are free */
	char skipped[256];		/* why not measured; "" when measured */
	struct row rows[MAX_ROWS];
	unsigned int nr_rows;
};

/* Every row of @sec that can be measured, on an image of @pages pages. */
static int measure_section(const struct bench *b, struct section *sec, uint64_t pages,
			   unsigned int nr_all_cpus)
{
	struct image img;
	int ret;

	sec->pages_per_run = pages;
	sec->nr_rows = plan_rows(sec->rows, sec->page_size, pages, nr_all_cpus);
	ret = image_create(&img, sec->page_size, pages);
	if (ret)
		goto out;
	{
		/* A discarded warm-up pair: first runs pay for first uses. */
		struct run_result wr;

		ret = run_once(&img, &sec->rows[0], FLOOR, b->lat, b->faulters, &wr);
		if (!ret)
			ret = run_once(&img, &sec->rows[0], PCRAM, b->lat, b->faulters, &wr);
	}
	for (unsigned int i = 0; i < sec->nr_rows && !ret; i++)
		if (!sec->rows[i].skipped[0])
			ret = measure_row(b, &img, &sec->rows[i]);
out:
	image_close(&img);
	return ret;
}

/* ---- output ---------------------------------------------------------------------------- */

struct report {
	struct utsname uts;
	char clocksource[32];
	uint64_t clock_read_ns;
	unsigned int rounds;
	const char *image_dir;
	bool all_read_through;
	struct section s4k, s2m;
};

/* libpcram's figure over the floor's: both the medians shown. */
static double ratio_of(const struct bench_spread *pcram, const struct bench_spread *floor)
{
	return bench_ratio(pcram->median, floor->median);
}

static void json_side(struct json *j, const char *key, const struct side_stats *s,
		      enum side side)
{
	json_open_object(j, key);
	bench_json_spread(j, "p50_ns", &s->p50);
	bench_json_spread(j, "p99_ns", &s->p99);
	bench_json_spread(j, "p99_9_ns", &s->p99_9);
	bench_json_spread(j, "max_ns", &s->max);
	bench_json_spread(j, "faults_per_s", &s->faults_per_s);
	json_u64(j, "faults_per_run", s->faults_per_run);
	if (side == FLOOR) {
		json_u64(j, "faults_read", s->served);
	} else {
		json_u64(j, "requests", s->served);
		json_u64(j, "duplicates", s->duplicates);
		json_u64(j, "eagain", s->eagain);
	}
	json_close_object(j);
}

static void json_row(struct json *j, const struct row *r)
{
	const struct side_stats *p = &r->side[PCRAM], *f = &r->side[FLOOR];
	bool measured = !r->skipped[0];

	json_open_object(j, NULL);
	json_u64(j, "page_size", r->page_size);
	json_string(j, "placement", placement_names[r->placement]);
	json_u64(j, "faulters", r->faulters);
	json_open_array(j, "faulter_cpus");
	for (unsigned int i = 0; i < r->faulters; i++)
		json_int(j, NULL, r->faulter_cpus[i]);
	json_close_array(j);
	json_u64(j, "handler_threads", r->handler_threads);
	bench_json_cpu(j, "handler_cpu", r->handler_cpu);
	json_string(j, "skipped", measured ? NULL : r->skipped);
	if (measured) {
		json_side(j, "pcram", p, PCRAM);
		json_side(j, "floor", f, FLOOR);
		json_double(j, "ratio_p50", ratio_of(&p->p50, &f->p50), 4);
		json_double(j, "ratio_p99", ratio_of(&p->p99, &f->p99), 4);
		json_double(j, "ratio_p99_9", ratio_of(&p->p99_9, &f->p99_9), 4);
	} else {
		json_null(j, "pcram");
		json_null(j, "floor");
		json_null(j, "ratio_p50");
		json_null(j, "ratio_p99");
		json_null(j, "ratio_p99_9");
	}
	json_close_object(j);
}

static void json_section(struct json *j, const char *key, const struct section *sec)
{
	json_open_object(j, key);
	json_u64(j, "page_size", sec->page_size);
	if (sec->skipped[0]) {
		json_null(j, "pages_per_run");
		json_null(j, "capped");
		json_string(j, "skipped", sec->skipped);
		json_null(j, "rows");
	} else {
		json_u64(j, "pages_per_run", sec->pages_per_run);
		json_bool(j, "capped", sec->capped);
		json_null(j, "skipped");
		json_open_array(j, "rows");
		for (unsigned int i = 0; i < sec->nr_rows; i++)
			json_row(j, &sec->rows[i]);
		json_close_array(j);
	}
	json_close_object(j);
}

static void print_json(const struct report *rp)
{
	struct json j;

	bench_json_begin(&j, "fault", &rp->uts);
	json_string(&j, "clocksource", rp->clocksource[0] ? rp->clocksource : NULL);
	json_u64(&j, "clock_read_ns", rp->clock_read_ns);
	json_u64(&j, "cpus", cpus.n);
	json_u64(&j, "rounds", rp->rounds);
	json_string(&j, "image_dir", rp->image_dir);
	json_bool(&j, "image_read_through", rp->all_read_through);
	json_section(&j, "4k", &rp->s4k);
	json_section(&j, "2m", &rp->s2m);
	bench_json_end(&j);
}

/* A column of the text: "median (min-max)". */
#define COL_FMT "%-26s"

static void print_spread(const struct bench_spread *s, const char *fmt)
{
	char cell[72];

	snprintf(cell, sizeof(cell), "%" PRIu64 " (%" PRIu64 "-%" PRIu64 ")", s->median,
		 s->min, s->max);
	printf(fmt, cell);
}

static void print_side(const char *name, const struct side_stats *s)
{
	printf("  %-11s", name);
	print_spread(&s->p50, " " COL_FMT);
	print_spread(&s->p99, " " COL_FMT);
	print_spread(&s->p99_9, " " COL_FMT);
	print_spread(&s->max, " " COL_FMT);
	print_spread(&s->faults_per_s, " %s\n");
}

static void print_row(const struct row *r)
{
	const struct side_stats *p = &r->side[PCRAM], *f = &r->side[FLOOR];
	char cell[3][16];

	printf("%s, %u faulting thread%s, %u handler thread%s\n",
	       placement_names[r->placement], r->faulters, r->faulters == 1 ? "" : "s",
	       r->handler_threads, r->handler_threads == 1 ? "" : "s");
	if (r->skipped[0]) {
		printf("  SKIP: %s\n", r->skipped);
		return;
	}
	print_side("libpcram", p);
	print_side("floor", f);
	snprintf(cell[0], sizeof(cell[0]), "%.2f", ratio_of(&p->p50, &f->p50));
	snprintf(cell[1], sizeof(cell[1]), "%.2f", ratio_of(&p->p99, &f->p99));
	snprintf(cell[2], sizeof(cell[2]), "%.2f", ratio_of(&p->p99_9, &f->p99_9));
	printf("  %-11s " COL_FMT " " COL_FMT " %s\n", "pcram/floor", cell[0], cell[1],
	       cell[2]);
}

static void print_section(const struct section *sec)
{
	const char *size = sec->page_size == HUGE_SIZE ? "2 MiB pages (hugetlbfs)" :
				     "4 KiB pages";

	if (sec->skipped[0]) {
		printf("\n%s: SKIP: %s\n", size, sec->skipped);
		return;
	}
	printf("\n%s, %" PRIu64 " a run%s\n", size, sec->pages_per_run,
	       sec->capped ? " (all the free huge pages)" : "");
	printf("  %-11s " COL_FMT " " COL_FMT " " COL_FMT " " COL_FMT " %s\n", "",
	       "p50 ns", "p99 ns", "p99.9 ns", "max ns", "faults/s");
	for (unsigned int i = 0; i < sec->nr_rows; i++)
		print_row(&sec->rows[i]);
}

static void print_text(const struct report *rp)
{
	printf("pcram bench fault: userfaultfd fault round trip, libpcram (image provider) "
	       "against a bare handler\n"
	       "(floor: handler threads blocking in read(), one UFFDIO_COPY a fault)\n");
	printf("kernel %s %s, %u CPUs, clocksource %s (a clock read: %" PRIu64 " ns), "
	       "libpcram %s\n", rp->uts.release, rp->uts.machine, cpus.n,
	       rp->clocksource[0] ? rp->clocksource : "?", rp->clock_read_ns,
	       pcram_version());
	printf("placement (the same for both sides):\n"
	       "  same-cpu   the faulting thread and the handler threads on CPU %d\n",
	       cpus.id[0]);
	if (cpus.n > 1)
		printf("  split-cpu  the faulting thread on CPU %d, the handler threads on CPU %d\n"
		       "  all-cpus   a faulting thread on each of the %u CPUs; the handler threads\n"
		       "             not pinned (where the scheduler puts them)\n",
		       cpus.id[1], cpus.id[0], cpus.n);
	printf("method: each fault timed in the faulting thread (first touch of a page); "
	       "%u rounds,\n"
	       "  floor and libpcram alternating. Each figure: the median of the rounds' "
	       "values\n"
	       "  (min-max over the rounds); percentiles exact within a round. Image in %s,\n"
	       "  in the page cache and read through by both sides%s; destination fresh,\n"
	       "  nothing pre-faulted.\n",
	       rp->rounds, rp->image_dir,
	       rp->all_read_through ? "" : " (NOT libpcram's mapping: not found)");
	print_section(&rp->s4k);
	print_section(&rp->s2m);
}

/* ---- bench fault ------------------------------------------------------------------------ */

static void read_clocksource(char *buf, size_t size)
{
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static bool section_read_through(const struct section *sec)
{
	bool all = true;

	for (unsigned int i = 0; i < sec->nr_rows; i++)
		if (!sec->rows[i].skipped[0])
			all &= sec->rows[i].side[FLOOR].image_read_through &&
			       sec->rows[i].side[PCRAM].image_read_through;
	return all;
}

int bench_fault_main(int argc, char **argv)
{
	static struct report rp;
	struct bench b = { 0 };
	struct bench_args a;
	uint64_t pages, huge_want;
	int ret;

	ret = bench_parse_args(argc, argv, MAX_PAGES, MAX_ROUNDS, &a);
	if (ret >= 0)
		return ret;
	if (bench_base_pages_4k())
		return fail("bench", "fault: %s", bench_errbuf);
	if (bench_cpus(&cpus.n, cpus.id, CPU_SETSIZE))
		return fail("bench", "fault: %s", bench_errbuf);

	/*
	 * -n sets the pages of a run for both sizes; huge pages are capped
	 * below. By default, enough for a faulting thread on every CPU.
	 */
	pages = a.pages ? a.pages : a.quick ? QUICK_PAGES : DEFAULT_PAGES;
	huge_want = a.pages ? a.pages : a.quick ? QUICK_HUGE_PAGES : DEFAULT_HUGE_PAGES;
	if (!a.pages && pages < cpus.n)
		pages = cpus.n;
	if (!a.pages && huge_want < cpus.n)
		huge_want = cpus.n;

	memset(&rp, 0, sizeof(rp));
	uname(&rp.uts);
	read_clocksource(rp.clocksource, sizeof(rp.clocksource));
	rp.clock_read_ns = clock_read_ns();
	rp.rounds = a.rounds ? a.rounds : a.quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
	rp.image_dir = image_dir();
	rp.s4k.page_size = 4 * KIB;
	rp.s2m.page_size = HUGE_SIZE;
	b.rounds = rp.rounds;
	b.lat = calloc(pages > huge_want ? pages : huge_want, sizeof(*b.lat));
	b.faulters = calloc(cpus.n, sizeof(*b.faulters));
	if (!b.lat || !b.faulters) {
		ret = bench_err(-ENOMEM, "out of memory");
		goto out;
	}

	ret = measure_section(&b, &rp.s4k, pages, NR_ALL_CPUS_ROWS);
	if (ret)
		goto out;
	/* 2 MiB: one all-cpus row; fault threads are a 4 KiB question. */
	rp.s2m.pages_per_run = bench_huge_pages_usable(huge_want, 1, rp.s2m.skipped,
						       sizeof(rp.s2m.skipped));
	if (rp.s2m.pages_per_run) {
		rp.s2m.capped = rp.s2m.pages_per_run < huge_want;
		ret = measure_section(&b, &rp.s2m, rp.s2m.pages_per_run, 1);
		if (ret)
			goto out;
	}
	rp.all_read_through = section_read_through(&rp.s4k) &&
			      section_read_through(&rp.s2m);
out:
	free(b.lat);
	free(b.faulters);
	if (ret)
		return fail("bench", "fault: %s", bench_errbuf);
	if (a.json)
		print_json(&rp);
	else
		print_text(&rp);
	return 0;
}
