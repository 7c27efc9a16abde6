// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram bench migrate: what a migration over TCP costs next to what TCP
 * alone costs on the same loopback, and what the bulk push does to a fault.
 *
 * Throughput. A whole migration of SIZE bytes over two 127.0.0.1 TCP
 * connections (bulk and urgent, as libpcram expects): its source
 * (pcram_src_serve) in one thread, its destination (pcram_in_*) in another,
 * and nobody touching the memory, so that every page goes on the bulk
 * connection. Timed on the destination, from pcram_in_start() (which sends
 * READY) to pcram_in_wait()'s return (every page placed, the source's
 * closing message read). Beside it, in the same run, raw TCP: the same
 * bytes over one 127.0.0.1 connection, 32 pages a send(2) as the source
 * gathers them (at least 128 KiB), read 256 KiB at a time into a buffer and copied into fresh
 * memory of the same kind, as the destination places pages into fresh
 * memory; timed from the reader's "go" to its last byte. (The raw reader's
 * first touch zeroes each fresh page before the copy, UFFDIO_COPY does
 * not: if anything that flatters the migration.) The ratio is migration
 * over raw. Every page holds non-zero data, so that no page can travel as
 * a zero flag; the source's count of zero pages is shown to prove it, and
 * both destinations are compared with the source byte for byte after
 * every run.
 *
 * Fault latency. A vCPU-like thread on the destination, started at the
 * switchover, touches pages that have not arrived, one after another,
 * with CLOCK_MONOTONIC around the first read of each: touch to data. Two
 * kinds of run of the same block, memory and page choice:
 *
 *   loaded  an ordinary migration: the bulk connection pushes the whole
 *           block at full speed while the thread faults; the thread stops
 *           at its number of samples, or when nothing is missing.
 *   idle    the source is made with PCRAM_SRC_F_NO_PUSH, so that after the
 *           switchover the bulk connection is silent and only requested
 *           pages travel (on the urgent connection). Once the samples are
 *           taken the destination hangs up rather than fault in every
 *           page; the source's ECONNRESET is expected.
 *
 * Runs alternate (raw and migration, idle and loaded), which goes first
 * turning each round. Throughputs are the medians over the rounds; fault
 * percentiles are exact (nearest rank) over the samples of all rounds
 * pooled, since a 2 MiB run has few.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <pcram.h>

#include "bench.h"
#include "clock.h"
#include "json.h"
#include "cli.h"

/* The issue's targets. */
#define TARGET_RATIO_THROUGHPUT 0.80	/* at least */
#define TARGET_RATIO_P99 3.0		/* at most */

#define DEFAULT_MIB 512
#define DEFAULT_ROUNDS 5
#define DEFAULT_SAMPLES 1000		/* faults timed in one run */
#define QUICK_MIB 16
#define QUICK_ROUNDS 2
#define QUICK_SAMPLES 100
#define MIN_MIB 4			/* two 2 MiB pages */
#define MAX_MIB 65536
#define MAX_ROUNDS 101

#define RAW_READ (256 * KIB)		/* what the raw reader asks read(2) for */
#define RAW_SEND (128 * KIB)		/* what the raw writer sends at least */
#define RUN_TIMEOUT_S 300		/* a run that takes longer is stuck */

enum mode { THROUGHPUT, IDLE, LOADED };

/* ---- memory ------------------------------------------------------------------ */

/* The memory one row measures: its page size, and how much. */
struct mem {
	uint64_t page_size;
	uint64_t size;
	bool huge;		/* destinations are 2 MiB hugetlbfs */
	uint8_t *src;		/* the source's RAM, filled */
	void *src_map;		/* ... as mapped (aligned inside) */
	uint64_t src_map_len;
};

/*
 * The source's RAM: private anonymous memory aligned to the page size
 * (the source only reads it; a 2 MiB block needs no huge pages there).
 */
static int mem_init(struct mem *m, uint64_t page_size, uint64_t size, bool huge)
{
	uint64_t words = size / sizeof(uint64_t), per_page = page_size / sizeof(uint64_t);
	uint64_t *w;
	uintptr_t a;

	*m = (struct mem) { .page_size = page_size, .size = size, .huge = huge };
	m->src_map_len = size + page_size;
	m->src_map = mmap(NULL, m->src_map_len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->src_map == MAP_FAILED) {
		m->src_map = NULL;
		return bench_err(-errno, "mapping the %" PRIu64 " MiB source: %s",
				 size / MIB, strerror(errno));
	}
	a = ((uintptr_t)m->src_map + page_size - 1) & ~(uintptr_t)(page_size - 1);
	m->src = (uint8_t *)a;
	w = (uint64_t *)m->src;
	for (uint64_t i = 0; i < words; i++)
		w[i] = bench_pattern(i / per_page);
	return 0;
}

