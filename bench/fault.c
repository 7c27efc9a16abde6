// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram bench fault: what libpcram costs next to what the kernel alone costs.
 *
 * It times the userfaultfd fault round trip (a thread touches a
 * missing page until the page is placed and the thread runs again) through
 * libpcram with its built-in image provider, and through a bare handler in
 * the same run: one thread that poll()s, read()s one uffd_msg and
 * UFFDIO_COPYs the page from the same image, nothing else. The bare handler
 * is the floor no userfaultfd library can go below; the ratio of the two is
 * what libpcram's bookkeeping costs.
 *
 * Both sides are measured the same way, in the faulting thread: the clock
 * around the first touch of each page, exact percentiles from the sorted
 * samples. Virtual machines make the numbers drift (a cross-CPU wakeup is
 * several times a same-CPU one, fresh memory is slow the first time), so:
 * the image is in the page cache and both sides' mappings of it are read
 * through before a run; the destination is fresh memory on both sides and
 * nothing of it is pre-faulted; the handler and faulting threads are pinned
 * the same way for both; floor and libpcram runs alternate, and each number
 * is the median over rounds of that round's percentile.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* The issue's target for 4 KiB pages, one faulting thread. */
#define TARGET_RATIO_P50 1.2
#define TARGET_RATIO_P99 1.5

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

static const unsigned int thread_counts[] = { 1, 2, 4, 16 };
#define NR_THREAD_COUNTS (sizeof(thread_counts) / sizeof(thread_counts[0]))
static const unsigned int fault_thread_counts[] = { 1, 2, 4 };
#define NR_FT_COUNTS (sizeof(fault_thread_counts) / sizeof(fault_thread_counts[0]))
#define FT_FAULTING_THREADS 16
#define MAX_FAULTING_THREADS 16

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
	for (int i = 1; i < 5; i++)
		for (int k = i; k > 0 && batch[k - 1] > batch[k]; k--) {
			uint64_t t = batch[k];

			batch[k] = batch[k - 1];
			batch[k - 1] = t;
		}
	return batch[2];
}

/* ---- thread placement ----------------------------------------------------- */

struct placement {
	const char *name;
	int handler_cpu;	/* fault handler threads (floor and libpcram) */
	int fault_cpu;		/* the faulting threads */
};

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

struct floor_handler {
	pthread_t thread;
	int uffd;
	int quit;
	uint8_t *dest;
	const uint8_t *src;
	uint64_t page_size;
	int error;
	uint64_t faults;
};

static void *floor_main(void *arg)
{
	struct floor_handler *h = arg;
	struct uffd_msg msg;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = h->uffd, .events = POLLIN },
			{ .fd = h->quit, .events = POLLIN },
		};
		struct uffdio_copy copy;
		uint64_t addr;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			h->error = -errno;
			break;
		}
		if (pfd[1].revents)
			break;
		if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			h->error = -errno;
			break;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;	/* no event was asked for */
		h->faults++;
		addr = msg.arg.pagefault.address & ~(h->page_size - 1);
		copy = (struct uffdio_copy) {
			.dst = addr,
			.src = (uint64_t)(uintptr_t)(h->src + (addr - (uint64_t)(uintptr_t)h->dest)),
			.len = h->page_size,
		};
		while (ioctl(h->uffd, UFFDIO_COPY, &copy)) {
			if (errno == EAGAIN) {
				copy.copy = 0;
				continue;
			}
			if (errno == EEXIST) {
				/* Never here when each page is touched once; wake anyway. */
				struct uffdio_range r = { .start = addr, .len = h->page_size };

				ioctl(h->uffd, UFFDIO_WAKE, &r);
				break;
			}
			h->error = -errno;
			return NULL;
		}
	}
	return NULL;
}

/* A userfaultfd the way libpcram gets one: device, syscall, user-mode only. */
static int open_uffd(void)
{
	int dev, fd;

	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EPERM)
		fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	return fd < 0 ? -errno : fd;
}

/* ---- one run ---------------------------------------------------------------- */

enum side { FLOOR = 0, PCRAM = 1 };
static const char *const side_names[] = { "floor", "pcram" };

struct run_cfg {
	const struct image *img;
	bool huge;
	unsigned int threads;		/* faulting threads */
	unsigned int fault_threads;	/* libpcram's; the floor has one */
	const struct placement *pl;
};

