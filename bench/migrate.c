// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram bench migrate: what a migration over TCP moves, and what it costs,
 * next to two floors on the same loopback in the same run.
 *
 * The migration: a whole block of SIZE bytes over two 127.0.0.1 TCP
 * connections (bulk and urgent, as libpcram expects), its source
 * (pcram_src_serve) in one process and its destination (pcram_in_*) in
 * another, nobody touching the memory, so that every page goes on the
 * bulk connection. Timed in the destination, from pcram_in_start() (which
 * sends READY) to pcram_in_wait()'s return (every page placed, the
 * source's closing message read).
 *
 * The floors, each a writer process and a reader process, the writer
 * sending the same bytes over one 127.0.0.1 connection, 32 pages a
 * send(2) as the source gathers them (at least 128 KiB):
 *
 *   equal-work  the reader receives into a buffer (256 KiB, or one page
 *               if bigger, as libpcram's bulk receiver batches) and places
 *               each run of whole pages received with ONE UFFDIO_COPY into
 *               a userfaultfd-registered area of the same kind as the
 *               destination's: the migration's own work, and nothing else.
 *   raw         the reader receives into a 256 KiB buffer, placing
 *               nothing: plain TCP, a lower floor.
 *
 * Priority: libpcram runs its bulk threads (the source's push, the
 * destination's bulk receiver) at nice 19; the floors' processes run at
 * nice 19 too.
 *
 * Cost: a fresh process for each side of each run, so that each side's
 * figures are its own: its CPU time (every thread, user and system) over
 * its work, per GiB moved, and its peak resident memory (VmHWM, plus the
 * hugetlbfs pages it holds, which VmHWM does not count).
 *
 * Runs rotate (migration, equal-work, raw), which goes first turning each
 * round; every figure is shown as its spread over the rounds (min,
 * median, max); ratios are of the medians. Every page holds non-zero data,
 * so that no page can travel as a zero flag (the source's count of zero
 * pages is shown to prove it), and both placing readers' memory is checked
 * byte for byte after every run.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <pcram.h>

#include "bench.h"
#include "clock.h"
#include "json.h"
#include "cli.h"

#define DEFAULT_MIB 512
#define DEFAULT_ROUNDS 5
#define QUICK_MIB 16
#define QUICK_ROUNDS 2
#define MIN_MIB 4			/* two 2 MiB pages */
#define MAX_MIB 65536
#define MAX_ROUNDS 101

#define READ_SIZE (256 * KIB)		/* what a floor reader asks read(2) for */
#define SEND_SIZE (128 * KIB)		/* what a floor writer sends at least */
#define RUN_TIMEOUT_S 300		/* a run that takes longer is stuck */
/* libpcram's bulk threads' nice value (pcram.h: PCRAM_*_F_BULK_SAME_PRIORITY). */
#define BULK_NICE 19

#define GIB (1024 * MIB)

enum kind { MIGRATION, EQUAL_WORK, RAW, KINDS };
static const char *const kind_name[KINDS] = { "migration", "equal-work", "raw" };
/* The process that sends, [0], and the one that receives, [1]. */
static const char *const side_name[KINDS][2] = {
	{ "source", "destination" }, { "writer", "reader" }, { "writer", "reader" },
};

/* ---- one side of a run: a process of its own ---------------------------------- */

/* What a side's process is given. */
struct run_ctx {
	enum kind kind;
	uint64_t page_size, size;
	bool huge;			/* the receiving side's memory is 2 MiB hugetlbfs */
	int listen_fd;			/* the sending side's */
	uint16_t port;
};

/* What a side's process reports, over a pipe. */
struct side_out {
	int ret;
	char err[400];
	uint64_t ns;			/* receiving side: from "go" to the last byte in */
	uint64_t cpu_ns;		/* the process's CPU time over its work */
	uint64_t peak_rss;		/* bytes */
	int nice;			/* floors: as read back */
	uint64_t pages_verified;	/* placing readers: pages found right */
	uint64_t zero_pages;		/* the migration's source: sent as zero flags */
	uint64_t copies;		/* the equal-work reader: UFFDIO_COPY calls */
};

/* CPU time of every thread of this process, those ended included. */
static uint64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/*
 * This process's peak resident memory: VmHWM, and the hugetlbfs pages it
 * holds now (VmHWM leaves them out; a side's only grow until its end).
 */
static uint64_t peak_rss_bytes(void)
{
	uint64_t hwm = 0, huge = 0, v;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmHWM: %" SCNu64, &v) == 1)
			hwm = v;
		else if (sscanf(line, "HugetlbPages: %" SCNu64, &v) == 1)
			huge = v;
	}
	fclose(f);
	return (hwm + huge) * KIB;
}

/* The work is over: what it cost this process. */
static void side_cost(struct side_out *o, uint64_t cpu0)
{
	o->cpu_ns = process_cpu_ns() - cpu0;
	o->peak_rss = peak_rss_bytes();
}

/* Every word of every page as the source's: 0, or -EIO naming the first page off. */
static int verify(const struct run_ctx *c, const uint8_t *dest, struct side_out *o)
{
	uint64_t per_page = c->page_size / sizeof(uint64_t), pages = c->size / c->page_size;
	const uint64_t *w = (const uint64_t *)dest;

	for (uint64_t p = 0; p < pages; p++)
		for (uint64_t i = 0; i < per_page; i++)
			if (w[p * per_page + i] != bench_pattern(p))
				return bench_err(-EIO, "page %" PRIu64 " arrived wrong", p);
	o->pages_verified = pages;
	return 0;
}

/* ---- the migration's two sides ------------------------------------------------------ */

/* Take the destination's two connections, in whichever order, and serve. */
static int source_side(const struct run_ctx *c, struct side_out *o)
{
	struct pcram_src_options so = { .flags = 0 };
	struct pcram_src_block sb = {
		.name = "bench", .length = c->size, .page_size = c->page_size,
	};
	struct pcram_src_stats ss;
	struct pcram_src *src;
	int fds[2], ret;
	uint64_t cpu0;
	uint8_t *ram;

	ret = bench_map_source(c->size, c->page_size, &ram);
	if (ret)
		return ret;
	sb.host = ram;
	cpu0 = process_cpu_ns();
	ret = pcram_src_new(&src, &so);
	if (ret)
		return bench_err(ret, "pcram_src_new: %s", strerror(-ret));
	ret = pcram_src_add_block(src, &sb);
	if (ret)
		return bench_err(ret, "%s", pcram_src_strerror(src));
	for (int i = 0; i < 2; i++) {
		fds[i] = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fds[i] < 0)
			return bench_err(-errno, "accept: %s", strerror(errno));
	}
	ret = pcram_src_serve(src, fds[0], fds[1]);
	if (ret)
		return bench_err(ret, "%s", pcram_src_strerror(src));
	side_cost(o, cpu0);
	pcram_src_stats(src, &ss, sizeof(ss));
	o->zero_pages = ss.zero_pages;
	/* The process ends here: nothing to free. */
	return 0;
}

