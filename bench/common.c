// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the benchmarks of 'pcram bench' share, each written once, so that
 * every side of a comparison does a thing the same way: errors, CPUs and
 * threads, userfaultfd, memory and data, figures, JSON, options, loopback
 * TCP and the vCPU simulator.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <pcram.h>

#include "bench.h"
#include "clock.h"
#include "json.h"
#include "migrate.h"
#include "cli.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* ---- errors -------------------------------------------------------------------------------- */

char bench_errbuf[512];

int bench_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(bench_errbuf, sizeof(bench_errbuf), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- CPUs and threads ---------------------------------------------------------------------- */

int bench_cpus(unsigned int *count, int *ids, unsigned int max)
{
	unsigned int n = 0;
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return bench_err(-errno, "sched_getaffinity: %s", strerror(errno));
	*count = (unsigned int)CPU_COUNT(&set);
	for (int c = 0; c < CPU_SETSIZE && n < max; c++)
		if (CPU_ISSET(c, &set))
			ids[n++] = c;
	return 0;
}

int bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int bench_pin_saving(int cpu, cpu_set_t *saved)
{
	if (sched_getaffinity(0, sizeof(*saved), saved))
		return -errno;
	return cpu < 0 ? 0 : bench_pin(cpu);
}

void bench_pin_restore(const cpu_set_t *saved)
{
	sched_setaffinity(0, sizeof(*saved), saved);
}

int bench_thread_on(pthread_t *t, int cpu, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int ret;

	pthread_attr_init(&attr);
	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	ret = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return ret ? bench_err(-ret, "pthread_create: %s", strerror(ret)) : 0;
}

void bench_join(pthread_t t, unsigned int timeout_s, const char *what)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_s;
	if (pthread_timedjoin_np(t, NULL, &ts) == ETIMEDOUT) {
		fprintf(stderr, "%s bench: the %s took over %u s: stuck; giving up "
			"(the stuck threads end with the process)\n", prog, what, timeout_s);
		exit(1);
	}
}

/* ---- userfaultfd --------------------------------------------------------------------------- */

int bench_uffd_new(int flags)
{
	struct uffdio_api api = { .api = UFFD_API };
	int dev, fd = -1;

	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | flags);
		close(dev);
	}
	if (fd < 0)
		fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | flags);
	if (fd < 0 && errno == EPERM)
		fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | flags | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return bench_err(-errno, "no userfaultfd: %s ('pcram probe' says why)",
				 strerror(errno));
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno;

		close(fd);
		return bench_err(-err, "UFFDIO_API: %s", strerror(err));
	}
	return fd;
}

int bench_uffd_copy_page(int uffd, uint64_t page, const void *src, uint64_t page_size)
{
	struct uffdio_copy copy = {
		.dst = page, .src = (uint64_t)(uintptr_t)src, .len = page_size,
	};

	while (ioctl(uffd, UFFDIO_COPY, &copy)) {
		if (errno == EAGAIN) {
			copy.copy = 0;
			continue;
		}
		if (errno == EEXIST) {
			/* Never here when each page is touched once; wake anyway. */
			struct uffdio_range r = { .start = page, .len = page_size };

			ioctl(uffd, UFFDIO_WAKE, &r);
			return 0;
		}
		return -errno;
	}
	return 0;
}

/* ---- memory and data ----------------------------------------------------------------------- */

int bench_base_pages_4k(void)
{
	long size = sysconf(_SC_PAGESIZE);

	if (size != 4 * KIB)
		return bench_err(-EINVAL, "measures 4 KiB base pages; this system's are %ld bytes",
				 size);
	return 0;
}

uint64_t bench_pattern(uint64_t page)
{
	return 0x9e3779b97f4a7c15ULL * (page + 1);
}

int bench_map_source(uint64_t size, uint64_t page_size, uint8_t **src)
{
	uint64_t per_page = page_size / sizeof(uint64_t), head;
	uint8_t *map = mmap(NULL, size + page_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *w;

	if (map == MAP_FAILED)
		return bench_err(-errno, "mapping the %" PRIu64 " MiB source: %s", size / MIB,
				 strerror(errno));
	/* Aligned inside the mapping; the rest of it unmapped. */
	head = -(uintptr_t)map & (page_size - 1);
	if (head)
		munmap(map, head);
	if (page_size - head)
		munmap(map + head + size, page_size - head);
	w = (uint64_t *)(map + head);
	for (uint64_t i = 0; i < size / sizeof(uint64_t); i++)
		w[i] = bench_pattern(i / per_page);
	*src = (uint8_t *)w;
	return 0;
}

int bench_map_dest(uint64_t size, bool huge, uint8_t **dest)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (huge ? MAP_HUGETLB | MAP_HUGE_2MB : 0);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED)
		return bench_err(-errno, "mapping %" PRIu64 " MiB of %s destination memory: %s",
				 size / MIB, huge ? "2 MiB hugetlb" : "anonymous", strerror(errno));
	/* The page size is what is placed: base pages stay base pages. */
	if (!huge)
		madvise(p, size, MADV_NOHUGEPAGE);
	*dest = p;
	return 0;
}