struct run_result {
	uint64_t p50, p99, max;		/* ns */
	double faults_per_s;
	uint64_t faults;
	/* libpcram's own count of what happened, or the floor's */
	uint64_t requests, duplicates, eagain;
	bool image_read_through;
};

static int floor_start(const struct run_cfg *c, struct floor_handler *h, uint8_t *dest,
		       bool *read_through_done)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uint64_t)(uintptr_t)dest, .len = c->img->size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	void *src;
	int ret;

	memset(h, 0, sizeof(*h));
	h->uffd = h->quit = -1;
	h->dest = dest;
	h->page_size = c->img->page_size;
	src = mmap(NULL, c->img->size, PROT_READ, MAP_PRIVATE, c->img->fd, 0);
	if (src == MAP_FAILED)
		return bench_err(-errno, "floor: mapping the image: %s", strerror(errno));
	h->src = src;
	read_through(src, c->img->size);
	*read_through_done = true;

	h->uffd = open_uffd();
	if (h->uffd < 0)
		return bench_err(h->uffd, "floor: no userfaultfd: %s ('pcram probe' says why)",
				 strerror(-h->uffd));
	if (ioctl(h->uffd, UFFDIO_API, &api))
		return bench_err(-errno, "floor: UFFDIO_API: %s", strerror(errno));
	if (ioctl(h->uffd, UFFDIO_REGISTER, &reg))
		return bench_err(-errno, "floor: UFFDIO_REGISTER: %s", strerror(errno));
	h->quit = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->quit < 0)
		return bench_err(-errno, "floor: eventfd: %s", strerror(errno));
	/* Created while this thread is pinned: it inherits the handler CPU. */
	ret = pthread_create(&h->thread, NULL, floor_main, h);
	if (ret) {
		/* No thread to tell to quit: floor_stop must not wait for one. */
		close(h->quit);
		h->quit = -1;
		return bench_err(-ret, "floor: pthread_create: %s", strerror(ret));
	}
	return 0;
}

static void floor_stop(const struct run_cfg *c, struct floor_handler *h)
{
	uint64_t one = 1;

	if (h->quit >= 0) {
		if (write(h->quit, &one, sizeof(one)) == sizeof(one))
			pthread_join(h->thread, NULL);
		close(h->quit);
	}
	if (h->uffd >= 0)
		close(h->uffd);
	if (h->src)
		munmap((void *)h->src, c->img->size);
}

