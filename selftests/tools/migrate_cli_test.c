// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 'pcram demo', 'serve' and 'recv' as an operator runs them: the demo's
 * report verifies every page; a source killed mid-postcopy and started
 * again from its image file finishes the migration; connections cut from
 * either side are taken again; a source gone for good ends in a report
 * and poisoned pages, never in a hang; bad usage is refused.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include "kselftest_harness.h"
#include "common.h"
#include "output_keys.h"

FIXTURE(cli) {
	struct cmd_result r;
	char dir[64];
	int port;
};

FIXTURE_SETUP(cli)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/pcram-cli.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->port = free_port();
	ASSERT_LT(0, self->port);
}

FIXTURE_TEARDOWN(cli)
{
	run(&self->r, "cat %s/*.pid 2>/dev/null | xargs -r kill -9 2>/dev/null; rm -rf %s",
	    self->dir, self->dir);
}

/* The main job, small: every page verified by checksums on both sides. */
TEST_F_TIMEOUT(cli, demo_json_verifies_every_page, 120)
{
	const char *o = self->r.out;

	ASSERT_EQ(0, run(&self->r, "pcram demo -j --size 32M --vcpus 2 --pattern zipf"))
		TH_LOG("%s", self->r.err);
	EXPECT_EQ(8192, jq_u64(o, ".pages"));
	EXPECT_EQ(8192, jq_u64(o, ".verified"));
	EXPECT_EQ(0, jq_u64(o, ".source.verified_differ"));
	EXPECT_GT(jq_u64(o, ".total_ms"), 0);
	EXPECT_NE(~0ULL, jq_u64(o, ".fault_p50_ns"));
	EXPECT_GE(jq_u64(o, ".fault_p99_ns"), jq_u64(o, ".fault_p50_ns"));
	EXPECT_EQ(2, jq_u64(o, ".vcpus | length"));
	/* Each page came once at least: precopy, push or request. */
	EXPECT_GE(jq_u64(o, ".source.pages_precopy + .source.pages_pushed + "
		  ".source.pages_requested"), 8192);
	/* The histogram holds every sample, each one a fault. */
	EXPECT_EQ(jq_u64(o, ".fault_latency_samples"),
		  jq_u64(o, "[.fault_histogram[].count] | add // 0"));
	EXPECT_GE(jq_u64(o, ".faults"), jq_u64(o, ".fault_latency_samples"));
}

TEST_F_TIMEOUT(cli, demo_text_report, 120)
{
	ASSERT_EQ(0, run(&self->r, "pcram demo --size 16M --precopy-ms 0"))
		TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.out, "verified: 4096 pages equal"));
	EXPECT_NE(NULL, strstr(self->r.out, "downtime"));
	EXPECT_NE(NULL, strstr(self->r.out, "precopy       0 rounds"));
	EXPECT_NE(NULL, strstr(self->r.out, "p99"));
	EXPECT_NE(NULL, strstr(self->r.out, "vCPU 3"));
}

/* The report's text and JSON have the same fields: one printer writes both. */
TEST_F_TIMEOUT(cli, report_text_and_json_agree, 120)
{
	/*
	 * "ok" and "error": the text leaves a failure to stderr and the exit
	 * status; "poisoned": the text has no line for none. No precopy, so
	 * that both runs fault and have a histogram.
	 */
	ASSERT_EQ(0, output_keys_diff(&self->r, "pcram demo --size 16M --precopy-ms 0",
				      "pcram demo -j --size 16M --precopy-ms 0",
				      "[\"ok\", \"poisoned\"]")) TH_LOG("%s", self->r.err);
	EXPECT_STREQ(OUTPUT_KEYS_AGREE, self->r.out);
}

TEST_F(cli, bad_usage_refused)
{
	EXPECT_EQ(2, run(&self->r, "pcram serve --size 1M"));
	EXPECT_NE(NULL, strstr(self->r.err, "--listen ADDR is needed"));
	EXPECT_EQ(2, run(&self->r, "pcram serve --listen :0"));
	EXPECT_NE(NULL, strstr(self->r.err, "--image FILE or --size SIZE"));
	EXPECT_EQ(2, run(&self->r, "pcram recv --connect 127.0.0.1:1 --pattern bogus"));
	EXPECT_NE(NULL, strstr(self->r.err, "'bogus'"));
	EXPECT_EQ(2, run(&self->r, "pcram demo --size 0"));
	EXPECT_EQ(2, run(&self->r, "pcram demo --vcpus 0"));
	EXPECT_EQ(1, run(&self->r, "pcram recv -q --connect 127.0.0.1:%d", self->port));
	EXPECT_NE(NULL, strstr(self->r.err, "Connection refused"));
	EXPECT_EQ(1, run(&self->r, "pcram serve --listen 127.0.0.1:%d --image %s/none",
			 self->port, self->dir));
	EXPECT_NE(NULL, strstr(self->r.err, "No such file"));
}