static void mem_free(struct mem *m)
{
	if (m->src_map)
		munmap(m->src_map, m->src_map_len);
	m->src_map = NULL;
}

/* Byte for byte against the source: 0, or -EIO naming the first page off. */
static int check_dest(const struct mem *m, const uint8_t *dest, const char *what)
{
	for (uint64_t off = 0; off < m->size; off += m->page_size)
		if (memcmp(dest + off, m->src + off, m->page_size))
			return bench_err(-EIO, "%s: page %" PRIu64 " arrived wrong", what,
					 off / m->page_size);
	return 0;
}

/* ---- placement -------------------------------------------------------------- */

/*
 * The source's threads on one CPU and the destination's on another, as if
 * they were two hosts; the vCPU thread on a third when there is one (a
 * VM's vCPUs do not run where the migration does), else with the
 * destination. All -1 (nothing pinned) when this process may run on one
 * CPU only. The library's threads inherit the CPU of the thread that makes
 * them: pcram_src_serve()'s from the source thread, pcram_in_start()'s
 * (receivers and the fault thread) from the destination's.
 */
struct placement {
	int src_cpu, dst_cpu, vcpu_cpu;
};

static struct placement pl = { -1, -1, -1 };

static int pick_cpus(unsigned int *cpus)
{
	int picked[3] = { -1, -1, -1 }, n = 0;
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return bench_err(-errno, "sched_getaffinity: %s", strerror(errno));
	*cpus = (unsigned int)CPU_COUNT(&set);
	for (int c = 0; c < CPU_SETSIZE && n < 3; c++)
		if (CPU_ISSET(c, &set))
			picked[n++] = c;
	if (n < 2)
		return 0;
	pl = (struct placement) { picked[0], picked[1], n > 2 ? picked[2] : picked[1] };
	return 0;
}

/* Pin the calling thread to @cpu (-1: leave it), keeping the old set. */
static void pin_self(int cpu, cpu_set_t *saved)
{
	cpu_set_t set;

	sched_getaffinity(0, sizeof(*saved), saved);
	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void unpin_self(const cpu_set_t *saved)
{
	sched_setaffinity(0, sizeof(*saved), saved);
}

/* A thread on @cpu (-1: anywhere this process may run). */
static int start_thread(pthread_t *t, int cpu, void *(*fn)(void *), void *arg)
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

/* ---- raw TCP: the floor ------------------------------------------------------ */

struct raw_writer {
	const struct mem *m;
	int listen_fd;
	int ret;
	char err[256];
};

/* 32 pages a send(2), as the source gathers them, and at least RAW_SEND. */
static void *raw_writer_main(void *arg)
{
	struct raw_writer *w = arg;
	uint64_t chunk = 32 * w->m->page_size < RAW_SEND ? RAW_SEND : 32 * w->m->page_size;
	char go;
	int fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0) {
		w->ret = -errno;
		snprintf(w->err, sizeof(w->err), "raw: accept: %s", strerror(errno));
		return NULL;
	}
	if (read(fd, &go, 1) != 1) {
		w->ret = -EPIPE;
		snprintf(w->err, sizeof(w->err), "raw: the reader went away");
		goto out;
	}
	for (uint64_t off = 0; off < w->m->size && !w->ret; off += chunk) {
		const uint8_t *p = w->m->src + off;
		uint64_t left = w->m->size - off < chunk ? w->m->size - off : chunk;

		while (left) {
			ssize_t n = send(fd, p, left, MSG_NOSIGNAL);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				w->ret = -errno;
				snprintf(w->err, sizeof(w->err), "raw: send: %s", strerror(errno));
				break;
			}
			p += n;
			left -= (uint64_t)n;
		}
	}
out:
	close(fd);
	return NULL;
}

/* One raw TCP transfer of the row's bytes; @ns: how long it took. */
static int run_raw(const struct mem *m, uint64_t *ns)
{
	struct raw_writer w = { .m = m, .listen_fd = -1 };
	uint8_t *dest = NULL, *buf = NULL;
	uint64_t got = 0, t0;
	pthread_t thread;
	cpu_set_t saved;
	uint16_t port;
	int fd = -1, ret;

	ret = bench_map_dest(m->size, m->huge, &dest);
	if (ret)
		return ret;
	buf = malloc(RAW_READ);
	if (!buf) {
		ret = bench_err(-ENOMEM, "out of memory");
		goto out;
	}
	w.listen_fd = bench_tcp_listen(&port);
	if (w.listen_fd < 0) {
		ret = w.listen_fd;
		goto out;
	}
	ret = start_thread(&thread, pl.src_cpu, raw_writer_main, &w);
	if (ret)
		goto out;
	pin_self(pl.dst_cpu, &saved);
	fd = bench_tcp_connect(port);
	if (fd < 0) {
		shutdown(w.listen_fd, SHUT_RDWR);	/* the writer out of accept() */
		ret = fd;
		goto join;
	}
	t0 = mono_ns();
	if (write(fd, "g", 1) != 1) {
		ret = bench_err(-errno, "raw: write: %s", strerror(errno));
		goto join;
	}
	while (got < m->size) {
		ssize_t n = read(fd, buf, RAW_READ);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = bench_err(n ? -errno : -EPIPE, "raw: read: %s",
					n ? strerror(errno) : "the writer hung up early");
			break;
		}
		memcpy(dest + got, buf, (size_t)n);
		got += (uint64_t)n;
	}
	*ns = mono_ns() - t0;