static int engine_start(const struct run_cfg *c, struct pcram_dst **dstp, uint8_t *dest,
		       bool *read_through_done)
{
	struct pcram_dst_options opts = { .fault_threads = c->fault_threads };
	struct pcram_block blk = {
		.name = "bench", .host = dest, .length = c->img->size,
		.page_size = c->img->page_size,
		.type = c->huge ? PCRAM_BLOCK_HUGETLB : PCRAM_BLOCK_ANON,
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
		ret = pcram_dst_use_image(dst, c->img->path, NULL);
	if (!ret) {
		*read_through_done = read_through_mappings_of(c->img) > 0;
		ret = pcram_dst_incoming_init(dst);
	}
	if (!ret)
		ret = pcram_dst_enable_notify(dst);	/* pinned: see floor_start */
	if (ret)
		return bench_err(ret, "libpcram: %s", pcram_dst_strerror(dst));
	return 0;
}

/* Wait for a thread, or end the whole command: its fault is never served. */
static int run_once(const struct run_cfg *c, enum side side, uint64_t *lat,
		    struct run_result *res)
{
	uint64_t n = c->img->nr_pages, t_start = UINT64_MAX, t_end = 0;
	struct faulter faulters[MAX_FAULTING_THREADS];
	struct floor_handler floor = { .uffd = -1, .quit = -1 };
	struct pcram_dst *dst = NULL;
	cpu_set_t saved;
	pthread_barrier_t start;
	pthread_attr_t attr;
	cpu_set_t fault_set;
	unsigned int started = 0;
	uint8_t *dest = NULL;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = bench_map_dest(c->img->size, c->huge, &dest);
	if (ret)
		return ret;

	/* The handler threads inherit this thread's CPU while they are made. */
	if (sched_getaffinity(0, sizeof(saved), &saved)) {
		ret = bench_err(-errno, "sched_getaffinity: %s", strerror(errno));
		goto out_unmap;
	}
	ret = bench_pin(c->pl->handler_cpu);
	if (ret) {
		bench_err(ret, "pinning to CPU %d: %s", c->pl->handler_cpu, strerror(-ret));
		goto out_unmap;
	}
	if (side == FLOOR)
		ret = floor_start(c, &floor, dest, &res->image_read_through);
	else
		ret = engine_start(c, &dst, dest, &res->image_read_through);
	sched_setaffinity(0, sizeof(saved), &saved);
	if (ret)
		goto out_side;

	pthread_barrier_init(&start, NULL, c->threads);
	pthread_attr_init(&attr);
	CPU_ZERO(&fault_set);
	CPU_SET(c->pl->fault_cpu, &fault_set);
	pthread_attr_setaffinity_np(&attr, sizeof(fault_set), &fault_set);
	for (unsigned int i = 0; i < c->threads; i++) {
		faulters[i] = (struct faulter) {
			.start = &start, .dest = dest, .page_size = c->img->page_size,
			.first = n * i / c->threads, .end = n * (i + 1) / c->threads,
			.lat = lat,
		};
		ret = pthread_create(&faulters[i].thread, &attr, faulter_main, &faulters[i]);
		if (ret) {
			/* The barrier would never open: nothing to do but leave. */
			fprintf(stderr, "%s bench: creating faulting thread %u: %s\n",
				prog, i, strerror(ret));
			exit(1);
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	for (unsigned int i = 0; i < started; i++)
		bench_join(faulters[i].thread, RUN_TIMEOUT_S,
			   "fault run (a fault was never served)");
	pthread_barrier_destroy(&start);

	for (unsigned int i = 0; i < c->threads; i++) {
		const struct faulter *f = &faulters[i];

		if (f->t_start < t_start)
			t_start = f->t_start;
		if (f->t_end > t_end)
			t_end = f->t_end;
		if (f->bad && !ret)
			ret = bench_err(-EIO, "%s: %" PRIu64 " pages arrived wrong; page %" PRIu64
					" read %#" PRIx64 ", not %#" PRIx64, side_names[side],
					f->bad, f->bad_page, f->bad_value, bench_pattern(f->bad_page));
	}
	res->faults = n;
	res->faults_per_s = t_end > t_start ? (double)n * 1e9 / (double)(t_end - t_start) : 0;
	qsort(lat, n, sizeof(*lat), bench_cmp_u64);
	res->p50 = bench_percentile(lat, n, 0.50);
	res->p99 = bench_percentile(lat, n, 0.99);
	res->max = lat[n - 1];

	if (side == PCRAM) {
		struct pcram_dst_stats st;

		if (!pcram_dst_stats(dst, &st, sizeof(st))) {
			res->requests = st.requests;
			res->duplicates = st.duplicates + st.stale;
			res->eagain = st.eagain;
			if (st.provider_errors && !ret)
				ret = bench_err(-EIO, "libpcram: the image provider failed %" PRIu64
						" times", st.provider_errors);
		}
	} else {
		res->requests = floor.faults;
	}
out_side:
	if (side == FLOOR) {
		floor_stop(c, &floor);
		if (floor.error && !ret)
			ret = bench_err(floor.error, "floor: handler: %s", strerror(-floor.error));
	} else if (dst) {
		int err = pcram_dst_cleanup(dst);

		if (err && !ret)
			ret = bench_err(err, "libpcram: cleanup: %s", pcram_dst_strerror(dst));
		pcram_dst_free(dst);
	}
out_unmap:
	munmap(dest, c->img->size);
	return ret;
}

/* ---- rounds and medians --------------------------------------------------------- */

struct side_stats {
	uint64_t p50, p99, max;		/* medians over rounds; max: the largest */
	uint64_t faults_per_s;
	uint64_t faults;		/* per run */
	uint64_t requests, duplicates, eagain;	/* sums over rounds */
	bool image_read_through;	/* in every round */
};

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

		if (r->max > s->max)
			s->max = r->max;
		s->faults = r->faults;
		s->requests += r->requests;
		s->duplicates += r->duplicates;
		s->eagain += r->eagain;
		s->image_read_through &= r->image_read_through;
	}
#define MEDIAN_OF(field, expr) do {					\
		for (unsigned int i = 0; i < rs->n; i++)		\
			v[i] = (expr);					\
		s->field = bench_median_u64(v, rs->n);			\
	} while (0)
	MEDIAN_OF(p50, rs->r[i].p50);
	MEDIAN_OF(p99, rs->r[i].p99);
	MEDIAN_OF(faults_per_s, (uint64_t)(rs->r[i].faults_per_s + 0.5));
#undef MEDIAN_OF
}

