// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 'pcram serve' and 'pcram recv' on two hosts: two network namespaces
 * joined by a veth pair, the link plain or made worse by tc netem (1 ms
 * or 10 ms of delay, or 1% loss). Every page arrives and checks equal,
 * the migration's bytes are counted on that link and its netem qdiscs,
 * the delay shows in the ping round trip and in the faults that asked
 * for a page, the loss in the qdiscs' drops; connections cut under those
 * conditions are taken again.
 */
#include <stdint.h>

#include "kselftest_harness.h"
#include "common.h"

#define SRC_ADDR "10.199.0.1"
#define DST_ADDR "10.199.0.2"
#define PORT 7000
#define SRC_DEV "veth0"
#define DST_DEV "veth1"

FIXTURE(netns) {
	struct cmd_result r;
	/*
	 * iproute2's programs by path: busybox's ash (the VM's /bin/sh)
	 * runs its own 'ip' and 'tc' applets before any on PATH, and those
	 * know no namespaces and no netem.
	 */
	char ip[256], tc[256];
	char src[40], dst[40];	/* the namespaces: the source's, the destination's */
	char dir[64];
};

/*
 * netem is the root qdisc of both veth ends, so each direction is
 * delayed (or loses) on its way out: the round trip is twice the delay.
 */
FIXTURE_VARIANT(netns) {
	const char *netem;	/* tc-netem(8) arguments; NULL: a plain veth */
	unsigned int delay_ms;	/* each way */
	bool loss;
};

FIXTURE_VARIANT_ADD(netns, veth) {
};

FIXTURE_VARIANT_ADD(netns, delay_1ms) {
	.netem = "delay 1ms", .delay_ms = 1,
};

FIXTURE_VARIANT_ADD(netns, delay_10ms) {
	.netem = "delay 10ms", .delay_ms = 10,
};

FIXTURE_VARIANT_ADD(netns, loss_1pct) {
	.netem = "loss 1%", .loss = true,
};

/* The first @prog on PATH whose -V names iproute2, into @path. */
static bool find_iproute2(struct cmd_result *r, const char *prog, char *path, size_t size)
{
	char *dirs = strdup(getenv("PATH") ?: "/usr/sbin:/sbin:/usr/bin:/bin"), *save = NULL;
	bool found = false;

	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		snprintf(path, size, "%s/%s", d, prog);
		found = !access(path, X_OK) && !run(r, "'%s' -V", path) &&
			strstr(r->out, "iproute2");
	}
	free(dirs);
	return found;
}

/* Namespaces left by a test run that was killed (a timeout): pcram-PID-*. */
static void sweep_stale(FIXTURE_DATA(netns) *self)
{
	run(&self->r,
	    "for n in $('%1$s' netns list | sed -n 's/^\\(pcram-[0-9]*-[a-z]*\\).*/\\1/p'); do\n"
	    "	p=${n#pcram-}; [ -d /proc/${p%%%%-*} ] && continue\n"
	    "	'%1$s' netns pids $n | xargs -r kill -9; '%1$s' netns del $n\n"
	    "done", self->ip);
}

/* Every process in either namespace killed, the namespaces (and so the veth) gone. */
static void hosts_down(FIXTURE_DATA(netns) *self)
{
	if (self->ip[0] && self->src[0])
		run(&self->r, "for n in %2$s %3$s; do '%1$s' netns pids $n 2>/dev/null | "
		    "xargs -r kill -9; '%1$s' netns del $n 2>/dev/null; done; true",
		    self->ip, self->src, self->dst);
	if (self->dir[0])
		run(&self->r, "rm -rf %s", self->dir);
}

/* @ret, with the reason for it in @why. */
static int because(int ret, char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	why[strcspn(why, "\n")] = '\0';
	return ret;
}

/*
 * Two hosts joined by a veth pair, netem on both ends if asked: 0, or 1
 * with the reason for a skip (a missing feature) in @why, or -1 with the
 * reason for a failure.
 */
