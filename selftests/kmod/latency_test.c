// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fault latency measured by pcram.ko's kretprobe on handle_userfault:
 * agreement with a timer around each touch in userspace, which faults
 * count, the thread table, the probe switch, many threads blocked at
 * once, and detach or close while threads are blocked; the quantiles of
 * the log-linear histogram against ftrace's own durations.
 */
#include <ctype.h>
#include <math.h>
#include <sys/mount.h>
#include <sys/prctl.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod.h"

#include <pcram.h>

/*
 * The kernel's interval (entry to return of handle_userfault) lies within
 * the userspace one (before and after the load), so the kernel's total
 * can only be smaller; what it misses is the trap, the fault's walk and
 * its retry, tens of microseconds under TCG. With the handler holding
 * every fault HOLD_US, the kernel's total must be within [LOW, HIGH] of
 * the userspace one (HIGH leaves room for clock reads only).
 */
#define HOLD_US 2000
#define AGREE_LOW 0.90
#define AGREE_HIGH 1.01

FIXTURE(latency) {
	int fd;
	int uffd;
	int id;
	uint8_t *area;
	uint8_t src[PAGE];
};

static bool probe_on(void)
{
	struct info_query q = { 0 };
	struct info_answer a;

	return !info_request(&q, &a) && !a.error && a.probe == PCRAM_LATENCY_PROBE_ON;
}

FIXTURE_SETUP(latency)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	/* a previous test may have left it off */
	set_param("probe", "1");
	if (!probe_on())
		SETUP_SKIP("the fault-latency probe is unavailable (see GET_INFO's probe error)");
	self->uffd = uffd_open(0);
	if (self->uffd < 0)
		SETUP_SKIP("no userfaultfd: %s", strerror(-self->uffd));
	self->area = uffd_area(self->uffd, 1024);
	ASSERT_NE(NULL, self->area);
	memset(self->src, 0xa5, sizeof(self->src));
	self->fd = pcram_open();
	ASSERT_LE(0, self->fd);
	self->id = pcram_attach(self->fd, self->uffd, "latency", 0);
	ASSERT_LT(0, self->id);
}

static bool ftrace_on;			/* ftrace_start() changed tracefs */
static char trace_clock_was[32];	/* the clock before it */
static void ftrace_stop(void);

FIXTURE_TEARDOWN(latency)
{
	if (ftrace_on)
		ftrace_stop();
	set_param("probe", "1");
	if (self->fd >= 0)
		close(self->fd);
	close(self->uffd);
}

/*
 * Serve @n faults on @uffd, holding each @hold_us, placing by a batch on
 * context @fd (or by plain UFFDIO_COPY when @fd is -1).
 */
static int serve(int fd, int uffd, const uint8_t *src, int n, int hold_us)
{
	int served = 0;

	while (served < n) {
		uint64_t addr = uffd_wait_fault(uffd, 10000);
		struct pcram_batch_op op;

		if (!addr)
			return served;
		if (hold_us) {
			uint64_t until = now_ns() + hold_us * 1000ULL;

			while (now_ns() < until)
				;	/* spin: a sleep would add wake-up noise */
		}
		op = op_copy((void *)(uintptr_t)(addr & ~(PAGE - 1)), src, PAGE, 0);
		if (fd < 0 ? uffd_copy(uffd, (void *)(uintptr_t)op.copy.dst, src, PAGE) :
			     pcram_batch(fd, &op, 1, 0) != 1)
			return -served - 1;
		served++;
	}
	return served;
}

TEST_F(latency, probe_is_on_handle_userfault)
{
	char buf[1 << 16];

	if (access("/sys/kernel/debug/kprobes", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access("/sys/kernel/debug/kprobes/list", R_OK))
		SKIP(return, "no debugfs kprobes list here");
	read_whole("/sys/kernel/debug/kprobes/list", buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "handle_userfault")) TH_LOG("%s", buf);
	read_whole("/sys/kernel/debug/kprobes/blacklist", buf, sizeof(buf));
	EXPECT_EQ(NULL, strstr(buf, "\thandle_userfault\n"));
}

