// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 'pcram vm add/list/del': a process VM from the command line, in text
 * and JSON, and its refusals said in words.
 */
#include <signal.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod/kmod.h"
#include "output_keys.h"

FIXTURE(vm) {
	struct cmd_result r;
	pid_t pid;		/* a child to attach */
	char name[32];
};

FIXTURE_SETUP(vm)
{
	struct info_answer a;
	struct info_query q = { 0 };

	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	if (info_request(&q, &a) || a.error || a.api_version < 3)
		SETUP_SKIP("pcram.ko is older than API 3: no process VMs");
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		for (;;)
			pause();
	}
	snprintf(self->name, sizeof(self->name), "cli-vm-%d", self->pid);
}

FIXTURE_TEARDOWN(vm)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
}

TEST_F(vm, add_list_del)
{
	struct cmd_result *r = &self->r;
	char val[256], filter[256];
	unsigned long long id;
	struct vm_answer v;

	ASSERT_EQ(0, run(r, "pcram vm add -j --pid %d --name %s", self->pid, self->name))
		TH_LOG("%s", r->err);
	id = jq_u64(r->out, ".id");
	ASSERT_LT(0ULL, id) TH_LOG("%s", r->out);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, ".kind"));
	EXPECT_STREQ("process", val);
	EXPECT_EQ((unsigned long long)self->pid, jq_u64(r->out, ".pid"));
	ASSERT_EQ(0, get_vm((unsigned int)id, &v));
	EXPECT_STREQ(self->name, v.name);
	EXPECT_EQ(self->pid, v.pid);

	ASSERT_EQ(0, run(r, "pcram vm list -j")) TH_LOG("%s", r->err);
	snprintf(filter, sizeof(filter),
		 "[.vms[] | select(.id == %llu) | .kind == \"process\" and .pid == %d and "
		 ".name == \"%s\" and .attached] | length == 1 and all",
		 id, self->pid, self->name);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s", r->out);

	ASSERT_EQ(0, run(r, "pcram vm list")) TH_LOG("%s", r->err);
	EXPECT_NE(NULL, strstr(r->out, self->name)) TH_LOG("%s", r->out);
	EXPECT_NE(NULL, strstr(r->out, " process ")) TH_LOG("%s", r->out);
	/* the table leaves out who attached it and whether it is measured */
	ASSERT_EQ(0, output_keys_diff(r, "pcram vm list", "pcram vm list -j",
				      "[\"vms/[]/owner_pid\", \"vms/[]/measured\"]"))
		TH_LOG("%s", r->err);
	EXPECT_STREQ(OUTPUT_KEYS_AGREE, r->out);

	/* stat shows it as any VM, with its process */
	ASSERT_EQ(0, run(r, "pcram stat %llu", id)) TH_LOG("%s", r->err);
	/* pid: the owner, the 'pcram vm add' that attached it and is gone */
	snprintf(filter, sizeof(filter), "\"%s\": process %d, pid ", self->name, self->pid);
	EXPECT_NE(NULL, strstr(r->out, filter)) TH_LOG("%s", r->out);

	ASSERT_EQ(1, run(r, "pcram vm add --pid %d", self->pid));
	EXPECT_NE(NULL, strstr(r->err, "attached already")) TH_LOG("%s", r->err);

	ASSERT_EQ(0, run(r, "pcram vm del %s", self->name)) TH_LOG("%s", r->err);
	EXPECT_EQ(-ENOENT, get_vm((unsigned int)id, &v));
	ASSERT_EQ(1, run(r, "pcram vm del %llu", id));
	EXPECT_NE(NULL, strstr(r->err, "no VM has id")) TH_LOG("%s", r->err);
	ASSERT_EQ(1, run(r, "pcram vm del %s", self->name));
	EXPECT_NE(NULL, strstr(r->err, "no VM is named")) TH_LOG("%s", r->err);
}

TEST_F(vm, bad_input_is_named)
{
	struct cmd_result *r = &self->r;

	ASSERT_EQ(1, run(r, "pcram vm add --pid 1073741808"));
	EXPECT_NE(NULL, strstr(r->err, "no such process")) TH_LOG("%s", r->err);
	ASSERT_EQ(2, run(r, "pcram vm add --pid %d --name "
			 "a-name-of-more-than-thirty-one-bytes", self->pid));
	EXPECT_NE(NULL, strstr(r->err, "too long")) TH_LOG("%s", r->err);
	ASSERT_EQ(2, run(r, "pcram vm add --pid abc"));
	EXPECT_NE(NULL, strstr(r->err, "not a process id")) TH_LOG("%s", r->err);
	ASSERT_EQ(2, run(r, "pcram vm add"));
	EXPECT_NE(NULL, strstr(r->err, "--pid PID is required")) TH_LOG("%s", r->err);
	ASSERT_EQ(2, run(r, "pcram vm frob"));
	EXPECT_NE(NULL, strstr(r->err, "unknown subcommand 'frob'")) TH_LOG("%s", r->err);
}

/* nobody may not attach a root process. */
TEST_F(vm, unprivileged_is_not_permitted)
{
	struct cmd_result *r = &self->r;
	int status;
	pid_t p;

	p = fork();
	ASSERT_LE(0, p);
	if (!p) {
		if (drop_to_nobody())
			_exit(10);
		if (run(r, "pcram vm add --pid %d", self->pid) != 1)
			_exit(11);
		_exit(strstr(r->err, "not permitted") ? 0 : 12);
	}
	ASSERT_EQ(p, waitpid(p, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
