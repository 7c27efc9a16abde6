// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 'pcram module status' with the probe's state, its missed faults and
 * the event settings, as GET_INFO gives them, in text and JSON.
 */
#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod/kmod.h"
#include "output_keys.h"

FIXTURE(status) {
	struct cmd_result r;
};

FIXTURE_SETUP(status)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
}

FIXTURE_TEARDOWN(status)
{
	set_param("probe", "1");
	set_param("event_interval_ms", "100");
}

TEST_F(status, json_has_probe_and_events)
{
	struct cmd_result *r = &self->r;
	struct info_query q = { 0 };
	struct info_answer a;
	char val[256], filter[512];

	ASSERT_EQ(0, set_param("probe", "1"));
	ASSERT_EQ(0, set_param("event_interval_ms", "37"));
	ASSERT_EQ(0, run(r, "pcram module status -j")) TH_LOG("%s", r->err);
	ASSERT_EQ(0, info_request(&q, &a));
	snprintf(filter, sizeof(filter),
		 "[.probe == \"on\", .probe_error == null, .maxactive == %u, "
		 ".nmissed == %llu, .event_interval_ms == 37, .events_dropped == %llu, "
		 ".batch_max == %d, .refcount >= 0, .api_version == %d] | all",
		 a.maxactive, (unsigned long long)a.nmissed,
		 (unsigned long long)a.events_dropped, PCRAM_BATCH_MAX, PCRAM_API_VERSION);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s", r->out);

	ASSERT_EQ(0, set_param("probe", "0"));
	ASSERT_EQ(0, run(r, "pcram module status -j")) TH_LOG("%s", r->err);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, ".probe"));
	EXPECT_STREQ("off", val);
}

TEST_F(status, text_has_probe_and_events)
{
	struct cmd_result *r = &self->r;
	struct info_query q = { 0 };
	struct info_answer a;
	char want[128];

	ASSERT_EQ(0, set_param("probe", "1"));
	ASSERT_EQ(0, info_request(&q, &a));
	ASSERT_EQ(0, run(r, "pcram module status")) TH_LOG("%s", r->err);
	EXPECT_EQ(0, strncmp(r->out, "pcram: live, refcount ", 22)) TH_LOG("%s", r->out);
	snprintf(want, sizeof(want), "\n  probe on, maxactive %u, ", a.maxactive);
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);
	snprintf(want, sizeof(want), "fault events every 100 ms, ");
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);
	snprintf(want, sizeof(want), "batches of up to %d ops\n", PCRAM_BATCH_MAX);
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);
}

/* Text and JSON have the same fields, loaded or not. */
TEST(text_and_json_agree)
{
	struct cmd_result r;

	/* "loaded": the text's state says it ("not loaded", or "live"). */
	ASSERT_EQ(0, output_keys_diff(&r, "pcram module status", "pcram module status -j",
				      "[\"loaded\"]")) TH_LOG("%s", r.err);
	EXPECT_STREQ(OUTPUT_KEYS_AGREE, r.out);
}

TEST_HARNESS_MAIN