/* Connect, start, wait for every page. */
static int destination_side(const struct run_ctx *c, struct side_out *o)
{
	struct pcram_block blk = {
		.name = "bench", .length = c->size, .page_size = c->page_size,
		.type = c->huge ? PCRAM_BLOCK_HUGETLB : PCRAM_BLOCK_ANON, .fd = -1,
	};
	uint64_t cpu0 = process_cpu_ns(), t0;
	struct pcram_remote_block rb;
	struct pcram_dst *dst = NULL;
	struct pcram_in *in;
	int bulk, urgent, ret;
	uint8_t *dest;

	ret = bench_map_dest(c->size, c->huge, &dest);
	if (ret)
		return ret;
	blk.host = dest;
	bulk = bench_tcp_connect(c->port);
	if (bulk < 0)
		return bulk;
	urgent = bench_tcp_connect(c->port);
	if (urgent < 0)
		return urgent;
	ret = pcram_in_new(&in, NULL);
	if (ret)
		return bench_err(ret, "pcram_in_new: %s", strerror(-ret));
	ret = pcram_in_connect(in, bulk, urgent, &rb, 1);
	if (ret != 1)
		return bench_err(ret < 0 ? ret : -EPROTO, "%s",
				 ret < 0 ? pcram_in_strerror(in) : "the source has other blocks");
	ret = pcram_dst_new(&dst, NULL);
	if (!ret)
		ret = pcram_dst_add_block(dst, &blk);
	if (!ret)
		ret = pcram_dst_incoming_init(dst);
	if (!ret)
		ret = pcram_dst_prepare_discard(dst);
	if (ret)
		return bench_err(ret, "%s", dst ? pcram_dst_strerror(dst) : strerror(-ret));

	t0 = mono_ns();
	ret = pcram_in_start(in, dst);
	if (ret)
		return bench_err(ret, "%s", pcram_in_strerror(in));
	ret = pcram_in_wait(in, RUN_TIMEOUT_S * 1000);
	o->ns = mono_ns() - t0;
	if (ret)
		return bench_err(ret, "%s", pcram_in_strerror(in));
	side_cost(o, cpu0);
	pcram_dst_cleanup(dst);
	return verify(c, dest, o);
}