struct row {
	uint64_t page_size;
	unsigned int threads;
	unsigned int fault_threads;
	const struct placement *pl;
	struct side_stats side[2];	/* [FLOOR], [PCRAM] */
};

struct bench {
	unsigned int rounds;
	uint64_t *lat;			/* one run's samples */
	const struct placement *main_pl;	/* of the fault thread rows */
};

/* Floor and libpcram, @rounds times each, alternating which goes first. */
static int measure_row(struct bench *b, const struct image *img, bool huge,
		       unsigned int threads, const struct placement *pl, struct row *row)
{
	static struct rounds rs[2];
	struct run_cfg c = {
		.img = img, .huge = huge, .threads = threads, .fault_threads = 1,
		.pl = pl,
	};
	int ret;

	rs[FLOOR].n = rs[PCRAM].n = 0;
	for (unsigned int r = 0; r < b->rounds; r++) {
		for (unsigned int k = 0; k < 2; k++) {
			enum side s = (r + k) % 2 ? PCRAM : FLOOR;

			ret = run_once(&c, s, b->lat, &rs[s].r[rs[s].n]);
			if (ret)
				return ret;
			rs[s].n++;
		}
	}
	*row = (struct row) {
		.page_size = img->page_size, .threads = threads, .fault_threads = 1,
		.pl = pl,
	};
	summarize(&rs[FLOOR], &row->side[FLOOR]);
	summarize(&rs[PCRAM], &row->side[PCRAM]);
	return 0;
}

/*
 * What more fault threads buy: 16 faulting threads, libpcram with 1, 2 and
 * 4 fault threads and the floor, in a rotating order each round.
 */
static int measure_fault_threads(struct bench *b, const struct image *img,
				 struct side_stats *floor_st, struct row *rows)
{
	static struct rounds rs[NR_FT_COUNTS + 1];	/* [0]: floor */
	const unsigned int nr = NR_FT_COUNTS + 1;
	int ret;

	for (unsigned int k = 0; k < nr; k++)
		rs[k].n = 0;
	for (unsigned int r = 0; r < b->rounds; r++) {
		for (unsigned int j = 0; j < nr; j++) {
			unsigned int k = (r + j) % nr;
			struct run_cfg c = {
				.img = img, .threads = FT_FAULTING_THREADS,
				.fault_threads = k ? fault_thread_counts[k - 1] : 1,
				.pl = b->main_pl,
			};

			ret = run_once(&c, k ? PCRAM : FLOOR, b->lat, &rs[k].r[rs[k].n]);
			if (ret)
				return ret;
			rs[k].n++;
		}
	}
	summarize(&rs[0], floor_st);
	for (unsigned int k = 1; k < nr; k++) {
		rows[k - 1] = (struct row) {
			.page_size = img->page_size, .threads = FT_FAULTING_THREADS,
			.fault_threads = fault_thread_counts[k - 1], .pl = b->main_pl,
		};
		summarize(&rs[k], &rows[k - 1].side[PCRAM]);
	}
	return 0;
}

/* ---- output ---------------------------------------------------------------------------- */

struct report {
	struct utsname uts;
	char clocksource[32];
	uint64_t clock_read_ns;
	unsigned int cpus;
	unsigned int rounds;
	const struct placement *main_pl, *other_pl;
	char other_pl_skipped[128];
	uint64_t pages_4k, pages_2m;
	bool pages_2m_capped;		/* fewer than asked for: all that are free */
	char skipped_2m[256];
	const char *image_dir;
	struct row rows_4k[NR_THREAD_COUNTS + 1];	/* + 1 thread, other placement */
	unsigned int nr_rows_4k;
	struct row rows_2m[NR_THREAD_COUNTS];
	unsigned int nr_rows_2m;
	struct side_stats ft_floor;
	struct row ft_rows[NR_FT_COUNTS];
	const struct row *ratio_row;
	bool all_read_through;
};

static void json_side(struct json *j, const char *key, const struct side_stats *s,
		      bool pcram)
{
	json_open_object(j, key);
	json_u64(j, "p50_ns", s->p50);
	json_u64(j, "p99_ns", s->p99);
	json_u64(j, "max_ns", s->max);
	json_u64(j, "faults_per_s", s->faults_per_s);
	json_u64(j, "faults_per_run", s->faults);
	json_u64(j, pcram ? "requests" : "faults_read", s->requests);
	if (pcram) {
		json_u64(j, "duplicates", s->duplicates);
		json_u64(j, "eagain", s->eagain);
	}
	json_close_object(j);
}

