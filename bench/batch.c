// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram bench batch: what pcram.ko's PCRAM_IOC_BATCH gains over one
 * UFFDIO_COPY per page, and what its fault-latency probe costs a fault.
 *
 * Placement: 4 KiB pages copied into a registered, empty destination,
 * nobody faulting, by one UFFDIO_COPY ioctl per page (the floor every
 * handler has) and by PCRAM_IOC_BATCH of 16, 64 and 256 ops, plus 64 ops
 * with PCRAM_BATCH_F_NO_COALESCE to tell the system calls saved from the
 * contiguous pages joined. Each run zaps the destination first (outside
 * the clock), so every run places into the same page tables; methods
 * rotate their order each round and the figure is the median of rounds.
 *
 * Probe: the fault round trip of bench fault's floor (a bare handler that
 * reads one message and UFFDIO_COPYs the page), on a userfaultfd attached
 * to a pcram context, with the probe parameter on and off in alternating
 * runs. Handler and faulting thread share one CPU, as bench fault's rows
 * do: a cross-CPU wakeup on a virtual machine is noise far above the
 * probe's cost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
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
#include <sys/syscall.h>
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

/* The targets. */
#define TARGET_RATIO_BATCH64 1.5
#define TARGET_PROBE_OVERHEAD 0.05

#define DEFAULT_PAGES 4096
#define DEFAULT_FAULTS 2048
#define DEFAULT_ROUNDS 5
#define QUICK_PAGES 256
#define QUICK_FAULTS 128
#define QUICK_ROUNDS 2
#define MAX_ROUNDS 101
#define MAX_PAGES (1U << 20)

#define PROBE_PARAM "/sys/module/pcram/parameters/probe"

struct method {
	const char *name;
	unsigned int per_call;	/* ops a PCRAM_IOC_BATCH; 0: one ioctl each */
	uint32_t flags;
	bool zero;		/* UFFDIO_ZEROPAGE instead of UFFDIO_COPY */
	unsigned int base;	/* the method its ratio is taken against */
	const char *ratio_key;
};

/*
 * The zero-page methods place without allocating or copying a page: what
 * is left is the per-call cost a batch saves, which copying 4 KiB under
 * TCG (an emulated rep movsb) otherwise hides.
 */
static const struct method methods[] = {
	{ "ioctl", 0, 0, false, 0, NULL },
	{ "batch16", 16, 0, false, 0, "ratio_batch16" },
	{ "batch64", 64, 0, false, 0, "ratio_batch64" },
	{ "batch256", 256, 0, false, 0, "ratio_batch256" },
	{ "batch64-single", 64, PCRAM_BATCH_F_NO_COALESCE, false, 0, "ratio_batch64_single" },
	{ "zero-ioctl", 0, 0, true, 5, NULL },
	{ "zero-batch64", 64, 0, true, 5, "ratio_zero_batch64" },
};

#define NR_METHODS (sizeof(methods) / sizeof(methods[0]))
#define M_IOCTL 0
#define M_BATCH64 2

struct report {
	struct utsname uts;
	unsigned int cpus;
	int cpu;
	unsigned int rounds;
	uint64_t pages;
	uint64_t ns_per_page[NR_METHODS];	/* medians */
	uint64_t pages_per_s[NR_METHODS];
	uint64_t faults;
	bool probe_measured;
	char probe_skipped[160];
	uint64_t p50[2], p99[2];		/* [0] probe off, [1] on */
};

static int uffd_new(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return bench_err(-errno, "userfaultfd: %s", strerror(errno));
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return bench_err(-errno, "UFFDIO_API: %s", strerror(errno));
	}
	return fd;
}

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

/* ---- placement ------------------------------------------------------------------------------ */

struct placer {
	int uffd, fd;
	uint8_t *dest, *src;
	uint64_t pages;
	struct pcram_batch_op ops[256];
};