/* ---- the floors' two sides -------------------------------------------------------- */

/* The floors' processes at the priority of libpcram's bulk threads. */
static int floor_priority(struct side_out *o)
{
	/* Linux: the calling thread's, the only one. */
	if (setpriority(PRIO_PROCESS, 0, BULK_NICE))
		return bench_err(-errno, "setpriority: %s", strerror(errno));
	errno = 0;
	o->nice = getpriority(PRIO_PROCESS, 0);
	return errno ? bench_err(-errno, "getpriority: %s", strerror(errno)) : 0;
}

/*
 * The ready byte once the RAM is filled (the reader's clock waits for it),
 * then the block, 32 pages a send(2), as the source gathers them, and at
 * least SEND_SIZE.
 */
static int writer_side(const struct run_ctx *c, struct side_out *o)
{
	uint64_t chunk = 32 * c->page_size < SEND_SIZE ? SEND_SIZE : 32 * c->page_size;
	uint64_t cpu0;
	uint8_t *ram;
	char go;
	int fd, ret;

	ret = floor_priority(o);
	if (!ret)
		ret = bench_map_source(c->size, c->page_size, &ram);
	if (ret)
		return ret;
	cpu0 = process_cpu_ns();
	fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return bench_err(-errno, "accept: %s", strerror(errno));
	if (write(fd, "r", 1) != 1 || read(fd, &go, 1) != 1)
		return bench_err(-EPIPE, "the reader went away before the start");
	for (uint64_t off = 0; off < c->size; off += chunk) {
		ret = bench_send_all(fd, ram + off, c->size - off < chunk ? c->size - off : chunk);
		if (ret)
			return bench_err(ret, "send: %s", strerror(-ret));
	}
	side_cost(o, cpu0);
	close(fd);
	return 0;
}

/* @len bytes of whole pages from @src to @dst: one UFFDIO_COPY (more on EAGAIN). */
static int place_run(int uffd, uint8_t *dst, const uint8_t *src, uint64_t len,
		     uint64_t *copies)
{
	while (len) {
		struct uffdio_copy cp = {
			.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len,
		};
		int64_t done;

		(*copies)++;
		if (ioctl(uffd, UFFDIO_COPY, &cp) == 0)
			return 0;
		if (errno != EAGAIN)
			return bench_err(-errno, "UFFDIO_COPY: %s", strerror(errno));
		done = cp.copy > 0 ? cp.copy : 0;
		dst += done;
		src += done;
		len -= (uint64_t)done;
	}
	return 0;
}

/* The equal-work reader's destination: fresh, registered for missing faults. */
static int floor_dest(const struct run_ctx *c, uint8_t **dest, int *uffd)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int ret = bench_map_dest(c->size, c->huge, dest);

	if (ret)
		return ret;
	*uffd = bench_uffd_new(O_NONBLOCK);
	if (*uffd < 0)
		return *uffd;
	reg.range.start = (uintptr_t)*dest;
	reg.range.len = c->size;
	if (ioctl(*uffd, UFFDIO_REGISTER, &reg))
		return bench_err(-errno, "UFFDIO_REGISTER: %s", strerror(errno));
	return 0;
}

/*
 * Wait for the writer's ready byte, say go, and read every byte: raw, into
 * the one buffer; equal-work, each run of whole pages received placed with
 * one UFFDIO_COPY, the part page left kept for the next read.
 */