static void json_row(struct json *j, const struct row *r)
{
	json_open_object(j, NULL);
	json_u64(j, "page_size", r->page_size);
	json_u64(j, "threads", r->threads);
	json_u64(j, "fault_threads", r->fault_threads);
	json_string(j, "placement", r->pl->name);
	json_side(j, "pcram", &r->side[PCRAM], true);
	json_side(j, "floor", &r->side[FLOOR], false);
	json_double(j, "ratio_p50", bench_ratio(r->side[PCRAM].p50, r->side[FLOOR].p50), 4);
	json_double(j, "ratio_p99", bench_ratio(r->side[PCRAM].p99, r->side[FLOOR].p99), 4);
	json_close_object(j);
}

static void json_placement(struct json *j, const struct placement *pl)
{
	json_open_object(j, NULL);
	json_string(j, "name", pl->name);
	json_int(j, "handler_cpu", pl->handler_cpu);
	json_int(j, "fault_cpu", pl->fault_cpu);
	json_close_object(j);
}

static bool target_met(const struct report *rp)
{
	const struct row *r = rp->ratio_row;

	return bench_ratio(r->side[PCRAM].p50, r->side[FLOOR].p50) <= TARGET_RATIO_P50 &&
	       bench_ratio(r->side[PCRAM].p99, r->side[FLOOR].p99) <= TARGET_RATIO_P99;
}

static void print_json(const struct report *rp)
{
	const struct row *rr = rp->ratio_row;
	struct json j;

	json_init(&j, stdout);
	json_open_object(&j, NULL);
	json_string(&j, "benchmark", "fault");
	json_string(&j, "version", pcram_version());
	json_string(&j, "kernel", rp->uts.release);
	json_string(&j, "machine", rp->uts.machine);
	json_string(&j, "clocksource", rp->clocksource[0] ? rp->clocksource : NULL);
	json_u64(&j, "clock_read_ns", rp->clock_read_ns);
	json_u64(&j, "cpus", rp->cpus);
	json_u64(&j, "rounds", rp->rounds);
	json_string(&j, "image_dir", rp->image_dir);
	json_bool(&j, "image_read_through", rp->all_read_through);

	json_double(&j, "ratio_p50", bench_ratio(rr->side[PCRAM].p50, rr->side[FLOOR].p50), 4);
	json_double(&j, "ratio_p99", bench_ratio(rr->side[PCRAM].p99, rr->side[FLOOR].p99), 4);
	json_open_object(&j, "ratio_of");
	json_u64(&j, "page_size", rr->page_size);
	json_u64(&j, "threads", rr->threads);
	json_string(&j, "placement", rr->pl->name);
	json_close_object(&j);
	json_open_object(&j, "target");
	json_double(&j, "ratio_p50", TARGET_RATIO_P50, 2);
	json_double(&j, "ratio_p99", TARGET_RATIO_P99, 2);
	json_bool(&j, "met", target_met(rp));
	json_close_object(&j);

	json_open_object(&j, "placement");
	json_string(&j, "rows", rp->main_pl->name);
	json_open_array(&j, "measured");
	json_placement(&j, rp->main_pl);
	if (rp->other_pl)
		json_placement(&j, rp->other_pl);
	json_close_array(&j);
	json_string(&j, "skipped", rp->other_pl ? NULL : rp->other_pl_skipped);
	json_close_object(&j);

	json_open_object(&j, "4k");
	json_u64(&j, "pages_per_run", rp->pages_4k);
	json_null(&j, "skipped");
	json_open_array(&j, "rows");
	for (unsigned int i = 0; i < rp->nr_rows_4k; i++)
		json_row(&j, &rp->rows_4k[i]);
	json_close_array(&j);
	json_close_object(&j);

	json_open_object(&j, "2m");
	if (rp->nr_rows_2m) {
		json_u64(&j, "pages_per_run", rp->pages_2m);
		json_bool(&j, "capped", rp->pages_2m_capped);
		json_null(&j, "skipped");
		json_open_array(&j, "rows");
		for (unsigned int i = 0; i < rp->nr_rows_2m; i++)
			json_row(&j, &rp->rows_2m[i]);
		json_close_array(&j);
	} else {
		json_null(&j, "pages_per_run");
		json_string(&j, "skipped", rp->skipped_2m);
		json_null(&j, "rows");
	}
	json_close_object(&j);

	json_open_object(&j, "fault_threads");
	json_u64(&j, "page_size", 4 * KIB);
	json_u64(&j, "threads", FT_FAULTING_THREADS);
	json_string(&j, "placement", rp->main_pl->name);
	json_side(&j, "floor", &rp->ft_floor, false);
	json_open_array(&j, "pcram");
	for (unsigned int i = 0; i < NR_FT_COUNTS; i++) {
		const struct side_stats *s = &rp->ft_rows[i].side[PCRAM];

		json_open_object(&j, NULL);
		json_u64(&j, "fault_threads", rp->ft_rows[i].fault_threads);
		json_u64(&j, "p50_ns", s->p50);
		json_u64(&j, "p99_ns", s->p99);
		json_u64(&j, "max_ns", s->max);
		json_u64(&j, "faults_per_s", s->faults_per_s);
		json_u64(&j, "requests", s->requests);
		json_u64(&j, "duplicates", s->duplicates);
		json_u64(&j, "eagain", s->eagain);
		json_close_object(&j);
	}
	json_close_array(&j);
	json_close_object(&j);
	json_close_object(&j);
	json_finish(&j);
}