static int hosts_up(FIXTURE_DATA(netns) *self, const FIXTURE_VARIANT(netns) *variant,
		    char *why, size_t size)
{
	struct cmd_result *r = &self->r;
	const char *ip = self->ip, *s = self->src, *d = self->dst;

	if (!find_iproute2(r, "ip", self->ip, sizeof(self->ip)))
		return because(1, why, size, "no ip(8) of iproute2 on PATH");
	if (variant->netem && !find_iproute2(r, "tc", self->tc, sizeof(self->tc)))
		return because(1, why, size, "no tc(8) of iproute2 on PATH");
	snprintf(self->dir, sizeof(self->dir), "/tmp/pcram-netns.XXXXXX");
	if (!mkdtemp(self->dir))
		return because(-1, why, size, "mkdtemp %s: %s", self->dir, strerror(errno));
	sweep_stale(self);
	snprintf(self->src, sizeof(self->src), "pcram-%d-src", getpid());
	snprintf(self->dst, sizeof(self->dst), "pcram-%d-dst", getpid());

	if (run(r, "'%1$s' netns add %2$s && '%1$s' netns add %3$s", ip, s, d))
		return because(1, why, size, "cannot make a network namespace (root and "
			       "CONFIG_NET_NS needed): %s", r->err);
	/* Where modules load the kernel's autoload would do too; veth may be built in. */
	if (run(r, "modprobe -q veth 2>/dev/null; '%s' -n %s link add " SRC_DEV " type veth "
		"peer name " DST_DEV " netns %s", ip, s, d))
		return because(1, why, size, "no veth (CONFIG_VETH): %s", r->err);
	if (run(r, "set -e\n"
		"'%1$s' -n %2$s addr add " SRC_ADDR "/24 dev " SRC_DEV "\n"
		"'%1$s' -n %3$s addr add " DST_ADDR "/24 dev " DST_DEV "\n"
		"for n in %2$s %3$s; do '%1$s' -n $n link set lo up; done\n"
		"'%1$s' -n %2$s link set " SRC_DEV " up\n"
		"'%1$s' -n %3$s link set " DST_DEV " up\n"
		"'%1$s' netns exec %2$s true", ip, s, d))
		return because(-1, why, size, "addresses and links: %s", r->err);
	if (!variant->netem)
		return 0;
	if (run(r, "modprobe -q sch_netem 2>/dev/null\n"
		"'%1$s' -n %2$s qdisc add dev " SRC_DEV " root netem %4$s &&\n"
		"'%1$s' -n %3$s qdisc add dev " DST_DEV " root netem %4$s",
		self->tc, s, d, variant->netem)) {
		if (strstr(r->err, "kind is unknown"))
			return because(1, why, size, "no sch_netem (CONFIG_NET_SCH_NETEM): %s",
				       r->err);
		return because(-1, why, size, "tc qdisc add ... netem %s: %s", variant->netem,
			       r->err);
	}
	return 0;
}

FIXTURE_SETUP(netns)
{
	char why[512];
	int ret = hosts_up(self, variant, why, sizeof(why));

	/* No teardown follows a setup that gives up. */
	if (ret)
		hosts_down(self);
	if (ret > 0)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, ret) TH_LOG("%s", why);
}

FIXTURE_TEARDOWN(netns)
{
	hosts_down(self);
}

/*
 * 'pcram serve @serve_extra' in the source's namespace and, once it
 * listens, 'pcram recv -j @recv_extra' in the destination's; @cut (a
 * command line, or NULL) runs in the destination's namespace half a
 * second after recv has both its connections, its output in cut.out.
 * recv's JSON is left in self->r.out, the stderr of all in self->r.err.
 * The exit code is recv's, or 100 + serve's when serve failed or did
 * not end within 10 s of recv.
 */