/*
 * Start a paced source on the image, and a destination in the
 * background writing its JSON to recv.json; then @mid (a shell line)
 * once it is well into postcopy.
 */
static int paced_migration(FIXTURE_DATA(cli) *self, const char *serve_extra,
			   const char *recv_extra, const char *mid)
{
	return run(&self->r,
		   "cd %s || exit 1\n"
		   "pcram serve --listen 127.0.0.1:%d --image img --size 48M --precopy-rounds 0 "
		   "--rate-limit 16 %s >serve1.out 2>serve1.err & echo $! >serve1.pid\n"
		   "sleep 0.5\n"
		   "pcram recv --connect 127.0.0.1:%d -j --vcpus 2 --pattern random "
		   "%s >recv.json 2>recv.err & R=$!\n"
		   "sleep 1.2\n%s\nwait $R\ncat recv.json; cat recv.err serve*.err >&2",
		   self->dir, self->port, serve_extra, self->port, recv_extra, mid);
}

/* recv's JSON and stderr back in self->r, for the checks. */
static void paced_migration_output(FIXTURE_DATA(cli) *self)
{
	run(&self->r, "cd %s && cat recv.json; cat recv.err >&2", self->dir);
}

/*
 * The source process killed mid-postcopy and started again from the
 * same image file: the destination takes the new connections, sends its
 * bitmap, and the migration completes with every page verified.
 */
TEST_F_TIMEOUT(cli, source_killed_restarted_from_image, 120)
{
	char mid[512];

	snprintf(mid, sizeof(mid),
		 "kill -9 $(cat serve1.pid); sleep 0.3\n"
		 "pcram serve --listen 127.0.0.1:%d --image img >serve2.out 2>serve2.err &"
		 " echo $! >serve2.pid", self->port);
	paced_migration(self, "", "--source-timeout 20", mid);
	TH_LOG("%s", self->r.err);
	EXPECT_EQ(12288, jq_u64(self->r.out, ".verified"));
	EXPECT_EQ(1, jq_u64(self->r.out, ".resumes"));
	EXPECT_EQ(0, jq_u64(self->r.out, ".poisoned"));
	EXPECT_NE(NULL, strstr(self->r.err, "connecting again"));
}

/* Both connections cut by the kernel (ss -K), from one side, then the other. */
static void cut_and_resume(struct __test_metadata *_metadata, FIXTURE_DATA(cli) *self,
			   const char *side)
{
	char mid[256];

	if (run(&self->r, "command -v ss"))
		SKIP(return, "no ss(8) here to cut connections with");
	snprintf(mid, sizeof(mid), "ss -K %s = :%d >/dev/null 2>&1", side, self->port);
	paced_migration(self, "", "--source-timeout 20", mid);
	TH_LOG("%s", self->r.err);
	if (!strstr(self->r.err, "connecting again"))
		SKIP(return, "ss -K cut nothing: no INET_DIAG_DESTROY, or inet_diag not loaded");
	EXPECT_EQ(12288, jq_u64(self->r.out, ".verified"));
	EXPECT_LE(1, jq_u64(self->r.out, ".resumes"));
}

TEST_F_TIMEOUT(cli, cut_from_source_side_resumes, 120)
{
	cut_and_resume(_metadata, self, "sport");
}

TEST_F_TIMEOUT(cli, cut_from_destination_side_resumes, 120)
{
	cut_and_resume(_metadata, self, "dport");
}

/*
 * The source killed for good: after --source-timeout the destination
 * reports the failure, poisons what never came, and the vCPUs that
 * touch such a page end by SIGBUS; nothing hangs.
 */
TEST_F_TIMEOUT(cli, source_gone_poisons_missing_pages, 120)
{
	char mid[256];

	snprintf(mid, sizeof(mid), "kill -9 $(cat serve1.pid)");
	paced_migration(self, "", "--source-timeout 2 --poison", mid);
	TH_LOG("%s", self->r.err);
	EXPECT_EQ(0, run(&self->r, "cd %s && jq -e '.ok == false' recv.json", self->dir));
	paced_migration_output(self);
	EXPECT_NE(NULL, strstr(self->r.err, "did not come back within 2 s"));
	EXPECT_LT(0, jq_u64(self->r.out, ".poisoned"));
	EXPECT_GT(12288, jq_u64(self->r.out, ".poisoned"));
	EXPECT_LE(1, jq_u64(self->r.out, "[.vcpus[] | select(.sigbus)] | length"));
}

TEST_HARNESS_MAIN