/*
 * The upper bound is a law (the kernel's interval lies inside the
 * userspace one) and must hold in every attempt. The lower one can be
 * broken by the host: a vCPU of this TCG guest descheduled for a few ms
 * while the faulting thread is outside handle_userfault adds to the
 * userspace time alone. So an attempt below it is retried, twice at most,
 * on fresh pages with the statistics reset.
 */
TEST_F_TIMEOUT(latency, agrees_with_userspace_timer, 180)
{
	enum { N = 100, ATTEMPTS = 3 };
	unsigned long long hist_sum;
	struct toucher t;
	struct vm_answer v;
	double ratio = 0;
	int i, attempt;

	for (attempt = 0; attempt < ATTEMPTS; attempt++) {
		ASSERT_EQ(0, reset_stats(self->id, NULL));
		t = (struct toucher){ .stride = PAGE };
		ASSERT_EQ(0, toucher_start(&t, self->area + attempt * N * PAGE, N));
		EXPECT_EQ(N, serve(self->fd, self->uffd, self->src, N, HOLD_US));
		ASSERT_EQ(0, pthread_join(t.thread, NULL));
		EXPECT_EQ(N * 0xa5, t.sum);

		ASSERT_EQ(0, get_vm(self->id, &v));
		ratio = (double)v.blocked_ns / t.total_ns;
		TH_LOG("attempt %d: kernel %llu ns, userspace %llu ns over %d faults: ratio %.3f "
		       "(max %llu / %llu ns)", attempt + 1, v.blocked_ns,
		       (unsigned long long)t.total_ns, N, ratio, v.max_ns,
		       (unsigned long long)t.max_ns);
		EXPECT_GE(AGREE_HIGH, ratio);
		EXPECT_GE(t.max_ns * AGREE_HIGH, v.max_ns);
		if (ratio >= AGREE_LOW)
			break;
	}
	EXPECT_LE(AGREE_LOW, ratio);

	EXPECT_FALSE(v.bad);
	EXPECT_EQ(1, v.measured);
	EXPECT_EQ(N, v.faults);
	EXPECT_LE(HOLD_US * 1000ULL, v.max_ns);
	/*
	 * Every fault was held 2 ms, so none is below 2^20 ns; how far above
	 * depends on how busy the host is (TCG on shared cores).
	 */
	hist_sum = 0;
	for (i = 0; i < PCRAM_HIST_BUCKETS; i++)
		hist_sum += v.hist[i];
	EXPECT_EQ(N, hist_sum);
	hist_sum = 0;
	for (i = 20; i < PCRAM_HIST_BUCKETS; i++)
		hist_sum += v.hist[i];
	EXPECT_EQ(N, hist_sum);

	/* the one thread that faulted, with the same figures */
	ASSERT_EQ(1, v.nr_threads);
	EXPECT_EQ(t.tid, v.threads[0].tid);
	EXPECT_EQ(N, v.threads[0].faults);
	EXPECT_EQ(v.blocked_ns, v.threads[0].blocked_ns);
	EXPECT_EQ(v.max_ns, v.threads[0].max_ns);
	EXPECT_STREQ("latency_test", v.threads[0].comm);
}

/*
 * Quantiles. The module's log-linear buckets are at most 1/32 of their
 * values wide, so each of its quantiles must be within 3.125% of the
 * exact one of the same faults; the test allows QUANT_TOL (5%), the
 * issue's bound, and its independent measurement is ftrace's
 * function_graph duration of each handle_userfault call, on the mono
 * clock (the one ktime_get_ns reads), which times the very interval the
 * kretprobe does: the two differ by the hooks' own cost, a few us at
 * most under TCG, against faults held 20 us to 20 ms (every quantile
 * checked is above 100 us). Without tracefs the exact figures come from
 * a timer around each touch in userspace, which adds the trap, the
 * fault's walk and its retry (tens of us under TCG, see above): then
 * every hold is 1 ms or more, so that this stays within 2.5% of each
 * quantile, and the bound is the same.
 */