/* One run of @m: the ns it took, or -errno. */
static int64_t place_run(struct placer *pl, const struct method *m)
{
	uint64_t t0, t1;

	if (madvise(pl->dest, pl->pages * PAGE, MADV_DONTNEED))
		return bench_err(-errno, "MADV_DONTNEED: %s", strerror(errno));
	t0 = mono_ns();
	if (!m->per_call && m->zero) {
		for (uint64_t p = 0; p < pl->pages; p++) {
			struct uffdio_zeropage z = {
				.range = { .start = (uintptr_t)(pl->dest + p * PAGE), .len = PAGE },
			};

			if (ioctl(pl->uffd, UFFDIO_ZEROPAGE, &z))
				return bench_err(-errno, "UFFDIO_ZEROPAGE: %s", strerror(errno));
		}
	} else if (!m->per_call) {
		for (uint64_t p = 0; p < pl->pages; p++) {
			struct uffdio_copy c = {
				.dst = (uintptr_t)(pl->dest + p * PAGE),
				.src = (uintptr_t)(pl->src + p * PAGE),
				.len = PAGE,
			};

			if (ioctl(pl->uffd, UFFDIO_COPY, &c))
				return bench_err(-errno, "UFFDIO_COPY: %s", strerror(errno));
		}
	} else {
		for (uint64_t p = 0; p < pl->pages; p += m->per_call) {
			uint64_t n = pl->pages - p < m->per_call ? pl->pages - p : m->per_call;
			int ret;

			for (uint64_t i = 0; i < n; i++) {
				struct pcram_batch_op *op = &pl->ops[i];

				memset(op, 0, sizeof(*op));
				if (m->zero) {
					op->op = PCRAM_BATCH_OP_ZEROPAGE;
					op->zeropage.range.start =
						(uintptr_t)(pl->dest + (p + i) * PAGE);
					op->zeropage.range.len = PAGE;
					continue;
				}
				op->op = PCRAM_BATCH_OP_COPY;
				op->copy.dst = (uintptr_t)(pl->dest + (p + i) * PAGE);
				op->copy.src = (uintptr_t)(pl->src + (p + i) * PAGE);
				op->copy.len = PAGE;
			}
			ret = pcram_kmod_batch(pl->fd, pl->ops, (unsigned int)n, m->flags);
			if (ret != (int)n)
				return bench_err(ret < 0 ? ret : -EIO,
						 "PCRAM_IOC_BATCH: %d of %" PRIu64 " ops: %s", ret,
						 n, strerror(ret < 0 ? -ret : -pl->ops[ret].result));
		}
	}
	t1 = mono_ns();
	for (uint64_t p = 0; p < pl->pages; p++) {
		const uint64_t *w = (const uint64_t *)(pl->dest + p * PAGE);
		uint64_t want = m->zero ? 0 : bench_pattern(p);

		if (w[0] != want || w[PAGE / 8 - 1] != want)
			return bench_err(-EIO, "%s: page %" PRIu64 " arrived wrong", m->name, p);
	}
	return (int64_t)(t1 - t0);
}

static int measure_placement(struct report *rp)
{
	static uint64_t ns[NR_METHODS][MAX_ROUNDS];
	struct placer *pl = calloc(1, sizeof(*pl));
	int ret = -ENOMEM;

	if (!pl)
		return bench_err(-ENOMEM, "out of memory");
	pl->pages = rp->pages;
	pl->uffd = uffd_new();
	if (pl->uffd < 0) {
		ret = pl->uffd;
		goto out;
	}
	pl->fd = context_new(pl->uffd, "bench-batch");
	if (pl->fd < 0) {
		ret = pl->fd;
		goto out_uffd;
	}
	pl->dest = dest_new(pl->uffd, pl->pages);
	pl->src = src_new(pl->pages);
	ret = -ENOMEM;
	if (!pl->dest || !pl->src)
		goto out_maps;
	/* A discarded warm-up of each: first runs pay for first uses. */
	for (unsigned int m = 0; m < NR_METHODS; m++) {
		int64_t t = place_run(pl, &methods[m]);

		if (t < 0) {
			ret = (int)t;
			goto out_maps;
		}
	}
	for (unsigned int r = 0; r < rp->rounds; r++) {
		for (unsigned int k = 0; k < NR_METHODS; k++) {
			unsigned int m = (k + r) % NR_METHODS;	/* rotate the order */
			int64_t t = place_run(pl, &methods[m]);

			if (t < 0) {
				ret = (int)t;
				goto out_maps;
			}
			ns[m][r] = (uint64_t)t;
		}
	}
	for (unsigned int m = 0; m < NR_METHODS; m++) {
		uint64_t med = bench_median_u64(ns[m], rp->rounds);

		rp->ns_per_page[m] = (med + pl->pages / 2) / pl->pages;
		rp->pages_per_s[m] = med ? pl->pages * 1000000000ULL / med : 0;
	}
	ret = 0;
out_maps:
	if (pl->src)
		munmap(pl->src, pl->pages * PAGE);
	if (pl->dest)
		munmap(pl->dest, pl->pages * PAGE);
	close(pl->fd);
out_uffd:
	close(pl->uffd);
out:
	free(pl);
	return ret;
}

/* ---- the probe's cost ----------------------------------------------------------------------- */

struct fault_run {
	int uffd;
	int cpu;
	uint8_t *dest;
	const uint8_t *src;
	uint64_t n;
	uint64_t *lat;
	int error;
	uint64_t bad;
};