static int migrate(FIXTURE_DATA(netns) *self, const char *serve_extra, const char *recv_extra,
		   const char *cut)
{
	char cut_line[1024] = "";

	if (cut)
		snprintf(cut_line, sizeof(cut_line),
			 "for i in $(seq 100); do\n"
			 "	[ $('%1$s' netns exec %2$s ss -Htn state established "
			 "dport = :%3$d | wc -l) = 2 ] && break; sleep 0.1\n"
			 "done\n"
			 "sleep 0.5; '%1$s' netns exec %2$s %4$s >cut.out 2>cut.err\n",
			 self->ip, self->dst, PORT, cut);
	return run(&self->r,
		   "cd %2$s || exit 1\n"
		   "'%1$s' netns exec %3$s pcram serve --listen " SRC_ADDR ":%5$d %6$s "
		   ">serve.out 2>serve.err & S=$!\n"
		   "for i in $(seq 100); do grep -q listening serve.err && break; sleep 0.1; done\n"
		   "'%1$s' netns exec %4$s pcram recv -j --connect " SRC_ADDR ":%5$d %7$s "
		   ">recv.json 2>recv.err & R=$!\n"
		   "%8$s"
		   "wait $R; r=$?\n"
		   "for i in $(seq 100); do kill -0 $S 2>/dev/null || break; sleep 0.1; done\n"
		   "kill -9 $S 2>/dev/null; wait $S; s=$?\n"
		   "cat recv.json; cat recv.err serve.err cut.err >&2 2>/dev/null\n"
		   "[ $s = 0 ] || exit $((100 + s)); exit $r",
		   self->ip, self->dir, self->src, self->dst, PORT, serve_extra, recv_extra,
		   cut_line);
}

/* @filter on the JSON of tc -s of the netem qdisc in @ns on @dev. */
static unsigned long long netem_u64(FIXTURE_DATA(netns) *self, const char *ns,
				    const char *dev, const char *filter)
{
	char f[256];

	if (run(&self->r, "'%s' -n %s -s -j qdisc show dev %s", self->tc, ns, dev))
		return ~0ULL;
	snprintf(f, sizeof(f), "[.[] | select(.kind == \"netem\")] | if length == 1 "
		 "then .[0] | %s else empty end", filter);
	return jq_u64(self->r.out, f);
}

/* The least round trip of a few pings from the source to the destination, in µs. */
static long long ping_min_us(FIXTURE_DATA(netns) *self)
{
	/* iputils' 'rtt min/avg/max/mdev = ' or busybox's 'round-trip min/avg/max = ' */
	if (run(&self->r, "P=ping; command -v ping >/dev/null || P='busybox ping'\n"
		"'%s' netns exec %s $P -c 5 -i 0.2 " DST_ADDR " | "
		"sed -n 's|.*min/avg/max[^=]*= *\\([0-9.]*\\)/.*|\\1|p'", self->ip, self->src) ||
	    !self->r.out[0])
		return -1;
	return (long long)(strtod(self->r.out, NULL) * 1000);
}

/*
 * The whole migration over the link: serve on 64 MiB, one precopy round
 * of 100 ms at most (the rest comes in postcopy, so that vCPUs fault),
 * recv with 2 vCPUs reading in random order.
 */