static int reader_side(const struct run_ctx *c, struct side_out *o)
{
	bool place = c->kind == EQUAL_WORK;
	uint64_t cap = place && c->page_size > READ_SIZE ? c->page_size : READ_SIZE;
	uint64_t cpu0, t0, got = 0, fill = 0, placed = 0;
	uint8_t *dest = NULL, *buf;
	int fd, uffd = -1, ret;
	char ready;

	ret = floor_priority(o);
	if (ret)
		return ret;
	cpu0 = process_cpu_ns();
	if (place) {
		ret = floor_dest(c, &dest, &uffd);
		if (ret)
			return ret;
	}
	buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return bench_err(-errno, "mapping the buffer: %s", strerror(errno));
	fd = bench_tcp_connect(c->port);
	if (fd < 0)
		return fd;
	if (read(fd, &ready, 1) != 1)
		return bench_err(-EPIPE, "the writer went away before the start");
	t0 = mono_ns();
	if (write(fd, "g", 1) != 1)
		return bench_err(-errno, "write: %s", strerror(errno));
	while (got < c->size) {
		ssize_t n = read(fd, buf + fill, cap - fill);
		uint64_t whole;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return bench_err(n ? -errno : -EPIPE, "read: %s",
					 n ? strerror(errno) : "the writer hung up early");
		got += (uint64_t)n;
		if (!place)
			continue;
		fill += (uint64_t)n;
		whole = fill - fill % c->page_size;
		if (!whole)
			continue;
		ret = place_run(uffd, dest + placed, buf, whole, &o->copies);
		if (ret)
			return ret;
		placed += whole;
		fill -= whole;
		memmove(buf, buf + whole, fill);
	}
	o->ns = mono_ns() - t0;
	side_cost(o, cpu0);
	return place ? verify(c, dest, o) : 0;
}

typedef int (*side_fn)(const struct run_ctx *c, struct side_out *o);
static const side_fn side_main[KINDS][2] = {
	{ source_side, destination_side },
	{ writer_side, reader_side },
	{ writer_side, reader_side },
};

/* ---- a run: its two processes ------------------------------------------------------ */

/*
 * The sending side on one CPU and the receiving side on another, as if
 * they were two hosts; the library's threads inherit it. Both -1 (nothing
 * pinned) when this process may run on one CPU only.
 */
struct placement {
	int send_cpu, recv_cpu;
};

static struct placement pl = { -1, -1 };

static int pick_cpus(unsigned int *cpus)
{
	int picked[2], ret = bench_cpus(cpus, picked, 2);

	if (ret)
		return ret;
	if (*cpus >= 2)
		pl = (struct placement) { picked[0], picked[1] };
	return 0;
}

struct child {
	pid_t pid;
	int fd;				/* the read end of its pipe */
	const char *name;
	bool reported, killed;
	struct side_out out;
};

/*
 * Side @side of @c's kind in a process of its own on @cpu (-1: anywhere),
 * @close_fd (>= 0) closed in it: its report comes on ch->fd.
 */
static int child_start(struct child *ch, const struct run_ctx *c, int side, int cpu,
		       int close_fd)
{
	cpu_set_t saved;
	int p[2], ret;

	*ch = (struct child) { .pid = -1, .fd = -1, .name = side_name[c->kind][side] };
	if (pipe2(p, O_CLOEXEC))
		return bench_err(-errno, "pipe: %s", strerror(errno));
	/* Pinned from its first instruction: the child inherits the CPU. */
	ret = bench_pin_saving(cpu, &saved);
	if (ret) {
		close(p[0]);
		close(p[1]);
		return bench_err(ret, "pinning to CPU %d: %s", cpu, strerror(-ret));
	}
	fflush(NULL);
	ch->pid = fork();
	if (ch->pid == 0) {
		struct side_out o = { .ret = 0 };

		close(p[0]);
		if (close_fd >= 0)
			close(close_fd);
		o.ret = side_main[c->kind][side](c, &o);
		if (o.ret)
			snprintf(o.err, sizeof(o.err), "%.399s", bench_errbuf);
		_exit(write(p[1], &o, sizeof(o)) == sizeof(o) ? 0 : 1);
	}
	ret = ch->pid < 0 ? -errno : 0;
	bench_pin_restore(&saved);
	close(p[1]);
	if (ret) {
		close(p[0]);
		return bench_err(ret, "fork: %s", strerror(-ret));
	}
	ch->fd = p[0];
	return 0;
}

/* How long a side may take to report once its peer has failed. */
#define PEER_FAILED_GRACE_S 10

static bool child_failed(const struct child *c)
{
	return !c->reported || c->out.ret;
}

/*
 * Read the reports of @n children; kill those that give none in time: the
 * run's timeout, or soon after the other side failed (a writer would wait
 * in accept() for a reader that never comes).
 */
