// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram bench batch: what pcram.ko's PCRAM_IOC_BATCH gains over
 * UFFDIO_COPY, and what its fault-latency probe costs a fault.
 *
 * Placement: N 4 KiB pages copied into a registered, empty area of 2N
 * pages, nobody faulting, in three workloads: contiguous (pages 0..N-1 in
 * order), scattered (every other page) and random (N pages drawn from the
 * 2N, in the order drawn; one draw a round from a fixed seed, the same
 * pages for every method of the round). Two floors: one UFFDIO_COPY per
 * page, and one UFFDIO_COPY per contiguous run of the op order, which is
 * what libpcram does with a run and so the floor a batch must beat: the
 * module joins contiguous ops into one call of the userfaultfd too. Where
 * no two ops in a row are contiguous (scattered, nearly so random) the
 * per-run floor is the per-page one; it is shown all the same. Batches of
 * 16, 64 and 256 ops, 64 with PCRAM_BATCH_F_NO_COALESCE (the system calls
 * saved without the joining), and the same with UFFDIO_ZEROPAGE, which
 * allocates and copies nothing and so leaves the per-call cost. Each run
 * zaps the area first (outside the clock), so every run places into the
 * same page tables; methods rotate their order each round; each figure is
 * the median of the rounds, with their min and max.
 *
 * Probe: the fault round trip of bench fault's floor (a bare handler that
 * blocks in read() for one message and UFFDIO_COPYs the page), on a
 * userfaultfd attached to a pcram context, with the probe parameter on and
 * off in alternating runs. Handler and faulting thread share one CPU, as
 * bench fault's same-cpu row does: a cross-CPU wakeup on a virtual machine
 * is noise far above the probe's cost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/pcram.h>
#include <linux/userfaultfd.h>
#include <pcram.h>

#include "bench.h"
#include "clock.h"
#include "json.h"
#include "cli.h"

#define PAGE 4096ULL

#define DEFAULT_PAGES 4096
#define DEFAULT_FAULTS 2048
#define DEFAULT_ROUNDS 5
#define QUICK_PAGES 256
#define QUICK_FAULTS 128
#define QUICK_ROUNDS 2
#define MAX_ROUNDS 101
/* The area is twice the pages placed, in the source and the destination. */
#define MAX_PAGES (1U << 18)
#define MAX_OPS_PER_CALL 256
/* No probe run may take longer: a fault that is never served ends the bench. */
#define RUN_TIMEOUT_S 120
/* The random workload's: fixed, so that runs draw the same pages. */
#define RANDOM_SEED 0x70637261ULL

#define PROBE_PARAM "/sys/module/pcram/parameters/probe"

enum workload { W_CONTIGUOUS, W_SCATTERED, W_RANDOM, NR_WORKLOADS };

static const char *const workload_names[NR_WORKLOADS] = {
	[W_CONTIGUOUS] = "contiguous",
	[W_SCATTERED] = "scattered",
	[W_RANDOM] = "random",
};

/* What one system call of a method places. */
enum call { CALL_PAGE, CALL_RUN, CALL_BATCH };

static const char *const call_names[] = {
	[CALL_PAGE] = "page",
	[CALL_RUN] = "run",
	[CALL_BATCH] = "batch",
};

struct method {
	const char *name;
	enum call call;
	unsigned int per_call;	/* ops a PCRAM_IOC_BATCH */
	uint32_t flags;
	bool zero;		/* UFFDIO_ZEROPAGE instead of UFFDIO_COPY */
	unsigned int floor_page, floor_run;	/* its floors, of its op */
};

enum {
	M_IOCTL, M_IOCTL_RUN, M_BATCH16, M_BATCH64, M_BATCH256, M_BATCH64_SINGLE,
	M_ZERO_IOCTL, M_ZERO_RUN, M_ZERO_BATCH64, NR_METHODS
};

/*
 * The zero-page methods place without allocating or copying a page: what
 * is left is the per-call cost a batch saves, which copying 4 KiB under
 * TCG (an emulated rep movsb) otherwise hides.
 */
