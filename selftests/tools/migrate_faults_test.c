// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 'pcram recv' and 'pcram serve' with a fault-injecting proxy between
 * them (wire_proxy): a connection reset (bulk, urgent) is resumed; both
 * cut while the destination's CHECKSUMs stream in are resumed and the
 * checksums counted again from nothing, so that every page is verified
 * exactly once ("verified" equals "pages", on both sides); a network
 * that freezes for longer than --peer-timeout is taken as broken and
 * resumed, whether new connections pass meanwhile or wait for the thaw;
 * one frozen for longer than --source-timeout ends recv with the missing
 * pages poisoned, its vCPUs ended by SIGBUS and nothing hung, and serve
 * after --wait.
 */
#include "kselftest_harness.h"
#include "common.h"
#include "wire_helpers.h"

#define SIZE "48M"
#define PAGES 12288	/* of 4 KiB: two CHECKSUM messages */

FIXTURE(faults) {
	struct cmd_result r;
	char dir[64];
	int port;
	int recv_rc, serve_rc;
	double recv_s, serve_s;	/* from recv's start to each one's end */
	char recv_out[65536], recv_err[8192];
	char serve_out[16384], serve_err[8192];
	char proxy[16384];	/* its log */
	char hang[32768];	/* where a hung run was stuck */
};

FIXTURE_SETUP(faults)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/pcram-faults.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->port = free_port();
	ASSERT_LT(0, self->port);
	ASSERT_EQ(0, run(&self->r, "command -v pcram")) TH_LOG("no pcram on PATH");
	ASSERT_EQ(0, wire_helpers_on_path())
		TH_LOG("no wire_proxy next to this test: 'make userspace'");
}

FIXTURE_TEARDOWN(faults)
{
	if (!_metadata->passed)
		TH_LOG("recv exit %d after %.2f s; stderr:\n%s\nJSON: %.3000s\n"
		       "serve exit %d after %.2f s; stderr:\n%s\nJSON: %.3000s\nproxy:\n%s\n%s",
		       self->recv_rc, self->recv_s, self->recv_err, self->recv_out,
		       self->serve_rc, self->serve_s, self->serve_err, self->serve_out,
		       self->proxy, self->hang);
	run(&self->r, "cat %s/*.pid 2>/dev/null | xargs -r kill -9 2>/dev/null; rm -rf %s",
	    self->dir, self->dir);
}

/*
 * What a hung run leaves for the log: the proxy's counters, where each
 * thread of recv ($R) and serve ($S) waits, their sockets, and (with gdb
 * here) their backtraces.
 */
#define HANG_DUMP "echo \"recv hung: after 20 s\"; kill -USR1 $(cat proxy.pid); sleep 0.3; " \
	"for p in $R $S; do echo \"pid $p: $(tr '\\0' ' ' </proc/$p/cmdline)\"; " \
	"for t in /proc/$p/task/*; do echo \"$t $(cat $t/comm) $(cut -d' ' -f3 $t/stat)" \
	" $(cat $t/wchan)\"; head -8 $t/stack; done; done; ss -tni 2>/dev/null | grep -A1 127.0.0.1; " \
	"command -v gdb >/dev/null && for p in $R $S; do gdb -batch -ex 'thread apply all bt 8' " \
	"-p $p 2>/dev/null | grep -E '^Thread|^#'; done"

/*
 * serve (48 MiB, postcopy only, a 1 s peer timeout), the proxy in front
 * of it running @proxy_cmds (its -c options), and recv (2 vCPUs reading
 * at random) through the proxy. Returns when both have ended: recv is
 * killed (137) after 20 s, serve 5 s after recv ended; a hung recv
 * leaves hang.log.
 */