uint64_t bench_huge_pages_usable(uint64_t want, uint64_t min, char *why, size_t size)
{
	long total, free_pages = huge_pages_available(2 << 20, &total);

	if (free_pages < 0) {
		snprintf(why, size, "this kernel has no 2 MiB hugetlbfs pool");
		return 0;
	}
	if (free_pages < 1) {
		snprintf(why, size,
			 "no free 2 MiB huge pages (%ld reserved, 0 free); reserve some with "
			 "'sysctl vm.nr_hugepages=%" PRIu64 "'", total, want);
		return 0;
	}
	if ((uint64_t)free_pages < min) {
		snprintf(why, size,
			 "%ld free 2 MiB huge pages, %" PRIu64 " needed; reserve more with "
			 "'sysctl vm.nr_hugepages=%" PRIu64 "'", free_pages, min,
			 (uint64_t)total + min - (uint64_t)free_pages);
		return 0;
	}
	why[0] = '\0';
	return (uint64_t)free_pages < want ? (uint64_t)free_pages : want;
}

/* ---- figures ------------------------------------------------------------------------------- */

int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t bench_median_u64(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t bench_percentile(const uint64_t *sorted, uint64_t n, double q)
{
	uint64_t rank = (uint64_t)(q * (double)n);

	if ((double)rank < q * (double)n)
		rank++;
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

void bench_spread_of(uint64_t *v, unsigned int n, struct bench_spread *s)
{
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	s->min = n ? v[0] : 0;
	s->max = n ? v[n - 1] : 0;
	s->median = n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

double bench_ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

uint64_t bench_per_s(uint64_t n, uint64_t ns)
{
	return ns ? (uint64_t)((double)n * 1e9 / (double)ns + 0.5) : 0;
}

const char *bench_size_name(uint64_t page_size)
{
	return page_size == HUGE_SIZE ? "2M" : "4K";
}

/* ---- JSON ---------------------------------------------------------------------------------- */

void bench_json_begin(struct json *j, const char *benchmark, const struct utsname *uts)
{
	json_init(j, stdout);
	json_open_object(j, NULL);
	json_string(j, "benchmark", benchmark);
	json_string(j, "version", pcram_version());
	json_string(j, "kernel", uts->release);
	json_string(j, "machine", uts->machine);
}

void bench_json_end(struct json *j)
{
	json_close_object(j);
	json_finish(j);
}

void bench_json_spread(struct json *j, const char *key, const struct bench_spread *s)
{
	json_open_object(j, key);
	json_u64(j, "min", s->min);
	json_u64(j, "median", s->median);
	json_u64(j, "max", s->max);
	json_close_object(j);
}

void bench_json_cpu(struct json *j, const char *key, int cpu)
{
	if (cpu >= 0)
		json_int(j, key, cpu);
	else
		json_null(j, key);
}

bool bench_json_row_begin(struct json *j, const char *key, const char *skipped,
			  uint64_t page_size, uint64_t bytes)
{
	json_open_object(j, key);
	if (skipped[0]) {
		json_string(j, "skipped", skipped);
		json_close_object(j);
		return false;
	}
	json_null(j, "skipped");
	json_u64(j, "page_size", page_size);
	json_u64(j, "bytes", bytes);
	return true;
}

/* ---- options ------------------------------------------------------------------------------- */

int bench_parse_count(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max || *s == '-')
		return -1;
	*out = v;
	return 0;
}

int bench_parse_args(int argc, char **argv, unsigned long max_pages,
		     unsigned long max_rounds, struct bench_args *a)
{
	return bench_parse_args_sized(argc, argv, max_pages, max_rounds, 0, 0, a);
}

int bench_parse_args_sized(int argc, char **argv, unsigned long max_pages,
			   unsigned long max_rounds, unsigned long min_mib,
			   unsigned long max_mib, struct bench_args *a)
{
	static const struct option all[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pages", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct option opts[sizeof(all) / sizeof(all[0])];
	char short_opts[16] = "jr:h";
	unsigned int n = 0;
	int c;

	/* Only the options this benchmark takes: getopt refuses the others. */
	for (unsigned int i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!(all[i].val == 'n' && !max_pages) && !(all[i].val == 's' && !max_mib))
			opts[n++] = all[i];
	if (max_pages)
		strcat(short_opts, "n:");
	if (max_mib)
		strcat(short_opts, "s:");

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, short_opts, opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			a->json = true;
			break;
		case 'n':
			if (bench_parse_count(optarg, 1, max_pages, &a->pages)) {
				fail("bench", "-n %s: want a page count from 1 to %lu", optarg,
				     max_pages);
				return usage("bench", stderr);
			}
			break;
		case 's':
			if (bench_parse_count(optarg, min_mib, max_mib, &a->mib)) {
				fail("bench", "-s %s: want a size in MiB from %lu to %lu", optarg,
				     min_mib, max_mib);
				return usage("bench", stderr);
			}
			break;
		case 'r':
			if (bench_parse_count(optarg, 1, max_rounds, &a->rounds)) {
				fail("bench", "-r %s: want a round count from 1 to %lu", optarg,
				     max_rounds);
				return usage("bench", stderr);
			}
			break;
		case 'q':
			a->quick = true;
			break;
		case 'h':
			return usage("bench", stdout);
		default:
			return usage("bench", stderr);
		}
	}
	if (optind != argc)
		return usage("bench", stderr);
	return -1;
}

/* ---- loopback TCP -------------------------------------------------------------------------- */

int bench_tcp_listen(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return bench_err(-errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 2) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		int err = errno;

		close(fd);
		return bench_err(-err, "listening on 127.0.0.1: %s", strerror(err));
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

int bench_tcp_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return bench_err(-errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		close(fd);
		return bench_err(-err, "connecting to 127.0.0.1:%u: %s", port, strerror(err));
	}
	return fd;
}

int bench_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bench_recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, p + got, len - got, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return got ? -EPIPE : 1;
		got += (size_t)n;
	}
	return 0;
}