/* The floor of bench fault: poll, read one message, UFFDIO_COPY. */
static void *handler_main(void *arg)
{
	struct fault_run *f = arg;
	uint64_t served = 0;

	if (bench_pin(f->cpu))
		f->error = -EPERM;
	while (served < f->n) {
		struct pollfd pfd = { .fd = f->uffd, .events = POLLIN };
		struct uffd_msg msg;
		struct uffdio_copy c;
		uint64_t addr;
		int n = poll(&pfd, 1, 10000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			f->error = n ? -errno : -ETIMEDOUT;
			break;
		}
		if (read(f->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		addr = msg.arg.pagefault.address & ~(PAGE - 1);
		c = (struct uffdio_copy) {
			.dst = addr,
			.src = (uintptr_t)(f->src + (addr - (uintptr_t)f->dest)),
			.len = PAGE,
		};
		while (ioctl(f->uffd, UFFDIO_COPY, &c) && errno == EAGAIN)
			c.copy = 0;
		served++;
	}
	return NULL;
}

static void *faulter_main(void *arg)
{
	struct fault_run *f = arg;

	bench_pin(f->cpu);
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
	struct fault_run f = { .uffd = uffd, .cpu = rp->cpu, .src = src, .n = rp->faults,
			       .lat = lat };
	pthread_t h, t;
	int ret = set_probe(on);

	if (ret)
		return bench_err(ret, "%s: %s", PROBE_PARAM, strerror(-ret));
	f.dest = dest_new(uffd, rp->faults);
	if (!f.dest)
		return -ENOMEM;
	if (pthread_create(&h, NULL, handler_main, &f)) {
		munmap(f.dest, rp->faults * PAGE);
		return bench_err(-EAGAIN, "pthread_create failed");
	}
	if (pthread_create(&t, NULL, faulter_main, &f)) {
		/* the handler gives up after 10 s without a fault */
		pthread_join(h, NULL);
		munmap(f.dest, rp->faults * PAGE);
		return bench_err(-EAGAIN, "pthread_create failed");
	}
	pthread_join(t, NULL);
	pthread_join(h, NULL);
	munmap(f.dest, rp->faults * PAGE);
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
	uffd = uffd_new();
	if (uffd < 0) {
		ret = uffd;
		goto out;
	}
	fd = context_new(uffd, "bench-probe");
	if (fd < 0) {
		ret = fd;
		goto out;
	}
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
		rp->p50[on] = bench_median_u64(p50[on], rp->rounds);
		rp->p99[on] = bench_median_u64(p99[on], rp->rounds);
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

static double overhead(const struct report *rp)
{
	return bench_ratio(rp->p50[1], rp->p50[0]) - 1;
}

static bool target_met(const struct report *rp)
{
	return bench_ratio(rp->pages_per_s[M_BATCH64], rp->pages_per_s[M_IOCTL]) >=
	       TARGET_RATIO_BATCH64 &&
	       rp->probe_measured && overhead(rp) <= TARGET_PROBE_OVERHEAD;
}

static void print_json(const struct report *rp)
{
	struct json j;

	json_init(&j, stdout);
	json_open_object(&j, NULL);
	json_string(&j, "benchmark", "batch");
	json_string(&j, "version", pcram_version());
	json_string(&j, "kernel", rp->uts.release);
	json_string(&j, "machine", rp->uts.machine);
	json_u64(&j, "cpus", rp->cpus);
	json_int(&j, "cpu", rp->cpu);
	json_u64(&j, "rounds", rp->rounds);
	for (unsigned int m = 0; m < NR_METHODS; m++)
		if (methods[m].ratio_key)
			json_double(&j, methods[m].ratio_key,
				    bench_ratio(rp->pages_per_s[m],
						rp->pages_per_s[methods[m].base]), 4);
	if (rp->probe_measured)
		json_double(&j, "probe_overhead", overhead(rp), 4);
	else
		json_null(&j, "probe_overhead");
	json_open_object(&j, "target");
	json_double(&j, "ratio_batch64", TARGET_RATIO_BATCH64, 2);
	json_double(&j, "probe_overhead", TARGET_PROBE_OVERHEAD, 2);
	json_bool(&j, "met", target_met(rp));
	json_close_object(&j);

	json_open_object(&j, "place");
	json_u64(&j, "page_size", PAGE);
	json_u64(&j, "pages_per_run", rp->pages);
	json_open_array(&j, "methods");
	for (unsigned int m = 0; m < NR_METHODS; m++) {
		json_open_object(&j, NULL);
		json_string(&j, "name", methods[m].name);
		json_string(&j, "op", methods[m].zero ? "zeropage" : "copy");
		json_u64(&j, "ops_per_call", methods[m].per_call ? methods[m].per_call : 1);
		json_bool(&j, "coalesce", methods[m].per_call &&
			  !(methods[m].flags & PCRAM_BATCH_F_NO_COALESCE));
		json_u64(&j, "pages_per_s", rp->pages_per_s[m]);
		json_u64(&j, "ns_per_page", rp->ns_per_page[m]);
		json_close_object(&j);
	}
	json_close_array(&j);
	json_close_object(&j);

	json_open_object(&j, "probe");
	json_u64(&j, "faults_per_run", rp->faults);
	json_string(&j, "placement", "same-cpu");
	if (rp->probe_measured) {
		json_open_object(&j, "off");
		json_u64(&j, "p50_ns", rp->p50[0]);
		json_u64(&j, "p99_ns", rp->p99[0]);
		json_close_object(&j);
		json_open_object(&j, "on");
		json_u64(&j, "p50_ns", rp->p50[1]);
		json_u64(&j, "p99_ns", rp->p99[1]);
		json_close_object(&j);
		json_null(&j, "skipped");
	} else {
		json_null(&j, "off");
		json_null(&j, "on");
		json_string(&j, "skipped", rp->probe_skipped);
	}
	json_close_object(&j);
	json_close_object(&j);
	json_finish(&j);
}

static void print_text(const struct report *rp)
{
	double r64 = bench_ratio(rp->pages_per_s[M_BATCH64], rp->pages_per_s[M_IOCTL]);

	printf("pcram bench batch: PCRAM_IOC_BATCH against one UFFDIO_COPY per page, "
	       "and the latency probe's cost\n");
	printf("kernel %s %s, %u CPUs, all threads on CPU %d, libpcram %s\n",
	       rp->uts.release, rp->uts.machine, rp->cpus, rp->cpu, pcram_version());
	printf("method: %u rounds, methods rotating; each figure the median of the rounds\n\n",
	       rp->rounds);
	printf("placing %" PRIu64 " pages of 4K (contiguous), nobody faulting:\n", rp->pages);
	printf("  %-16s %12s %12s %10s\n", "method", "pages/s", "ns/page", "ratio");
	for (unsigned int m = 0; m < NR_METHODS; m++)
		printf("  %-16s %12" PRIu64 " %12" PRIu64 " %9.2fx\n", methods[m].name,
		       rp->pages_per_s[m], rp->ns_per_page[m],
		       bench_ratio(rp->pages_per_s[m], rp->pages_per_s[methods[m].base]));
	printf("  (ratio: against ioctl, zero-*: against zero-ioctl; batch64-single: one\n"
	       "  userfaultfd call per op, wakes still joined; zero-*: UFFDIO_ZEROPAGE, no copy)\n\n");
	printf("fault round trip, %" PRIu64 " faults a run, bare handler, same CPU:\n",
	       rp->faults);
	if (rp->probe_measured) {
		printf("  %-16s %12s %12s\n", "probe", "p50 ns", "p99 ns");
		printf("  %-16s %12" PRIu64 " %12" PRIu64 "\n", "off", rp->p50[0], rp->p99[0]);
		printf("  %-16s %12" PRIu64 " %12" PRIu64 "\n", "on", rp->p50[1], rp->p99[1]);
		printf("\ntarget: ratio_batch64 %.2f >= %.2f, probe_overhead %.4f <= %.2f: %s\n",
		       r64, TARGET_RATIO_BATCH64, overhead(rp), TARGET_PROBE_OVERHEAD,
		       target_met(rp) ? "met" : "NOT met");
	} else {
		printf("  skipped: %s\n", rp->probe_skipped);
		printf("\ntarget: ratio_batch64 %.2f >= %.2f, probe_overhead not measured: NOT met\n",
		       r64, TARGET_RATIO_BATCH64);
	}
}

int bench_batch_main(int argc, char **argv)
{
	static struct report rp;
	struct bench_args a;
	cpu_set_t set;
	int ret;

	ret = bench_parse_args(argc, argv, MAX_PAGES, MAX_ROUNDS, &a);
	if (ret >= 0)
		return ret;

	memset(&rp, 0, sizeof(rp));
	uname(&rp.uts);
	rp.pages = a.pages ? a.pages : a.quick ? QUICK_PAGES : DEFAULT_PAGES;
	rp.faults = a.pages ? a.pages : a.quick ? QUICK_FAULTS : DEFAULT_FAULTS;
	rp.rounds = a.rounds ? a.rounds : a.quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
	if (sysconf(_SC_PAGESIZE) != PAGE)
		return fail("bench", "batch: measures 4 KiB base pages; this system's are %ld bytes",
			    sysconf(_SC_PAGESIZE));
	if (access("/sys/module/pcram", F_OK))
		return fail("bench", "batch: pcram.ko is not loaded ('pcram module load')");
	if (sched_getaffinity(0, sizeof(set), &set))
		return fail("bench", "batch: sched_getaffinity: %s", strerror(errno));
	rp.cpus = CPU_COUNT(&set);
	for (rp.cpu = 0; !CPU_ISSET(rp.cpu, &set); rp.cpu++)
		;
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