#define ROW_FMT "%-4s %7s  %-9s %8s %9s %10s %8s  %8s %9s %10s %8s  %5s %5s\n"

/* @label centred in @width columns of dashes. */
static void print_rule(const char *label, int width)
{
	int len = (int)strlen(label) + 2, left = (width - len) / 2;

	for (int i = 0; i < left; i++)
		putchar('-');
	printf(" %s ", label);
	for (int i = left + len; i < width; i++)
		putchar('-');
}

static void print_row_header(void)
{
	printf("%*s", 24, "");
	print_rule("libpcram (ns)", 38);
	printf("  ");
	print_rule("floor (ns)", 38);
	printf("  pcram/floor\n");
	printf(ROW_FMT, "page", "threads", "placement", "p50", "p99", "max", "faults/s",
	       "p50", "p99", "max", "faults/s", "p50", "p99");
}

static void print_row(const struct row *r)
{
	const struct side_stats *s[2] = { &r->side[PCRAM], &r->side[FLOOR] };
	char v[13][24];

	snprintf(v[0], sizeof(v[0]), "%s", bench_size_name(r->page_size));
	snprintf(v[1], sizeof(v[1]), "%u", r->threads);
	snprintf(v[2], sizeof(v[2]), "%s", r->pl->name);
	for (int i = 0; i < 2; i++) {
		snprintf(v[3 + 4 * i], sizeof(v[0]), "%" PRIu64, s[i]->p50);
		snprintf(v[4 + 4 * i], sizeof(v[0]), "%" PRIu64, s[i]->p99);
		snprintf(v[5 + 4 * i], sizeof(v[0]), "%" PRIu64, s[i]->max);
		snprintf(v[6 + 4 * i], sizeof(v[0]), "%" PRIu64, s[i]->faults_per_s);
	}
	snprintf(v[11], sizeof(v[0]), "%.2f", bench_ratio(s[0]->p50, s[1]->p50));
	snprintf(v[12], sizeof(v[0]), "%.2f", bench_ratio(s[0]->p99, s[1]->p99));
	printf(ROW_FMT, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
	       v[10], v[11], v[12]);
}

static void print_placement(const struct placement *pl)
{
	if (pl->handler_cpu == pl->fault_cpu)
		printf("  %-9s handler and faulting threads all on CPU %d\n", pl->name,
		       pl->handler_cpu);
	else
		printf("  %-9s handler threads on CPU %d, faulting threads on CPU %d\n",
		       pl->name, pl->handler_cpu, pl->fault_cpu);
}

