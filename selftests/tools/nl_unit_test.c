// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tool's netlink client without a module: its version checks say
 * what is wrong, and its parser takes what pcram.h promises (histogram
 * padding included) and refuses the rest. tools/nl.c and nl_parse.c are
 * compiled in here.
 */
#include "kselftest_harness.h"
#include "common.h"

#include "../../tools/nl.c"
#include "../../tools/nl_parse.c"

TEST(version_checks_say_what_to_do)
{
	char err[512] = "";

	EXPECT_EQ(0, pcram_nl_check_version(PCRAM_GENL_VERSION, 2, 2, err, sizeof(err)));
	EXPECT_EQ(0, pcram_nl_check_version(PCRAM_GENL_VERSION, 3, 2, err, sizeof(err)));
	EXPECT_STREQ("", err);

	EXPECT_EQ(-EPROTO, pcram_nl_check_version(PCRAM_GENL_VERSION + 1, 2, 2, err,
						  sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "netlink family \"pcram\" is version 2, this pcram "
			       "speaks version 1")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "use the pcram tool that came with that module"));

	EXPECT_EQ(-EPROTO, pcram_nl_check_version(PCRAM_GENL_VERSION, 1, 2, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "pcram.ko speaks API 1, this command needs API 2 or later"))
		TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "'pcram module load'")) TH_LOG("%s", err);
}

/* A GET_VM reply as pcram.ko builds it; @bad breaks one rule of pcram.h. */
static struct nl_msg *vm_message(int bad)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nlattr *faults, *hist, *threads, *t, *batch;

	genlmsg_put(msg, 0, 0, 0x20, 0, 0, PCRAM_CMD_GET_VM, PCRAM_GENL_VERSION);
	nla_put_u32(msg, PCRAM_VM_A_ID, 7);
	nla_put_string(msg, PCRAM_VM_A_NAME, "vm-seven");
	nla_put_u32(msg, PCRAM_VM_A_OWNER_PID, 1234);
	nla_put_u8(msg, PCRAM_VM_A_ATTACHED, 1);
	nla_put_u8(msg, PCRAM_VM_A_MEASURED, 1);
	nla_put_u64(msg, PCRAM_VM_A_ATTACH_TIME, 1700000000000000000ULL);
	nla_put_u32(msg, PCRAM_VM_A_ATTACH_FLAGS, PCRAM_ATTACH_F_NO_EVENTS);
	faults = nla_nest_start(msg, PCRAM_VM_A_FAULTS);
	nla_put_u64(msg, PCRAM_FAULT_A_COUNT, 30);
	nla_put_u64(msg, PCRAM_FAULT_A_BLOCKED_NS, 300000);
	nla_put_u64(msg, PCRAM_FAULT_A_MAX_NS, 20000);
	hist = nla_nest_start(msg, PCRAM_FAULT_A_HIST);
	nla_put(msg, 0, 4, "\0\0\0\0");	/* padding, as some architectures add */
	nla_put_u64(msg, 12 + 1, 10);
	nla_put_u64(msg, bad == 1 ? PCRAM_HIST_BUCKETS + 1 : 13 + 1, 20);
	nla_nest_end(msg, hist);
	nla_put_u64(msg, PCRAM_FAULT_A_PROBE_NMISSED, 3);
	nla_nest_end(msg, faults);
	threads = nla_nest_start(msg, PCRAM_VM_A_THREADS);
	for (int i = 0; i < 2; i++) {
		t = nla_nest_start(msg, bad == 2 && i == 1 ? 3 : i + 1);
		nla_put_u32(msg, PCRAM_THREAD_A_TID, 100 + i);
		nla_put_string(msg, PCRAM_THREAD_A_COMM, i ? "vcpu1" : "vcpu0");
		nla_put_u64(msg, PCRAM_THREAD_A_FAULTS, 15);
		nla_put_u64(msg, PCRAM_THREAD_A_BLOCKED_NS, 150000);
		nla_put_u64(msg, PCRAM_THREAD_A_MAX_NS, 20000 - i);
		nla_nest_end(msg, t);
	}
	nla_nest_end(msg, threads);
	batch = nla_nest_start(msg, PCRAM_VM_A_BATCH);
	nla_put_u64(msg, PCRAM_BATCH_A_BATCHES, 5);
	nla_put_u64(msg, PCRAM_BATCH_A_OPS, 30);
	if (bad == 3)
		nla_put_u8(msg, PCRAM_BATCH_A_PAGES, 30);	/* a u64 too short */
	else
		nla_put_u64(msg, PCRAM_BATCH_A_PAGES, 30);
	hist = nla_nest_start(msg, PCRAM_BATCH_A_SIZE_HIST);
	nla_put_u64(msg, 2 + 1, 5);
	nla_nest_end(msg, hist);
	nla_nest_end(msg, batch);
	return msg;
}

TEST(vm_reply_parsed)
{
	struct nl_msg *msg = vm_message(0);
	struct vm_stats vm;
	int cmd = 0;

	ASSERT_EQ(0, nl_parse_vm(nlmsg_hdr(msg), &vm, &cmd));
	EXPECT_EQ(PCRAM_CMD_GET_VM, cmd);
	EXPECT_EQ(7, vm.id);
	EXPECT_STREQ("vm-seven", vm.name);
	EXPECT_EQ(1234, vm.owner_pid);
	EXPECT_TRUE(vm.attached && vm.measured && vm.has_attach_time);
	EXPECT_EQ(PCRAM_ATTACH_F_NO_EVENTS, vm.attach_flags);
	EXPECT_EQ(30, vm.faults.count);
	EXPECT_EQ(300000, vm.faults.sum);
	EXPECT_EQ(20000, vm.faults.max);
	EXPECT_EQ(10, vm.faults.bucket[12]);
	EXPECT_EQ(20, vm.faults.bucket[13]);
	EXPECT_EQ(3, vm.nmissed);
	/* the quantiles of pcram_hist_quantile(3): 10 in [4096, 8191], 20 in [8192, 16383] */
	EXPECT_EQ(8192 + 8192 * 5 / 20, pcram_hist_quantile(&vm.faults, 0.50));
	EXPECT_EQ(16383, pcram_hist_quantile(&vm.faults, 0.999));
	ASSERT_EQ(2, vm.nr_threads);
	EXPECT_EQ(101, vm.threads[1].tid);
	EXPECT_STREQ("vcpu1", vm.threads[1].comm);
	EXPECT_EQ(19999, vm.threads[1].max_ns);
	EXPECT_EQ(5, vm.batch.batches);
	EXPECT_EQ(30, vm.batch.pages);
	EXPECT_EQ(5, vm.batch.size_hist[2]);
	EXPECT_FALSE(vm.has_sample);
	nlmsg_free(msg);
}

TEST(vm_reply_against_the_rules_refused)
{
	struct vm_stats vm;
	int cmd;

	for (int bad = 1; bad <= 3; bad++) {
		struct nl_msg *msg = vm_message(bad);

		EXPECT_EQ(-EPROTO, nl_parse_vm(nlmsg_hdr(msg), &vm, &cmd)) TH_LOG("rule %d", bad);
		nlmsg_free(msg);
	}
}

TEST(probe_states_named)
{
	EXPECT_STREQ("on", pcram_probe_state_name(PCRAM_PROBE_ON));
	EXPECT_STREQ("off", pcram_probe_state_name(PCRAM_PROBE_OFF));
	EXPECT_STREQ("unavailable", pcram_probe_state_name(PCRAM_PROBE_UNAVAILABLE));
}

TEST_HARNESS_MAIN
