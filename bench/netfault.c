// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram bench netfault: a fault on a page that has not arrived, served over
 * loopback TCP, through libpcram against what a skilled engineer writes for
 * the same work.
 *
 * A vCPU-like thread on the destination (bench_vcpu, bench/common.c)
 * touches pages that are missing, one after another, each chosen at
 * random, with CLOCK_MONOTONIC around the first read of each: touch to
 * data. Three kinds of run of the same block, the same page size and,
 * round by round, the same random sequence of pages:
 *
 *   floor   a bare userfaultfd handler: one thread blocked in read() on
 *           the userfaultfd sends each fault's page offset (8 bytes) over
 *           a 127.0.0.1 TCP connection to a bare server thread, which
 *           replies with the page's bytes; the handler receives them into
 *           a buffer and places them with UFFDIO_COPY. Nothing else
 *           travels. TCP_NODELAY on both ends, as libpcram sets it.
 *   idle    libpcram: pcram_src_serve() and pcram_in_* over two 127.0.0.1
 *           connections, the source made with PCRAM_SRC_F_NO_PUSH, so
 *           that after the switchover the bulk connection is silent and
 *           only requested pages travel, on the urgent connection. Once
 *           its samples are taken the destination hangs up rather than
 *           fault in every page; the source's ECONNRESET is expected.
 *   loaded  an ordinary libpcram migration: the bulk connection pushes the
 *           whole block at full speed while the thread faults; it stops
 *           at its samples, or when nothing is missing. The destination
 *           is compared with the source byte for byte afterwards.
 *
 * Placement as in two hosts: the source's threads (the floor's server,
 * libpcram's source) on one CPU, the destination's (the floor's handler,
 * libpcram's receivers and fault thread) on another, the vCPU thread on a
 * third when there is one. Priority: the floor's threads, and every thread
 * on libpcram's request path, run at the caller's nice value (libpcram's
 * inherit it); only libpcram's bulk threads lower themselves (nice 19).
 * libpcram's request path also asks for a short slice (lib/thread.c);
 * the floor's threads do not: with nothing else runnable, as in the floor
 * and idle runs, a slice changes nothing (Documentation/benchmarks.rst).
 * The kinds of run rotate, which goes first turning each round. Each
 * percentile is given both ways: exact (nearest rank) over the samples of
 * all rounds pooled, and its spread over the rounds (min, median, max of
 * each round's own). The ratios are of the pooled figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <pcram.h>

#include "bench.h"
#include "json.h"
#include "cli.h"

#define DEFAULT_MIB 512
#define DEFAULT_ROUNDS 5
#define DEFAULT_SAMPLES 2000		/* faults timed in one run */
#define QUICK_MIB 16
#define QUICK_ROUNDS 2
#define QUICK_SAMPLES 100
#define MIN_MIB 4			/* two 2 MiB pages */
#define MAX_MIB 65536
#define MAX_ROUNDS 101
#define RUN_TIMEOUT_S 300		/* a run that takes longer is stuck */
#define DOORBELL_SIZE (4 * KIB)

enum kind { FLOOR, IDLE, LOADED, NR_KINDS };
static const char *const kind_names[NR_KINDS] = { "floor", "idle", "loaded" };

/* The percentiles shown. */
#define NR_PCT 3
static const double pct_q[NR_PCT] = { 0.50, 0.99, 0.999 };
static const char *const pct_key[NR_PCT] = { "p50_ns", "p99_ns", "p99_9_ns" };
static const char *const pct_name[NR_PCT] = { "p50", "p99", "p99.9" };
static const char *const pct_ratio_key[NR_PCT] = { "p50", "p99", "p99_9" };

/* The ratios: the first kind's pooled percentile over the second's. */
static const struct {
	enum kind a, b;
	const char *key, *name;
} ratios[] = {
	{ IDLE, FLOOR, "idle_over_floor", "idle/floor" },
	{ LOADED, IDLE, "loaded_over_idle", "loaded/idle" },
	{ LOADED, FLOOR, "loaded_over_floor", "loaded/floor" },
};
#define NR_RATIOS (sizeof(ratios) / sizeof(ratios[0]))

/* ---- memory ------------------------------------------------------------------ */

/* The memory one row measures: its page size, and how much. */
struct mem {
	uint64_t page_size;
	uint64_t size;
	bool huge;		/* destinations are 2 MiB hugetlbfs */
	uint8_t *src;		/* the source's RAM, filled (bench_map_source()) */
};

static int mem_init(struct mem *m, uint64_t page_size, uint64_t size, bool huge)
{
	*m = (struct mem) { .page_size = page_size, .size = size, .huge = huge };
	return bench_map_source(size, page_size, &m->src);
}

static void mem_free(struct mem *m)
{
	if (m->src)
		munmap(m->src, m->size);
	m->src = NULL;
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
 * CPU only. libpcram's threads inherit the CPU of the thread that makes
 * them: pcram_src_serve()'s from the source thread, pcram_in_start()'s
 * (receivers and the fault thread) from the destination's.
 */
struct placement {
	int src_cpu, dst_cpu, vcpu_cpu;
};

static struct placement pl = { -1, -1, -1 };

static int pick_cpus(unsigned int *cpus)
{
	int picked[3], ret = bench_cpus(cpus, picked, 3);

	if (ret)
		return ret;
	if (*cpus >= 2)
		pl = (struct placement) { picked[0], picked[1],
					  *cpus > 2 ? picked[2] : picked[1] };
	return 0;
}

/*
 * Listen on 127.0.0.1 (@listen_fd, @port) and start @fn on the source's
 * CPU to accept there: the source side of a run, the floor's or
 * libpcram's. 0 or -errno.
 */
static int source_thread_start(int *listen_fd, uint16_t *port, pthread_t *t,
			       void *(*fn)(void *), void *arg)
{
	*listen_fd = bench_tcp_listen(port);
	if (*listen_fd < 0)
		return *listen_fd;
	return bench_thread_on(t, pl.src_cpu, fn, arg);
}

/* ---- one run's outcome ------------------------------------------------------------ */

struct run_result {
	uint64_t samples;		/* faults timed (into the caller's array) */
	uint64_t requests;		/* pages asked for by the destination */
	uint64_t pages_bulk;		/* LOADED: pages placed from the bulk connection */
	uint64_t bulk_ns;		/* LOADED: switchover to the last page in */
	int nice;			/* FLOOR: its handler thread's nice value */
};

/* The vCPU's verdict on the pages it read. */
static int vcpu_check(const struct bench_vcpu *v)
{
	if (!v->bad)
		return 0;
	return bench_err(-EIO, "page %" PRIu64 " read %#" PRIx64 " on a fault, not %#" PRIx64
			 " (%" PRIu64 " pages wrong)", v->bad_page, v->bad_value,
			 bench_pattern(v->bad_page), v->bad);
}

/* ---- the floor: a bare handler and a bare server ------------------------------- */

/* A small request is sent at once, and the tail of a page too. */
static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

struct floor_server {
	pthread_t thread;
	const struct mem *m;
	int listen_fd, fd;
	uint64_t requests;
	int ret;
	char err[256];
};

/* One connection: an offset in, the page's bytes out, until the handler hangs up. */
static void *floor_server_main(void *arg)
{
	struct floor_server *s = arg;
	uint64_t ps = s->m->page_size;

	s->fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (s->fd < 0) {
		s->ret = -errno;
		snprintf(s->err, sizeof(s->err), "floor server: accept: %s", strerror(errno));
		return NULL;
	}
	nodelay(s->fd);
	for (;;) {
		uint64_t off;
		int ret = bench_recv_all(s->fd, &off, sizeof(off));

		if (ret == 1)
			break;	/* the run is over */
		if (!ret && (off % ps || off >= s->m->size)) {
			s->ret = -EPROTO;
			snprintf(s->err, sizeof(s->err), "floor server: asked for %#" PRIx64
				 ", not a page of the block", off);
			break;
		}
		if (!ret)
			ret = bench_send_all(s->fd, s->m->src + off, ps);
		if (ret) {
			s->ret = ret;
			snprintf(s->err, sizeof(s->err), "floor server: %s", strerror(-ret));
			break;
		}
		s->requests++;
	}
	/* A handler waiting for a page that will not come sees the end. */
	shutdown(s->fd, SHUT_RDWR);
	return NULL;
}

/*
 * The handler. Its userfaultfd also covers a 4 KiB "doorbell" page of its
 * own: the run is over when the main thread touches it, so that the
 * handler can block in read() with nothing else to wait for.
 */
struct floor_handler {
	pthread_t thread;
	int uffd, fd;
	uint8_t *dest, *doorbell, *buf;
	uint64_t page_size, size;
	uint64_t faults;
	int nice;
	int ret;
	char err[256];
};

/* Unregister everything: whoever waits on a fault runs again (and reads zeros). */
static void floor_release(struct floor_handler *h)
{
	struct uffdio_range dest = { (uint64_t)(uintptr_t)h->dest, h->size };
	struct uffdio_range bell = { (uint64_t)(uintptr_t)h->doorbell, DOORBELL_SIZE };

	ioctl(h->uffd, UFFDIO_UNREGISTER, &dest);
	ioctl(h->uffd, UFFDIO_UNREGISTER, &bell);
}

static void *floor_handler_main(void *arg)
{
	struct floor_handler *h = arg;
	uint64_t dest = (uint64_t)(uintptr_t)h->dest, bell = (uint64_t)(uintptr_t)h->doorbell;

	h->nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
	for (;;) {
		struct uffd_msg msg;
		uint64_t addr, off;
		ssize_t n = read(h->uffd, &msg, sizeof(msg));	/* blocks for the next fault */
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(msg)) {
			h->ret = n < 0 ? -errno : -EIO;
			snprintf(h->err, sizeof(h->err),
				 "floor handler: reading the userfaultfd: %s", strerror(-h->ret));
			break;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;	/* no event was asked for */
		addr = msg.arg.pagefault.address;
		if (addr - bell < DOORBELL_SIZE) {
			struct uffdio_zeropage z = { .range = { bell, DOORBELL_SIZE } };

			if (!ioctl(h->uffd, UFFDIO_ZEROPAGE, &z))
				return NULL;	/* the run is over */
			break;
		}
		addr &= ~(h->page_size - 1);
		off = addr - dest;
		ret = bench_send_all(h->fd, &off, sizeof(off));
		if (!ret)
			ret = bench_recv_all(h->fd, h->buf, h->page_size);
		if (!ret)
			ret = bench_uffd_copy_page(h->uffd, addr, h->buf, h->page_size);
		if (ret) {
			h->ret = ret == 1 ? -EPIPE : ret;
			snprintf(h->err, sizeof(h->err), "floor handler: page %" PRIu64 ": %s",
				 off / h->page_size,
				 ret == 1 ? "the server hung up" : strerror(-ret));
			break;
		}
		h->faults++;
	}
	floor_release(h);
	return NULL;
}

/* The handler's userfaultfd, over the destination and the doorbell. */
static int floor_uffd(struct floor_handler *h)
{
	struct uffdio_register dest = {
		.range = { (uint64_t)(uintptr_t)h->dest, h->size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	struct uffdio_register bell = {
		.range = { (uint64_t)(uintptr_t)h->doorbell, DOORBELL_SIZE },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	/* Blocking: the handler sleeps in read(). */
	h->uffd = bench_uffd_new(0);
	if (h->uffd < 0)
		return h->uffd;
	if (ioctl(h->uffd, UFFDIO_REGISTER, &dest) || ioctl(h->uffd, UFFDIO_REGISTER, &bell))
		return bench_err(-errno, "floor: UFFDIO_REGISTER: %s", strerror(errno));
	return 0;
}

/* One floor run: up to @want samples into @lat. */
static int run_floor(const struct mem *m, uint64_t want, uint32_t seed, uint64_t *lat,
		     struct run_result *res)
{
	struct floor_server s = { .m = m, .listen_fd = -1, .fd = -1 };
	struct floor_handler h = {
		.uffd = -1, .fd = -1, .page_size = m->page_size, .size = m->size,
	};
	struct bench_vcpu v = {
		.page_size = m->page_size, .nr_pages = m->size / m->page_size,
		.want = want, .lat = lat, .seed = seed,
	};
	bool server_up = false, handler_up = false;
	uint16_t port;
	void *bell;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = bench_map_dest(m->size, m->huge, &h.dest);
	if (ret)
		return ret;
	v.mem = h.dest;
	bell = mmap(NULL, DOORBELL_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	h.doorbell = bell == MAP_FAILED ? NULL : bell;
	/* The receive buffer is warm, as a handler's is after its first fault. */
	h.buf = malloc(m->page_size);
	if (!h.doorbell || !h.buf) {
		ret = bench_err(-ENOMEM, "floor: out of memory");
		goto out;
	}
	memset(h.buf, 0, m->page_size);
	ret = floor_uffd(&h);
	if (ret)
		goto out;
	ret = source_thread_start(&s.listen_fd, &port, &s.thread, floor_server_main, &s);
	if (ret)
		goto out;
	server_up = true;
	h.fd = bench_tcp_connect(port);
	if (h.fd < 0) {
		ret = h.fd;
		goto out;
	}
	nodelay(h.fd);
	ret = bench_thread_on(&h.thread, pl.dst_cpu, floor_handler_main, &h);
	if (ret)
		goto out;
	handler_up = true;
	ret = bench_vcpu_start(&v, pl.vcpu_cpu);
	if (ret)
		goto out;
	bench_vcpu_go(&v);
	bench_vcpu_join(&v, RUN_TIMEOUT_S, "floor fault run");

out:
	bench_vcpu_abort(&v);
	if (handler_up) {
		/* Out of a send or a receive, if the run failed in one. */
		if (ret)
			shutdown(h.fd, SHUT_RDWR);
		/* The doorbell: served and the handler ends, or it has ended. */
		(void)*(volatile uint8_t *)h.doorbell;
		bench_join(h.thread, RUN_TIMEOUT_S, "floor handler");
	}
	/* A vCPU on a fault still runs again: the handler unregistered. */
	bench_vcpu_join(&v, RUN_TIMEOUT_S, "floor fault run");
	if (h.fd >= 0)
		close(h.fd);	/* the server's end of the run */
	if (server_up) {
		if (s.listen_fd >= 0)
			shutdown(s.listen_fd, SHUT_RDWR);	/* out of accept() */
		bench_join(s.thread, RUN_TIMEOUT_S, "floor server");
	}
	if (!ret && s.ret)
		ret = bench_err(s.ret, "%s", s.err);
	if (!ret && h.ret)
		ret = bench_err(h.ret, "%s", h.err);
	if (!ret)
		ret = vcpu_check(&v);
	if (!ret && (h.faults != v.n || s.requests != v.n))
		ret = bench_err(-EPROTO, "floor: %" PRIu64 " samples, but %" PRIu64 " faults served"
				" and %" PRIu64 " pages sent", v.n, h.faults, s.requests);
	if (!ret) {
		res->samples = v.n;
		res->requests = h.faults;
		res->nice = h.nice;
	}
	if (s.fd >= 0)
		close(s.fd);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	if (h.uffd >= 0)
		close(h.uffd);
	free(h.buf);
	if (h.doorbell)
		munmap(h.doorbell, DOORBELL_SIZE);
	munmap(h.dest, m->size);
	return ret;
}

/* ---- libpcram: idle and loaded --------------------------------------------------- */

struct source {
	pthread_t thread;
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

static void vcpu_switchover(void *opaque)
{
	bench_vcpu_go(opaque);
}

static bool pcram_arrived(void *opaque, const void *host)
{
	return pcram_dst_page_received(opaque, host) == 1;
}

/*
 * The destination's side of one run, once the source thread is up: the
 * two connections, pcram_in_* and pcram_dst_*, the vCPU, the migration.
 */
static int pcram_destination(const struct mem *m, enum kind kind, uint16_t port,
			     struct bench_vcpu *v, struct pcram_in **inp,
			     struct pcram_dst **dstp, int *bulk, int *urgent)
{
	struct pcram_in_options io = { .switchover = vcpu_switchover, .opaque = v };
	struct pcram_block blk = {
		.name = "bench", .host = v->mem, .length = m->size, .page_size = m->page_size,
		.type = m->huge ? PCRAM_BLOCK_HUGETLB : PCRAM_BLOCK_ANON, .fd = -1,
	};
	struct pcram_remote_block rb;
	int ret;

	/* Bulk, then urgent: the order libpcram's source expects none of. */
	*bulk = bench_tcp_connect(port);
	if (*bulk < 0)
		return *bulk;
	*urgent = bench_tcp_connect(port);
	if (*urgent < 0)
		return *urgent;
	ret = pcram_in_new(inp, &io);
	if (ret)
		return bench_err(ret, "pcram_in_new: %s", strerror(-ret));
	ret = pcram_in_connect(*inp, *bulk, *urgent, &rb, 1);
	if (ret != 1)
		return bench_err(ret < 0 ? ret : -EPROTO, "destination: %s",
				 ret < 0 ? pcram_in_strerror(*inp) : "the source has other blocks");
	ret = pcram_dst_new(dstp, NULL);
	if (!ret)
		ret = pcram_dst_add_block(*dstp, &blk);
	if (!ret)
		ret = pcram_dst_incoming_init(*dstp);
	if (!ret)
		ret = pcram_dst_prepare_discard(*dstp);
	if (ret)
		return bench_err(ret, "destination: %s",
				 *dstp ? pcram_dst_strerror(*dstp) : strerror(-ret));
	v->arrived = pcram_arrived;
	v->opaque = *dstp;
	ret = bench_vcpu_start(v, pl.vcpu_cpu);
	if (ret)
		return ret;
	ret = pcram_in_start(*inp, *dstp);
	if (ret)
		return bench_err(ret, "destination: %s", pcram_in_strerror(*inp));
	if (kind == IDLE) {
		/* The samples, then hang up: the rest would never come. */
		bench_vcpu_join(v, RUN_TIMEOUT_S, "idle fault run");
		shutdown(*bulk, SHUT_RDWR);
		shutdown(*urgent, SHUT_RDWR);
		ret = pcram_in_wait(*inp, RUN_TIMEOUT_S * 1000);
		if (ret != -ECONNRESET)
			return bench_err(ret ? ret : -EPROTO, "idle run: hanging up: %s",
					 ret ? pcram_in_strerror(*inp) : "the migration completed");
		return 0;
	}
	ret = pcram_in_wait(*inp, RUN_TIMEOUT_S * 1000);
	if (ret)
		return bench_err(ret, "destination: %s", pcram_in_strerror(*inp));
	return 0;
}

/*
 * One libpcram run of the row's memory: a vCPU takes up to @want samples
 * into @lat. IDLE: with a source that pushes nothing, ended by hanging up.
 */
static int run_pcram(const struct mem *m, enum kind kind, uint64_t want, uint32_t seed,
		     uint64_t *lat, struct run_result *res)
{
	struct source s = { .listen_fd = -1, .fds = { -1, -1 } };
	struct pcram_src_options so = { .flags = kind == IDLE ? PCRAM_SRC_F_NO_PUSH : 0 };
	struct pcram_src_block sb = {
		.name = "bench", .host = m->src, .length = m->size, .page_size = m->page_size,
	};
	struct bench_vcpu v = {
		.page_size = m->page_size, .nr_pages = m->size / m->page_size,
		.want = want, .lat = lat, .seed = seed,
	};
	struct pcram_in_stats is;
	struct pcram_dst_stats ds;
	struct pcram_in *in = NULL;
	struct pcram_dst *dst = NULL;
	int bulk = -1, urgent = -1, ret;
	bool source_up = false;
	cpu_set_t saved;
	uint16_t port;

	memset(res, 0, sizeof(*res));
	ret = bench_map_dest(m->size, m->huge, &v.mem);
	if (ret)
		return ret;
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
	ret = source_thread_start(&s.listen_fd, &port, &s.thread, source_main, &s);
	if (ret)
		goto out;
	source_up = true;
	/* The destination's threads, the library's included, on its CPU. */
	ret = bench_pin_saving(pl.dst_cpu, &saved);
	if (ret) {
		bench_err(ret, "pinning to CPU %d: %s", pl.dst_cpu, strerror(-ret));
		goto out;
	}
	ret = pcram_destination(m, kind, port, &v, &in, &dst, &bulk, &urgent);
	bench_pin_restore(&saved);

out:
	if (ret) {
		/* Unblock everyone: the vCPU, the source, the receivers. */
		bench_vcpu_abort(&v);
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
	bench_vcpu_join(&v, RUN_TIMEOUT_S, "fault run");
	if (source_up) {
		bench_join(s.thread, RUN_TIMEOUT_S, "source");
		if (!ret && s.ret && !(kind == IDLE && s.ret == -ECONNRESET))
			ret = bench_err(s.ret, "%s", s.err);
	}
	if (!ret)
		ret = vcpu_check(&v);
	if (!ret && kind == LOADED)
		ret = check_dest(m, v.mem, "migration");
	if (!ret) {
		/* After cleanup, as statistics may be read. */
		pcram_in_stats(in, &is, sizeof(is));
		pcram_dst_stats(dst, &ds, sizeof(ds));
		res->samples = v.n;
		res->requests = ds.requests;
		res->pages_bulk = is.pages_bulk;
		res->bulk_ns = is.complete_ns > is.switchover_ns ?
			       is.complete_ns - is.switchover_ns : 0;
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
	munmap(v.mem, m->size);
	return ret;
}

/* ---- a row: one page size ------------------------------------------------------ */

struct side {
	uint64_t samples, requests;	/* over all rounds */
	unsigned int rounds_measured;	/* rounds with samples */
	uint64_t pct[NR_PCT], max;	/* ns, exact over the pooled samples; 0 without */
	uint64_t round_pct[NR_PCT][MAX_ROUNDS];	/* each measured round's own */
	uint64_t p99_by_round[MAX_ROUNDS];	/* by round number; 0: no samples */
	struct bench_spread spread[NR_PCT];	/* ... their min, median, max */
};

struct row {
	uint64_t page_size;
	uint64_t bytes;
	char skipped[256];		/* "" when measured */
	uint64_t samples_per_run;
	unsigned int rounds;
	struct side side[NR_KINDS];
	uint64_t loaded_bulk_bps;	/* the push during the loaded runs, median */
	uint64_t loaded_bulk_pages;
};

/* Round @round's @n samples at @lat (sorted in place): its own percentiles. */
static void add_round(struct side *sd, unsigned int round, uint64_t *lat, uint64_t n)
{
	if (!n)
		return;
	qsort(lat, n, sizeof(*lat), bench_cmp_u64);
	for (int q = 0; q < NR_PCT; q++)
		sd->round_pct[q][sd->rounds_measured] = bench_percentile(lat, n, pct_q[q]);
	sd->p99_by_round[round] = sd->round_pct[1][sd->rounds_measured];
	sd->rounds_measured++;
}

/*
 * Loaded p99 over idle p99 in round @i, whose runs are back to back:
 * how often the push costs a fault more than some factor is counted
 * from these, not from the pooled figure. 0 when a side has no samples.
 */
static double loaded_over_idle_p99(const struct row *r, unsigned int i)
{
	uint64_t loaded = r->side[LOADED].p99_by_round[i], idle = r->side[IDLE].p99_by_round[i];

	return loaded && idle ? bench_ratio(loaded, idle) : 0;
}

/* All rounds' samples, pooled (sorted in place), and the spreads. */
static void summarize(struct side *sd, uint64_t *lat)
{
	for (int q = 0; q < NR_PCT; q++)
		bench_spread_of(sd->round_pct[q], sd->rounds_measured, &sd->spread[q]);
	if (!sd->samples)
		return;
	qsort(lat, sd->samples, sizeof(*lat), bench_cmp_u64);
	for (int q = 0; q < NR_PCT; q++)
		sd->pct[q] = bench_percentile(lat, sd->samples, pct_q[q]);
	sd->max = lat[sd->samples - 1];
}

static int measure_row(struct row *r, uint64_t page_size, uint64_t size, bool huge,
		       unsigned int rounds, uint64_t samples, int *nice)
{
	uint64_t *lat[NR_KINDS] = { NULL };	/* every round's, pooled */
	uint64_t pages = size / page_size, bulk[MAX_ROUNDS];
	unsigned int nr_bulk = 0;
	struct mem m;
	int ret;

	r->page_size = page_size;
	r->bytes = size;
	r->rounds = rounds;
	/* Samples leave pages for the push to carry in a loaded run. */
	r->samples_per_run = samples < pages / 2 ? samples : pages / 2;
	ret = mem_init(&m, page_size, size, huge);
	if (ret)
		return ret;
	for (int k = 0; k < NR_KINDS; k++) {
		lat[k] = calloc(r->samples_per_run * rounds + 1, sizeof(uint64_t));
		if (!lat[k]) {
			ret = bench_err(-ENOMEM, "out of memory");
			goto out;
		}
	}

	for (unsigned int i = 0; i < rounds; i++) {
		/* Which kind goes first turns each round; all take the same pages. */
		for (int k = 0; k < NR_KINDS; k++) {
			enum kind kind = (enum kind)((i + (unsigned int)k) % NR_KINDS);
			struct side *sd = &r->side[kind];
			uint64_t *into = lat[kind] + sd->samples;
			uint32_t seed = 2463534242u + i;
			struct run_result rr;

			if (kind == FLOOR)
				ret = run_floor(&m, r->samples_per_run, seed, into, &rr);
			else
				ret = run_pcram(&m, kind, r->samples_per_run, seed, into, &rr);
			if (ret) {
				char why[sizeof(bench_errbuf)];

				snprintf(why, sizeof(why), "%s", bench_errbuf);
				bench_err(ret, "%s run: %s", kind_names[kind], why);
				goto out;
			}
			if (kind == FLOOR)
				*nice = rr.nice;
			add_round(sd, i, into, rr.samples);
			sd->samples += rr.samples;
			sd->requests += rr.requests;
			if (kind == LOADED) {
				if (rr.bulk_ns)
					bulk[nr_bulk++] = bench_per_s(rr.pages_bulk * page_size,
								      rr.bulk_ns);
				r->loaded_bulk_pages += rr.pages_bulk;
			}
		}
	}
	for (int k = 0; k < NR_KINDS; k++)
		summarize(&r->side[k], lat[k]);
	r->loaded_bulk_bps = nr_bulk ? bench_median_u64(bulk, nr_bulk) : 0;
out:
	for (int k = 0; k < NR_KINDS; k++)
		free(lat[k]);
	mem_free(&m);
	return ret;
}

/* ---- output ------------------------------------------------------------------------ */

struct report {
	struct utsname uts;
	unsigned int cpus, rounds;
	int nice;			/* the floor handler's, read by it */
	struct row rows[2];		/* 4 KiB, 2 MiB */
};

/* Ratio @i of @r for percentile @q: both sides measured? */
static bool ratio_valid(const struct row *r, unsigned int i)
{
	return r->side[ratios[i].a].samples && r->side[ratios[i].b].samples;
}

static double ratio_of(const struct row *r, unsigned int i, int q)
{
	return bench_ratio(r->side[ratios[i].a].pct[q], r->side[ratios[i].b].pct[q]);
}

/* A value, or null when there is none. */
static void json_u64_or_null(struct json *j, const char *key, uint64_t v, bool valid)
{
	if (valid)
		json_u64(j, key, v);
	else
		json_null(j, key);
}

static void json_side(struct json *j, const char *key, const struct side *sd,
		      unsigned int rounds)
{
	json_open_object(j, key);
	json_u64(j, "samples", sd->samples);
	json_u64(j, "requests", sd->requests);
	json_u64(j, "rounds_measured", sd->rounds_measured);
	for (int q = 0; q < NR_PCT; q++)
		json_u64_or_null(j, pct_key[q], sd->pct[q], sd->samples);
	json_u64_or_null(j, "max_ns", sd->max, sd->samples);
	json_open_array(j, "p99_ns_by_round");
	for (unsigned int i = 0; i < rounds; i++)
		json_u64_or_null(j, NULL, sd->p99_by_round[i], sd->p99_by_round[i]);
	json_close_array(j);
	json_open_object(j, "spread");
	for (int q = 0; q < NR_PCT; q++) {
		if (sd->rounds_measured)
			bench_json_spread(j, pct_key[q], &sd->spread[q]);
		else
			json_null(j, pct_key[q]);
	}
	json_close_object(j);
	json_close_object(j);
}

static void json_row(struct json *j, const char *key, const struct row *r)
{
	if (!bench_json_row_begin(j, key, r->skipped, r->page_size, r->bytes))
		return;
	json_u64(j, "samples_per_run", r->samples_per_run);
	json_open_object(j, "ratios");
	for (unsigned int i = 0; i < NR_RATIOS; i++) {
		json_open_object(j, ratios[i].key);
		for (int q = 0; q < NR_PCT; q++) {
			if (ratio_valid(r, i))
				json_double(j, pct_ratio_key[q], ratio_of(r, i, q), 4);
			else
				json_null(j, pct_ratio_key[q]);
		}
		json_close_object(j);
	}
	json_close_object(j);
	json_open_array(j, "loaded_over_idle_p99_by_round");
	for (unsigned int i = 0; i < r->rounds; i++) {
		if (loaded_over_idle_p99(r, i) > 0)
			json_double(j, NULL, loaded_over_idle_p99(r, i), 4);
		else
			json_null(j, NULL);
	}
	json_close_array(j);
	for (int k = 0; k < NR_KINDS; k++)
		json_side(j, kind_names[k], &r->side[k], r->rounds);
	json_u64(j, "loaded_bulk_bytes_per_s", r->loaded_bulk_bps);
	json_u64(j, "loaded_bulk_pages", r->loaded_bulk_pages);
	json_close_object(j);
}

static void print_json(const struct report *rp)
{
	struct json j;

	bench_json_begin(&j, "netfault", &rp->uts);
	json_u64(&j, "cpus", rp->cpus);
	json_u64(&j, "rounds", rp->rounds);
	json_int(&j, "fault_path_nice", rp->nice);
	json_open_object(&j, "placement");
	bench_json_cpu(&j, "source_cpu", pl.src_cpu);
	bench_json_cpu(&j, "destination_cpu", pl.dst_cpu);
	bench_json_cpu(&j, "vcpu_cpu", pl.vcpu_cpu);
	json_close_object(&j);
	json_row(&j, "4k", &rp->rows[0]);
	json_row(&j, "2m", &rp->rows[1]);
	bench_json_end(&j);
}

static void print_side(const char *name, const struct side *sd)
{
	if (!sd->samples) {
		printf("  %-7s (no samples: the push brought every page first)\n", name);
		return;
	}
	for (int q = 0; q < NR_PCT; q++) {
		if (!q)
			printf("  %-7s %-5s %8" PRIu64 " %8" PRIu64, name, pct_name[q], sd->samples,
			       sd->requests);
		else
			printf("  %-7s %-5s %8s %8s", "", pct_name[q], "", "");
		printf(" %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n", sd->pct[q],
		       sd->spread[q].min, sd->spread[q].median, sd->spread[q].max);
	}
	printf("  %-7s %-5s %8s %8s %10" PRIu64 "\n", "", "max", "", "", sd->max);
}

static void print_row(const struct row *r, const char *name)
{
	if (r->skipped[0]) {
		printf("\n%s: skipped: %s\n", name, r->skipped);
		return;
	}
	printf("\n%s: a %" PRIu64 " MiB block, up to %" PRIu64 " samples a run\n", name,
	       r->bytes / MIB, r->samples_per_run);
	printf("  fault (ns)    samples requests     pooled  round min  round med  round max\n");
	for (int k = 0; k < NR_KINDS; k++)
		print_side(kind_names[k], &r->side[k]);
	printf("  ratio (pooled)      p50      p99    p99.9\n");
	for (unsigned int i = 0; i < NR_RATIOS; i++) {
		printf("  %-14s", ratios[i].name);
		if (!ratio_valid(r, i)) {
			printf("  (a side has no samples)\n");
			continue;
		}
		for (int q = 0; q < NR_PCT; q++)
			printf(" %8.3f", ratio_of(r, i, q));
		printf("\n");
	}
	printf("  loaded/idle p99, round by round:");
	for (unsigned int i = 0; i < r->rounds; i++) {
		if (loaded_over_idle_p99(r, i) > 0)
			printf(" %.3f", loaded_over_idle_p99(r, i));
		else
			printf(" -");
	}
	printf("\n");
	printf("  the push ran at %.1f MB/s in the loaded runs (%" PRIu64 " pages)\n",
	       (double)r->loaded_bulk_bps / 1e6, r->loaded_bulk_pages);
}

static void print_placement(void)
{
	if (pl.src_cpu < 0) {
		printf("placement: nothing pinned (this process may run on one CPU only)\n");
		return;
	}
	printf("placement: source threads (the floor's server, libpcram's source) on CPU %d,\n"
	       "  destination threads (the floor's handler, libpcram's receivers and fault\n"
	       "  thread) on CPU %d, the vCPU thread on CPU %d%s\n", pl.src_cpu, pl.dst_cpu,
	       pl.vcpu_cpu, pl.vcpu_cpu == pl.dst_cpu ? " (no third CPU)" : "");
}

static void print_text(const struct report *rp)
{
	printf("pcram bench netfault: a fault on a page not yet arrived, served over loopback\n"
	       "TCP: a bare userfaultfd handler (the floor) against libpcram, with its bulk\n"
	       "stream idle and pushing\n");
	printf("kernel %s %s, %u CPUs, libpcram %s, %u rounds\n", rp->uts.release,
	       rp->uts.machine, rp->cpus, pcram_version(), rp->rounds);
	print_placement();
	printf("priority: the floor's threads and libpcram's request path at nice %d (the\n"
	       "  caller's; libpcram's threads inherit it); libpcram's bulk threads at nice 19;\n"
	       "  libpcram's request path asks for a 0.1 ms slice (Linux 6.12 and later),\n"
	       "  which matters only against other runnable threads: the push\n",
	       rp->nice);
	printf("method: a thread touches pages not yet arrived, one after another, timed\n"
	       "  around the first read. floor: a handler blocked in read() on the\n"
	       "  userfaultfd sends the page's offset over TCP to a bare server, receives\n"
	       "  the page and places it with UFFDIO_COPY. idle: libpcram, the source made\n"
	       "  with PCRAM_SRC_F_NO_PUSH (requested pages only, on the urgent connection).\n"
	       "  loaded: libpcram while the bulk connection pushes the block. Same pages,\n"
	       "  same order, each round. pooled: exact percentiles of all rounds' samples;\n"
	       "  round min/med/max: the spread of each round's own percentile.\n");
	print_row(&rp->rows[0], "4K");
	print_row(&rp->rows[1], "2M");
}

/* ---- bench netfault --------------------------------------------------------------- */

int bench_netfault_main(int argc, char **argv)
{
	static struct report rp;
	uint64_t mib, samples, huge_pages;
	struct bench_args a;
	int ret;

	ret = bench_parse_args_sized(argc, argv, 0, MAX_ROUNDS, MIN_MIB, MAX_MIB, &a);
	if (ret >= 0)
		return ret;
	mib = a.mib ? a.mib : a.quick ? QUICK_MIB : DEFAULT_MIB;
	samples = a.quick ? QUICK_SAMPLES : DEFAULT_SAMPLES;
	if (bench_base_pages_4k())
		return fail("bench", "netfault: %s", bench_errbuf);

	memset(&rp, 0, sizeof(rp));
	uname(&rp.uts);
	if (pick_cpus(&rp.cpus))
		return fail("bench", "netfault: %s", bench_errbuf);
	rp.rounds = a.rounds ? a.rounds : a.quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;

	ret = measure_row(&rp.rows[0], 4 * KIB, mib * MIB, false, rp.rounds, samples, &rp.nice);
	if (ret)
		return fail("bench", "netfault: 4K: %s", bench_errbuf);
	/* Two pages at least: one for the vCPU to fault on, one for the push. */
	huge_pages = bench_huge_pages_usable(mib * MIB / HUGE_SIZE, 2, rp.rows[1].skipped,
					     sizeof(rp.rows[1].skipped));
	if (huge_pages) {
		ret = measure_row(&rp.rows[1], HUGE_SIZE, huge_pages * HUGE_SIZE, true, rp.rounds,
				  samples, &rp.nice);
		if (ret)
			return fail("bench", "netfault: 2M: %s", bench_errbuf);
	}
	if (a.json)
		print_json(&rp);
	else
		print_text(&rp);
	return 0;
}