static void print_text(const struct report *rp)
{
	const struct row *rr = rp->ratio_row;
	double r50 = bench_ratio(rr->side[PCRAM].p50, rr->side[FLOOR].p50);
	double r99 = bench_ratio(rr->side[PCRAM].p99, rr->side[FLOOR].p99);

	printf("pcram bench fault: userfaultfd fault round trip, libpcram (image provider) "
	       "against a bare handler (floor)\n");
	printf("kernel %s %s, %u CPUs, clocksource %s (a clock read: %" PRIu64 " ns), "
	       "libpcram %s\n", rp->uts.release, rp->uts.machine, rp->cpus,
	       rp->clocksource[0] ? rp->clocksource : "?", rp->clock_read_ns,
	       pcram_version());
	printf("placement (the same for both sides):\n");
	print_placement(rp->main_pl);
	if (rp->other_pl)
		print_placement(rp->other_pl);
	else
		printf("  (%s)\n", rp->other_pl_skipped);
	printf("method: each fault timed in the faulting thread (first touch of a page); "
	       "%u rounds,\n"
	       "  floor and libpcram alternating; p50, p99, faults/s: median of the rounds' "
	       "exact values;\n"
	       "  max: the largest of all rounds. Image in %s, in the page cache and read\n"
	       "  through by both sides%s; destination fresh, nothing pre-faulted.\n",
	       rp->rounds, rp->image_dir,
	       rp->all_read_through ? "" : " (NOT libpcram's mapping: not found)");
	printf("\n");
	print_row_header();
	for (unsigned int i = 0; i < rp->nr_rows_4k; i++)
		print_row(&rp->rows_4k[i]);
	for (unsigned int i = 0; i < rp->nr_rows_2m; i++)
		print_row(&rp->rows_2m[i]);
	printf("(4K: %" PRIu64 " pages a run", rp->pages_4k);
	if (rp->nr_rows_2m)
		printf("; 2M: %" PRIu64 " pages a run, hugetlbfs%s)\n", rp->pages_2m,
		       rp->pages_2m_capped ? ", all the free huge pages" : "");
	else
		printf("; 2M rows skipped: %s)\n", rp->skipped_2m);

	printf("\nfault threads: %u faulting threads, 4K pages, %s\n", FT_FAULTING_THREADS,
	       rp->main_pl->name);
	printf("  %-14s %8s %8s %9s %9s\n", "", "p50 ns", "p99 ns", "max ns", "faults/s");
	printf("  %-14s %8" PRIu64 " %8" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n",
	       "floor (1)", rp->ft_floor.p50, rp->ft_floor.p99, rp->ft_floor.max,
	       rp->ft_floor.faults_per_s);
	for (unsigned int i = 0; i < NR_FT_COUNTS; i++) {
		const struct side_stats *s = &rp->ft_rows[i].side[PCRAM];
		char name[32];

		snprintf(name, sizeof(name), "libpcram (%u)", rp->ft_rows[i].fault_threads);
		printf("  %-14s %8" PRIu64 " %8" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n",
		       name, s->p50, s->p99, s->max, s->faults_per_s);
	}

	printf("\ntarget (4K, 1 thread, %s): ratio_p50 %.2f <= %.2f, ratio_p99 %.2f <= %.2f: %s\n",
	       rr->pl->name, r50, TARGET_RATIO_P50, r99, TARGET_RATIO_P99,
	       target_met(rp) ? "met" : "NOT met");
}

/* ---- bench fault ------------------------------------------------------------------------ */

static int pick_placements(struct placement pl[2], unsigned int *cpus, char *why,
			   size_t size)
{
	cpu_set_t set;
	int first = -1, second = -1;

	if (sched_getaffinity(0, sizeof(set), &set))
		return bench_err(-errno, "sched_getaffinity: %s", strerror(errno));
	*cpus = CPU_COUNT(&set);
	for (int c = 0; c < CPU_SETSIZE && second < 0; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (first < 0)
			first = c;
		else
			second = c;
	}
	pl[0] = (struct placement) { "same-cpu", first, first };
	if (second < 0) {
		snprintf(why, size, "split-cpu not measured: this process may run on one CPU only");
		return 1;
	}
	pl[1] = (struct placement) { "split-cpu", first, second };
	return 2;
}

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

