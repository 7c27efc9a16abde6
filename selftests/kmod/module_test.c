// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Loading and unloading pcram.ko with 'pcram module' (libkmod). Every
 * test leaves the module loaded, as the other tests expect it.
 */
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod.h"

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

TEST_F(module, unload_refused_while_attached_then_clean)
{
	struct cmd_result r;
	int fd = open("/dev/pcram", O_RDWR), uffd = uffd_open(0);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, uffd);
	ASSERT_LT(0, pcram_attach(fd, uffd, "pinned", 0));
	EXPECT_EQ(1, run(&r, "pcram module unload"));
	EXPECT_NE(NULL, strstr(r.err, "in use")) TH_LOG("%s", r.err);
	close(fd);
	ASSERT_EQ(0, run(&r, "pcram module unload")) TH_LOG("%s", r.err);
	EXPECT_FALSE(pcram_loaded());
	close(uffd);
	ASSERT_EQ(0, run(&r, "pcram module load --path %s", self->ko)) TH_LOG("%s", r.err);
	EXPECT_EQ(0, info_nr_vms());
}

/*
 * A process VM holds no module reference: the unload detaches it, and its
 * process's exit after that must not reach the gone module (the VM runner
 * scans dmesg after each test).
 */
TEST_F(module, unload_drops_process_vms)
{
	struct cmd_result r;
	pid_t child = fork();

	ASSERT_LE(0, child);
	if (!child) {
		for (;;)
			pause();
	}
	ASSERT_LT(0, attach_pid(child, "unloaded", NULL));
	EXPECT_EQ(1, info_nr_vms());
	EXPECT_EQ(0, run(&r, "pcram module unload")) TH_LOG("%s", r.err);
	EXPECT_FALSE(pcram_loaded());
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	ASSERT_EQ(0, run(&r, "pcram module load --path %s", self->ko)) TH_LOG("%s", r.err);
	EXPECT_EQ(0, info_nr_vms());
}

static void *touch_first_byte(void *p)
{
	return (void *)(uintptr_t)*(volatile uint8_t *)p;
}

/*
 * Threads blocked in handle_userfault when the module goes: their closed
 * context, still referenced by the faults, is freed by the unload, and
 * their return, after it, must not reach the module.
 */
TEST_F(module, unload_while_faults_blocked)
{
	enum { N = 4 };
	uint8_t src[PAGE];
	struct cmd_result r;
	pthread_t t[N];
	uint8_t *area;
	void *ret;
	int fd = open("/dev/pcram", O_RDWR), uffd = uffd_open(0), i;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, uffd);
	area = uffd_area(uffd, N);
	ASSERT_NE(NULL, area);
	ASSERT_LT(0, pcram_attach(fd, uffd, "doomed", 0));
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, touch_first_byte, area + i * PAGE));
	ASSERT_TRUE(uffd_wait_blocked(uffd, N));
	close(fd);
	run(&r, "dmesg -c >/dev/null");
	ASSERT_EQ(0, run(&r, "pcram module unload")) TH_LOG("%s", r.err);
	EXPECT_FALSE(pcram_loaded());
	run(&r, "dmesg");
	EXPECT_NE(NULL, strstr(r.out, "pcram: freed 1 closed VM contexts")) TH_LOG("%s", r.out);

	memset(src, 0x3c, sizeof(src));
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, uffd_copy(uffd, area + i * PAGE, src, PAGE));
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(0x3c, (uintptr_t)ret);
	}
	close(uffd);
	ASSERT_EQ(0, run(&r, "pcram module load --path %s", self->ko)) TH_LOG("%s", r.err);
}

/* Module parameters: the probe can be off from the start. */
TEST_F(module, load_with_probe_off_and_maxactive)
{
	struct info_query q = { 0 };
	struct cmd_result r;
	struct info_answer a;

	ASSERT_EQ(0, run(&r, "pcram module unload")) TH_LOG("%s", r.err);
	ASSERT_EQ(0, run(&r, "pcram module load --path %s probe=0 maxactive=64", self->ko))
		TH_LOG("%s", r.err);
	ASSERT_EQ(0, info_request(&q, &a));
	EXPECT_EQ(PCRAM_LATENCY_PROBE_OFF, a.probe);
	EXPECT_EQ(64, a.maxactive);
	EXPECT_EQ(0, set_param("probe", "1"));
	ASSERT_EQ(0, info_request(&q, &a));
	EXPECT_EQ(PCRAM_LATENCY_PROBE_ON, a.probe);
	ASSERT_EQ(0, run(&r, "pcram module unload")) TH_LOG("%s", r.err);
	/* out of range: the load is refused */
	EXPECT_NE(0, run(&r, "pcram module load --path %s maxactive=0", self->ko));
	EXPECT_NE(0, run(&r, "pcram module load --path %s maxactive=5000", self->ko));
	EXPECT_FALSE(pcram_loaded());
	ASSERT_EQ(0, run(&r, "pcram module load --path %s", self->ko)) TH_LOG("%s", r.err);
	ASSERT_EQ(0, info_request(&q, &a));
	EXPECT_EQ(512, a.maxactive);
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