static void children_read(struct child *ch, int n)
{
	uint64_t deadline = mono_ns() + (RUN_TIMEOUT_S + 30) * 1000000000ULL;

	for (;;) {
		struct pollfd pfd[2];
		int idx[2], m = 0, ready;
		uint64_t now = mono_ns();

		for (int i = 0; i < n; i++)
			if (ch[i].fd >= 0) {
				pfd[m] = (struct pollfd) { .fd = ch[i].fd, .events = POLLIN };
				idx[m++] = i;
			}
		if (!m || now >= deadline)
			break;
		ready = poll(pfd, (nfds_t)m, (int)((deadline - now) / 1000000) + 1);
		if (ready < 0 && errno != EINTR)
			break;
		for (int k = 0; ready > 0 && k < m; k++) {
			struct child *c = &ch[idx[k]];
			uint64_t soon = mono_ns() + PEER_FAILED_GRACE_S * 1000000000ULL;

			if (!pfd[k].revents)
				continue;
			c->reported = read(c->fd, &c->out, sizeof(c->out)) == sizeof(c->out);
			close(c->fd);
			c->fd = -1;
			if (child_failed(c) && soon < deadline)
				deadline = soon;
		}
	}
	for (int i = 0; i < n; i++)
		if (ch[i].fd >= 0) {
			kill(ch[i].pid, SIGKILL);	/* ours, and the run is over */
			ch[i].killed = true;
			close(ch[i].fd);
			ch[i].fd = -1;
		}
}

static bool conn_lost(int err)
{
	return err == -EPIPE || err == -ECONNRESET || err == -ECONNREFUSED;
}

/*
 * How much a failed side's own account says why a run failed: its own
 * error, over its death, over its peer going away, over being killed
 * while waiting for a peer that had failed.
 */
static int failure_rank(const struct child *c, bool peer_failed)
{
	if (c->reported)
		return conn_lost(c->out.ret) ? 2 : 4;
	if (c->killed)
		return peer_failed ? 1 : 3;
	return 3;
}

/* Why @c failed, in @msg; its error. */
static int failure_text(const struct child *c, int status, char *msg, size_t size)
{
	if (c->reported) {
		snprintf(msg, size, "%s: %s", c->name, c->out.err);
		return c->out.ret;
	}
	if (c->killed) {
		snprintf(msg, size, "the %s process gave no report in time; killed", c->name);
		return -ETIMEDOUT;
	}
	if (WIFSIGNALED(status))
		snprintf(msg, size, "the %s process died of signal %d", c->name,
			 WTERMSIG(status));
	else
		snprintf(msg, size, "the %s process ended without a report", c->name);
	return -EIO;
}

/*
 * Reap @n children of a run of @kind: 0 when each reported success, else
 * the account of the side that says most about why not.
 */
static int children_end(struct child *ch, int n, enum kind kind)
{
	char why[sizeof(bench_errbuf)] = "", msg[sizeof(bench_errbuf)];
	int ret = 0, best = 0, status;

	children_read(ch, n);
	for (int i = 0; i < n; i++) {
		const struct child *c = &ch[i];
		bool peer_failed = n == 2 && child_failed(&ch[1 - i]) && !ch[1 - i].killed;
		int err, rank;

		while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!child_failed(c))
			continue;
		err = failure_text(c, status, msg, sizeof(msg));
		rank = failure_rank(c, peer_failed);
		if (rank > best) {
			best = rank;
			ret = err;
			memcpy(why, msg, sizeof(why));
		}
	}
	return ret ? bench_err(ret, "%s: %s", kind_name[kind], why) : 0;
}