#define QUANT_N 2000
#define QUANT_TOL 0.05
#define TRACEFS "/sys/kernel/tracing"

static const double quant_q[] = { 0.50, 0.90, 0.99, 0.999 };

static bool tracefs_write(const char *file, const char *val)
{
	char path[128];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

/*
 * function_graph on handle_userfault alone, on the mono clock: true if
 * set. set_ftrace_filter keeps ftrace from patching every function's
 * call site (under TCG that alone takes long enough to trip the soft
 * lockup watchdog); set_graph_function and depth 1 keep its children out.
 */
static bool ftrace_start(void)
{
	char tracers[512], clocks[256], *open_br, *close_br;

	if (access(TRACEFS "/available_tracers", R_OK))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	read_whole(TRACEFS "/available_tracers", tracers, sizeof(tracers));
	if (!strstr(tracers, "function_graph"))
		return false;
	/* "local [global] counter ...": the one in brackets is in use */
	read_whole(TRACEFS "/trace_clock", clocks, sizeof(clocks));
	open_br = strchr(clocks, '[');
	close_br = open_br ? strchr(open_br, ']') : NULL;
	snprintf(trace_clock_was, sizeof(trace_clock_was), "%.*s",
		 close_br ? (int)(close_br - open_br - 1) : 0, close_br ? open_br + 1 : "");
	ftrace_on = true;
	return tracefs_write("tracing_on", "0") &&
	       tracefs_write("current_tracer", "nop") &&
	       tracefs_write("trace", "") &&
	       tracefs_write("trace_clock", "mono") &&
	       tracefs_write("buffer_size_kb", "2048") &&
	       tracefs_write("set_ftrace_filter", "handle_userfault") &&
	       tracefs_write("set_graph_function", "handle_userfault") &&
	       tracefs_write("max_graph_depth", "1") &&
	       tracefs_write("options/funcgraph-irqs", "0") &&
	       tracefs_write("current_tracer", "function_graph") &&
	       tracefs_write("tracing_on", "1");
}

static void ftrace_stop(void)
{
	tracefs_write("tracing_on", "0");
	tracefs_write("current_tracer", "nop");
	tracefs_write("set_graph_function", "");
	tracefs_write("set_ftrace_filter", "");
	tracefs_write("max_graph_depth", "0");
	tracefs_write("options/funcgraph-irqs", "1");
	if (trace_clock_was[0])
		tracefs_write("trace_clock", trace_clock_was);
	ftrace_on = false;
}

/*
 * The durations of the trace, ns, into @ns (at most @max): every line
 * with one is a return of handle_userfault, the only function traced,
 * at depth 1 ("1234.567 us |", after a mark such as "! " for long ones).
 */
static int ftrace_durations(uint64_t *ns, int max)
{
	int fd = open(TRACEFS "/trace", O_RDONLY | O_CLOEXEC), n = 0;
	size_t size = 8 << 20, len = 0;
	char *buf = malloc(size), *line, *save;
	ssize_t r;

	if (fd < 0 || !buf) {
		free(buf);
		return -1;
	}
	while (len < size - 1 && (r = read(fd, buf + len, size - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *us = strstr(line, " us "), *p;

		if (line[0] == '#' || !us || !strchr(us, '|'))
			continue;
		for (p = us; p > line && (isdigit((unsigned char)p[-1]) || p[-1] == '.'); p--)
			;
		if (p == us || n == max)
			continue;
		ns[n++] = (uint64_t)llround(strtod(p, NULL) * 1000);
	}
	free(buf);
	return n;
}

/* The i-th hold, ns: half log-uniform over [lo, 20 ms], half just above a power of two. */
static uint64_t quant_hold(int i, uint64_t lo)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
	double u = (double)(x >> 11) / (double)(1ULL << 53);

	if (i % 2)
		return (uint64_t)(lo * pow(20e6 / lo, u));
	/* 2^15 .. 2^24 ns (33 us .. 16.8 ms), at most 1% above */
	x = (1ULL << (15 + (x >> 60) % 10)) * (1 + u / 100);
	return x < lo ? lo + (x & 0xffff) : x;
}

struct quant_toucher {
	pthread_t thread;
	volatile uint8_t *pages;
	uint64_t *ns;		/* each touch, by a userspace timer */
	unsigned int sum;
};

static void *quant_touch(void *arg)
{
	struct quant_toucher *t = arg;

	for (int i = 0; i < QUANT_N; i++) {
		uint64_t start = now_ns();

		t->sum += t->pages[i * PAGE];
		t->ns[i] = now_ns() - start;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Value of rank max(1, round(q n)), the rank the library takes. */
static uint64_t exact_quantile(const uint64_t *sorted, int n, double q)
{
	uint64_t rank = (uint64_t)(q * n + 0.5);

	return sorted[(rank ? rank : 1) - 1];
}

/*
 * The test's own reading of the UAPI's buckets: the middle of the bucket
 * that holds that rank, by the formula of <linux/pcram.h>.
 */
static uint64_t uapi_quantile(const unsigned long long *b, double q)
{
	unsigned long long total = 0, seen = 0, rank;
	int i;

	for (i = 0; i < PCRAM_LHIST_BUCKETS; i++)
		total += b[i];
	rank = (unsigned long long)(q * total + 0.5);
	rank = rank ? rank : 1;
	for (i = 0; i < PCRAM_LHIST_BUCKETS - 1 && seen + b[i] < rank; i++)
		seen += b[i];
	{
		int shift = i < PCRAM_LHIST_SUB ? 0 : (i >> PCRAM_LHIST_SUB_BITS) - 1;
		uint64_t lo = (uint64_t)(i - (shift << PCRAM_LHIST_SUB_BITS)) << shift;

		return lo + ((1ULL << shift) >> 1);
	}
}

static double rel_err(uint64_t got, uint64_t exact)
{
	return exact ? ((double)got - (double)exact) / (double)exact : 0;
}

TEST_F_TIMEOUT(latency, quantiles_agree_with_ftrace, 300)
{
	uint64_t *exact = calloc(QUANT_N, sizeof(*exact)), *user = calloc(QUANT_N, sizeof(*user));
	struct pcram_kmod_vm *lv = calloc(1, sizeof(*lv));
	struct pcram_kmod_lhist *gl = calloc(1, sizeof(*gl));
	struct vm_answer *v = calloc(1, sizeof(*v));
	struct quant_toucher t = { 0 };
	struct pcram_kmod *k = NULL;
	unsigned long long lsum = 0;
	uint8_t *area;
	bool ftrace;
	uint64_t lo;
	int i, n;

	ASSERT_TRUE(exact && user && lv && gl && v);
	area = uffd_area(self->uffd, QUANT_N);
	ASSERT_NE(NULL, area);
	prctl(PR_SET_TIMERSLACK, 1UL);
	ftrace = ftrace_start();
	lo = ftrace ? 20000 : 1000000;
	TH_LOG("exact durations from %s; holds %llu us to 20 ms", ftrace ?
	       "ftrace function_graph of handle_userfault (mono clock)" :
	       "a userspace timer around each touch (no function_graph here)",
	       (unsigned long long)lo / 1000);
	ASSERT_EQ(0, reset_stats(self->id, NULL));
	t.pages = area;
	t.ns = user;
	ASSERT_EQ(0, pthread_create(&t.thread, NULL, quant_touch, &t));
	for (i = 0; i < QUANT_N; i++) {
		uint64_t addr = uffd_wait_fault(self->uffd, 10000), hold = quant_hold(i, lo);
		struct timespec ts = { .tv_sec = hold / 1000000000, .tv_nsec = hold % 1000000000 };

		if (!addr)
			break;
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		if (uffd_copy(self->uffd, (void *)(uintptr_t)(addr & ~(PAGE - 1)), self->src, PAGE))
			break;
	}
	EXPECT_EQ(QUANT_N, i);
	/* the last fault returns after its page is placed: trace until then */
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	if (ftrace)
		tracefs_write("tracing_on", "0");
	EXPECT_EQ(QUANT_N * 0xa5, t.sum);

	if (ftrace) {
		n = ftrace_durations(exact, QUANT_N + 1);
		ftrace_stop();
		EXPECT_EQ(QUANT_N, n) TH_LOG("ftrace saw %d handle_userfault calls", n);
	} else {
		memcpy(exact, user, QUANT_N * sizeof(*exact));
		n = QUANT_N;
	}
	ASSERT_LT(0, n);
	if (n > QUANT_N)
		n = QUANT_N;
	qsort(exact, n, sizeof(*exact), cmp_u64);

	/* the selftests' own client, and the library's */
	ASSERT_EQ(0, get_vm(self->id, v));
	EXPECT_FALSE(v->bad);
	ASSERT_TRUE(v->has_lhist);
	EXPECT_EQ(QUANT_N, v->faults);
	for (i = 0; i < PCRAM_LHIST_BUCKETS; i++)
		lsum += v->lhist[i];
	EXPECT_EQ(QUANT_N, lsum);
	gl->count = v->faults;
	gl->sum = v->blocked_ns;
	gl->max = v->max_ns;
	memcpy(gl->bucket, v->lhist, sizeof(gl->bucket));
	ASSERT_EQ(0, pcram_kmod_new(&k));
	ASSERT_EQ(0, pcram_kmod_open(k, 3)) TH_LOG("%s", pcram_kmod_strerror(k));
	ASSERT_EQ(0, pcram_kmod_get_vm(k, self->id, lv, sizeof(*lv)));
	pcram_kmod_free(k);
	ASSERT_TRUE(lv->has_lhist);
	EXPECT_EQ(0, memcmp(lv->lhist.bucket, gl->bucket, sizeof(gl->bucket)));

	TH_LOG("%d faults: exact min %llu ns, max %llu ns; module max %llu ns", n,
	       (unsigned long long)exact[0], (unsigned long long)exact[n - 1], v->max_ns);
	for (i = 0; i < (int)(sizeof(quant_q) / sizeof(quant_q[0])); i++) {
		double q = quant_q[i];
		uint64_t e = exact_quantile(exact, n, q);
		uint64_t lib = pcram_kmod_lhist_quantile(&lv->lhist, q);
		uint64_t gen = pcram_kmod_lhist_quantile(gl, q);
		uint64_t own = uapi_quantile(v->lhist, q);
		uint64_t old = pcram_hist_quantile(&lv->faults, q);

		TH_LOG("p%-5g exact %9llu ns | libpcram %9llu (%+6.2f%%) | genl %9llu (%+6.2f%%) | "
		       "UAPI formula %9llu (%+6.2f%%) | log2 %9llu (%+6.2f%%)", q * 100,
		       (unsigned long long)e, (unsigned long long)lib, 100 * rel_err(lib, e),
		       (unsigned long long)gen, 100 * rel_err(gen, e),
		       (unsigned long long)own, 100 * rel_err(own, e),
		       (unsigned long long)old, 100 * rel_err(old, e));
		EXPECT_GE(QUANT_TOL, fabs(rel_err(lib, e)));
		EXPECT_GE(QUANT_TOL, fabs(rel_err(gen, e)));
		EXPECT_GE(QUANT_TOL, fabs(rel_err(own, e)));
	}
	munmap(area, QUANT_N * PAGE);
	free(exact);
	free(user);
	free(lv);
	free(gl);
	free(v);
}

TEST_F(latency, only_attached_measured_uffds_count)
{
	int uffd2 = uffd_open(0), fd2 = pcram_open(), id2;
	struct toucher t = { .stride = PAGE };
	uint8_t *other, *quiet;
	struct vm_answer v;

	ASSERT_LE(0, uffd2);
	ASSERT_LE(0, fd2);
	/* an unattached userfaultfd */
	other = uffd_area(uffd2, 4);
	ASSERT_NE(NULL, other);
	ASSERT_EQ(0, toucher_start(&t, other, 4));
	EXPECT_EQ(4, serve(-1, uffd2, self->src, 4, 0));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(0, v.faults);
	close(uffd2);

	/* a VM attached with PCRAM_ATTACH_F_NO_LATENCY */
	uffd2 = uffd_open(0);
	ASSERT_LE(0, uffd2);
	quiet = uffd_area(uffd2, 4);
	ASSERT_NE(NULL, quiet);
	id2 = pcram_attach(fd2, uffd2, "quiet", PCRAM_ATTACH_F_NO_LATENCY);
	ASSERT_LT(0, id2);
	ASSERT_EQ(0, toucher_start(&t, quiet, 4));
	EXPECT_EQ(4, serve(fd2, uffd2, self->src, 4, 0));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	ASSERT_EQ(0, get_vm(id2, &v));
	EXPECT_EQ(0, v.measured);
	EXPECT_EQ(0, v.faults);
	EXPECT_EQ(4, v.ops);
	close(fd2);
	close(uffd2);
}

TEST_F(latency, probe_parameter_turns_it_off)
{
	struct toucher t = { .stride = PAGE };
	struct info_query q = { 0 };
	struct info_answer a;
	struct vm_answer v;

	ASSERT_EQ(0, set_param("probe", "0"));
	ASSERT_EQ(0, info_request(&q, &a));
	EXPECT_EQ(PCRAM_LATENCY_PROBE_OFF, a.probe);
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(0, v.measured);
	ASSERT_EQ(0, toucher_start(&t, self->area, 8));
	EXPECT_EQ(8, serve(self->fd, self->uffd, self->src, 8, 0));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(0, v.faults);

	ASSERT_EQ(0, set_param("probe", "1"));
	EXPECT_TRUE(probe_on());
	ASSERT_EQ(0, toucher_start(&t, self->area + 8 * PAGE, 8));
	EXPECT_EQ(8, serve(self->fd, self->uffd, self->src, 8, 0));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(8, v.faults);
	EXPECT_EQ(-EINVAL, set_param("probe", "maybe"));
}

/* The threads of this test, each blocked on its own page. */
struct blocked {
	int n;
	struct toucher *t;
};

static int block_threads(struct blocked *b, uint8_t *area, int n)
{
	int i;

	b->n = n;
	b->t = calloc(n, sizeof(*b->t));
	if (!b->t)
		return -1;
	for (i = 0; i < n; i++) {
		b->t[i].stride = PAGE;
		if (toucher_start(&b->t[i], area + i * PAGE, 1))
			return -1;
	}
	return 0;
}

static int join_threads(struct blocked *b)
{
	int i, bad = 0;

	for (i = 0; i < b->n; i++)
		if (pthread_join(b->t[i].thread, NULL))
			bad++;
	free(b->t);
	return bad;
}

/* maxactive (default 512) is meant for hundreds of blocked vCPUs. */
TEST_F_TIMEOUT(latency, hundreds_blocked_at_once_all_measured, 120)
{
	enum { N = 256 };
	struct pcram_batch_op *ops = calloc(N, sizeof(*ops));
	struct info_query q = { 0 };
	struct info_answer before, after;
	struct vm_answer v;
	struct blocked b;
	int i;

	ASSERT_NE(NULL, ops);
	ASSERT_EQ(0, info_request(&q, &before));
	ASSERT_LE(N, before.maxactive);
	ASSERT_EQ(0, block_threads(&b, self->area, N));
	ASSERT_TRUE(uffd_wait_blocked(self->uffd, N)) TH_LOG("%d blocked", uffd_blocked(self->uffd));
	for (i = 0; i < N; i++)
		ops[i] = op_copy(self->area + i * PAGE, self->src, PAGE, 0);
	ASSERT_EQ(N, pcram_batch(self->fd, ops, N, 0));
	EXPECT_EQ(0, join_threads(&b));
	ASSERT_EQ(0, info_request(&q, &after));
	EXPECT_EQ(before.nmissed, after.nmissed);
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(N, v.faults);
	EXPECT_EQ(after.nmissed, v.nmissed);
	EXPECT_EQ(PCRAM_THREADS_MAX, v.nr_threads);
	for (i = 1; i < v.nr_threads; i++)
		EXPECT_GE(v.threads[i - 1].blocked_ns, v.threads[i].blocked_ns);
	free(ops);
}

/* Faults that began before a detach are still accounted when they end. */
TEST_F(latency, detach_while_faults_blocked)
{
	struct vm_answer v;
	struct blocked b;
	int i;

	ASSERT_EQ(0, block_threads(&b, self->area, 8));
	ASSERT_TRUE(uffd_wait_blocked(self->uffd, 8));
	ASSERT_EQ(0, ioctl(self->fd, PCRAM_IOC_DETACH));
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, uffd_copy(self->uffd, self->area + i * PAGE, self->src, PAGE));
	EXPECT_EQ(0, join_threads(&b));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(0, v.attached);
	EXPECT_EQ(8, v.faults);
}

/* The context goes while threads are blocked; they end later. */
TEST_F(latency, close_while_faults_blocked)
{
	struct vm_answer v;
	struct blocked b;
	int i;

	ASSERT_EQ(0, block_threads(&b, self->area, 8));
	ASSERT_TRUE(uffd_wait_blocked(self->uffd, 8));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(-ENOENT, get_vm(self->id, &v));
	usleep(50 * 1000);
	EXPECT_EQ(8, uffd_blocked(self->uffd));	/* the uffd is ours still */
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, uffd_copy(self->uffd, self->area + i * PAGE, self->src, PAGE));
	EXPECT_EQ(0, join_threads(&b));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0xa5, self->area[i * PAGE]);
}

/*
 * Closing the context and then the last descriptor of the userfaultfd
 * releases it, which wakes the blocked threads: their faults then find
 * an ordinary anonymous mapping.
 */
TEST_F(latency, close_both_releases_blocked_threads)
{
	struct blocked b;
	int i;

	ASSERT_EQ(0, block_threads(&b, self->area, 8));
	ASSERT_TRUE(uffd_wait_blocked(self->uffd, 8));
	close(self->uffd);
	self->uffd = -1;
	usleep(50 * 1000);
	for (i = 0; i < 8; i++)	/* the context's reference keeps it */
		EXPECT_NE(0, pthread_tryjoin_np(b.t[i].thread, NULL));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, join_threads(&b));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0, self->area[i * PAGE]);
}

TEST_F(latency, reset_stats_zeroes)
{
	struct toucher t = { .stride = PAGE };
	struct vm_answer v;
	char extack[256];

	ASSERT_EQ(0, toucher_start(&t, self->area, 4));
	EXPECT_EQ(4, serve(self->fd, self->uffd, self->src, 4, 0));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(4, v.faults);
	EXPECT_EQ(4, v.ops);
	ASSERT_EQ(0, reset_stats(self->id, extack)) TH_LOG("%s", extack);
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(0, v.faults);
	EXPECT_EQ(0, v.blocked_ns);
	EXPECT_EQ(0, v.max_ns);
	EXPECT_EQ(0, v.nr_threads);
	EXPECT_EQ(0, v.ops);
	EXPECT_EQ(0, v.batches);
	EXPECT_EQ(1, v.attached);	/* the context itself is untouched */
}

TEST_HARNESS_MAIN
