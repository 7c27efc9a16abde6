// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libpcram's pcram.ko client without a module: its version checks say
 * what is wrong, and its parser takes what pcram.h promises (histogram
 * padding included) and refuses the rest. lib/kmod_genl.c and
 * kmod_parse.c are compiled in here, for their static functions.
 */
#include "kselftest_harness.h"
#include "common.h"

#include "../../lib/error.c"
#include "../../lib/kmod_genl.c"
#include "../../lib/kmod_parse.c"

TEST(version_checks_say_what_to_do)
{
	struct pcram_kmod k = { .genl_version = PCRAM_GENL_VERSION };
	const char *err;

	lib_error_init(&k.error);
	EXPECT_EQ(0, check_version(&k, 2, 2));
	EXPECT_EQ(0, check_version(&k, 3, 2));
	EXPECT_STREQ("", lib_error_get(&k.error));

	k.genl_version = PCRAM_GENL_VERSION + 1;
	EXPECT_EQ(-EPROTO, check_version(&k, 2, 2));
	err = lib_error_get(&k.error);
	EXPECT_NE(NULL, strstr(err, "netlink family \"pcram\" is version 2, this libpcram "
			       "speaks version 1")) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "use the pcram tool that came with that module"));

	k.genl_version = PCRAM_GENL_VERSION;
	EXPECT_EQ(-EPROTO, check_version(&k, 1, 2));
	err = lib_error_get(&k.error);
	EXPECT_NE(NULL, strstr(err, "pcram.ko speaks API 1, this needs API 2 or later"))
		TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "'pcram module load'")) TH_LOG("%s", err);
	lib_error_destroy(&k.error);
}

/* Calls on a handle that is not connected say so, and touch nothing. */
TEST(unconnected_handle_refused)
{
	struct pcram_kmod_info info = { 0 };
	struct pcram_kmod_vm vm = { 0 };
	struct pcram_kmod *k;

	ASSERT_EQ(0, pcram_kmod_new(&k));
	EXPECT_EQ(-ENOTCONN, pcram_kmod_info(k, &info, sizeof(info)));
	EXPECT_NE(NULL, strstr(pcram_kmod_strerror(k), "not connected"));
	EXPECT_EQ(-ENOTCONN, pcram_kmod_get_vm(k, 1, &vm, sizeof(vm)));
	EXPECT_EQ(-ENOTCONN, pcram_kmod_reset(k, 0));
	EXPECT_EQ(-ENOTCONN, pcram_kmod_subscribe(k));
	EXPECT_EQ(-EBADF, pcram_kmod_fd(k));
	EXPECT_EQ(-EINVAL, pcram_kmod_info(k, &info, 8));
	EXPECT_NE(NULL, strstr(pcram_kmod_strerror(k), "size 8"));
	EXPECT_EQ(-EINVAL, pcram_kmod_get_vm(k, 0, &vm, sizeof(vm)));
	EXPECT_EQ(0, info.size);
	EXPECT_EQ(0, vm.id);
	pcram_kmod_free(k);
	pcram_kmod_free(NULL);
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
	nla_put_u64(msg, PCRAM_FAULT_A_LATENCY_PROBE_NMISSED, 3);
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
	struct pcram_kmod_vm vm;
	int cmd = 0;

	ASSERT_EQ(0, kmod_parse_vm(nlmsg_hdr(msg), &vm, &cmd));
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
	/* an API 2 module: no log-linear histogram */
	EXPECT_FALSE(vm.has_lhist);
	EXPECT_EQ(0, vm.lhist.count);
	nlmsg_free(msg);
}

TEST(vm_reply_against_the_rules_refused)
{
	struct pcram_kmod_vm vm;
	int cmd;

	for (int bad = 1; bad <= 3; bad++) {
		struct nl_msg *msg = vm_message(bad);

		EXPECT_EQ(-EPROTO, kmod_parse_vm(nlmsg_hdr(msg), &vm, &cmd)) TH_LOG("rule %d", bad);
		nlmsg_free(msg);
	}
}

/*
 * A GET_VM message whose faults carry the log-linear histogram as the
 * runs @first[i] of @len[i] u64s (@bytes[i] bytes when not 0), @n runs.
 */