join:
	unpin_self(&saved);
	if (fd >= 0)
		close(fd);
	bench_join(thread, RUN_TIMEOUT_S, "raw TCP transfer");
	/* The writer's reason, when it is why the stream ended early. */
	if (w.ret && (!ret || ret == -EPIPE))
		ret = bench_err(w.ret, "%s", w.err);
	if (!ret)
		ret = check_dest(m, dest, "raw TCP");
out:
	if (w.listen_fd >= 0)
		close(w.listen_fd);
	free(buf);
	munmap(dest, m->size);
	return ret;
}

/* ---- migration ------------------------------------------------------------------ */

struct source {
	struct pcram_src *src;
	int listen_fd;
	int fds[2];
	int ret;
	char err[256];
};

/* Take the destination's two connections, in whichever order, and serve. */
static void *source_main(void *arg)
{
	struct source *s = arg;

	for (int i = 0; i < 2; i++) {
		s->fds[i] = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (s->fds[i] < 0) {
			s->ret = -errno;
			snprintf(s->err, sizeof(s->err), "source: accept: %s", strerror(errno));
			return NULL;
		}
	}
	s->ret = pcram_src_serve(s->src, s->fds[0], s->fds[1]);
	if (s->ret)
		snprintf(s->err, sizeof(s->err), "source: %s", pcram_src_strerror(s->src));
	return NULL;
}

/* The vCPU-like thread: faults on pages not yet arrived, timing each. */
struct vcpu {
	pthread_t thread;
	sem_t go;			/* posted at the switchover */
	_Atomic bool abort;		/* the run failed before it */
	const struct pcram_dst *dst;
	uint8_t *dest;
	uint64_t page_size, nr_pages;
	uint64_t want;			/* samples */
	uint64_t *lat, n;		/* the samples, ns */
	uint32_t seed;
	uint64_t bad, bad_page, bad_value;
};

static void vcpu_switchover(void *opaque)
{
	sem_post(&((struct vcpu *)opaque)->go);
}