static const struct method methods[NR_METHODS] = {
	[M_IOCTL] = { "ioctl", CALL_PAGE, 0, 0, false, M_IOCTL, M_IOCTL_RUN },
	[M_IOCTL_RUN] = { "ioctl-run", CALL_RUN, 0, 0, false, M_IOCTL, M_IOCTL_RUN },
	[M_BATCH16] = { "batch16", CALL_BATCH, 16, 0, false, M_IOCTL, M_IOCTL_RUN },
	[M_BATCH64] = { "batch64", CALL_BATCH, 64, 0, false, M_IOCTL, M_IOCTL_RUN },
	[M_BATCH256] = { "batch256", CALL_BATCH, 256, 0, false, M_IOCTL, M_IOCTL_RUN },
	[M_BATCH64_SINGLE] = { "batch64-single", CALL_BATCH, 64, PCRAM_BATCH_F_NO_COALESCE,
			       false, M_IOCTL, M_IOCTL_RUN },
	[M_ZERO_IOCTL] = { "zero-ioctl", CALL_PAGE, 0, 0, true, M_ZERO_IOCTL, M_ZERO_RUN },
	[M_ZERO_RUN] = { "zero-run", CALL_RUN, 0, 0, true, M_ZERO_IOCTL, M_ZERO_RUN },
	[M_ZERO_BATCH64] = { "zero-batch64", CALL_BATCH, 64, 0, true, M_ZERO_IOCTL,
			     M_ZERO_RUN },
};

/* A method's figures in one workload, over the rounds. */
struct place_figures {
	struct bench_spread pages_per_s;
	struct bench_spread ns_per_page;
};

struct report {
	struct utsname uts;
	unsigned int cpus;
	int cpu;
	unsigned int rounds;
	uint64_t pages;
	/* contiguous runs in each workload's op order, over the rounds */
	struct bench_spread runs[NR_WORKLOADS];
	struct place_figures place[NR_WORKLOADS][NR_METHODS];
	uint64_t faults;
	bool probe_measured;
	char probe_skipped[160];
	struct bench_spread p50[2], p99[2];	/* [0] probe off, [1] on */
};

/* Anonymous 4 KiB pages registered for missing faults. */
static uint8_t *dest_new(int uffd, uint64_t pages)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	uint8_t *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		bench_err(-errno, "mmap: %s", strerror(errno));
		return NULL;
	}
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	reg.range.start = (uintptr_t)p;
	reg.range.len = pages * PAGE;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		bench_err(-errno, "UFFDIO_REGISTER: %s", strerror(errno));
		munmap(p, pages * PAGE);
		return NULL;
	}
	return p;
}

static uint8_t *src_new(uint64_t pages)
{
	uint8_t *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		bench_err(-errno, "mmap: %s", strerror(errno));
		return NULL;
	}
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t *w = (uint64_t *)(p + i * PAGE);

		for (uint64_t k = 0; k < PAGE / 8; k++)
			w[k] = bench_pattern(i);
	}
	return p;
}

/* A /dev/pcram context attached to @uffd: its descriptor or -errno. */
static int context_new(int uffd, const char *name)
{
	int fd = pcram_kmod_attach_uffd(uffd, name, PCRAM_KMOD_ATTACH_F_NO_EVENTS, NULL);

	if (fd == -ENODEV)
		return bench_err(fd, "/dev/%s: %s (load pcram.ko: 'pcram module load')",
				 PCRAM_DEVICE_NAME, strerror(ENOENT));
	if (fd < 0)
		return bench_err(fd, "attaching to pcram.ko: %s", strerror(-fd));
	return fd;
}

/* ---- the workloads -------------------------------------------------------------------------- */

/* splitmix64: small, and the same numbers everywhere for a seed. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * The pages of @w's round @round into @order, in the order they are
 * placed: @pages of an area of 2 * @pages. @scratch holds 2 * @pages.
 */