int bench_fault_main(int argc, char **argv)
{
	static struct report rp;
	struct placement pl[2];
	struct bench b = { 0 };
	struct image img;
	struct bench_args a;
	unsigned long pages, rounds;
	uint64_t huge_want;
	bool json, quick;
	int ret, nr_pl;

	ret = bench_parse_args(argc, argv, MAX_PAGES, MAX_ROUNDS, &a);
	if (ret >= 0)
		return ret;
	json = a.json;
	quick = a.quick;
	pages = a.pages;
	rounds = a.rounds;

	/* -n sets the pages of a run for both sizes; huge pages are capped below. */
	huge_want = pages ? pages : quick ? QUICK_HUGE_PAGES : DEFAULT_HUGE_PAGES;
	if (!pages)
		pages = quick ? QUICK_PAGES : DEFAULT_PAGES;
	if (!rounds)
		rounds = quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
	if (pages < FT_FAULTING_THREADS)
		return fail("bench", "-n %lu: each of %u faulting threads needs a page",
			    pages, FT_FAULTING_THREADS);

	memset(&rp, 0, sizeof(rp));
	uname(&rp.uts);
	read_clocksource(rp.clocksource, sizeof(rp.clocksource));
	rp.clock_read_ns = clock_read_ns();
	rp.rounds = rounds;
	nr_pl = pick_placements(pl, &rp.cpus, rp.other_pl_skipped,
				sizeof(rp.other_pl_skipped));
	if (nr_pl < 0)
		return fail("bench", "%s", bench_errbuf);
	/*
	 * The rows share one CPU: a same-CPU wakeup is a short context switch,
	 * a cross-CPU one an IPI that costs far more on a virtual machine, and
	 * would hide libpcram's own cost under its noise.
	 */
	rp.main_pl = &pl[0];
	rp.other_pl = nr_pl > 1 ? &pl[1] : NULL;
	b.rounds = rounds;
	b.main_pl = rp.main_pl;
	b.lat = calloc(pages > huge_want ? pages : huge_want, sizeof(*b.lat));
	if (!b.lat)
		return fail("bench", "out of memory");
	rp.all_read_through = true;

	/* ---- 4 KiB ---- */
	if (sysconf(_SC_PAGESIZE) != 4 * KIB) {
		free(b.lat);
		return fail("bench", "fault: measures 4 KiB base pages; this system's are %ld bytes",
			    sysconf(_SC_PAGESIZE));
	}
	ret = image_create(&img, 4 * KIB, pages);
	if (ret)
		goto fail_img;
	rp.image_dir = image_dir();
	rp.pages_4k = pages;
	{
		/* A discarded warm-up pair: first runs pay for first uses. */
		struct run_cfg warm = { .img = &img, .threads = 1, .fault_threads = 1,
					.pl = rp.main_pl };
		struct run_result wr;

		ret = run_once(&warm, FLOOR, b.lat, &wr);
		if (!ret)
			ret = run_once(&warm, PCRAM, b.lat, &wr);
		if (ret)
			goto fail_img;
	}
	for (unsigned int i = 0; i < NR_THREAD_COUNTS; i++) {
		ret = measure_row(&b, &img, false, thread_counts[i], rp.main_pl,
				  &rp.rows_4k[rp.nr_rows_4k]);
		if (ret)
			goto fail_img;
		rp.nr_rows_4k++;
	}
	if (rp.other_pl) {
		ret = measure_row(&b, &img, false, 1, rp.other_pl, &rp.rows_4k[rp.nr_rows_4k]);
		if (ret)
			goto fail_img;
		rp.nr_rows_4k++;
	}
	rp.ratio_row = &rp.rows_4k[0];
	ret = measure_fault_threads(&b, &img, &rp.ft_floor, rp.ft_rows);
	if (ret)
		goto fail_img;
	image_close(&img);

	/* ---- 2 MiB ---- */
	rp.pages_2m = bench_huge_pages_usable(huge_want, 1, rp.skipped_2m,
					      sizeof(rp.skipped_2m));
	rp.pages_2m_capped = rp.pages_2m && rp.pages_2m < huge_want;
	if (rp.pages_2m) {
		ret = image_create(&img, HUGE_SIZE, rp.pages_2m);
		if (ret)
			goto fail_img;
		for (unsigned int i = 0; i < NR_THREAD_COUNTS; i++) {
			ret = measure_row(&b, &img, true, thread_counts[i], rp.main_pl,
					  &rp.rows_2m[rp.nr_rows_2m]);
			if (ret)
				goto fail_img;
			rp.nr_rows_2m++;
		}
		image_close(&img);
	}

	for (unsigned int i = 0; i < rp.nr_rows_4k; i++)
		for (int s = 0; s < 2; s++)
			rp.all_read_through &= rp.rows_4k[i].side[s].image_read_through;
	for (unsigned int i = 0; i < rp.nr_rows_2m; i++)
		for (int s = 0; s < 2; s++)
			rp.all_read_through &= rp.rows_2m[i].side[s].image_read_through;
	rp.all_read_through &= rp.ft_floor.image_read_through;
	for (unsigned int i = 0; i < NR_FT_COUNTS; i++)
		rp.all_read_through &= rp.ft_rows[i].side[PCRAM].image_read_through;
	free(b.lat);
	if (json)
		print_json(&rp);
	else
		print_text(&rp);
	return 0;
fail_img:
	image_close(&img);
	free(b.lat);
	return fail("bench", "fault: %s", bench_errbuf);
}