/* ---- the vCPU simulator (bench netfault) --------------------------------------------------- */

static uint32_t xorshift32(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static bool vcpu_touched(const struct bench_vcpu *v, uint64_t p)
{
	return v->touched[p / 64] & (1ULL << (p % 64));
}

/*
 * A random page that is missing (the first from a random one), or -1. A
 * page the vCPU touched is there: its own bitmap says so without asking.
 */
static int64_t vcpu_pick_missing(struct bench_vcpu *v)
{
	uint64_t start = xorshift32(&v->seed) % v->nr_pages;

	for (uint64_t i = 0; i < v->nr_pages; i++) {
		uint64_t p = (start + i) % v->nr_pages;

		if (!vcpu_touched(v, p) &&
		    !(v->arrived && v->arrived(v->opaque, v->mem + p * v->page_size)))
			return (int64_t)p;
	}
	return -1;
}

static void *vcpu_main(void *arg)
{
	struct bench_vcpu *v = arg;
	uint64_t words = v->page_size / sizeof(uint64_t);

	while (sem_wait(&v->go) && errno == EINTR)
		;
	while (!atomic_load(&v->abort) && v->n < v->want) {
		int64_t p = vcpu_pick_missing(v);
		volatile uint64_t *page;
		uint64_t t0, t1, x, expect;

		if (p < 0)
			break;	/* something else brought every page */
		v->touched[p / 64] |= 1ULL << (p % 64);
		page = (volatile uint64_t *)(v->mem + (uint64_t)p * v->page_size);
		expect = bench_pattern((uint64_t)p);
		t0 = mono_ns();
		x = page[0];	/* the first touch: a MISSING fault */
		t1 = mono_ns();
		v->lat[v->n++] = t1 - t0;
		if ((x != expect || page[words - 1] != expect) && !v->bad++) {
			v->bad_page = (uint64_t)p;
			v->bad_value = x;
		}
	}
	return NULL;
}

int bench_vcpu_start(struct bench_vcpu *v, int cpu)
{
	int ret;

	v->n = v->bad = 0;
	atomic_store(&v->abort, false);
	v->touched = calloc((v->nr_pages + 63) / 64, sizeof(uint64_t));
	if (!v->touched)
		return bench_err(-ENOMEM, "out of memory");
	sem_init(&v->go, 0, 0);
	ret = bench_thread_on(&v->thread, cpu, vcpu_main, v);
	if (ret) {
		sem_destroy(&v->go);
		free(v->touched);
		v->touched = NULL;
		return ret;
	}
	v->started = true;
	return 0;
}

void bench_vcpu_go(struct bench_vcpu *v)
{
	sem_post(&v->go);
}

void bench_vcpu_abort(struct bench_vcpu *v)
{
	if (!v->started)
		return;
	atomic_store(&v->abort, true);
	sem_post(&v->go);
}

void bench_vcpu_join(struct bench_vcpu *v, unsigned int timeout_s, const char *what)
{
	if (!v->started)
		return;
	bench_join(v->thread, timeout_s, what);
	sem_destroy(&v->go);
	free(v->touched);
	v->touched = NULL;
	v->started = false;
}
