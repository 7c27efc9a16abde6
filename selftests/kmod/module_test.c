// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Loading and unloading pcram.ko with 'pcram module' (libkmod). Every
 * test leaves the module loaded, as the other tests expect it.
 */
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"

FIXTURE(module) {
	const char *ko;
};

FIXTURE_SETUP(module)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	self->ko = getenv("PCRAM_KO");
	if (!self->ko)
		SETUP_SKIP("PCRAM_KO (path of pcram.ko) is not set");
}

FIXTURE_TEARDOWN(module)
{
	struct cmd_result r;

	if (!pcram_loaded())
		run(&r, "pcram module load --path %s", self->ko);
}

TEST_F(module, status_reports_live_module)
{
	struct cmd_result r;
	char val[64], sysfs[64];

	ASSERT_EQ(0, run(&r, "pcram module status -j")) TH_LOG("%s", r.err);
	read_whole("/sys/module/pcram/version", sysfs, sizeof(sysfs));
	sysfs[strcspn(sysfs, "\n")] = '\0';
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".loaded"));
	EXPECT_STREQ("true", val);
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".state"));
	EXPECT_STREQ("live", val);
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".version"));
	EXPECT_STREQ(sysfs, val);
	ASSERT_EQ(0, jq(val, sizeof(val), r.out, ".vms"));
	EXPECT_EQ(info_nr_vms(), atoi(val));
}

TEST_F(module, unload_refused_while_a_vm_is_open)
{
	struct cmd_result r;
	int fd = open("/dev/pcram", O_RDWR);

	ASSERT_LE(0, fd);
	EXPECT_EQ(1, run(&r, "pcram module unload"));
	EXPECT_NE(NULL, strstr(r.err, "in use")) TH_LOG("%s", r.err);
	EXPECT_TRUE(pcram_loaded());
	close(fd);
}

/* Is pcram.ko in this kernel's module index (found by name)? */
static bool installed_in_index(void)
{
	char path[256], dep[1 << 16];
	struct utsname u;

	uname(&u);
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
	read_whole(path, dep, sizeof(dep));
	return strstr(dep, "/pcram.ko:") != NULL;
}

#define NOT_INSTALLED "pcram.ko is not in the module index of this kernel " \
		      "(the qemu runner installs it; VM=vng loads it by path)"

TEST_F(module, unload_then_load_by_path)
{
	struct cmd_result r;

	ASSERT_EQ(0, run(&r, "pcram module unload")) TH_LOG("%s", r.err);
	EXPECT_FALSE(pcram_loaded());
	EXPECT_EQ(1, run(&r, "pcram module status"));
	EXPECT_NE(NULL, strstr(r.out, "not loaded"));
	EXPECT_EQ(1, run(&r, "pcram module unload"));
	EXPECT_NE(NULL, strstr(r.err, "not loaded")) TH_LOG("%s", r.err);

	ASSERT_EQ(0, run(&r, "pcram module load --path %s", self->ko))
		TH_LOG("%s", r.err);
	EXPECT_TRUE(pcram_loaded());
	EXPECT_EQ(0, info_nr_vms());
}

TEST_F(module, unload_then_load_by_name)
{
	struct cmd_result r;

	if (!installed_in_index())
		SKIP(return, NOT_INSTALLED);
	ASSERT_EQ(0, run(&r, "pcram module unload")) TH_LOG("%s", r.err);
	EXPECT_FALSE(pcram_loaded());
	ASSERT_EQ(0, run(&r, "pcram module load")) TH_LOG("%s", r.err);
	EXPECT_TRUE(pcram_loaded());
	EXPECT_EQ(0, info_nr_vms());
}

/* MODULE_ALIAS_GENL_FAMILY: resolving the family loads the module. */
TEST_F(module, family_lookup_autoloads_module)
{
	struct cmd_result r;

	if (!installed_in_index())
		SKIP(return, NOT_INSTALLED);
	ASSERT_EQ(0, run(&r, "pcram module unload")) TH_LOG("%s", r.err);
	ASSERT_FALSE(pcram_loaded());
	EXPECT_EQ(0, info_nr_vms());
	EXPECT_TRUE(pcram_loaded());
}

TEST_F(module, load_twice_says_already_loaded)
{
	struct cmd_result r;

	EXPECT_EQ(1, run(&r, "pcram module load"));
	EXPECT_NE(NULL, strstr(r.err, "already loaded")) TH_LOG("%s", r.err);
	EXPECT_EQ(1, run(&r, "pcram module load --path %s", self->ko));
	EXPECT_NE(NULL, strstr(r.err, "already loaded")) TH_LOG("%s", r.err);
}

TEST_F(module, bad_arguments_named)
{
	struct cmd_result r;

	EXPECT_EQ(1, run(&r, "pcram module load --path /nonexistent.ko"));
	EXPECT_NE(NULL, strstr(r.err, "/nonexistent.ko")) TH_LOG("%s", r.err);
	EXPECT_EQ(1, run(&r, "pcram module load no_such_module_xyz"));
	EXPECT_NE(NULL, strstr(r.err, "no such module")) TH_LOG("%s", r.err);
	EXPECT_EQ(1, run(&r, "pcram module load pcram notaparam"));
	EXPECT_NE(NULL, strstr(r.err, "'notaparam' is not a PARAM=VALUE"))
		TH_LOG("%s", r.err);
	EXPECT_EQ(2, run(&r, "pcram module frobnicate"));
	EXPECT_NE(NULL, strstr(r.err, "unknown action 'frobnicate'"));
	EXPECT_TRUE(pcram_loaded());
}

TEST_HARNESS_MAIN