static void workload_order(enum workload w, unsigned int round, uint64_t pages,
			   uint64_t *order, uint64_t *scratch)
{
	uint64_t state = RANDOM_SEED + round;

	switch (w) {
	case W_CONTIGUOUS:
		for (uint64_t i = 0; i < pages; i++)
			order[i] = i;
		break;
	case W_SCATTERED:
		for (uint64_t i = 0; i < pages; i++)
			order[i] = 2 * i;
		break;
	case W_RANDOM:
		/* The first @pages steps of a Fisher-Yates shuffle of the area. */
		for (uint64_t i = 0; i < 2 * pages; i++)
			scratch[i] = i;
		for (uint64_t i = 0; i < pages; i++) {
			uint64_t k = i + next_random(&state) % (2 * pages - i), t = scratch[k];

			scratch[k] = scratch[i];
			scratch[i] = t;
			order[i] = t;
		}
		break;
	case NR_WORKLOADS:
		break;
	}
}

/* How many ops of @order begin a run: the page after theirs is not next. */
static uint64_t runs_of(const uint64_t *order, uint64_t pages)
{
	uint64_t runs = 0;

	for (uint64_t i = 0; i < pages; i++)
		runs += !i || order[i] != order[i - 1] + 1;
	return runs;
}

/* ---- placement ------------------------------------------------------------------------------ */

struct placer {
	int uffd, fd;
	uint8_t *dest, *src;	/* the area: 2 * pages each */
	uint64_t pages;		/* placed a run */
	uint64_t *order;	/* their pages, in the order placed */
	uint64_t *scratch;
	struct pcram_batch_op ops[MAX_OPS_PER_CALL];
};

/*
 * Pages @first.. of @len bytes by one UFFDIO_COPY (or ZEROPAGE), as any
 * handler would: again from where it stopped, should it stop (EAGAIN).
 */
static int uffd_place(struct placer *pl, bool zero, uint64_t first, uint64_t len)
{
	uint64_t dst = (uintptr_t)(pl->dest + first * PAGE);
	uint64_t src = (uintptr_t)(pl->src + first * PAGE);

	while (len) {
		struct uffdio_copy c = { .dst = dst, .src = src, .len = len };
		struct uffdio_zeropage z = { .range = { .start = dst, .len = len } };
		int64_t done;
		int ret;

		if (zero) {
			ret = ioctl(pl->uffd, UFFDIO_ZEROPAGE, &z);
			done = z.zeropage;
		} else {
			ret = ioctl(pl->uffd, UFFDIO_COPY, &c);
			done = c.copy;
		}
		if (!ret)
			return 0;
		if (errno != EAGAIN)
			return bench_err(-errno, "%s: %s", zero ? "UFFDIO_ZEROPAGE" : "UFFDIO_COPY",
					 strerror(errno));
		if (done > 0) {
			dst += (uint64_t)done;
			src += (uint64_t)done;
			len -= (uint64_t)done;
		}
	}
	return 0;
}

/* The floors: one call per page, or per contiguous run of the order. */
static int place_ioctl(struct placer *pl, const struct method *m)
{
	for (uint64_t i = 0, j; i < pl->pages; i = j) {
		int ret;

		j = i + 1;
		if (m->call == CALL_RUN)
			while (j < pl->pages && pl->order[j] == pl->order[j - 1] + 1)
				j++;
		ret = uffd_place(pl, m->zero, pl->order[i], (j - i) * PAGE);
		if (ret)
			return ret;
	}
	return 0;
}

static void batch_op_fill(struct placer *pl, struct pcram_batch_op *op, bool zero,
			  uint64_t page)
{
	memset(op, 0, sizeof(*op));
	if (zero) {
		op->op = PCRAM_BATCH_OP_ZEROPAGE;
		op->zeropage.range.start = (uintptr_t)(pl->dest + page * PAGE);
		op->zeropage.range.len = PAGE;
		return;
	}
	op->op = PCRAM_BATCH_OP_COPY;
	op->copy.dst = (uintptr_t)(pl->dest + page * PAGE);
	op->copy.src = (uintptr_t)(pl->src + page * PAGE);
	op->copy.len = PAGE;
}