static void proxied_migration(FIXTURE_DATA(faults) *self, const char *serve_extra,
			      const char *proxy_cmds, const char *recv_extra)
{
	const char *d = self->dir;

	run(&self->r,
	    "cd %s || exit 1\n"
	    "pcram serve --listen 127.0.0.1:%d --size " SIZE " --precopy-rounds 0 "
	    "--peer-timeout 1 -j %s >serve.out 2>serve.err & S=$!; echo $S >serve.pid\n"
	    "wire_proxy -u 127.0.0.1:%d -p proxy.port %s 2>proxy.log & echo $! >proxy.pid\n"
	    "i=0; while [ ! -s proxy.port ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
	    "cut -d' ' -f1 /proc/uptime >t0\n"
	    "pcram recv --connect 127.0.0.1:$(cat proxy.port) -j --vcpus 2 "
	    "--pattern random --peer-timeout 1 %s >recv.out 2>recv.err & R=$!; echo $R >recv.pid\n"
	    /* A hung recv or serve is killed, the test fails with the logs. */
	    "i=0; while kill -0 $R 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done\n"
	    "kill -0 $R 2>/dev/null && { { " HANG_DUMP "; } >hang.log 2>&1; kill -9 $R; }\n"
	    "wait $R; echo $? >recv.rc; cut -d' ' -f1 /proc/uptime >recv.t1\n"
	    "i=0; while kill -0 $S 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done\n"
	    "kill -9 $S 2>/dev/null; wait $S; echo $? >serve.rc; cut -d' ' -f1 /proc/uptime >serve.t1\n"
	    "kill $(cat proxy.pid); wait",
	    d, self->port, serve_extra, self->port, proxy_cmds, recv_extra);
	self->recv_rc = (int)num_in(d, "recv.rc", -1);
	self->serve_rc = (int)num_in(d, "serve.rc", -1);
	self->recv_s = num_in(d, "recv.t1", 1e9) - num_in(d, "t0", 0);
	self->serve_s = num_in(d, "serve.t1", 1e9) - num_in(d, "t0", 0);
	read_in(d, "recv.out", self->recv_out, sizeof(self->recv_out));
	read_in(d, "recv.err", self->recv_err, sizeof(self->recv_err));
	read_in(d, "serve.out", self->serve_out, sizeof(self->serve_out));
	read_in(d, "serve.err", self->serve_err, sizeof(self->serve_err));
	read_in(d, "proxy.log", self->proxy, sizeof(self->proxy));
	read_in(d, "hang.log", self->hang, sizeof(self->hang));
}

/* Both ends say every page arrived and was verified exactly once. */
static void every_page_verified_once(struct __test_metadata *_metadata,
				     FIXTURE_DATA(faults) *self)
{
	EXPECT_EQ(0, self->recv_rc);
	EXPECT_EQ(0, self->serve_rc);
	EXPECT_EQ(PAGES, jq_u64(self->recv_out, ".pages"));
	EXPECT_EQ(PAGES, jq_u64(self->recv_out, ".verified"));
	EXPECT_EQ(0, jq_u64(self->recv_out, ".poisoned"));
	EXPECT_LE(1, jq_u64(self->recv_out, ".resumes"));
	EXPECT_EQ(PAGES, jq_u64(self->serve_out, ".verified"));
	EXPECT_EQ(PAGES, jq_u64(self->serve_out, ".source.verified_equal"));
	EXPECT_EQ(0, jq_u64(self->serve_out, ".source.verified_differ"));
	EXPECT_LE(1, jq_u64(self->serve_out, ".source.resumes"));
	EXPECT_NE(NULL, strstr(self->recv_err, "connecting again"));
}

/*
 * The first CHECKSUM (8192 of the 12288 pages) reaches the source, then
 * both connections are reset: on the new ones the destination sends every
 * CHECKSUM again, and the source, counting afresh, verifies each page
 * once. Counting on would say 20480 of 12288, or refuse the second sums.
 */
TEST_F_TIMEOUT(faults, cut_during_checksums_counts_each_page_once, 60)
{
	proxied_migration(self, "--wait 20", "-c 'cut-on-checksum 200'", "--source-timeout 20");
	ASSERT_NE(NULL, strstr(self->proxy, "the first CHECKSUM"));
	ASSERT_NE(NULL, strstr(self->proxy, "cutting every connection"));
	every_page_verified_once(_metadata, self);
}