/* One run of @c's kind: the two sides' reports in @out (sending, receiving). */
static int run_once(struct run_ctx *c, struct side_out out[2])
{
	struct child ch[2];
	int ret, n = 0;

	c->listen_fd = bench_tcp_listen(&c->port);
	if (c->listen_fd < 0)
		return c->listen_fd;
	ret = child_start(&ch[0], c, 0, pl.send_cpu, -1);
	if (!ret) {
		n = 1;
		/* The receiving side leaves the listening socket to the sender. */
		ret = child_start(&ch[1], c, 1, pl.recv_cpu, c->listen_fd);
	}
	close(c->listen_fd);
	if (ret) {
		if (n) {
			/* The sender would wait in accept() for nobody. */
			kill(ch[0].pid, SIGKILL);
			close(ch[0].fd);
			while (waitpid(ch[0].pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		return ret;
	}
	ret = children_end(ch, 2, c->kind);
	out[0] = ch[0].out;
	out[1] = ch[1].out;
	return ret;
}

/* ---- a row: one page size ------------------------------------------------------ */

/* One kind's figures over the rounds of a row. */
struct kind_row {
	struct bench_spread bps;	/* bytes/s, from the receiving side's clock */
	struct bench_spread cpu[2];	/* CPU µs per GiB: [0] sending side, [1] receiving */
	struct bench_spread cpu_total;	/* ... both sides of a run added */
	struct bench_spread rss[2];	/* peak resident bytes, likewise */
	uint64_t runs;
	uint64_t pages_verified;	/* migration, equal-work: byte for byte */
	uint64_t zero_pages;		/* migration: sent as zero flags */
	uint64_t copies;		/* equal-work: UFFDIO_COPY calls */
};

struct row {
	uint64_t page_size;
	uint64_t bytes;
	char skipped[256];		/* "" when measured */
	struct kind_row k[KINDS];
};

static int floor_nice;		/* as the floors' processes read it back */

static uint64_t us_per_gib(uint64_t ns, uint64_t bytes)
{
	return bytes ? (uint64_t)((double)ns / 1e3 * (double)GIB / (double)bytes + 0.5) : 0;
}

static int measure_row(struct row *r, uint64_t page_size, uint64_t size, bool huge,
		       unsigned int rounds)
{
	static uint64_t bps[KINDS][MAX_ROUNDS], cpu[KINDS][2][MAX_ROUNDS];
	static uint64_t cpu_total[KINDS][MAX_ROUNDS];
	static uint64_t rss[KINDS][2][MAX_ROUNDS];

	r->page_size = page_size;
	r->bytes = size;
	for (unsigned int i = 0; i < rounds; i++) {
		/* The kinds in turn, which goes first turning each round. */
		for (int j = 0; j < KINDS; j++) {
			enum kind k = (enum kind)((i + (unsigned int)j) % KINDS);
			struct run_ctx c = {
				.kind = k, .page_size = page_size, .size = size, .huge = huge,
			};
			struct kind_row *kr = &r->k[k];
			struct side_out out[2];
			int ret = run_once(&c, out);

			if (ret)
				return ret;
			bps[k][i] = bench_per_s(size, out[1].ns);
			for (int s = 0; s < 2; s++) {
				cpu[k][s][i] = us_per_gib(out[s].cpu_ns, size);
				rss[k][s][i] = out[s].peak_rss;
			}
			cpu_total[k][i] = cpu[k][0][i] + cpu[k][1][i];
			kr->runs++;
			kr->pages_verified += out[1].pages_verified;
			kr->zero_pages += out[0].zero_pages;
			kr->copies += out[1].copies;
			if (k != MIGRATION)
				floor_nice = out[1].nice;
		}
	}
	for (int k = 0; k < KINDS; k++) {
		bench_spread_of(bps[k], rounds, &r->k[k].bps);
		bench_spread_of(cpu_total[k], rounds, &r->k[k].cpu_total);
		for (int s = 0; s < 2; s++) {
			bench_spread_of(cpu[k][s], rounds, &r->k[k].cpu[s]);
			bench_spread_of(rss[k][s], rounds, &r->k[k].rss[s]);
		}
	}
	return 0;
}

/* ---- output ------------------------------------------------------------------------ */

struct report {
	struct utsname uts;
	unsigned int cpus, rounds;
	struct row rows[2];		/* 4 KiB, 2 MiB */
};

static double ratio_to(const struct row *r, enum kind floor)
{
	return bench_ratio(r->k[MIGRATION].bps.median, r->k[floor].bps.median);
}

/* The migration's CPU per GiB over equal-work's: a side (0, 1), or both (-1). */
static double cpu_ratio(const struct row *r, int side)
{
	const struct kind_row *m = &r->k[MIGRATION], *e = &r->k[EQUAL_WORK];

	if (side < 0)
		return bench_ratio(m->cpu_total.median, e->cpu_total.median);
	return bench_ratio(m->cpu[side].median, e->cpu[side].median);
}

static void json_kind(struct json *j, const struct row *r, enum kind k)
{
	static const char *const json_name[KINDS] = { "migration", "equal_work", "raw" };
	const struct kind_row *kr = &r->k[k];
	char key[64];

	json_open_object(j, json_name[k]);
	bench_json_spread(j, "bytes_per_s", &kr->bps);
	for (int s = 0; s < 2; s++) {
		snprintf(key, sizeof(key), "%s_cpu_us_per_gib", side_name[k][s]);
		bench_json_spread(j, key, &kr->cpu[s]);
	}
	bench_json_spread(j, "cpu_us_per_gib", &kr->cpu_total);
	for (int s = 0; s < 2; s++) {
		snprintf(key, sizeof(key), "%s_peak_rss_bytes", side_name[k][s]);
		bench_json_spread(j, key, &kr->rss[s]);
	}
	json_u64(j, "runs", kr->runs);
	if (k != RAW)
		json_u64(j, "pages_verified", kr->pages_verified);
	if (k == MIGRATION)
		json_u64(j, "zero_pages", kr->zero_pages);
	if (k == EQUAL_WORK)
		json_u64(j, "uffdio_copies", kr->copies);
	json_close_object(j);
}

static void json_row(struct json *j, const char *key, const struct row *r)
{
	if (!bench_json_row_begin(j, key, r->skipped, r->page_size, r->bytes))
		return;
	json_u64(j, "pages_per_run", r->bytes / r->page_size);
	json_double(j, "ratio_migration_equal_work", ratio_to(r, EQUAL_WORK), 4);
	json_double(j, "ratio_migration_raw", ratio_to(r, RAW), 4);
	json_double(j, "ratio_cpu_equal_work", cpu_ratio(r, -1), 4);
	json_double(j, "ratio_source_cpu_equal_work", cpu_ratio(r, 0), 4);
	json_double(j, "ratio_destination_cpu_equal_work", cpu_ratio(r, 1), 4);
	for (int k = 0; k < KINDS; k++)
		json_kind(j, r, (enum kind)k);
	json_close_object(j);
}

static void print_json(const struct report *rp)
{
	struct json j;

	bench_json_begin(&j, "migrate", &rp->uts);
	json_u64(&j, "cpus", rp->cpus);
	json_u64(&j, "rounds", rp->rounds);
	json_open_object(&j, "nice");
	json_int(&j, "migration_bulk", BULK_NICE);
	json_int(&j, "floors", floor_nice);
	json_close_object(&j);
	json_open_object(&j, "placement");
	bench_json_cpu(&j, "sending_cpu", pl.send_cpu);
	bench_json_cpu(&j, "receiving_cpu", pl.recv_cpu);
	json_close_object(&j);
	json_row(&j, "4k", &rp->rows[0]);
	json_row(&j, "2m", &rp->rows[1]);
	bench_json_end(&j);
}

/* "median [min, max]" of @s over @div, with @dec decimals, in @w columns. */
static void print_spread(const struct bench_spread *s, double div, int dec, int w)
{
	char buf[96];

	snprintf(buf, sizeof(buf), "%.*f [%.*f, %.*f]", dec, (double)s->median / div, dec,
		 (double)s->min / div, dec, (double)s->max / div);
	printf(" %-*s", w, buf);
}

static void print_row(const struct row *r, unsigned int rounds)
{
	uint64_t pages = r->bytes / r->page_size;

	printf("\n%s: %" PRIu64 " MiB a run (%" PRIu64 " pages)\n", bench_size_name(r->page_size),
	       r->bytes / MIB, pages);
	printf("%-11s %-26s %-22s %-22s %s\n", "", "MB/s", "send CPU s/GiB",
	       "receive CPU s/GiB", "peak RSS MiB send/receive");
	for (int k = 0; k < KINDS; k++) {
		const struct kind_row *kr = &r->k[k];

		printf("%-11s", kind_name[k]);
		print_spread(&kr->bps, 1e6, 1, 26);
		print_spread(&kr->cpu[0], 1e6, 3, 22);
		print_spread(&kr->cpu[1], 1e6, 3, 22);
		printf(" %.1f / %.1f\n", (double)kr->rss[0].median / (double)MIB,
		       (double)kr->rss[1].median / (double)MIB);
	}
	printf("migration/equal-work %.3f, migration/raw %.3f (of the medians)\n",
	       ratio_to(r, EQUAL_WORK), ratio_to(r, RAW));
	printf("CPU s/GiB, migration/equal-work: %.3f both sides (%.3f [%.3f, %.3f] against "
	       "%.3f [%.3f, %.3f]), send %.3f, receive %.3f\n", cpu_ratio(r, -1),
	       (double)r->k[MIGRATION].cpu_total.median / 1e6,
	       (double)r->k[MIGRATION].cpu_total.min / 1e6,
	       (double)r->k[MIGRATION].cpu_total.max / 1e6,
	       (double)r->k[EQUAL_WORK].cpu_total.median / 1e6,
	       (double)r->k[EQUAL_WORK].cpu_total.min / 1e6,
	       (double)r->k[EQUAL_WORK].cpu_total.max / 1e6, cpu_ratio(r, 0), cpu_ratio(r, 1));
	printf("%" PRIu64 " of %" PRIu64 " pages verified byte for byte after the migrations, "
	       "%" PRIu64 " of %" PRIu64 " after equal-work\n",
	       r->k[MIGRATION].pages_verified, r->k[MIGRATION].runs * pages,
	       r->k[EQUAL_WORK].pages_verified, r->k[EQUAL_WORK].runs * pages);
	printf("%" PRIu64 " pages went as zero flags; equal-work placed them with %.1f "
	       "UFFDIO_COPY calls a run\n", r->k[MIGRATION].zero_pages,
	       (double)r->k[EQUAL_WORK].copies / rounds);
}

static void print_text(const struct report *rp)
{
	printf("pcram bench migrate: a migration over loopback TCP against an equal-work floor\n"
	       "and raw TCP on the same loopback: throughput, CPU time and memory\n");
	printf("kernel %s %s, %u CPUs, libpcram %s, %u rounds\n", rp->uts.release,
	       rp->uts.machine, rp->cpus, pcram_version(), rp->rounds);
	if (pl.send_cpu < 0)
		printf("placement: nothing pinned (this process may run on one CPU only)\n");
	else
		printf("placement: sending processes (source, writers) on CPU %d, receiving "
		       "(destination, readers) on CPU %d\n", pl.send_cpu, pl.recv_cpu);
	printf("priority: the floors at nice %d, as libpcram's bulk threads (nice %d)\n",
	       floor_nice, BULK_NICE);
	printf("method: each side a process of its own. migration: pcram_src_serve against\n"
	       "  pcram_in_*, nobody touching the memory. equal-work: the same bytes over one\n"
	       "  connection, 32 pages (at least 128 KiB) a send, received into a buffer,\n"
	       "  each run of whole pages placed with one UFFDIO_COPY into registered memory\n"
	       "  of the same kind. raw: the same bytes received, nothing placed. CPU: each\n"
	       "  process's, all threads, user and system, over its work; median [min, max]\n"
	       "  over the rounds.\n");
	for (int i = 0; i < 2; i++) {
		const struct row *r = &rp->rows[i];

		if (r->skipped[0])
			printf("\n%s: skipped: %s\n", i ? "2M" : "4K", r->skipped);
		else
			print_row(r, rp->rounds);
	}
}

/* ---- bench migrate --------------------------------------------------------------- */

int bench_migrate_main(int argc, char **argv)
{
	static struct report rp;
	struct bench_args a;
	uint64_t mib, huge_pages;
	int ret;

	ret = bench_parse_args_sized(argc, argv, 0, MAX_ROUNDS, MIN_MIB, MAX_MIB, &a);
	if (ret >= 0)
		return ret;
	mib = a.mib ? a.mib : a.quick ? QUICK_MIB : DEFAULT_MIB;
	if (bench_base_pages_4k())
		return fail("bench", "migrate: %s", bench_errbuf);

	memset(&rp, 0, sizeof(rp));
	uname(&rp.uts);
	if (pick_cpus(&rp.cpus))
		return fail("bench", "migrate: %s", bench_errbuf);
	rp.rounds = a.rounds ? a.rounds : a.quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;

	ret = measure_row(&rp.rows[0], 4 * KIB, mib * MIB, false, rp.rounds);
	if (ret)
		return fail("bench", "migrate: 4K: %s", bench_errbuf);
	huge_pages = bench_huge_pages_usable(mib * MIB / HUGE_SIZE, 2, rp.rows[1].skipped,
					     sizeof(rp.rows[1].skipped));
	if (huge_pages) {
		ret = measure_row(&rp.rows[1], HUGE_SIZE, huge_pages * HUGE_SIZE, true, rp.rounds);
		if (ret)
			return fail("bench", "migrate: 2M: %s", bench_errbuf);
	}
	if (a.json)
		print_json(&rp);
	else
		print_text(&rp);
	return 0;
}