static int place_batch(struct placer *pl, const struct method *m)
{
	for (uint64_t i = 0; i < pl->pages; i += m->per_call) {
		uint64_t n = pl->pages - i < m->per_call ? pl->pages - i : m->per_call;
		int ret;

		for (uint64_t k = 0; k < n; k++)
			batch_op_fill(pl, &pl->ops[k], m->zero, pl->order[i + k]);
		ret = pcram_kmod_batch(pl->fd, pl->ops, (unsigned int)n, m->flags);
		if (ret != (int)n)
			return bench_err(ret < 0 ? ret : -EIO,
					 "PCRAM_IOC_BATCH: %d of %" PRIu64 " ops: %s", ret, n,
					 strerror(ret < 0 ? -ret : -pl->ops[ret].result));
	}
	return 0;
}

/* One run of @m over pl->order: the ns it took, or -errno. */
static int64_t place_run(struct placer *pl, const struct method *m)
{
	uint64_t t0, t1;
	int ret;

	if (madvise(pl->dest, 2 * pl->pages * PAGE, MADV_DONTNEED))
		return bench_err(-errno, "MADV_DONTNEED: %s", strerror(errno));
	t0 = mono_ns();
	ret = m->call == CALL_BATCH ? place_batch(pl, m) : place_ioctl(pl, m);
	t1 = mono_ns();
	if (ret)
		return ret;
	/* Only the pages placed: reading another would fault, with nobody to serve it. */
	for (uint64_t i = 0; i < pl->pages; i++) {
		uint64_t page = pl->order[i];
		const uint64_t *w = (const uint64_t *)(pl->dest + page * PAGE);
		uint64_t want = m->zero ? 0 : bench_pattern(page);

		if (w[0] != want || w[PAGE / 8 - 1] != want)
			return bench_err(-EIO, "%s: page %" PRIu64 " arrived wrong", m->name, page);
	}
	return (int64_t)(t1 - t0);
}

/* Round @r of workload @w: each method once, in an order rotating with @r. */
static int place_round(struct placer *pl, unsigned int w, unsigned int r,
		       uint64_t ns[NR_METHODS][MAX_ROUNDS])
{
	for (unsigned int k = 0; k < NR_METHODS; k++) {
		unsigned int m = (k + r + w) % NR_METHODS;
		int64_t t = place_run(pl, &methods[m]);

		if (t < 0)
			return (int)t;
		ns[m][r] = (uint64_t)t;
	}
	return 0;
}

static void place_figures_of(const uint64_t *ns, unsigned int rounds, uint64_t pages,
			     struct place_figures *f)
{
	uint64_t pps[MAX_ROUNDS], npp[MAX_ROUNDS];

	for (unsigned int r = 0; r < rounds; r++) {
		pps[r] = ns[r] ? pages * 1000000000ULL / ns[r] : 0;
		npp[r] = (ns[r] + pages / 2) / pages;
	}
	bench_spread_of(pps, rounds, &f->pages_per_s);
	bench_spread_of(npp, rounds, &f->ns_per_page);
}

static int placer_open(struct placer *pl, uint64_t pages)
{
	pl->pages = pages;
	pl->fd = -1;
	pl->uffd = bench_uffd_new(O_NONBLOCK);
	if (pl->uffd < 0)
		return pl->uffd;
	pl->fd = context_new(pl->uffd, "bench-batch");
	if (pl->fd < 0)
		return pl->fd;
	pl->order = calloc(pages, sizeof(*pl->order));
	pl->scratch = calloc(2 * pages, sizeof(*pl->scratch));
	if (!pl->order || !pl->scratch)
		return bench_err(-ENOMEM, "out of memory");
	pl->dest = dest_new(pl->uffd, 2 * pages);
	if (!pl->dest)
		return -ENOMEM;
	pl->src = src_new(2 * pages);
	if (!pl->src)
		return -ENOMEM;
	return 0;
}

static void placer_close(struct placer *pl)
{
	if (pl->src)
		munmap(pl->src, 2 * pl->pages * PAGE);
	if (pl->dest)
		munmap(pl->dest, 2 * pl->pages * PAGE);
	free(pl->scratch);
	free(pl->order);
	if (pl->fd >= 0)
		close(pl->fd);
	if (pl->uffd >= 0)
		close(pl->uffd);
	free(pl);
}

