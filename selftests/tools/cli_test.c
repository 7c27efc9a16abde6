// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pcram tool: version, help and usage against pcram(8), 'probe -j'
 * against the kernel's own answers, and honest refusals.
 */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "output_keys.h"

static const char *const commands[] = {
	"probe", "module", "stat", "top", "monitor", "vm", "demo", "serve", "recv", "bench", "help"
};

TEST(version_names_all_parts)
{
	struct cmd_result r;
	char want[128];

	ASSERT_EQ(0, run(&r, "pcram --version"));
	snprintf(want, sizeof(want), "(libpcram %s, UAPI %d)", pcram_version(),
		 PCRAM_API_VERSION);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", r.out);
	EXPECT_EQ(0, strncmp(r.out, "pcram ", 6));
}

TEST(help_lists_every_command)
{
	struct cmd_result r;
	unsigned int i;
	char want[32];

	ASSERT_EQ(0, run(&r, "pcram help"));
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		snprintf(want, sizeof(want), "\n  %s ", commands[i]);
		EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s missing", commands[i]);
	}
	EXPECT_EQ(2, run(&r, "pcram"));
	EXPECT_NE(NULL, strstr(r.err, "commands:"));
}

TEST(unknown_commands_named)
{
	struct cmd_result r;

	EXPECT_EQ(2, run(&r, "pcram frobnicate"));
	EXPECT_NE(NULL, strstr(r.err, "unknown command 'frobnicate'"));
	EXPECT_EQ(2, run(&r, "pcram help frobnicate"));
	EXPECT_NE(NULL, strstr(r.err, "unknown command 'frobnicate'"));
	EXPECT_EQ(2, run(&r, "pcram probe --frobnicate"));
	EXPECT_NE(NULL, strstr(r.err, "usage: pcram probe [-j]"));
	EXPECT_EQ(2, run(&r, "pcram probe extra"));
}

TEST(usage_matches_man_page)
{
	const char *man = getenv("PCRAM_MANPAGE");
	static char page[65536];
	struct cmd_result r;
	char line[512];
	unsigned int i;

	if (!man)
		SKIP(return, "PCRAM_MANPAGE (path of pcram.8) is not set");
	read_whole(man, page, sizeof(page));
	ASSERT_NE(0, page[0]) TH_LOG("cannot read %s", man);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		ASSERT_EQ(0, run(&r, "pcram help %s", commands[i]));
		ASSERT_EQ(0, strncmp(r.out, "usage: ", 7));
		snprintf(line, sizeof(line), "\n%.*s\n",
			 (int)strcspn(r.out + 7, "\n"), r.out + 7);
		EXPECT_NE(NULL, strstr(page, line))
			TH_LOG("pcram(8) SYNOPSIS lacks: %s", line + 1);
	}
}

/* 'pcram probe -j' is JSON, and says what the kernel says. */
TEST(probe_json_matches_kernel)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct cmd_result r;
	char val[256], want[64];
	int uffd, fds[3], i, base = -1;

	if (pcram_loaded()) {
		base = info_nr_vms();
		for (i = 0; i < 3; i++)
			ASSERT_LE(0, fds[i] = open("/dev/pcram", O_RDWR));
	}
	ASSERT_EQ(0, run(&r, "pcram probe -j")) TH_LOG("%s", r.err);
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".")) TH_LOG("not JSON: %s", r.out);

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd < 0 && errno == EPERM) /* unprivileged: as pcram falls back */
		uffd = syscall(__NR_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
	ASSERT_LE(0, uffd);
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	close(uffd);
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)api.features);
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".uffd.features_mask"));
	EXPECT_STREQ(want, val);
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)api.ioctls);
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".uffd.ioctls_mask"));
	EXPECT_STREQ(want, val);
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".uffd.api"));
	EXPECT_EQ(UFFD_API, atoi(val));
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".supported"));
	EXPECT_STREQ("true", val);
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".page_size"));
	EXPECT_EQ(sysconf(_SC_PAGESIZE), atol(val));
	ASSERT_EQ(0, jq(val, sizeof(val), r.out,
			"[.ranges[] | select(.backing == \"anon\" and .mode == \"missing\")"
			" | .ioctls | index(\"COPY\") != null] | .[0]"));
	EXPECT_STREQ("true", val);

	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".module.loaded"));
	EXPECT_STREQ(pcram_loaded() ? "true" : "false", val);
	if (!pcram_loaded()) {
		ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".module.error"));
		EXPECT_NE(NULL, strstr(val, "pcram module load")) TH_LOG("%s", val);
		return;
	}
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".module.vms"));
	EXPECT_EQ(base + 3, atoi(val));
	for (i = 0; i < 3; i++)
		close(fds[i]);
	read_whole("/sys/module/pcram/version", want, sizeof(want));
	want[strcspn(want, "\n")] = '\0';
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".module.version"));
	EXPECT_STREQ(want, val);
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".module.api_version"));
	EXPECT_EQ(PCRAM_API_VERSION, atoi(val));
}

/* 'pcram probe' and 'probe -j' have the same fields: one printer writes both. */
TEST(probe_text_and_json_agree)
{
	/* The masks: JSON's exact bits beside the names, which the text has. */
	const char *json_only = "[\"uffd/features_mask\", \"uffd/enabled_mask\", "
				"\"uffd/ioctls_mask\", \"ranges/[]/ioctls_mask\"]";
	struct cmd_result r;

	ASSERT_EQ(0, output_keys_diff(&r, "pcram probe", "pcram probe -j", json_only))
		TH_LOG("%s", r.err);
	EXPECT_STREQ(OUTPUT_KEYS_AGREE, r.out);
}

/* On a kernel without loadable modules, say so and point at the VM. */
TEST(module_without_module_support)
{
	const char *ko = getenv("PCRAM_KO");
	struct cmd_result r;

	if (access("/proc/modules", F_OK) == 0)
		SKIP(return, "this kernel supports modules (the VM tests loading)");
	EXPECT_EQ(1, run(&r, "pcram module status"));
	EXPECT_NE(NULL, strstr(r.out, "not loaded"));
	if (!ko || access(ko, R_OK))
		SKIP(return, "pcram.ko is not built (PCRAM_KO=%s)", ko ? ko : "");
	EXPECT_EQ(1, run(&r, "pcram module load --path %s", ko));
	EXPECT_NE(NULL, strstr(r.err, "no loadable module support")) TH_LOG("%s", r.err);
}

TEST_HARNESS_MAIN
