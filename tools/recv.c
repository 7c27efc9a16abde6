// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram recv: the destination of a migration. Connects to 'pcram serve',
 * maps the blocks it offers, and runs vCPU threads that read their pages
 * in an access pattern from the switchover on, while libpcram fetches
 * what they touch first and places the rest as it streams in. A broken
 * connection is taken again until the source-gone timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "migrate.h"
#include "cli.h"
#include "clock.h"

#define MAX_BLOCKS 16

struct recv_state;

struct vcpu {
	struct recv_state *rs;
	unsigned int idx;
	pthread_t thread;
	bool started;
	uint64_t accesses;
	bool sigbus;
};

struct recv_state {
	const struct recv_conf *c;
	struct pcram_dst *dst;
	struct pcram_in *in;
	uint8_t *host;		/* block 0: what the vCPUs read */
	uint64_t pages, page_size;
	struct pcram_block blocks[MAX_BLOCKS];
	unsigned int nr_blocks;

	pthread_mutex_t lock;
	pthread_cond_t go_cond;
	bool go;		/* switched over: the vCPUs run */

	double *zipf_cdf;
	uint64_t *trace;
	uint64_t trace_len;
	struct vcpu vcpu[RECV_MAX_VCPUS];
};

/* ---- vCPUs ------------------------------------------------------------------------ */

/* A read of a poisoned page ends its vCPU, not the process. */
static __thread sigjmp_buf *bus_jmp;