static int measure_placement(struct report *rp)
{
	static uint64_t ns[NR_WORKLOADS][NR_METHODS][MAX_ROUNDS];
	static uint64_t runs[NR_WORKLOADS][MAX_ROUNDS];
	struct placer *pl = calloc(1, sizeof(*pl));
	int ret;

	if (!pl)
		return bench_err(-ENOMEM, "out of memory");
	ret = placer_open(pl, rp->pages);
	/* A discarded warm-up of each: first runs pay for first uses. */
	for (unsigned int w = 0; !ret && w < NR_WORKLOADS; w++) {
		workload_order(w, 0, pl->pages, pl->order, pl->scratch);
		ret = place_round(pl, w, 0, ns[w]);
	}
	for (unsigned int r = 0; !ret && r < rp->rounds; r++)
		for (unsigned int w = 0; !ret && w < NR_WORKLOADS; w++) {
			workload_order(w, r, pl->pages, pl->order, pl->scratch);
			runs[w][r] = runs_of(pl->order, pl->pages);
			ret = place_round(pl, w, r, ns[w]);
		}
	placer_close(pl);
	if (ret)
		return ret;
	for (unsigned int w = 0; w < NR_WORKLOADS; w++) {
		bench_spread_of(runs[w], rp->rounds, &rp->runs[w]);
		for (unsigned int m = 0; m < NR_METHODS; m++)
			place_figures_of(ns[w][m], rp->rounds, rp->pages, &rp->place[w][m]);
	}
	return 0;
}

/* ---- the probe's cost ----------------------------------------------------------------------- */

struct fault_run {
	int uffd;
	uint8_t *dest;
	const uint8_t *src;
	uint64_t n;
	uint64_t *lat;
	int error;
	uint64_t bad;
};

/*
 * The floor of bench fault: block in read() for a fault, place its page
 * with one UFFDIO_COPY. It ends by pthread_cancel() in read(), a
 * cancellation point, once every page is placed.
 */
static void *handler_main(void *arg)
{
	struct fault_run *f = arg;

	for (;;) {
		struct uffd_msg msg;
		uint64_t page;
		ssize_t n = read(f->uffd, &msg, sizeof(msg));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(msg)) {
			f->error = n < 0 ? -errno : -EIO;
			return NULL;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;	/* no event was asked for */
		page = msg.arg.pagefault.address & ~(PAGE - 1);
		f->error = bench_uffd_copy_page(f->uffd, page, f->src + (page - (uintptr_t)f->dest),
						PAGE);
		if (f->error)
			return NULL;
	}
}

static void *faulter_main(void *arg)
{
	struct fault_run *f = arg;

	for (uint64_t p = 0; p < f->n; p++) {
		volatile uint64_t *w = (volatile uint64_t *)(f->dest + p * PAGE);
		uint64_t t0 = mono_ns(), v = w[0];

		f->lat[p] = mono_ns() - t0;
		f->bad += v != bench_pattern(p);
	}
	return NULL;
}

