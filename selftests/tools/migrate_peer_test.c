// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 'pcram serve' and 'pcram recv' against a fake peer (wire_peer, which
 * speaks Documentation/wire-protocol.rst with an encoder of its own)
 * that breaks the protocol one way per test. Each malformed message, a
 * COMPLETE the source can disprove (too early, checksums of some pages
 * only, of a page twice, of every page twice: "456 pages equal out of a
 * 256-page source", of a page never sent) is a protocol error: named as
 * one, answered with SHUTDOWN(-EPROTO) on both connections, and the end
 * of the run at once, never a wait for a resume. The destination's own
 * SHUTDOWN ends serve at once too. A peer that says nothing is timed out
 * after --peer-timeout; one that only sends KEEPALIVE is not. A source
 * that lies in its closing SHUTDOWN fails recv; the honest one passes.
 */
#include "kselftest_harness.h"
#include "common.h"
#include "wire_helpers.h"

struct peer_run {
	struct cmd_result r;
	char dir[64];
	int port;
	double secs;		/* the pcram process, start to exit */
	int peer_rc, rc;	/* wire_peer's exit, pcram's */
	char peer[16384];	/* wire_peer's report */
	char err[8192];		/* pcram's stderr */
	char out[65536];	/* pcram's stdout: its JSON */
};

static int peer_setup(struct peer_run *p)
{
	snprintf(p->dir, sizeof(p->dir), "/tmp/pcram-peer.XXXXXX");
	if (!mkdtemp(p->dir))
		return -1;
	p->port = free_port();
	if (p->port <= 0 || run(&p->r, "command -v pcram"))
		return -1;
	return wire_helpers_on_path();
}

/* Every output, in the log of a test that failed. */
static void peer_teardown(struct __test_metadata *_metadata, struct peer_run *p)
{
	if (!_metadata->passed)
		TH_LOG("pcram exit %d after %.2f s; stderr:\n%s\nstdout:\n%.3000s\n"
		       "wire_peer (exit %d):\n%s", p->rc, p->secs, p->err, p->out,
		       p->peer_rc, p->peer);
	run(&p->r, "cat %s/*.pid 2>/dev/null | xargs -r kill -9 2>/dev/null; rm -rf %s",
	    p->dir, p->dir);
}

static void collect(struct peer_run *p)
{
	p->peer_rc = (int)num_in(p->dir, "peer.rc", -1);
	p->rc = (int)num_in(p->dir, "pcram.rc", -1);
	p->secs = num_in(p->dir, "t1", 1e9) - num_in(p->dir, "t0", 0);
	read_in(p->dir, "peer.out", p->peer, sizeof(p->peer));
	read_in(p->dir, "pcram.err", p->err, sizeof(p->err));
	read_in(p->dir, "pcram.out", p->out, sizeof(p->out));
}

#define UPTIME "cut -d' ' -f1 /proc/uptime"

/* 'pcram serve SERVE_ARGS' (1 MiB unless said) with 'wire_peer dest' playing @sc. */
static void serve_vs(struct peer_run *p, const char *serve_args, const char *sc,
		     const char *peer_args)
{
	run(&p->r,
	    "cd %s || exit 1\n" UPTIME " >t0\n"
	    "pcram serve --listen 127.0.0.1:%d --precopy-rounds 0 --peer-timeout 1 -j %s %s "
	    ">pcram.out 2>pcram.err & S=$!; echo $S >serve.pid\n"
	    "wire_peer dest --connect 127.0.0.1:%d --scenario %s %s >peer.out 2>peer.err\n"
	    "echo $? >peer.rc\n"
	    /* A hung serve is killed (137), the test fails with the logs. */
	    "i=0; while kill -0 $S 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n"
	    "kill -9 $S 2>/dev/null; wait $S; echo $? >pcram.rc; " UPTIME " >t1",
	    p->dir, p->port, strstr(serve_args, "--size") ? "" : "--size 1M", serve_args, p->port,
	    sc, peer_args);
	collect(p);
}

/* 'wire_peer source' playing @sc, and 'pcram recv RECV_ARGS' against it. */
static void recv_vs(struct peer_run *p, const char *recv_args, const char *sc,
		    const char *peer_args)
{
	run(&p->r,
	    "cd %s || exit 1\n"
	    "wire_peer source --listen 127.0.0.1:%d --port-file peer.port --scenario %s %s "
	    ">peer.out 2>peer.err & W=$!; echo $W >peer.pid\n"
	    "i=0; while [ ! -s peer.port ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
	    UPTIME " >t0\n"
	    "timeout -s KILL 30 pcram recv --connect 127.0.0.1:%d -j --vcpus 2 --peer-timeout 1 %s "
	    ">pcram.out 2>pcram.err\n"
	    "echo $? >pcram.rc; " UPTIME " >t1\n"
	    /* The source reads on until recv closes: a few seconds at most. */
	    "i=0; while kill -0 $W 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n"
	    "kill -9 $W 2>/dev/null; wait $W; echo $? >peer.rc",
	    p->dir, p->port, sc, peer_args, p->port, recv_args);
	collect(p);
}

/* KEEPALIVEs wire_peer received in its --idle pause, on bulk and urgent. */
static void idle_keepalives(const struct peer_run *p, unsigned long *bulk, unsigned long *urgent)
{
	const char *s = strstr(p->peer, "idle ");

	*bulk = *urgent = 0;
	if (s)
		sscanf(s, "idle %*f s: keepalives bulk %lu urgent %lu", bulk, urgent);
}

/* recv's last line on stderr, "pcram recv: WHY", has a WHY. */
static bool names_its_failure(const struct peer_run *p, const char *cmd)
{
	char want[32], v[512] = "";
	const char *s = p->err, *last = NULL;

	snprintf(want, sizeof(want), "pcram %s: ", cmd);
	while ((s = strstr(s, want)))
		last = s++;
	if (!last || strspn(last + strlen(want), " \n") == strlen(last + strlen(want)))
		return false;
	return !jq(v, sizeof(v), p->out, ".error // \"\"") && strlen(v) > 2;
}

/* ---- the source refuses what it can disprove ------------------------------------ */

FIXTURE(refused) {
	struct peer_run p;
};

FIXTURE_VARIANT(refused) {
	const char *scenario;
	const char *serve_args;
	const char *names;	/* in the error: the message, NULL: none asked */
};

FIXTURE_VARIANT_ADD(refused, checksum_block_out_of_range) {
	.scenario = "checksum-bad-block", .names = "CHECKSUM",
};

FIXTURE_VARIANT_ADD(refused, checksum_of_no_page) {
	.scenario = "checksum-count-zero", .names = "CHECKSUM",
};

FIXTURE_VARIANT_ADD(refused, checksums_of_half_the_pages) {
	.scenario = "checksum-partial", .names = "COMPLETE",
};

FIXTURE_VARIANT_ADD(refused, checksum_of_a_page_twice) {
	.scenario = "checksum-page-twice", .names = "CHECKSUM",
};

/* 256 + 200: "456 pages verified equal" of a 256-page source, once. */
FIXTURE_VARIANT_ADD(refused, checksums_of_every_page_twice) {
	.scenario = "checksum-all-twice", .names = "CHECKSUM",
};

/* 64 MiB: the destination reads nothing more, so the last page stays unsent. */
FIXTURE_VARIANT_ADD(refused, checksum_of_a_page_never_sent) {
	.scenario = "checksum-unsent", .serve_args = "--size 64M", .names = "CHECKSUM",
};

FIXTURE_VARIANT_ADD(refused, complete_right_after_ready) {
	.scenario = "complete-early", .serve_args = "--size 64M", .names = "COMPLETE",
};

/* serve verifies every page unless --no-verify. */
FIXTURE_VARIANT_ADD(refused, complete_without_checksums) {
	.scenario = "no-checksums", .names = "COMPLETE",
};

FIXTURE_VARIANT_ADD(refused, page_on_bulk) {
	.scenario = "page-on-bulk", .names = "PAGE",
};

FIXTURE_VARIANT_ADD(refused, discard_on_bulk) {
	.scenario = "discard-on-bulk", .names = "DISCARD",
};

FIXTURE_VARIANT_ADD(refused, request_on_bulk) {
	.scenario = "request-on-bulk", .names = "REQUEST",
};

FIXTURE_VARIANT_ADD(refused, unknown_type_99) {
	.scenario = "unknown-type", .names = "99",
};

FIXTURE_VARIANT_ADD(refused, garbage_instead_of_hello) {
	.scenario = "garbage",
};

FIXTURE_SETUP(refused)
{
	ASSERT_EQ(0, peer_setup(&self->p))
		TH_LOG("no pcram on PATH, or no wire_proxy and wire_peer next to this test");
}

FIXTURE_TEARDOWN(refused)
{
	peer_teardown(_metadata, &self->p);
}

/*
 * A protocol error: named, SHUTDOWN(-EPROTO) on both connections, the run
 * over at once (serve waits 30 s for a destination that went away), and
 * never a verified migration.
 */
TEST_F_TIMEOUT(refused, protocol_error_ends_serve_at_once, 60)
{
	struct peer_run *p = &self->p;
	char args[128];

	snprintf(args, sizeof(args), "--wait 30 %s", variant->serve_args ?: "");
	serve_vs(p, args, variant->scenario, "");
	ASSERT_EQ(0, p->peer_rc);	/* the fake destination got to its move */
	EXPECT_EQ(1, p->rc);
	EXPECT_NE(NULL, strstr(p->err, "protocol error from the destination: "));
	if (variant->names)
		EXPECT_NE(NULL, strstr(p->err, variant->names));
	EXPECT_NE(NULL, strstr(p->peer, "shutdown bulk -71 "));
	EXPECT_NE(NULL, strstr(p->peer, "shutdown urgent -71 "));
	EXPECT_EQ(NULL, strstr(p->peer, "shutdown bulk 0 "));
	EXPECT_EQ(0, jq_u64(p->out, ".verified"));
	EXPECT_EQ(0, jq_u64(p->out, "if .ok then 1 else 0 end"));
	EXPECT_GT(8.0, p->secs);
	EXPECT_EQ(NULL, strstr(p->err, "waiting for it to come back"));
}

/* ---- serve: what it takes, and silence ------------------------------------------ */

FIXTURE(serve) {
	struct peer_run p;
};

FIXTURE_SETUP(serve)
{
	ASSERT_EQ(0, peer_setup(&self->p))
		TH_LOG("no pcram on PATH, or no wire_proxy and wire_peer next to this test");
}

FIXTURE_TEARDOWN(serve)
{
	peer_teardown(_metadata, &self->p);
}

/* The control: the fake destination done right is a verified migration. */
TEST_F_TIMEOUT(serve, honest_destination_verifies_every_page, 60)
{
	struct peer_run *p = &self->p;

	serve_vs(p, "--wait 30", "ok", "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_EQ(0, p->rc);
	EXPECT_NE(NULL, strstr(p->peer, "shutdown bulk 0 complete: 256 pages verified equal,"
			       " 0 differ\n"));
	EXPECT_EQ(256, jq_u64(p->out, ".verified"));
	EXPECT_EQ(256, jq_u64(p->out, ".source.verified_equal"));
	EXPECT_EQ(0, jq_u64(p->out, ".source.verified_differ"));
}

/* KEEPALIVE is life: 2.5 s of nothing else, against a 1 s peer timeout. */
TEST_F_TIMEOUT(serve, keepalive_keeps_a_slow_destination, 60)
{
	struct peer_run *p = &self->p;
	unsigned long bulk, urgent;

	serve_vs(p, "--wait 30", "ok", "--idle 2.5");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_NE(NULL, strstr(p->peer, "idle 2.5 s"));
	EXPECT_EQ(0, p->rc);
	EXPECT_EQ(256, jq_u64(p->out, ".verified"));
	/* ... and serve sent its own on both connections, every 250 ms. */
	idle_keepalives(p, &bulk, &urgent);
	EXPECT_LE(5, bulk);
	EXPECT_LE(5, urgent);
}

/*
 * CHECKSUMs of 200 pages, the connections break, and on the new ones
 * every page's again: counted afresh, 256 of 256, not 456 (or refused as
 * twice). "resume" sends them after the SWITCHOVER the source sends
 * again; "resume-eager" right after READY(switched), as a destination
 * that has switched over may (recv does).
 */
static void resumed_destination(struct __test_metadata *_metadata, struct peer_run *p,
				const char *sc)
{
	serve_vs(p, "--wait 30", sc, "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_NE(NULL, strstr(p->peer, "resumed\n"));
	EXPECT_EQ(0, p->rc);
	EXPECT_NE(NULL, strstr(p->peer, "shutdown bulk 0 complete: 256 pages verified equal,"
			       " 0 differ\n"));
	EXPECT_EQ(256, jq_u64(p->out, ".verified"));
	EXPECT_EQ(256, jq_u64(p->out, ".source.verified_equal"));
	EXPECT_EQ(1, jq_u64(p->out, ".source.resumes"));
}

TEST_F_TIMEOUT(serve, resumed_destination_checksums_counted_afresh, 60)
{
	resumed_destination(_metadata, &self->p, "resume");
}

TEST_F_TIMEOUT(serve, resumed_destination_checksums_before_switchover_again, 60)
{
	resumed_destination(_metadata, &self->p, "resume-eager");
}

/* Checksums that differ: an honest failure, -EIO, with the counts. */
TEST_F_TIMEOUT(serve, differing_pages_fail_the_migration, 60)
{
	struct peer_run *p = &self->p;

	serve_vs(p, "--wait 30", "checksum-differ", "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_EQ(1, p->rc);
	EXPECT_NE(NULL, strstr(p->peer, "shutdown bulk -5 complete: 253 pages verified equal,"
			       " 3 differ\n"));
	EXPECT_NE(NULL, strstr(p->err, "3 differ"));
	EXPECT_EQ(0, jq_u64(p->out, ".verified"));
	EXPECT_GT(8.0, p->secs);
}

/* --no-verify: COMPLETE without checksums is taken, and says 0 were verified. */
TEST_F_TIMEOUT(serve, no_verify_takes_complete_without_checksums, 60)
{
	struct peer_run *p = &self->p;

	run(&p->r, "pcram serve --help");
	if (!strstr(p->r.out, "--no-verify"))
		SKIP(return, "this pcram serve has no --no-verify");
	serve_vs(p, "--wait 30 --no-verify", "no-checksums", "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_EQ(0, p->rc);
	EXPECT_NE(NULL, strstr(p->peer, "shutdown bulk 0 complete: 0 pages verified equal,"
			       " 0 differ\n"));
}

/* The destination's own SHUTDOWN: serve ends now, with its words. */
TEST_F_TIMEOUT(serve, destination_shutdown_ends_serve_at_once, 60)
{
	struct peer_run *p = &self->p;

	serve_vs(p, "--wait 30", "dest-shutdown", "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_EQ(1, p->rc);
	EXPECT_NE(NULL, strstr(p->err, "the destination gave up: "));
	EXPECT_NE(NULL, strstr(p->err, "disk on fire"));
	EXPECT_EQ(NULL, strstr(p->err, "waiting for it to come back"));
	/* Not a protocol error, so not answered as one. */
	EXPECT_EQ(NULL, strstr(p->peer, " -71 "));
	EXPECT_GT(8.0, p->secs);
}

/*
 * A destination that goes quiet, before HELLO, after it, or with every
 * page in but no COMPLETE: after --peer-timeout (1 s) its connections
 * are closed, serve waits --wait (1 s) for it, and gives up.
 */
static void silent_destination(struct __test_metadata *_metadata, struct peer_run *p,
			       const char *sc)
{
	double t = -1;
	const char *e;

	serve_vs(p, "--wait 1", sc, "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_EQ(1, p->rc);
	EXPECT_NE(NULL, strstr(p->err, "went silent"));
	EXPECT_NE(NULL, strstr(p->err, "did not come back"));
	e = strstr(p->peer, "end bulk ");
	ASSERT_NE(NULL, e);
	sscanf(e, "end bulk %*s %lf", &t);
	/*
	 * Not before the peer timeout (1 s) counted from the peer's last
	 * message: its last KEEPALIVE may have gone up to a 250 ms tick
	 * before it fell silent (t's zero).
	 */
	EXPECT_LE(0.7, t);
	EXPECT_GT(4.0, t);	/* and not much after */
	EXPECT_NE(NULL, strstr(p->peer, "end urgent "));
	EXPECT_EQ(NULL, strstr(p->peer, "drain: timed out"));
	EXPECT_GT(10.0, p->secs);
}

TEST_F_TIMEOUT(serve, silent_before_hello_timed_out, 60)
{
	silent_destination(_metadata, &self->p, "silent-before-hello");
}

TEST_F_TIMEOUT(serve, silent_after_hello_timed_out, 60)
{
	silent_destination(_metadata, &self->p, "silent-after-hello");
}

TEST_F_TIMEOUT(serve, silent_before_complete_timed_out, 60)
{
	silent_destination(_metadata, &self->p, "silent-before-complete");
}

/* ---- recv against a fake source ---------------------------------------------------- */

FIXTURE(recv) {
	struct peer_run p;
};

FIXTURE_SETUP(recv)
{
	ASSERT_EQ(0, peer_setup(&self->p))
		TH_LOG("no pcram on PATH, or no wire_proxy and wire_peer next to this test");
}

FIXTURE_TEARDOWN(recv)
{
	peer_teardown(_metadata, &self->p);
}

/* The control: the honest closing SHUTDOWN completes the migration. */
TEST_F_TIMEOUT(recv, honest_source_verifies_every_page, 60)
{
	struct peer_run *p = &self->p;

	recv_vs(p, "--source-timeout 5", "honest", "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_NE(NULL, strstr(p->peer, "checksums 256 256 0 "));
	EXPECT_EQ(0, p->rc);
	EXPECT_EQ(256, jq_u64(p->out, ".pages"));
	EXPECT_EQ(256, jq_u64(p->out, ".verified"));
}

/* KEEPALIVE is life: 2.5 s between READY and SWITCHOVER, 1 s peer timeout. */
TEST_F_TIMEOUT(recv, keepalive_keeps_a_slow_source, 60)
{
	struct peer_run *p = &self->p;
	unsigned long bulk, urgent;

	recv_vs(p, "--source-timeout 5", "honest", "--idle 2.5");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_NE(NULL, strstr(p->peer, "idle 2.5 s"));
	idle_keepalives(p, &bulk, &urgent);
	EXPECT_LE(5, bulk);
	EXPECT_LE(5, urgent);
	EXPECT_EQ(0, p->rc);
	EXPECT_EQ(256, jq_u64(p->out, ".verified"));
	EXPECT_EQ(0, jq_u64(p->out, ".resumes"));
}

/* A closing SHUTDOWN(0) that does not say "every page you sent is equal". */
static void lying_source(struct __test_metadata *_metadata, struct peer_run *p,
			 const char *sc)
{
	recv_vs(p, "--source-timeout 5", sc, "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_NE(NULL, strstr(p->peer, "checksums 256 256 0 "));
	EXPECT_EQ(1, p->rc);
	EXPECT_EQ(0, jq_u64(p->out, "if .ok then 1 else 0 end"));
	EXPECT_EQ(0, jq_u64(p->out, ".verified"));
	EXPECT_TRUE(names_its_failure(p, "recv"));
	EXPECT_GT(8.0, p->secs);
}

TEST_F_TIMEOUT(recv, closing_shutdown_with_pages_differing_fails, 60)
{
	lying_source(_metadata, &self->p, "lie-differ");
}

TEST_F_TIMEOUT(recv, closing_shutdown_with_too_many_pages_fails, 60)
{
	lying_source(_metadata, &self->p, "lie-count");
}

TEST_F_TIMEOUT(recv, closing_shutdown_not_parsed_fails, 60)
{
	lying_source(_metadata, &self->p, "lie-text");
}

/* A malformed message from the source: named, SHUTDOWN(-EPROTO) on both. */
static void malformed_source(struct __test_metadata *_metadata, struct peer_run *p,
			     const char *sc, const char *names)
{
	recv_vs(p, "--source-timeout 30", sc, "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_EQ(1, p->rc);
	EXPECT_NE(NULL, strstr(p->err, "protocol error from the source: "));
	EXPECT_NE(NULL, strstr(p->err, names));
	EXPECT_TRUE(names_its_failure(p, "recv"));
	EXPECT_NE(NULL, strstr(p->peer, "shutdown bulk -71 "));
	EXPECT_NE(NULL, strstr(p->peer, "shutdown urgent -71 "));
	EXPECT_EQ(NULL, strstr(p->err, "connecting again"));
	EXPECT_GT(8.0, p->secs);
}

TEST_F_TIMEOUT(recv, blocks_with_3000_byte_pages_refused, 60)
{
	malformed_source(_metadata, &self->p, "blocks-bad-pagesize", "BLOCKS");
}

TEST_F_TIMEOUT(recv, page_before_blocks_refused, 60)
{
	malformed_source(_metadata, &self->p, "page-before-blocks", "PAGE");
}

/* The source's SHUTDOWN with an error (on urgent): recv ends now, with its words. */
TEST_F_TIMEOUT(recv, source_shutdown_ends_recv_at_once, 60)
{
	struct peer_run *p = &self->p;

	recv_vs(p, "--source-timeout 30 --poison", "source-shutdown", "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_EQ(1, p->rc);
	EXPECT_NE(NULL, strstr(p->err, "disk on fire"));
	EXPECT_EQ(NULL, strstr(p->err, "connecting again"));
	EXPECT_TRUE(names_its_failure(p, "recv"));
	EXPECT_EQ(NULL, strstr(p->peer, " -71 "));
	EXPECT_GT(8.0, p->secs);
}

/* Reset before BLOCKS: a failure, and recv says which. */
TEST_F_TIMEOUT(recv, reset_before_blocks_names_the_failure, 60)
{
	struct peer_run *p = &self->p;

	recv_vs(p, "--source-timeout 2", "reset-before-blocks", "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_NE(NULL, strstr(p->peer, "reset both"));
	EXPECT_EQ(1, p->rc);
	EXPECT_TRUE(names_its_failure(p, "recv"));
	EXPECT_GT(8.0, p->secs);
}

/* A source that says nothing after the HELLOs is timed out after --peer-timeout. */
TEST_F_TIMEOUT(recv, silent_before_blocks_timed_out, 60)
{
	struct peer_run *p = &self->p;
	double t = -1;
	const char *e;

	recv_vs(p, "--source-timeout 2", "silent-before-blocks", "");
	ASSERT_EQ(0, p->peer_rc);
	EXPECT_EQ(1, p->rc);
	EXPECT_NE(NULL, strstr(p->err, "went silent"));
	EXPECT_TRUE(names_its_failure(p, "recv"));
	e = strstr(p->peer, "end bulk ");
	ASSERT_NE(NULL, e);
	sscanf(e, "end bulk %*s %lf", &t);
	EXPECT_LE(0.9, t);
	EXPECT_GT(4.0, t);
	EXPECT_GT(8.0, p->secs);
}

TEST_HARNESS_MAIN
