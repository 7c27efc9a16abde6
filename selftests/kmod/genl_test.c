// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pcram generic netlink family: GET_INFO, refusals, genl-ctrl-list.
 */
#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"

FIXTURE(genl) {
	char sysfs_version[64];
};

FIXTURE_SETUP(genl)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	read_whole("/sys/module/pcram/version", self->sysfs_version,
		   sizeof(self->sysfs_version));
	self->sysfs_version[strcspn(self->sysfs_version, "\n")] = '\0';
}

FIXTURE_TEARDOWN(genl)
{
}

TEST_F(genl, get_info_matches_module)
{
	struct info_query q = { 0 };
	struct info_answer a;

	ASSERT_EQ(0, info_request(&q, &a));
	ASSERT_EQ(0, a.error) TH_LOG("extack: %s", a.extack);
	EXPECT_EQ(1, a.replies);
	EXPECT_STREQ(self->sysfs_version, a.version);
	EXPECT_EQ(PCRAM_API_VERSION, a.api_version);
}

/* The core's strict validation refuses them, each with a message. */
TEST_F(genl, attributes_refused_with_extack)
{
	struct info_answer a;
	int attr;

	for (attr = 1; attr <= PCRAM_INFO_A_MAX + 1; attr++) {
		struct info_query q = { .extra_attr = attr };

		ASSERT_EQ(0, info_request(&q, &a));
		EXPECT_EQ(-EINVAL, a.error) TH_LOG("attribute %d", attr);
		EXPECT_EQ(0, a.replies);
		EXPECT_NE(0, a.extack[0]) TH_LOG("attribute %d: no extack", attr);
	}
}

TEST_F(genl, dump_refused)
{
	struct info_query q = { .flags = NLM_F_DUMP };
	struct info_answer a;

	ASSERT_EQ(0, info_request(&q, &a));
	EXPECT_EQ(-EOPNOTSUPP, a.error);
	EXPECT_EQ(0, a.replies);
}

TEST_F(genl, unknown_commands_refused)
{
	int cmds[] = { PCRAM_CMD_UNSPEC, __PCRAM_CMD_MAX, 200 };
	struct info_answer a;
	unsigned int i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct info_query q = { .set_cmd = true, .cmd = cmds[i] };

		ASSERT_EQ(0, info_request(&q, &a));
		EXPECT_EQ(-EOPNOTSUPP, a.error) TH_LOG("cmd %d", cmds[i]);
		EXPECT_EQ(0, a.replies);
	}
}

TEST_F(genl, genl_ctrl_list_shows_family_and_ops)
{
	struct cmd_result r;
	char op[32];

	ASSERT_EQ(0, run(&r, "genl-ctrl-list -d")) TH_LOG("%s", r.err);
	ASSERT_NE(NULL, strstr(r.out, " " PCRAM_GENL_NAME " version 1"))
		TH_LOG("%s", r.out);
	snprintf(op, sizeof(op), "(0x%02x) <has_doit", PCRAM_CMD_GET_INFO);
	EXPECT_NE(NULL, strstr(strstr(r.out, " " PCRAM_GENL_NAME " "), op))
		TH_LOG("%s", r.out);
}

TEST_HARNESS_MAIN