TEST_F_TIMEOUT(netns, migrates_every_page, 90)
{
	unsigned long long pages, bytes, tx, samples, below;
	char filter[128], json[sizeof(self->r.out)];
	long long rtt_us;

	rtt_us = ping_min_us(self);
	if (variant->delay_ms) {
		ASSERT_LT(0, rtt_us) TH_LOG("ping: %s", self->r.err);
	}
	ASSERT_EQ(0, migrate(self, "--size 64M --precopy-rounds 1 --precopy-ms 100",
			     "--vcpus 2 --pattern random", NULL))
		TH_LOG("%s", self->r.err);
	strcpy(json, self->r.out);
	pages = jq_u64(json, ".pages");
	bytes = jq_u64(json, ".bytes");
	EXPECT_EQ(16384, pages);
	EXPECT_EQ(64ULL << 20, bytes);
	EXPECT_EQ(1, jq_u64(json, "if .ok == true then 1 else 0 end"));
	EXPECT_EQ(pages, jq_u64(json, ".verified"));
	EXPECT_EQ(0, jq_u64(json, ".poisoned"));
	samples = jq_u64(json, ".fault_latency_samples");
	TH_LOG("%s: %llu ms, fault p50 %llu us, p99 %llu us, %llu timed faults, "
	       "%llu resumes, ping min %lld us", variant->netem ?: "plain veth",
	       jq_u64(json, ".total_ms"), jq_u64(json, ".fault_p50_ns") / 1000,
	       jq_u64(json, ".fault_p99_ns") / 1000, samples, jq_u64(json, ".resumes"), rtt_us);

	/*
	 * The pages crossed this veth: the source's end sent at least the
	 * data of the non-zero pages (7 of 8; zero pages go as flags).
	 */
	ASSERT_EQ(0, run(&self->r, "'%s' -n %s -s -j link show dev " SRC_DEV, self->ip,
			 self->src));
	tx = jq_u64(self->r.out, ".[0].stats64.tx.bytes");
	EXPECT_LE(bytes / 8 * 7, tx);
	EXPECT_NE(~0ULL, tx);
	if (!variant->netem)
		return;

	/* ... through the netem qdisc of that end. */
	EXPECT_LE(bytes / 8 * 7, netem_u64(self, self->src, SRC_DEV, ".bytes"));
	EXPECT_NE(~0ULL, netem_u64(self, self->src, SRC_DEV, ".bytes"));
	if (variant->delay_ms) {
		/* netem holds each packet for the delay at least, each way. */
		EXPECT_LE(2000LL * variant->delay_ms, rtt_us);
		/*
		 * A fault that asked for a page waited for the request to go
		 * and the page to come back: most timed faults fall above the
		 * histogram's buckets that end at or below that round trip.
		 */
		snprintf(filter, sizeof(filter),
			 "[.fault_histogram[] | select(.lt_ns <= %u) | .count] | add // 0",
			 2000000 * variant->delay_ms);
		below = jq_u64(json, filter);
		EXPECT_LT(0, samples);
		EXPECT_LT(2 * below, samples) TH_LOG("%llu of %llu faults took less than %u ms",
						     below, samples, 2 * variant->delay_ms);
	}
	if (variant->loss) {
		unsigned long long src_drops = netem_u64(self, self->src, SRC_DEV, ".drops");
		unsigned long long dst_drops = netem_u64(self, self->dst, DST_DEV, ".drops");

		TH_LOG("netem dropped %llu packets from the source, %llu from the destination",
		       src_drops, dst_drops);
		/* Packets were dropped, in one direction at least. */
		EXPECT_NE(~0ULL, src_drops);
		EXPECT_NE(~0ULL, dst_drops);
		EXPECT_LT(0, src_drops + dst_drops);
	}
}

/*
 * Both connections cut mid-postcopy by the destination's kernel (ss -K
 * there, so the destination sees it at once however the link treats
 * the RST): recv connects again, the source takes the new pair, and
 * every page still checks equal. Paced, so that there is a postcopy to cut.
 */
TEST_F_TIMEOUT(netns, cut_mid_postcopy_resumes, 90)
{
	char cut[64], path[96];

	if (run(&self->r, "command -v ss"))
		SKIP(return, "no ss(8) here to cut connections with");
	/* ss prints the sockets it destroyed, and only those. */
	snprintf(cut, sizeof(cut), "ss -HK dport = :%d", PORT);
	migrate(self, "--size 32M --precopy-rounds 0 --rate-limit 16",
		"--vcpus 2 --pattern random --source-timeout 20", cut);
	TH_LOG("%s", self->r.err);
	/* Nothing cut with both connections up: the kernel cannot destroy sockets. */
	snprintf(path, sizeof(path), "%s/cut.out", self->dir);
	if (count_lines(path) == 0)
		SKIP(return, "ss -K cut nothing: no INET_DIAG_DESTROY, or tcp_diag not loaded");
	run(&self->r, "cat %s/recv.json", self->dir);
	EXPECT_EQ(1, jq_u64(self->r.out, "if .ok == true then 1 else 0 end"));
	EXPECT_EQ(8192, jq_u64(self->r.out, ".verified"));
	EXPECT_LE(1, jq_u64(self->r.out, ".resumes"));
}

TEST_HARNESS_MAIN