static struct nl_msg *lhist_message(const int *first, const int *len, const int *bytes, int n)
{
	struct nl_msg *msg = nlmsg_alloc_size(32768);
	struct nlattr *faults, *lh;
	uint64_t counts[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	genlmsg_put(msg, 0, 0, 0x20, 0, 0, PCRAM_CMD_GET_VM, PCRAM_GENL_VERSION);
	nla_put_u32(msg, PCRAM_VM_A_ID, 9);
	faults = nla_nest_start(msg, PCRAM_VM_A_FAULTS);
	nla_put_u64(msg, PCRAM_FAULT_A_COUNT, 10);
	nla_put_u64(msg, PCRAM_FAULT_A_MAX_NS, 1ULL << 40);
	lh = nla_nest_start(msg, PCRAM_FAULT_A_LHIST);
	for (int i = 0; i < n; i++)
		nla_put(msg, first[i] + 1, bytes && bytes[i] ? bytes[i] : len[i] * 8, counts);
	nla_nest_end(msg, lh);
	nla_nest_end(msg, faults);
	return msg;
}

TEST(lhist_runs_parsed_and_checked)
{
	static const int first[] = { 32, 352, PCRAM_LHIST_BUCKETS - 1 }, len[] = { 3, 1, 1 };
	static const int overlap[] = { 32, 34 }, beyond[] = { PCRAM_LHIST_BUCKETS - 1 };
	static const int two[] = { 2, 2 }, odd_bytes[] = { 12 };
	struct pcram_kmod_vm vm;
	struct nl_msg *msg = lhist_message(first, len, NULL, 3);
	uint64_t lo, hi;
	int cmd;

	ASSERT_EQ(0, kmod_parse_vm(nlmsg_hdr(msg), &vm, &cmd));
	nlmsg_free(msg);
	EXPECT_TRUE(vm.has_lhist);
	EXPECT_EQ(10, vm.lhist.count);
	EXPECT_EQ(1, vm.lhist.bucket[32]);
	EXPECT_EQ(3, vm.lhist.bucket[34]);
	EXPECT_EQ(0, vm.lhist.bucket[35]);
	EXPECT_EQ(1, vm.lhist.bucket[352]);
	EXPECT_EQ(1, vm.lhist.bucket[PCRAM_LHIST_BUCKETS - 1]);
	/* bucket 352: shift 10, [32 << 10, 33 << 10); the last from 2^36 up */
	ASSERT_EQ(0, pcram_kmod_lhist_bounds(352, &lo, &hi));
	EXPECT_EQ(32768, lo);
	EXPECT_EQ(33791, hi);
	ASSERT_EQ(0, pcram_kmod_lhist_bounds(PCRAM_LHIST_BUCKETS - 1, &lo, &hi));
	EXPECT_EQ(1ULL << 36, lo);
	EXPECT_EQ(UINT64_MAX, hi);
	EXPECT_EQ(-EINVAL, pcram_kmod_lhist_bounds(PCRAM_LHIST_BUCKETS, &lo, &hi));
	ASSERT_EQ(0, pcram_kmod_lhist_bounds(31, &lo, &hi));
	EXPECT_EQ(31, lo);
	EXPECT_EQ(31, hi);
	/* 7 faults: 32, 33, 33, 34 x3, one in 352; rank 4 is the first 34 */
	vm.lhist.bucket[PCRAM_LHIST_BUCKETS - 1] = 0;
	EXPECT_EQ(34, pcram_kmod_lhist_quantile(&vm.lhist, 0.5));
	EXPECT_EQ(33791, pcram_kmod_lhist_quantile(&vm.lhist, 1));
	EXPECT_EQ(32, pcram_kmod_lhist_quantile(&vm.lhist, 0));

	/* overlapping, past the last bucket, a partial u64, empty */
	msg = lhist_message(overlap, len, NULL, 2);
	EXPECT_EQ(-EPROTO, kmod_parse_vm(nlmsg_hdr(msg), &vm, &cmd));
	nlmsg_free(msg);
	msg = lhist_message(beyond, two, NULL, 1);
	EXPECT_EQ(-EPROTO, kmod_parse_vm(nlmsg_hdr(msg), &vm, &cmd));
	nlmsg_free(msg);
	msg = lhist_message(first, len, odd_bytes, 1);
	EXPECT_EQ(-EPROTO, kmod_parse_vm(nlmsg_hdr(msg), &vm, &cmd));
	nlmsg_free(msg);
	msg = lhist_message(first, (const int[]){ 0 }, NULL, 1);
	EXPECT_EQ(-EPROTO, kmod_parse_vm(nlmsg_hdr(msg), &vm, &cmd));
	nlmsg_free(msg);
}

/* GET_INFO of an API 1 module: what API 2 added is 0, not garbage. */
TEST(info_of_api1_module)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct pcram_kmod_info info;

	memset(&info, 0xa5, sizeof(info));
	genlmsg_put(msg, 0, 0, 0x20, 0, 0, PCRAM_CMD_GET_INFO, PCRAM_GENL_VERSION);
	nla_put_string(msg, PCRAM_INFO_A_MODULE_VERSION, "0.0.9");
	nla_put_u32(msg, PCRAM_INFO_A_API_VERSION, 1);
	nla_put_u32(msg, PCRAM_INFO_A_NR_VMS, 2);
	ASSERT_EQ(0, kmod_parse_info(nlmsg_hdr(msg), &info));
	EXPECT_STREQ("0.0.9", info.version);
	EXPECT_EQ(1, info.api_version);
	EXPECT_EQ(2, info.nr_vms);
	EXPECT_EQ(sizeof(info), info.size);
	EXPECT_EQ(0, info.latency_probe);
	EXPECT_EQ(0, info.nmissed);
	nlmsg_free(msg);

	/* without the version, refused */
	msg = nlmsg_alloc();
	genlmsg_put(msg, 0, 0, 0x20, 0, 0, PCRAM_CMD_GET_INFO, PCRAM_GENL_VERSION);
	nla_put_u32(msg, PCRAM_INFO_A_API_VERSION, 1);
	nla_put_u32(msg, PCRAM_INFO_A_NR_VMS, 2);
	EXPECT_EQ(-EPROTO, kmod_parse_info(nlmsg_hdr(msg), &info));
	nlmsg_free(msg);
}

TEST_HARNESS_MAIN