static void on_sigbus(int sig)
{
	if (bus_jmp)
		siglongjmp(*bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_switchover(void *opaque)
{
	struct recv_state *rs = opaque;

	pthread_mutex_lock(&rs->lock);
	rs->go = true;
	pthread_cond_broadcast(&rs->go_cond);
	pthread_mutex_unlock(&rs->lock);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Page of access @i of vCPU @v. */
static uint64_t next_page(struct recv_state *rs, unsigned int v, uint64_t i, uint64_t *x)
{
	uint64_t n = rs->pages, per = n / rs->c->vcpus;

	switch (rs->c->pattern) {
	case PATTERN_SEQUENTIAL:
		return (v * per + i) % n;
	case PATTERN_RANDOM:
		return xorshift(x) % n;
	case PATTERN_ZIPF: {
		double u = (double)(xorshift(x) >> 11) / (double)(1ULL << 53);
		uint64_t lo = 0, hi = n - 1;

		while (lo < hi) {
			uint64_t mid = (lo + hi) / 2;

			if (rs->zipf_cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* Rank to page: the hot pages spread over the block. */
		return (lo * 2654435761ULL) % n;
	}
	case PATTERN_TRACE:
		return rs->trace[(i * rs->c->vcpus + v) % rs->trace_len];
	}
	return 0;
}

static uint64_t accesses_of(struct recv_state *rs, unsigned int v)
{
	if (rs->c->pattern == PATTERN_TRACE)
		return rs->trace_len / rs->c->vcpus + (v < rs->trace_len % rs->c->vcpus);
	if (rs->c->accesses)
		return rs->c->accesses;
	return rs->pages / rs->c->vcpus + (rs->c->pattern == PATTERN_SEQUENTIAL &&
					     v == rs->c->vcpus - 1 ? rs->pages % rs->c->vcpus : 0);
}

/* The reads, outside the function that holds the jump buffer. */
static __attribute__((noinline)) void vcpu_reads(struct vcpu *vc)
{
	struct recv_state *rs = vc->rs;
	uint64_t x = 0x9e3779b97f4a7c15ULL * (vc->idx + 1), n = accesses_of(rs, vc->idx);
	uint64_t sink = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t p = next_page(rs, vc->idx, i, &x);

		/* Reads only: the pages stay the source's, checksums agree. */
		sink += *(volatile uint64_t *)(rs->host + p * rs->page_size +
					       (i * 8) % rs->page_size);
		vc->accesses++;
	}
	__asm__ volatile("" : : "r"(sink));
}

static void *vcpu_main(void *arg)
{
	struct vcpu *vc = arg;
	struct recv_state *rs = vc->rs;
	sigjmp_buf jb;

	pcram_dst_set_vcpu(rs->dst, (uint32_t)gettid(), (int)vc->idx);
	pthread_mutex_lock(&rs->lock);
	while (!rs->go)
		pthread_cond_wait(&rs->go_cond, &rs->lock);
	pthread_mutex_unlock(&rs->lock);
	if (sigsetjmp(jb, 1)) {
		bus_jmp = NULL;
		vc->sigbus = true;
		return NULL;
	}
	bus_jmp = &jb;
	vcpu_reads(vc);
	bus_jmp = NULL;
	return NULL;
}

static int load_trace(struct recv_state *rs, char *err, size_t errlen)
{
	FILE *f = fopen(rs->c->trace, "re");
	char line[128];
	uint64_t cap = 0, ln = 0;

	if (!f) {
		snprintf(err, errlen, "trace %s: %s", rs->c->trace, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *end;
		unsigned long long off;

		ln++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		errno = 0;
		off = strtoull(line, &end, 0);
		if (errno || end == line || (*end && *end != '\n') || off >= rs->pages * rs->page_size) {
			snprintf(err, errlen, "trace %s:%llu: '%.*s' is not a byte offset below %llu",
				 rs->c->trace, (unsigned long long)ln, (int)strcspn(line, "\n"), line,
				 (unsigned long long)(rs->pages * rs->page_size));
			fclose(f);
			return -1;
		}
		if (rs->trace_len == cap) {
			uint64_t *t = realloc(rs->trace, (cap = cap ? 2 * cap : 1024) * sizeof(*t));

			if (!t) {
				fclose(f);
				snprintf(err, errlen, "trace: out of memory");
				return -1;
			}
			rs->trace = t;
		}
		rs->trace[rs->trace_len++] = off / rs->page_size;
	}
	fclose(f);
	if (!rs->trace_len) {
		snprintf(err, errlen, "trace %s: no offsets in it", rs->c->trace);
		return -1;
	}
	return 0;
}

/* Zipf, s = 1: rank k is touched in proportion to 1 / (k + 1). */
static int make_zipf(struct recv_state *rs)
{
	double sum = 0, acc = 0;

	rs->zipf_cdf = malloc(rs->pages * sizeof(double));
	if (!rs->zipf_cdf)
		return -1;
	for (uint64_t k = 0; k < rs->pages; k++)
		sum += 1.0 / (double)(k + 1);
	for (uint64_t k = 0; k < rs->pages; k++) {
		acc += 1.0 / (double)(k + 1) / sum;
		rs->zipf_cdf[k] = acc;
	}
	rs->zipf_cdf[rs->pages - 1] = 1.0;
	return 0;
}

/* ---- progress ------------------------------------------------------------------------ */

struct progress {
	struct recv_state *rs;
	pthread_t thread;
	bool running;
	volatile bool stop;
};

static void draw(struct recv_state *rs, double secs, uint64_t done, double mbs)
{
	uint64_t total = rs->pages;
	unsigned int width = 30, fill = (unsigned int)(done * width / (total ? total : 1));
	char bar[64];
	double left = mbs > 0 ? (double)(total - done) * (double)rs->page_size / 1e6 / mbs : 0;

	memset(bar, '#', fill);
	memset(bar + fill, '.', width - fill);
	bar[width] = 0;
	fprintf(stderr, "\r  [%s] %6llu/%llu MiB  %7.1f MB/s  ETA %5.1f s  (%.1f s)  ",
		bar, (unsigned long long)(done * rs->page_size >> 20),
		(unsigned long long)(total * rs->page_size >> 20), mbs, left, secs);
}

static void *progress_main(void *arg)
{
	struct progress *pg = arg;
	uint64_t t0 = mono_ns(), last_t = t0, last = 0;
	double mbs = 0;

	while (!pg->stop) {
		uint64_t t = mono_ns(), done = pg->rs->pages - pcram_dst_pages_missing(pg->rs->dst);

		if (t > last_t) {
			double m = (double)(done - last) * (double)pg->rs->page_size / 1e6 /
				   ((double)(t - last_t) / 1e9);

			mbs = mbs ? 0.5 * mbs + 0.5 * m : m;
		}
		last = done;
		last_t = t;
		draw(pg->rs, (double)(t - t0) / 1e9, done, mbs);
		usleep(200000);
	}
	draw(pg->rs, (double)(mono_ns() - t0) / 1e9,
	     pg->rs->pages - pcram_dst_pages_missing(pg->rs->dst), mbs);
	fputc('\n', stderr);
	return NULL;
}

/* ---- the migration ------------------------------------------------------------------------ */

static int connect_pair(const char *addr, unsigned int timeout_ms, int fds[2],
			char *err, size_t errlen)
{
	fds[0] = addr_connect(addr, timeout_ms, err, errlen);
	if (fds[0] < 0)
		return -1;
	fds[1] = addr_connect(addr, timeout_ms, err, errlen);
	if (fds[1] < 0) {
		close(fds[0]);
		fds[0] = -1;
		return -1;
	}
	return 0;
}

/*
 * The connection broke, or the source went silent: connect again until
 * it answers or --source-timeout is up. 0, or the error in @rep.
 */
static int reconnect(struct recv_state *rs, int fds[2], struct recv_report *rep)
{
	uint64_t end = mono_ns() + rs->c->source_timeout_s * 1000000000ULL;
	char err[256] = "";

	close(fds[0]);
	close(fds[1]);
	fds[0] = fds[1] = -1;
	while (mono_ns() < end) {
		uint64_t left_ms = (end - mono_ns()) / 1000000 + 1;
		unsigned int wait_ms = rs->c->peer_timeout_s * 1000;

		if (left_ms < wait_ms)
			wait_ms = (unsigned int)left_ms;
		if (!connect_pair(rs->c->connect, wait_ms, fds, err, sizeof(err))) {
			int ret = pcram_in_resume(rs->in, fds[0], fds[1]);

			if (!ret)
				return 0;
			snprintf(err, sizeof(err), "%s", pcram_in_strerror(rs->in));
			close(fds[0]);
			close(fds[1]);
			fds[0] = fds[1] = -1;
			if (ret != -ECONNRESET) {
				/* It answered, and refused: no use trying again. */
				snprintf(rep->error, sizeof(rep->error), "resuming: %s", err);
				return ret;
			}
		}
		usleep(200000);
	}
	snprintf(rep->error, sizeof(rep->error),
		 "the source did not come back within %u s (last: %s)",
		 rs->c->source_timeout_s, err);
	return -ETIMEDOUT;
}

static int map_blocks(struct recv_state *rs, const struct pcram_remote_block *rb,
		      unsigned int n, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < n; i++) {
		int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
		char what[128];
		void *p;

		snprintf(what, sizeof(what), "block %.64s", rb[i].name);
		if (rb[i].page_size == (2 << 20)) {
			/*
			 * Reserved now, not MAP_NORESERVE: an empty pool is
			 * this error, not a page that can never be placed.
			 */
			if (huge_pool_check(rb[i].length, rb[i].page_size, what, err, errlen))
				return -1;
			flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT);
		} else if (rb[i].page_size != 4096) {
			snprintf(err, errlen, "block %.64s: %llu-byte pages are not supported here",
				 rb[i].name, (unsigned long long)rb[i].page_size);
			return -1;
		}
		p = mmap(NULL, rb[i].length, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (p == MAP_FAILED) {
			snprintf(err, errlen, "block %.64s: mapping %llu bytes%s: %s", rb[i].name,
				 (unsigned long long)rb[i].length,
				 flags & MAP_HUGETLB ? " of 2 MiB pages" : "", strerror(errno));
			return -1;
		}
		rs->blocks[i] = (struct pcram_block) {
			.name = strdup(rb[i].name), .host = p, .length = rb[i].length,
			.page_size = rb[i].page_size, .fd = -1,
			.type = flags & MAP_HUGETLB ? PCRAM_BLOCK_HUGETLB : PCRAM_BLOCK_ANON,
		};
		rs->nr_blocks++;
	}
	rs->host = rs->blocks[0].host;
	rs->pages = rb[0].length / rb[0].page_size;
	rs->page_size = rb[0].page_size;
	return 0;
}

static void collect(struct recv_state *rs, struct recv_report *rep)
{
	struct pcram_thread_stats ts[RECV_MAX_VCPUS * 2];
	int n;

	pcram_in_stats(rs->in, &rep->in, sizeof(rep->in));
	pcram_dst_stats(rs->dst, &rep->dst, sizeof(rep->dst));
	rep->pages = 0;
	rep->bytes = 0;
	for (unsigned int i = 0; i < rs->nr_blocks; i++) {
		rep->pages += rs->blocks[i].length / rs->blocks[i].page_size;
		rep->bytes += rs->blocks[i].length;
	}
	rep->page_size = rs->page_size;
	rep->vcpus = rs->c->vcpus;
	for (unsigned int v = 0; v < rs->c->vcpus; v++) {
		rep->vcpu[v].accesses = rs->vcpu[v].accesses;
		rep->vcpu[v].sigbus = rs->vcpu[v].sigbus;
	}
	n = pcram_dst_thread_stats(rs->dst, ts, RECV_MAX_VCPUS * 2, sizeof(*ts));
	for (int i = 0; i < n && i < RECV_MAX_VCPUS * 2; i++) {
		if (ts[i].vcpu < 0 || ts[i].vcpu >= (int)rs->c->vcpus)
			continue;
		rep->vcpu[ts[i].vcpu].faults += ts[i].faults;
		rep->vcpu[ts[i].vcpu].blocked_ns += ts[i].blocked_ns;
		if (ts[i].max_ns > rep->vcpu[ts[i].vcpu].max_ns)
			rep->vcpu[ts[i].vcpu].max_ns = ts[i].max_ns;
	}
}

/*
 * The migration failed: the pages that never came are given up (with
 * --poison, poisoned, so that the vCPUs blocked on them end). True if
 * vCPUs stay blocked for good.
 */
static bool give_up(struct recv_state *rs, struct recv_report *rep)
{
	int pn;

	if (!rs->dst || !pcram_dst_pages_missing(rs->dst))
		return false;
	pn = pcram_in_abandon(rs->in, rs->c->poison ? PCRAM_IN_ABANDON_POISON : 0);
	if (pn > 0)
		rep->poisoned = (uint64_t)pn;
	if (pn < 0 && pn != -EALREADY)
		snprintf(rep->error + strlen(rep->error), sizeof(rep->error) - strlen(rep->error),
			 "; poisoning failed: %s", pcram_in_strerror(rs->in));
	/* Unpoisoned, blocked vCPUs can never end: not joined. */
	return !rs->c->poison || pn < 0;
}

int recv_run(const struct recv_conf *c, struct recv_report *rep)
{
	struct pcram_in_options io = { .flags = c->verify ? PCRAM_IN_F_VERIFY : 0 };
	struct pcram_remote_block rb[MAX_BLOCKS];
	struct recv_state *rs = calloc(1, sizeof(*rs));
	struct progress pg = { .rs = rs };
	struct sigaction sa = { .sa_handler = on_sigbus, .sa_flags = SA_NODEFER };
	int fds[2] = { -1, -1 }, n, ret = -EINVAL;
	bool hung = false, started = false;

	memset(rep, 0, sizeof(*rep));
	if (!rs)
		return rep->ret = -ENOMEM;
	rs->c = c;
	pthread_mutex_init(&rs->lock, NULL);
	pthread_cond_init(&rs->go_cond, NULL);
	io.switchover = on_switchover;
	io.opaque = rs;
	sigaction(SIGBUS, &sa, NULL);

	rep->start_ns = mono_ns();
	if (connect_pair(c->connect, c->peer_timeout_s * 1000, fds, rep->error,
			 sizeof(rep->error)))
		goto out;
	ret = pcram_in_new(&rs->in, &io);
	if (!ret)
		ret = pcram_in_set_peer_timeout(rs->in, c->peer_timeout_s * 1000);
	if (ret) {
		snprintf(rep->error, sizeof(rep->error), "%s",
			 rs->in ? pcram_in_strerror(rs->in) : strerror(-ret));
		goto out;
	}
	n = pcram_in_connect(rs->in, fds[0], fds[1], rb, MAX_BLOCKS);
	if (n < 0 || n > MAX_BLOCKS) {
		ret = n < 0 ? n : -E2BIG;
		snprintf(rep->error, sizeof(rep->error), "%s",
			 n < 0 ? pcram_in_strerror(rs->in) : "the source has too many blocks");
		goto out;
	}
	ret = -EINVAL;
	if (map_blocks(rs, rb, (unsigned int)n, rep->error, sizeof(rep->error)))
		goto out;
	if (c->pattern == PATTERN_TRACE && load_trace(rs, rep->error, sizeof(rep->error)))
		goto out;
	if (c->pattern == PATTERN_ZIPF && make_zipf(rs)) {
		ret = -ENOMEM;
		goto out;
	}
	ret = pcram_dst_new(&rs->dst, NULL);
	for (unsigned int i = 0; !ret && i < rs->nr_blocks; i++)
		ret = pcram_dst_add_block(rs->dst, &rs->blocks[i]);
	if (!ret)
		ret = pcram_dst_incoming_init(rs->dst);
	if (!ret)
		ret = pcram_dst_prepare_discard(rs->dst);
	if (ret) {
		snprintf(rep->error, sizeof(rep->error), "%s", pcram_dst_strerror(rs->dst));
		goto out;
	}
	for (unsigned int v = 0; v < c->vcpus; v++) {
		rs->vcpu[v] = (struct vcpu) { .rs = rs, .idx = v };
		ret = -pthread_create(&rs->vcpu[v].thread, NULL, vcpu_main, &rs->vcpu[v]);
		if (ret)
			goto out;
		rs->vcpu[v].started = true;
	}
	ret = pcram_in_start(rs->in, rs->dst);
	started = !ret || ret == -ECONNRESET;
	if (ret && ret != -ECONNRESET) {
		snprintf(rep->error, sizeof(rep->error), "%s", pcram_in_strerror(rs->in));
		goto out;
	}
	if (c->progress && !pthread_create(&pg.thread, NULL, progress_main, &pg))
		pg.running = true;
	for (;;) {
		/* Started, but the source went away before READY: as any break. */
		if (!ret)
			ret = pcram_in_wait(rs->in, -1);
		if (ret != -ECONNRESET)
			break;
		if (pg.running)
			fputc('\n', stderr);
		fprintf(stderr, "pcram recv: %s; connecting again\n", pcram_in_strerror(rs->in));
		ret = reconnect(rs, fds, rep);
		if (ret)
			break;
	}
	rep->end_ns = mono_ns();
	if (ret && !rep->error[0])
		snprintf(rep->error, sizeof(rep->error), "%s", pcram_in_strerror(rs->in));
out:
	if (pg.running) {
		pg.stop = true;
		pthread_join(pg.thread, NULL);
	}
	if (ret && started)
		hung = give_up(rs, rep);
	if (!hung) {
		on_switchover(rs);
		for (unsigned int v = 0; v < c->vcpus; v++)
			if (rs->vcpu[v].started)
				pthread_join(rs->vcpu[v].thread, NULL);
	}
	if (rs->in && rs->dst)
		collect(rs, rep);
	rep->ret = ret;
	rep->verify = c->verify;
	if (ret && !rep->error[0])
		snprintf(rep->error, sizeof(rep->error), "%s", strerror(-ret));
	if (hung)
		return ret;	/* the caller exits: blocked threads end with it */
	pcram_in_free(rs->in);
	pcram_dst_free(rs->dst);
	for (unsigned int i = 0; i < rs->nr_blocks; i++) {
		munmap(rs->blocks[i].host, rs->blocks[i].length);
		free((void *)rs->blocks[i].name);
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(rs->zipf_cdf);
	free(rs->trace);
	free(rs);
	return ret;
}

int recv_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "connect", required_argument, NULL, 'c' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "accesses", required_argument, NULL, 'a' },
		{ "source-timeout", required_argument, NULL, 't' },
		{ "peer-timeout", required_argument, NULL, 'T' },
		{ "poison", no_argument, NULL, 'P' },
		{ "no-verify", no_argument, NULL, 'V' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct recv_conf c = {
		.vcpus = 4, .source_timeout_s = 10, .peer_timeout_s = 5, .verify = true,
	};
	static struct recv_report rep;
	bool json = false, quiet = false;
	unsigned long v;
	int opt;

	while ((opt = getopt_long(argc, argv, "jqh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'c':
			c.connect = optarg;
			break;
		case 'v':
			if (parse_uint(optarg, RECV_MAX_VCPUS, &v) || !v)
				return fail("recv", "--vcpus '%s': 1..%d", optarg, RECV_MAX_VCPUS),
				       EXIT_USAGE;
			c.vcpus = (unsigned int)v;
			break;
		case 'p':
			if (parse_pattern(optarg, &c.pattern, &c.trace))
				return fail("recv", "--pattern '%s': sequential, random, zipf or "
					    "trace:FILE", optarg), EXIT_USAGE;
			break;
		case 'a':
			if (parse_uint(optarg, 1UL << 40, &v) || !v)
				return fail("recv", "--accesses '%s': a count", optarg), EXIT_USAGE;
			c.accesses = v;
			break;
		case 't':
			if (parse_uint(optarg, 86400, &v) || !v)
				return fail("recv", "--source-timeout '%s': seconds, 1..86400", optarg),
				       EXIT_USAGE;
			c.source_timeout_s = (unsigned int)v;
			break;
		case 'T':
			if (parse_uint(optarg, 3600, &v) || !v)
				return fail("recv", "--peer-timeout '%s': seconds, 1..3600", optarg),
				       EXIT_USAGE;
			c.peer_timeout_s = (unsigned int)v;
			break;
		case 'P':
			c.poison = true;
			break;
		case 'V':
			c.verify = false;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			return usage("recv", stdout);
		default:
			return usage("recv", stderr);
		}
	}
	if (optind != argc || !c.connect)
		return fail("recv", "%s", optind != argc ? "unexpected arguments" :
			    "--connect ADDR is needed"), usage("recv", stderr);
	c.progress = !quiet && !json && isatty(STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);
	recv_run(&c, &rep);
	report_print(stdout, json, NULL, &rep);
	fflush(stdout);
	if (rep.ret) {
		fail("recv", "%s", rep.error);
		_exit(1);	/* vCPUs still blocked end with the process */
	}
	return 0;
}