static uint32_t xorshift32(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A random page that has not arrived (the first from a random one), or -1. */
static int64_t pick_missing(struct vcpu *v)
{
	uint64_t start = xorshift32(&v->seed) % v->nr_pages;

	if (!pcram_dst_pages_missing(v->dst))
		return -1;
	for (uint64_t i = 0; i < v->nr_pages; i++) {
		uint64_t p = (start + i) % v->nr_pages;

		if (pcram_dst_page_received(v->dst, v->dest + p * v->page_size) == 0)
			return (int64_t)p;
	}
	return -1;
}

static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	uint64_t words = v->page_size / sizeof(uint64_t);

	while (sem_wait(&v->go) && errno == EINTR)
		;
	while (!v->abort && v->n < v->want) {
		int64_t p = pick_missing(v);
		volatile uint64_t *page;
		uint64_t t0, t1, x, expect;

		if (p < 0)
			break;	/* the bulk push brought everything */
		page = (volatile uint64_t *)(v->dest + (uint64_t)p * v->page_size);
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

struct mig_result {
	uint64_t ns;			/* THROUGHPUT: start to wait's return */
	uint64_t samples;		/* faults timed (appended to the caller's array) */
	uint64_t requests;		/* the destination's requests */
	uint64_t pages_bulk;		/* pages placed from the bulk connection */
	uint64_t bulk_ns;		/* LOADED: switchover to the last page in */
	uint64_t zero_pages;		/* sent as a zero flag by the source */
	uint64_t verified;		/* pages found equal to the source's */
};

/*
 * One migration of the row's memory. THROUGHPUT: nobody touches it. LOADED
 * and IDLE: a vCPU thread takes up to @want samples into @lat; IDLE with a
 * source that pushes nothing, ended by hanging up.
 */
static int run_migration(const struct mem *m, enum mode mode, uint64_t want,
			 uint32_t seed, uint64_t *lat, struct mig_result *res)
{
	struct source s = { .listen_fd = -1, .fds = { -1, -1 } };
	struct pcram_src_options so = { .flags = mode == IDLE ? PCRAM_SRC_F_NO_PUSH : 0 };
	struct pcram_src_block sb = {
		.name = "bench", .host = m->src, .length = m->size, .page_size = m->page_size,
	};
	struct vcpu v = {
		.page_size = m->page_size, .nr_pages = m->size / m->page_size,
		.want = want, .lat = lat, .seed = seed,
	};
	struct pcram_in_options io = { .switchover = vcpu_switchover, .opaque = &v };
	struct pcram_block blk = {
		.name = "bench", .length = m->size, .page_size = m->page_size,
		.type = m->huge ? PCRAM_BLOCK_HUGETLB : PCRAM_BLOCK_ANON, .fd = -1,
	};
	struct pcram_remote_block rb;
	struct pcram_in_stats is;
	struct pcram_src_stats ss;
	struct pcram_dst_stats ds;
	struct pcram_in *in = NULL;
	struct pcram_dst *dst = NULL;
	bool source_up = false, vcpu_up = false, pinned = false;
	cpu_set_t saved;
	pthread_t source;
	int bulk = -1, urgent = -1, ret;
	uint16_t port;
	uint64_t t0;

	memset(res, 0, sizeof(*res));
	ret = bench_map_dest(m->size, m->huge, &v.dest);
	if (ret)
		return ret;
	blk.host = v.dest;
	sem_init(&v.go, 0, 0);

	ret = pcram_src_new(&s.src, &so);
	if (ret) {
		bench_err(ret, "pcram_src_new: %s", strerror(-ret));
		goto out;
	}
	ret = pcram_src_add_block(s.src, &sb);
	if (ret) {
		bench_err(ret, "source: %s", pcram_src_strerror(s.src));
		goto out;
	}
	s.listen_fd = bench_tcp_listen(&port);
	if (s.listen_fd < 0) {
		ret = s.listen_fd;
		goto out;
	}
	ret = start_thread(&source, pl.src_cpu, source_main, &s);
	if (ret)
		goto out;
	source_up = true;
	/* The destination's threads, the library's included, on its CPU. */
	pin_self(pl.dst_cpu, &saved);
	pinned = true;

	/* The destination: bulk, then urgent. */
	bulk = bench_tcp_connect(port);
	urgent = bulk < 0 ? -1 : bench_tcp_connect(port);
	if (bulk < 0 || urgent < 0) {
		ret = bulk < 0 ? bulk : urgent;
		goto out;
	}
	ret = pcram_in_new(&in, mode == THROUGHPUT ? NULL : &io);
	if (ret) {
		bench_err(ret, "pcram_in_new: %s", strerror(-ret));
		goto out;
	}
	ret = pcram_in_connect(in, bulk, urgent, &rb, 1);
	if (ret != 1) {
		ret = bench_err(ret < 0 ? ret : -EPROTO, "destination: %s",
				ret < 0 ? pcram_in_strerror(in) : "the source has other blocks");
		goto out;
	}
	ret = pcram_dst_new(&dst, NULL);
	if (!ret)
		ret = pcram_dst_add_block(dst, &blk);
	if (!ret)
		ret = pcram_dst_incoming_init(dst);
	if (!ret)
		ret = pcram_dst_prepare_discard(dst);
	if (ret) {
		bench_err(ret, "destination: %s", dst ? pcram_dst_strerror(dst) : strerror(-ret));
		goto out;
	}
	if (mode != THROUGHPUT) {
		v.dst = dst;
		ret = start_thread(&v.thread, pl.vcpu_cpu, vcpu_main, &v);
		if (ret)
			goto out;
		vcpu_up = true;
	}

	t0 = mono_ns();
	ret = pcram_in_start(in, dst);
	if (ret) {
		bench_err(ret, "destination: %s", pcram_in_strerror(in));
		goto out;
	}
	if (mode == IDLE) {
		/* The samples, then hang up: the rest would never come. */
		bench_join(v.thread, RUN_TIMEOUT_S, "idle fault run");
		vcpu_up = false;
		shutdown(bulk, SHUT_RDWR);
		shutdown(urgent, SHUT_RDWR);
		ret = pcram_in_wait(in, RUN_TIMEOUT_S * 1000);
		if (ret != -ECONNRESET) {
			ret = bench_err(ret ? ret : -EPROTO, "idle run: hanging up: %s",
					ret ? pcram_in_strerror(in) : "the migration completed");
			goto out;
		}
		ret = 0;
	} else {
		ret = pcram_in_wait(in, RUN_TIMEOUT_S * 1000);
		res->ns = mono_ns() - t0;
		if (ret) {
			bench_err(ret, "destination: %s", pcram_in_strerror(in));
			goto out;
		}
	}

out:
	if (pinned)
		unpin_self(&saved);
	if (ret) {
		/* Unblock everyone: the vCPU, the source, the receivers. */
		v.abort = true;
		sem_post(&v.go);
		if (bulk >= 0)
			shutdown(bulk, SHUT_RDWR);
		if (urgent >= 0)
			shutdown(urgent, SHUT_RDWR);
		if (s.listen_fd >= 0)
			shutdown(s.listen_fd, SHUT_RDWR);	/* out of accept() */
		/* The receivers see the hang-up and stop: nothing places after. */
		if (in)
			pcram_in_wait(in, RUN_TIMEOUT_S * 1000);
	}
	/* Unregisters: a vCPU blocked on a page that never came reads zeros. */
	if (dst)
		pcram_dst_cleanup(dst);
	if (vcpu_up)
		bench_join(v.thread, RUN_TIMEOUT_S, "fault run");
	if (source_up) {
		bench_join(source, RUN_TIMEOUT_S, "source");
		if (!ret && s.ret && !(mode == IDLE && s.ret == -ECONNRESET))
			ret = bench_err(s.ret, "%s", s.err);
	}
	if (!ret && v.bad)
		ret = bench_err(-EIO, "page %" PRIu64 " read %#" PRIx64 " on a fault, not %#" PRIx64
				" (%" PRIu64 " pages wrong)", v.bad_page, v.bad_value,
				bench_pattern(v.bad_page), v.bad);
	if (!ret) {
		/* After cleanup, as statistics may be read. */
		pcram_in_stats(in, &is, sizeof(is));
		pcram_src_stats(s.src, &ss, sizeof(ss));
		pcram_dst_stats(dst, &ds, sizeof(ds));
		res->samples = v.n;
		res->requests = ds.requests;
		res->pages_bulk = is.pages_bulk;
		res->bulk_ns = is.complete_ns > is.switchover_ns ?
			       is.complete_ns - is.switchover_ns : 0;
		res->zero_pages = ss.zero_pages;
		if (mode == IDLE) {
			res->verified = v.n;	/* each sample read its own page */
		} else {
			ret = check_dest(m, v.dest, "migration");
			res->verified = ret ? 0 : v.nr_pages;
		}
	}
	pcram_in_free(in);
	pcram_dst_free(dst);
	pcram_src_free(s.src);
	for (int i = 0; i < 2; i++)
		if (s.fds[i] >= 0)
			close(s.fds[i]);
	if (bulk >= 0)
		close(bulk);
	if (urgent >= 0)
		close(urgent);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	sem_destroy(&v.go);
	munmap(v.dest, m->size);
	return ret;
}

/* ---- a row: one page size ------------------------------------------------------ */

struct fault_side {
	uint64_t samples, requests;
	uint64_t p50, p99, max;		/* ns; 0 without samples */
};

struct row {
	uint64_t page_size;
	uint64_t bytes;
	char skipped[256];		/* "" when measured */
	/* throughput, bytes/s: medians over the rounds */
	uint64_t raw_bps, mig_bps;
	uint64_t zero_pages;		/* sent as zero flags, all runs */
	uint64_t pages_verified;	/* byte for byte after the migrations */
	uint64_t migrations;		/* ... of this many */
	/* faults */
	uint64_t samples_per_run;
	struct fault_side idle, loaded;
	uint64_t loaded_bulk_bps;	/* the push during the loaded runs, median */
	uint64_t loaded_bulk_pages;
};

static void summarize(uint64_t *lat, uint64_t n, struct fault_side *s)
{
	s->samples = n;
	if (!n)
		return;
	qsort(lat, n, sizeof(*lat), bench_cmp_u64);
	s->p50 = bench_percentile(lat, n, 0.50);
	s->p99 = bench_percentile(lat, n, 0.99);
	s->max = lat[n - 1];
}

static uint64_t bytes_per_s(uint64_t bytes, uint64_t ns)
{
	return ns ? (uint64_t)((double)bytes * 1e9 / (double)ns + 0.5) : 0;
}

static int measure_row(struct row *r, uint64_t page_size, uint64_t size, bool huge,
		       unsigned int rounds, uint64_t samples)
{
	uint64_t raw[MAX_ROUNDS], mig[MAX_ROUNDS], bulk[MAX_ROUNDS];
	uint64_t *lat[2] = { NULL, NULL };	/* [0] idle, [1] loaded: every round */
	uint64_t pages = size / page_size;
	struct mem m;
	int ret;

	r->page_size = page_size;
	r->bytes = size;
	/* Samples leave pages for the push to carry in a loaded run. */
	r->samples_per_run = samples < pages / 2 ? samples : pages / 2;
	ret = mem_init(&m, page_size, size, huge);
	if (ret)
		return ret;
	for (int k = 0; k < 2; k++) {
		lat[k] = calloc(r->samples_per_run * rounds + 1, sizeof(uint64_t));
		if (!lat[k]) {
			ret = bench_err(-ENOMEM, "out of memory");
			goto out;
		}
	}

	for (unsigned int i = 0; i < rounds; i++) {
		/* Raw TCP and the migration, which goes first turning each round. */
		for (int k = 0; k < 2; k++) {
			struct mig_result mr;
			uint64_t ns = 0;

			if ((i + k) % 2) {
				ret = run_raw(&m, &ns);
				raw[i] = bytes_per_s(size, ns);
			} else {
				ret = run_migration(&m, THROUGHPUT, 0, 0, NULL, &mr);
				mig[i] = bytes_per_s(size, mr.ns);
				r->zero_pages += mr.zero_pages;
				r->pages_verified += mr.verified;
				r->migrations++;
			}
			if (ret)
				goto out;
		}
		/* Idle and loaded, likewise. */
		for (int k = 0; k < 2; k++) {
			enum mode mode = (i + k) % 2 ? LOADED : IDLE;
			struct fault_side *fs = mode == LOADED ? &r->loaded : &r->idle;
			uint64_t *into = lat[mode == LOADED] + fs->samples;
			struct mig_result mr;

			/* Both kinds of run pick their pages from the same sequence. */
			ret = run_migration(&m, mode, r->samples_per_run, 2463534242u + i,
					    into, &mr);
			if (ret)
				goto out;
			fs->samples += mr.samples;
			fs->requests += mr.requests;
			r->zero_pages += mr.zero_pages;
			if (mode == LOADED) {
				bulk[i] = bytes_per_s(mr.pages_bulk * page_size, mr.bulk_ns);
				r->loaded_bulk_pages += mr.pages_bulk;
				r->pages_verified += mr.verified;
				r->migrations++;
			}
		}
	}
	r->raw_bps = bench_median_u64(raw, rounds);
	r->mig_bps = bench_median_u64(mig, rounds);
	r->loaded_bulk_bps = bench_median_u64(bulk, rounds);
	summarize(lat[0], r->idle.samples, &r->idle);
	summarize(lat[1], r->loaded.samples, &r->loaded);
out:
	free(lat[0]);
	free(lat[1]);
	mem_free(&m);
	return ret;
}

/* ---- output ------------------------------------------------------------------------ */

struct report {
	struct utsname uts;
	unsigned int cpus, rounds;
	struct row rows[2];		/* 4 KiB, 2 MiB */
};

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static bool faults_measured(const struct row *r)
{
	return r->idle.samples && r->loaded.samples;
}

static bool target_met(const struct row *r)
{
	return ratio(r->mig_bps, r->raw_bps) >= TARGET_RATIO_THROUGHPUT && faults_measured(r) &&
	       ratio(r->loaded.p99, r->idle.p99) <= TARGET_RATIO_P99;
}

/* A value, or null when there is none. */
static void json_u64_or_null(struct json *j, const char *key, uint64_t v, bool valid)
{
	if (valid)
		json_u64(j, key, v);
	else
		json_null(j, key);
}

static void json_ratio(struct json *j, const char *key, uint64_t a, uint64_t b, bool valid)
{
	if (valid && b)
		json_double(j, key, ratio(a, b), 4);
	else
		json_null(j, key);
}

static void json_fault_side(struct json *j, const char *key, const struct fault_side *s)
{
	json_open_object(j, key);
	json_u64(j, "samples", s->samples);
	json_u64(j, "requests", s->requests);
	json_u64_or_null(j, "p50_ns", s->p50, s->samples);
	json_u64_or_null(j, "p99_ns", s->p99, s->samples);
	json_u64_or_null(j, "max_ns", s->max, s->samples);
	json_close_object(j);
}

static void json_row(struct json *j, const char *key, const struct row *r)
{
	json_open_object(j, key);
	if (r->skipped[0]) {
		json_string(j, "skipped", r->skipped);
		json_close_object(j);
		return;
	}
	json_null(j, "skipped");
	json_u64(j, "page_size", r->page_size);
	json_u64(j, "bytes", r->bytes);
	json_ratio(j, "ratio_throughput", r->mig_bps, r->raw_bps, true);
	json_ratio(j, "ratio_p99_under_load", r->loaded.p99, r->idle.p99, faults_measured(r));
	json_open_object(j, "throughput");
	json_u64(j, "raw_bytes_per_s", r->raw_bps);
	json_u64(j, "migration_bytes_per_s", r->mig_bps);
	json_u64(j, "migrations", r->migrations);
	json_u64(j, "pages_per_migration", r->bytes / r->page_size);
	json_u64(j, "pages_verified", r->pages_verified);
	json_u64(j, "zero_pages", r->zero_pages);
	json_close_object(j);
	json_open_object(j, "faults");
	json_u64(j, "samples_per_run", r->samples_per_run);
	json_fault_side(j, "idle", &r->idle);
	json_fault_side(j, "loaded", &r->loaded);
	json_u64(j, "loaded_bulk_bytes_per_s", r->loaded_bulk_bps);
	json_u64(j, "loaded_bulk_pages", r->loaded_bulk_pages);
	json_close_object(j);
	json_close_object(j);
}

static void print_json(const struct report *rp)
{
	const struct row *r = &rp->rows[0];
	struct json j;

	json_init(&j, stdout);
	json_open_object(&j, NULL);
	json_string(&j, "benchmark", "migrate");
	json_string(&j, "version", pcram_version());
	json_string(&j, "kernel", rp->uts.release);
	json_string(&j, "machine", rp->uts.machine);
	json_u64(&j, "cpus", rp->cpus);
	json_u64(&j, "rounds", rp->rounds);
	json_ratio(&j, "ratio_throughput", r->mig_bps, r->raw_bps, true);
	json_ratio(&j, "ratio_p99_under_load", r->loaded.p99, r->idle.p99, faults_measured(r));
	json_open_object(&j, "ratio_of");
	json_u64(&j, "page_size", r->page_size);
	json_close_object(&j);
	json_open_object(&j, "target");
	json_double(&j, "ratio_throughput", TARGET_RATIO_THROUGHPUT, 2);
	json_double(&j, "ratio_p99_under_load", TARGET_RATIO_P99, 2);
	json_bool(&j, "met", target_met(r));
	json_close_object(&j);
	json_open_object(&j, "placement");
	json_u64_or_null(&j, "source_cpu", (uint64_t)pl.src_cpu, pl.src_cpu >= 0);
	json_u64_or_null(&j, "destination_cpu", (uint64_t)pl.dst_cpu, pl.dst_cpu >= 0);
	json_u64_or_null(&j, "vcpu_cpu", (uint64_t)pl.vcpu_cpu, pl.vcpu_cpu >= 0);
	json_close_object(&j);
	json_row(&j, "4k", &rp->rows[0]);
	json_row(&j, "2m", &rp->rows[1]);
	json_close_object(&j);
	json_finish(&j);
}

static void print_fault_side(const struct row *r, const char *name,
			     const struct fault_side *s)
{
	printf("%-4s %-7s %8" PRIu64 " %8" PRIu64, bench_size_name(r->page_size), name, s->samples,
	       s->requests);
	if (s->samples)
		printf(" %9" PRIu64 " %9" PRIu64 " %10" PRIu64 "\n", s->p50, s->p99, s->max);
	else
		printf("   (none: the push brought every page first)\n");
}

static void print_placement(void)
{
	if (pl.src_cpu < 0) {
		printf("placement: nothing pinned (this process may run on one CPU only)\n");
		return;
	}
	printf("placement: source threads on CPU %d, destination threads on CPU %d, "
	       "the vCPU thread on CPU %d%s\n", pl.src_cpu, pl.dst_cpu, pl.vcpu_cpu,
	       pl.vcpu_cpu == pl.dst_cpu ? " (no third CPU)" : "");
}

static void print_text(const struct report *rp)
{
	const struct row *r0 = &rp->rows[0];

	printf("pcram bench migrate: a migration over loopback TCP against raw TCP on the same\n"
	       "loopback; fault latency with the bulk connection pushing against it idle\n");
	printf("kernel %s %s, %u CPUs, libpcram %s, %u rounds\n", rp->uts.release,
	       rp->uts.machine, rp->cpus, pcram_version(), rp->rounds);
	print_placement();
	printf("method: throughput: a whole migration of the block, nobody touching it,\n"
	       "  against the same bytes sent 32 pages (at least 128 KiB) a send over one\n"
	       "  TCP connection, as the source gathers them,\n"
	       "  read 256 KiB at a time and copied into fresh memory; medians of the rounds.\n"
	       "  Every page is non-zero data, so none can go as a zero flag.\n"
	       "  faults: a thread touches pages not yet arrived, one after another, timed\n"
	       "  around the first read; loaded: while the bulk connection pushes the block;\n"
	       "  idle: the source pushes nothing (PCRAM_SRC_F_NO_PUSH); percentiles of the\n"
	       "  samples of all rounds.\n\n");

	printf("throughput  %8s %10s %14s %7s\n", "block", "raw MB/s", "migration MB/s",
	       "ratio");
	for (int i = 0; i < 2; i++) {
		const struct row *r = &rp->rows[i];

		if (r->skipped[0]) {
			printf("%-4s        skipped: %s\n", i ? "2M" : "4K", r->skipped);
			continue;
		}
		printf("%-4s        %4" PRIu64 " MiB %10.1f %14.1f %7.3f   (target >= %.2f)\n",
		       bench_size_name(r->page_size), r->bytes / MIB, (double)r->raw_bps / 1e6,
		       (double)r->mig_bps / 1e6, ratio(r->mig_bps, r->raw_bps),
		       TARGET_RATIO_THROUGHPUT);
		printf("            %" PRIu64 " of %" PRIu64 " pages verified byte for byte; "
		       "%" PRIu64 " went as zero flags\n", r->pages_verified,
		       r->migrations * (r->bytes / r->page_size), r->zero_pages);
	}

	printf("\nfault (ns)   samples requests       p50       p99        max\n");
	for (int i = 0; i < 2; i++) {
		const struct row *r = &rp->rows[i];

		if (r->skipped[0])
			continue;
		print_fault_side(r, "idle", &r->idle);
		print_fault_side(r, "loaded", &r->loaded);
		if (faults_measured(r))
			printf("             p99 loaded/idle %.3f   (target <= %.2f); the push ran "
			       "at %.1f MB/s\n", ratio(r->loaded.p99, r->idle.p99), TARGET_RATIO_P99,
			       (double)r->loaded_bulk_bps / 1e6);
	}

	printf("\ntarget (4K): ratio_throughput %.3f >= %.2f, ratio_p99_under_load ",
	       ratio(r0->mig_bps, r0->raw_bps), TARGET_RATIO_THROUGHPUT);
	if (faults_measured(r0))
		printf("%.3f <= %.2f", ratio(r0->loaded.p99, r0->idle.p99), TARGET_RATIO_P99);
	else
		printf("(not measured)");
	printf(": %s\n", target_met(r0) ? "met" : "NOT met");
}

/* ---- bench migrate --------------------------------------------------------------- */

int bench_migrate_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "size", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct report rp;
	unsigned long mib = 0, rounds = 0, v;
	bool json = false, quick = false;
	uint64_t samples, huge_pages;
	int c, ret;

	while ((c = getopt_long(argc, argv, "js:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			if (bench_parse_count(optarg, MIN_MIB, MAX_MIB, &v)) {
				fail("bench", "-s %s: want a size in MiB from %d to %d", optarg,
				     MIN_MIB, MAX_MIB);
				return usage("bench", stderr);
			}
			mib = v;
			break;
		case 'r':
			if (bench_parse_count(optarg, 1, MAX_ROUNDS, &v)) {
				fail("bench", "-r %s: want a round count from 1 to %d", optarg,
				     MAX_ROUNDS);
				return usage("bench", stderr);
			}
			rounds = v;
			break;
		case 'q':
			quick = true;
			break;
		case 'h':
			return usage("bench", stdout);
		default:
			return usage("bench", stderr);
		}
	}
	if (optind != argc)
		return usage("bench", stderr);
	if (!mib)
		mib = quick ? QUICK_MIB : DEFAULT_MIB;
	if (!rounds)
		rounds = quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
	samples = quick ? QUICK_SAMPLES : DEFAULT_SAMPLES;
	if (sysconf(_SC_PAGESIZE) != 4 * KIB)
		return fail("bench", "migrate: measures 4 KiB base pages; this system's are %ld bytes",
			    sysconf(_SC_PAGESIZE));

	memset(&rp, 0, sizeof(rp));
	uname(&rp.uts);
	if (pick_cpus(&rp.cpus))
		return fail("bench", "migrate: %s", bench_errbuf);
	rp.rounds = rounds;

	ret = measure_row(&rp.rows[0], 4 * KIB, mib * MIB, false, rounds, samples);
	if (ret)
		return fail("bench", "migrate: 4K: %s", bench_errbuf);
	/* Two pages at least: one for the vCPU to fault on, one for the push. */
	huge_pages = bench_huge_pages_usable(mib * MIB / HUGE_SIZE, 2, rp.rows[1].skipped,
					     sizeof(rp.rows[1].skipped));
	if (huge_pages) {
		ret = measure_row(&rp.rows[1], HUGE_SIZE, huge_pages * HUGE_SIZE, true, rounds,
				  samples);
		if (ret)
			return fail("bench", "migrate: 2M: %s", bench_errbuf);
	}
	if (json)
		print_json(&rp);
	else
		print_text(&rp);
	return 0;
}