static int set_probe(bool on)
{
	int fd = open(PROBE_PARAM, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, on ? "1" : "0", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

static int get_probe(bool *on)
{
	char buf[8] = "";
	int fd = open(PROBE_PARAM, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	*on = buf[0] == 'Y' || buf[0] == '1';
	return 0;
}

/* One run of @n faults with the probe @on: p50 and p99 into @p50, @p99. */
static int fault_run(struct report *rp, int uffd, const uint8_t *src, bool on,
		     uint64_t *lat, uint64_t *p50, uint64_t *p99)
{
	struct fault_run f = { .uffd = uffd, .src = src, .n = rp->faults, .lat = lat };
	pthread_t h, t;
	int ret = set_probe(on);

	if (ret)
		return bench_err(ret, "%s: %s", PROBE_PARAM, strerror(-ret));
	f.dest = dest_new(uffd, rp->faults);
	if (!f.dest)
		return -ENOMEM;
	ret = bench_thread_on(&h, rp->cpu, handler_main, &f);
	if (ret)
		goto out;
	ret = bench_thread_on(&t, rp->cpu, faulter_main, &f);
	if (!ret)
		bench_join(t, RUN_TIMEOUT_S, "probe run (a fault was never served)");
	/* Every page placed, or none to place: the handler waits in read(). */
	pthread_cancel(h);
	pthread_join(h, NULL);
out:
	munmap(f.dest, rp->faults * PAGE);
	if (ret)
		return ret;
	if (f.error)
		return bench_err(f.error, "fault handler: %s", strerror(-f.error));
	if (f.bad)
		return bench_err(-EIO, "%" PRIu64 " pages arrived wrong", f.bad);
	qsort(lat, rp->faults, sizeof(*lat), bench_cmp_u64);
	*p50 = bench_percentile(lat, rp->faults, 0.50);
	*p99 = bench_percentile(lat, rp->faults, 0.99);
	return 0;
}

static int measure_probe(struct report *rp)
{
	static uint64_t p50[2][MAX_ROUNDS], p99[2][MAX_ROUNDS];
	uint64_t *lat = calloc(rp->faults, sizeof(*lat)), d50, d99;
	uint8_t *src = src_new(rp->faults);
	int uffd = -1, fd = -1, ret;
	bool was_on = true;

	if (!lat || !src) {
		ret = bench_err(-ENOMEM, "out of memory");
		goto out;
	}
	ret = get_probe(&was_on);
	if (!ret)
		ret = set_probe(was_on);
	if (ret) {
		/* not a failure: the placement figures stand on their own */
		snprintf(rp->probe_skipped, sizeof(rp->probe_skipped),
			 "cannot set %s: %s", PROBE_PARAM, strerror(-ret));
		ret = 0;
		goto out;
	}
	/* Blocking: the handler sleeps in read(), as bench fault's floor does. */
	uffd = bench_uffd_new(0);
	if (uffd < 0) {
		ret = uffd;
		goto out;
	}
	fd = context_new(uffd, "bench-probe");
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	/* A discarded warm-up of each. */
	ret = fault_run(rp, uffd, src, false, lat, &d50, &d99);
	if (!ret)
		ret = fault_run(rp, uffd, src, true, lat, &d50, &d99);
	for (unsigned int r = 0; !ret && r < rp->rounds; r++)
		for (unsigned int k = 0; !ret && k < 2; k++) {
			unsigned int on = (k + r) % 2;

			ret = fault_run(rp, uffd, src, on, lat, &p50[on][r], &p99[on][r]);
		}
	set_probe(was_on);
	if (ret)
		goto out;
	for (unsigned int on = 0; on < 2; on++) {
		bench_spread_of(p50[on], rp->rounds, &rp->p50[on]);
		bench_spread_of(p99[on], rp->rounds, &rp->p99[on]);
	}
	rp->probe_measured = true;
out:
	if (fd >= 0)
		close(fd);
	if (uffd >= 0)
		close(uffd);
	if (src)
		munmap(src, rp->faults * PAGE);
	free(lat);
	return ret;
}

/* ---- report --------------------------------------------------------------------------------- */

static double probe_overhead(const struct report *rp)
{
	return bench_ratio(rp->p50[1].median, rp->p50[0].median) - 1;
}

/* Method @m's pages/s in workload @w over its floor @floor's, medians. */
static double place_ratio(const struct report *rp, unsigned int w, unsigned int m,
			  unsigned int floor)
{
	return bench_ratio(rp->place[w][m].pages_per_s.median,
			   rp->place[w][floor].pages_per_s.median);
}

static void json_method(struct json *j, const struct report *rp, unsigned int w,
			unsigned int m)
{
	const struct method *me = &methods[m];

	json_open_object(j, me->name);
	json_string(j, "op", me->zero ? "zeropage" : "copy");
	json_string(j, "call", call_names[me->call]);
	json_u64(j, "ops_per_call", me->call == CALL_BATCH ? me->per_call : 1);
	json_bool(j, "coalesce", me->call == CALL_BATCH &&
		  !(me->flags & PCRAM_BATCH_F_NO_COALESCE));
	bench_json_spread(j, "pages_per_s", &rp->place[w][m].pages_per_s);
	bench_json_spread(j, "ns_per_page", &rp->place[w][m].ns_per_page);
	json_double(j, "ratio_per_page", place_ratio(rp, w, m, me->floor_page), 4);
	json_double(j, "ratio_per_run", place_ratio(rp, w, m, me->floor_run), 4);
	json_close_object(j);
}

static void json_probe_side(struct json *j, const char *key, const struct report *rp,
			    unsigned int on)
{
	json_open_object(j, key);
	bench_json_spread(j, "p50_ns", &rp->p50[on]);
	bench_json_spread(j, "p99_ns", &rp->p99[on]);
	json_close_object(j);
}

static void print_json(const struct report *rp)
{
	struct json j;

	bench_json_begin(&j, "batch", &rp->uts);
	json_u64(&j, "cpus", rp->cpus);
	json_int(&j, "cpu", rp->cpu);
	json_u64(&j, "rounds", rp->rounds);
	if (rp->probe_measured)
		json_double(&j, "probe_overhead", probe_overhead(rp), 4);
	else
		json_null(&j, "probe_overhead");

	json_open_object(&j, "place");
	json_u64(&j, "page_size", PAGE);
	json_u64(&j, "pages_per_run", rp->pages);
	json_u64(&j, "area_pages", 2 * rp->pages);
	json_u64(&j, "random_seed", RANDOM_SEED);
	json_open_object(&j, "workloads");
	for (unsigned int w = 0; w < NR_WORKLOADS; w++) {
		json_open_object(&j, workload_names[w]);
		bench_json_spread(&j, "runs", &rp->runs[w]);
		json_open_object(&j, "methods");
		for (unsigned int m = 0; m < NR_METHODS; m++)
			json_method(&j, rp, w, m);
		json_close_object(&j);
		json_close_object(&j);
	}
	json_close_object(&j);
	json_close_object(&j);

	json_open_object(&j, "probe");
	json_u64(&j, "faults_per_run", rp->faults);
	json_string(&j, "placement", "same-cpu");
	if (rp->probe_measured) {
		json_probe_side(&j, "off", rp, 0);
		json_probe_side(&j, "on", rp, 1);
		json_null(&j, "skipped");
	} else {
		json_null(&j, "off");
		json_null(&j, "on");
		json_string(&j, "skipped", rp->probe_skipped);
	}
	json_close_object(&j);
	bench_json_end(&j);
}

/*
 * "median (min max)": the median right-aligned in @width, the rest padded
 * to @rest (0: the last column).
 */
static void print_spread(const struct bench_spread *s, int width, int rest)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "(%" PRIu64 " %" PRIu64 ")", s->min, s->max);
	printf(" %*" PRIu64 " %-*s", width, s->median, rest, buf);
}

/* What workload @w places, and what that makes of the per-run floor. */
static void print_workload_head(const struct report *rp, unsigned int w)
{
	const struct bench_spread *runs = &rp->runs[w];

	switch (w) {
	case W_CONTIGUOUS:
		printf("%s: pages 0 to %" PRIu64 ", in order", workload_names[w], rp->pages - 1);
		break;
	case W_SCATTERED:
		printf("%s: every other page, in order", workload_names[w]);
		break;
	case W_RANDOM:
		printf("%s: %" PRIu64 " pages drawn at random (seed %#llx + round)",
		       workload_names[w], rp->pages, (unsigned long long)RANDOM_SEED);
		break;
	}
	if (runs->min == runs->max)
		printf("; %" PRIu64 " run%s\n", runs->median, runs->median == 1 ? "" : "s");
	else
		printf("; %" PRIu64 " runs (%" PRIu64 " to %" PRIu64 ")\n", runs->median,
		       runs->min, runs->max);
	/* Printed all the same: the figures say what the floor costs there. */
	if (runs->min == rp->pages)
		printf("  (no two pages in a row are contiguous: ioctl-run and zero-run are\n"
		       "  one call a page here, the per-page floors)\n");
	else if (runs->min * 10 >= rp->pages * 9)
		printf("  (few pages in a row are contiguous: ioctl-run and zero-run are\n"
		       "  nearly one call a page here, the per-page floors)\n");
}

static void print_workload(const struct report *rp, unsigned int w)
{
	print_workload_head(rp, w);
	printf("  %-15s %10s %-19s %7s %-13s %7s %7s\n", "method", "pages/s", "(min max)",
	       "ns/page", "(min max)", "/page", "/run");
	for (unsigned int m = 0; m < NR_METHODS; m++) {
		printf("  %-15s", methods[m].name);
		print_spread(&rp->place[w][m].pages_per_s, 10, 19);
		print_spread(&rp->place[w][m].ns_per_page, 7, 13);
		printf(" %6.2fx %6.2fx\n", place_ratio(rp, w, m, methods[m].floor_page),
		       place_ratio(rp, w, m, methods[m].floor_run));
	}
	printf("\n");
}

static void print_text(const struct report *rp)
{
	printf("pcram bench batch: PCRAM_IOC_BATCH against UFFDIO_COPY, "
	       "and the latency probe's cost\n");
	printf("kernel %s %s, %u CPUs, all threads on CPU %d, libpcram %s\n",
	       rp->uts.release, rp->uts.machine, rp->cpus, rp->cpu, pcram_version());
	printf("method: %u rounds, methods rotating; each figure the median of the rounds,\n"
	       "(min max) over the rounds beside it\n\n", rp->rounds);
	printf("placing %" PRIu64 " pages of 4K into an area of %" PRIu64 ", nobody faulting.\n"
	       "Floors: one UFFDIO_COPY a page (ioctl), one a contiguous run of the order\n"
	       "(ioctl-run: what libpcram does with a run); /page, /run: pages/s over theirs\n"
	       "(zero-*: UFFDIO_ZEROPAGE, over zero-ioctl and zero-run); batch64-single:\n"
	       "one userfaultfd call per op, wakes still joined\n\n",
	       rp->pages, 2 * rp->pages);
	for (unsigned int w = 0; w < NR_WORKLOADS; w++)
		print_workload(rp, w);
	printf("fault round trip, %" PRIu64 " faults a run, bare handler, same CPU:\n",
	       rp->faults);
	if (!rp->probe_measured) {
		printf("  skipped: %s\n", rp->probe_skipped);
		return;
	}
	printf("  %-15s %10s %-19s %10s %s\n", "probe", "p50 ns", "(min max)", "p99 ns",
	       "(min max)");
	for (unsigned int on = 0; on < 2; on++) {
		printf("  %-15s", on ? "on" : "off");
		print_spread(&rp->p50[on], 10, 19);
		print_spread(&rp->p99[on], 10, 0);
		printf("\n");
	}
	printf("  probe_overhead (p50 on / p50 off - 1): %.4f\n", probe_overhead(rp));
}

/* Why pcram.ko is not there, and where the benchmark can run. */
static const char *module_absent_reason(void)
{
	/* /proc/modules exists exactly when the kernel can load modules */
	if (access("/proc/modules", F_OK))
		return "pcram.ko is not loaded, and this kernel cannot load modules "
		       "(no /proc/modules): run it where pcram.ko loads, such as the "
		       "test VM ('make vmcheck')";
	return "pcram.ko is not loaded: load it with 'pcram module load' (as root)";
}

int bench_batch_main(int argc, char **argv)
{
	static struct report rp;
	struct bench_args a;
	int ret;

	ret = bench_parse_args(argc, argv, MAX_PAGES, MAX_ROUNDS, &a);
	if (ret >= 0)
		return ret;

	memset(&rp, 0, sizeof(rp));
	uname(&rp.uts);
	rp.pages = a.pages ? a.pages : a.quick ? QUICK_PAGES : DEFAULT_PAGES;
	rp.faults = a.pages ? a.pages : a.quick ? QUICK_FAULTS : DEFAULT_FAULTS;
	rp.rounds = a.rounds ? a.rounds : a.quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
	if (bench_base_pages_4k())
		return fail("bench", "batch: %s", bench_errbuf);
	if (access("/sys/module/pcram", F_OK))
		return fail("bench", "batch: %s", module_absent_reason());
	ret = bench_cpus(&rp.cpus, &rp.cpu, 1);
	if (!ret)
		ret = bench_pin(rp.cpu);
	if (!ret)
		ret = measure_placement(&rp);
	if (!ret)
		ret = measure_probe(&rp);
	if (ret)
		return fail("bench", "batch: %s", bench_errbuf[0] ? bench_errbuf : strerror(-ret));
	if (a.json)
		print_json(&rp);
	else
		print_text(&rp);
	return 0;
}