/* A reset bulk connection, well into postcopy: resumed, every page verified. */
TEST_F_TIMEOUT(faults, bulk_reset_resumes, 60)
{
	proxied_migration(self, "--wait 20", "-c 'at 8M reset bulk'", "--source-timeout 20");
	ASSERT_NE(NULL, strstr(self->proxy, "reset bulk: 1 connection(s) reset"));
	every_page_verified_once(_metadata, self);
}

TEST_F_TIMEOUT(faults, urgent_reset_resumes, 60)
{
	proxied_migration(self, "--wait 20", "-c 'at 8M reset urgent'", "--source-timeout 20");
	ASSERT_NE(NULL, strstr(self->proxy, "reset urgent: 1 connection(s) reset"));
	every_page_verified_once(_metadata, self);
}

/*
 * Both connections frozen for 2.5 s, longer than --peer-timeout (1 s):
 * silent, so broken; new connections pass, and the migration resumes.
 */
TEST_F_TIMEOUT(faults, short_freeze_resumes, 60)
{
	proxied_migration(self, "--wait 20", "-c 'at 8M freeze-for 2500'", "--source-timeout 10");
	ASSERT_NE(NULL, strstr(self->proxy, "froze 2 connection(s) (new ones flow)"));
	every_page_verified_once(_metadata, self);
	EXPECT_NE(NULL, strstr(self->recv_err, "went silent"));
	EXPECT_NE(NULL, strstr(self->serve_err, "went silent"));
}

/*
 * The network gone for 2.5 s, new connections held too: recv tries
 * again until the thaw lets one through, within --source-timeout.
 */
TEST_F_TIMEOUT(faults, short_freeze_of_new_connections_too_resumes, 60)
{
	proxied_migration(self, "--wait 20", "-c 'at 8M freeze-all-for 2500'",
			  "--source-timeout 10");
	ASSERT_NE(NULL, strstr(self->proxy, "froze 2 connection(s) and new ones"));
	EXPECT_NE(NULL, strstr(self->proxy, "accepted and held"));
	every_page_verified_once(_metadata, self);
	EXPECT_NE(NULL, strstr(self->recv_err, "went silent"));
}

/*
 * The network gone for 8 s: recv (--peer-timeout 1 --source-timeout 3
 * --poison) gives up well before the thaw, poisons what never came, its
 * vCPUs that touch it end by SIGBUS; serve gives up after --wait 2.
 */
TEST_F_TIMEOUT(faults, long_freeze_gives_up_and_poisons, 60)
{
	proxied_migration(self, "--wait 2", "-c 'at 8M freeze-all-for 8000'",
			  "--source-timeout 3 --poison");
	ASSERT_NE(NULL, strstr(self->proxy, "froze 2 connection(s) and new ones"));
	EXPECT_EQ(1, self->recv_rc);
	EXPECT_EQ(0, run(&self->r, "jq -e '.ok == false' %s/recv.out", self->dir));
	EXPECT_NE(NULL, strstr(self->recv_err, "did not come back within 3 s"));
	EXPECT_LT(0, jq_u64(self->recv_out, ".poisoned"));
	EXPECT_GT(PAGES, jq_u64(self->recv_out, ".poisoned"));
	EXPECT_LE(1, jq_u64(self->recv_out, "[.vcpus[] | select(.sigbus)] | length"));
	EXPECT_EQ(0, jq_u64(self->recv_out, ".verified"));
	/* Nothing hung: recv ended on its own, before the thaw could help. */
	EXPECT_GT(7.5, self->recv_s);
	EXPECT_EQ(1, self->serve_rc);
	EXPECT_NE(NULL, strstr(self->serve_err, "did not come back within 2 s"));
	EXPECT_NE(NULL, strstr(self->serve_err, "went silent"));
	EXPECT_GT(7.5, self->serve_s);
}

TEST_HARNESS_MAIN
