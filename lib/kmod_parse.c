// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <linux/pcram.h>

#include "kmod_parse.h"

/*
 * The library's copy of each limit must be the module's: a larger module
 * table would be cut short, a smaller one would read past the module's.
 * PCRAM_HIST_BUCKETS is one name in both headers, so the compiler itself
 * refuses a difference (a macro redefined with another value).
 */
_Static_assert(PCRAM_KMOD_NAME_MAX == PCRAM_NAME_MAX, "VM name length");
_Static_assert(PCRAM_KMOD_COMM_MAX == PCRAM_COMM_MAX, "thread name length");
_Static_assert(PCRAM_KMOD_THREADS_MAX == PCRAM_THREADS_MAX, "thread table");
_Static_assert(PCRAM_KMOD_BATCH_HIST_BUCKETS == PCRAM_BATCH_HIST_BUCKETS, "batch histogram");
_Static_assert(sizeof(((struct pcram_hist *)0)->bucket) ==
	       PCRAM_HIST_BUCKETS * sizeof(uint64_t), "fault histogram");
_Static_assert(PCRAM_KMOD_LHIST_SUB_BITS == PCRAM_LHIST_SUB_BITS &&
	       PCRAM_KMOD_LHIST_MAX_SHIFT == PCRAM_LHIST_MAX_SHIFT &&
	       PCRAM_KMOD_LHIST_BUCKETS == PCRAM_LHIST_BUCKETS, "log-linear histogram");
_Static_assert(PCRAM_KMOD_ATTACH_F_NO_LATENCY == PCRAM_ATTACH_F_NO_LATENCY &&
	       PCRAM_KMOD_ATTACH_F_NO_EVENTS == PCRAM_ATTACH_F_NO_EVENTS &&
	       PCRAM_KMOD_ATTACH_F_ALL == PCRAM_ATTACH_F_ALL, "attach flags");
_Static_assert((int)PCRAM_KMOD_VM_UFFD == (int)PCRAM_VM_KIND_UFFD &&
	       (int)PCRAM_KMOD_VM_PROCESS == (int)PCRAM_VM_KIND_PROCESS, "VM kinds");
_Static_assert((int)PCRAM_KMOD_DETACH_REQUEST == (int)PCRAM_DETACH_REASON_REQUEST &&
	       (int)PCRAM_KMOD_DETACH_CLOSED == (int)PCRAM_DETACH_REASON_CLOSED &&
	       (int)PCRAM_KMOD_DETACH_EXITED == (int)PCRAM_DETACH_REASON_EXITED &&
	       (int)PCRAM_KMOD_DETACH_UNLOAD == (int)PCRAM_DETACH_REASON_UNLOAD,
	       "detach reasons");
_Static_assert((int)PCRAM_KMOD_LATENCY_PROBE_UNAVAILABLE == (int)PCRAM_LATENCY_PROBE_UNAVAILABLE &&
	       (int)PCRAM_KMOD_LATENCY_PROBE_OFF == (int)PCRAM_LATENCY_PROBE_OFF &&
	       (int)PCRAM_KMOD_LATENCY_PROBE_ON == (int)PCRAM_LATENCY_PROBE_ON, "latency probe states");

/*
 * Types and sizes only: which attributes must be there is said where
 * they are read. libnl's prototypes take the tables as non-const.
 */
static struct nla_policy info_policy[PCRAM_INFO_A_MAX + 1] = {
	[PCRAM_INFO_A_MODULE_VERSION] = { .type = NLA_NUL_STRING },
	[PCRAM_INFO_A_API_VERSION] = { .type = NLA_U32 },
	[PCRAM_INFO_A_NR_VMS] = { .type = NLA_U32 },
	[PCRAM_INFO_A_LATENCY_PROBE] = { .type = NLA_U32 },
	[PCRAM_INFO_A_LATENCY_PROBE_ERROR] = { .type = NLA_U32 },
	[PCRAM_INFO_A_LATENCY_PROBE_MAXACTIVE] = { .type = NLA_U32 },
	[PCRAM_INFO_A_LATENCY_PROBE_NMISSED] = { .type = NLA_U64 },
	[PCRAM_INFO_A_BATCH_MAX] = { .type = NLA_U32 },
	[PCRAM_INFO_A_EVENT_INTERVAL_MS] = { .type = NLA_U32 },
	[PCRAM_INFO_A_EVENTS_DROPPED] = { .type = NLA_U64 },
};

static struct nla_policy vm_policy[PCRAM_VM_A_MAX + 1] = {
	[PCRAM_VM_A_ID] = { .type = NLA_U32 },
	[PCRAM_VM_A_NAME] = { .type = NLA_NUL_STRING },
	[PCRAM_VM_A_OWNER_PID] = { .type = NLA_U32 },
	[PCRAM_VM_A_ATTACHED] = { .type = NLA_U8 },
	[PCRAM_VM_A_ATTACH_TIME] = { .type = NLA_U64 },
	[PCRAM_VM_A_ATTACH_FLAGS] = { .type = NLA_U32 },
	[PCRAM_VM_A_MEASURED] = { .type = NLA_U8 },
	[PCRAM_VM_A_FAULTS] = { .type = NLA_NESTED },
	[PCRAM_VM_A_THREADS] = { .type = NLA_NESTED },
	[PCRAM_VM_A_BATCH] = { .type = NLA_NESTED },
	[PCRAM_VM_A_SAMPLE] = { .type = NLA_NESTED },
	[PCRAM_VM_A_KIND] = { .type = NLA_U32 },
	[PCRAM_VM_A_PID] = { .type = NLA_U32 },
	[PCRAM_VM_A_DETACH_REASON] = { .type = NLA_U32 },
};

static struct nla_policy fault_policy[PCRAM_FAULT_A_MAX + 1] = {
	[PCRAM_FAULT_A_COUNT] = { .type = NLA_U64 },
	[PCRAM_FAULT_A_BLOCKED_NS] = { .type = NLA_U64 },
	[PCRAM_FAULT_A_MAX_NS] = { .type = NLA_U64 },
	[PCRAM_FAULT_A_HIST] = { .type = NLA_NESTED },
	[PCRAM_FAULT_A_LATENCY_PROBE_NMISSED] = { .type = NLA_U64 },
	[PCRAM_FAULT_A_LHIST] = { .type = NLA_NESTED },
};

static struct nla_policy thread_policy[PCRAM_THREAD_A_MAX + 1] = {
	[PCRAM_THREAD_A_TID] = { .type = NLA_U32 },
	[PCRAM_THREAD_A_COMM] = { .type = NLA_NUL_STRING },
	[PCRAM_THREAD_A_FAULTS] = { .type = NLA_U64 },
	[PCRAM_THREAD_A_BLOCKED_NS] = { .type = NLA_U64 },
	[PCRAM_THREAD_A_MAX_NS] = { .type = NLA_U64 },
};

static struct nla_policy batch_policy[PCRAM_BATCH_A_MAX + 1] = {
	[PCRAM_BATCH_A_BATCHES] = { .type = NLA_U64 },
	[PCRAM_BATCH_A_OPS] = { .type = NLA_U64 },
	[PCRAM_BATCH_A_PAGES] = { .type = NLA_U64 },
	[PCRAM_BATCH_A_BYTES] = { .type = NLA_U64 },
	[PCRAM_BATCH_A_ZERO_PAGES] = { .type = NLA_U64 },
	[PCRAM_BATCH_A_WAKES] = { .type = NLA_U64 },
	[PCRAM_BATCH_A_EEXIST] = { .type = NLA_U64 },
	[PCRAM_BATCH_A_ERRORS] = { .type = NLA_U64 },
	[PCRAM_BATCH_A_SIZE_HIST] = { .type = NLA_NESTED },
};

static struct nla_policy sample_policy[PCRAM_SAMPLE_A_MAX + 1] = {
	[PCRAM_SAMPLE_A_TID] = { .type = NLA_U32 },
	[PCRAM_SAMPLE_A_COMM] = { .type = NLA_NUL_STRING },
	[PCRAM_SAMPLE_A_LATENCY_NS] = { .type = NLA_U64 },
	[PCRAM_SAMPLE_A_ADDRESS] = { .type = NLA_U64 },
	[PCRAM_SAMPLE_A_FLAGS] = { .type = NLA_U32 },
	[PCRAM_SAMPLE_A_SKIPPED] = { .type = NLA_U64 },
};

static uint64_t u64_or0(const struct nlattr *a)
{
	return a ? nla_get_u64((struct nlattr *)a) : 0;
}

static uint32_t u32_or0(const struct nlattr *a)
{
	return a ? nla_get_u32((struct nlattr *)a) : 0;
}

/* Bounded by the attribute too: a string the policy let through unended. */
static void copy_string(char *dst, size_t size, const struct nlattr *a)
{
	if (a)
		snprintf(dst, size, "%.*s", nla_len(a), (const char *)nla_data(a));
	else
		dst[0] = '\0';
}

int kmod_parse_info(struct nlmsghdr *hdr, struct pcram_kmod_info *info)
{
	struct nlattr *tb[PCRAM_INFO_A_MAX + 1];

	if (genlmsg_parse(hdr, 0, tb, PCRAM_INFO_A_MAX, info_policy))
		return -EPROTO;
	if (!tb[PCRAM_INFO_A_MODULE_VERSION] || !tb[PCRAM_INFO_A_API_VERSION] ||
	    !tb[PCRAM_INFO_A_NR_VMS])
		return -EPROTO;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->genl_version = ((struct genlmsghdr *)nlmsg_data(hdr))->version;
	copy_string(info->version, sizeof(info->version), tb[PCRAM_INFO_A_MODULE_VERSION]);
	info->api_version = u32_or0(tb[PCRAM_INFO_A_API_VERSION]);
	info->nr_vms = u32_or0(tb[PCRAM_INFO_A_NR_VMS]);
	info->latency_probe = u32_or0(tb[PCRAM_INFO_A_LATENCY_PROBE]);
	info->latency_probe_error = (int32_t)u32_or0(tb[PCRAM_INFO_A_LATENCY_PROBE_ERROR]);
	info->maxactive = u32_or0(tb[PCRAM_INFO_A_LATENCY_PROBE_MAXACTIVE]);
	info->nmissed = u64_or0(tb[PCRAM_INFO_A_LATENCY_PROBE_NMISSED]);
	info->batch_max = u32_or0(tb[PCRAM_INFO_A_BATCH_MAX]);
	info->event_interval_ms = u32_or0(tb[PCRAM_INFO_A_EVENT_INTERVAL_MS]);
	info->events_dropped = u64_or0(tb[PCRAM_INFO_A_EVENTS_DROPPED]);
	return 0;
}

/*
 * A log2 histogram: attribute i + 1 is bucket i; buckets at 0 are left
 * out. Type 0 is the padding the module asks for on architectures that
 * align 64-bit attributes.
 */
static int parse_hist(const struct nlattr *nest, uint64_t *bucket, int n)
{
	struct nlattr *a;
	int rem;

	if (!nest)
		return 0;
	nla_for_each_nested(a, (struct nlattr *)nest, rem) {
		int t = nla_type(a);

		if (t == 0)
			continue;
		if (t > n || nla_len(a) != sizeof(uint64_t))
			return -EPROTO;
		bucket[t - 1] = nla_get_u64(a);
	}
	return 0;
}

/*
 * The log-linear histogram as runs: attribute i + 1 holds buckets i, i +
 * 1, ... as u64s, at least one; runs in increasing order, apart, ending
 * by the last bucket. Type 0 is padding, as above.
 */
static int parse_lhist(const struct nlattr *nest, uint64_t *bucket)
{
	unsigned int next = 0;
	struct nlattr *a;
	int rem;

	nla_for_each_nested(a, (struct nlattr *)nest, rem) {
		unsigned int first = (unsigned int)nla_type(a) - 1, n;

		if (nla_type(a) == 0)
			continue;
		n = (unsigned int)nla_len(a) / sizeof(uint64_t);
		if (!n || nla_len(a) % sizeof(uint64_t) || first < next ||
		    first > PCRAM_KMOD_LHIST_BUCKETS || n > PCRAM_KMOD_LHIST_BUCKETS - first)
			return -EPROTO;
		memcpy(bucket + first, nla_data(a), n * sizeof(uint64_t));
		next = first + n;
	}
	return rem ? -EPROTO : 0;
}

static int parse_faults(const struct nlattr *nest, struct pcram_kmod_vm *vm)
{
	struct nlattr *f[PCRAM_FAULT_A_MAX + 1];

	if (!nest)
		return 0;
	if (nla_parse_nested(f, PCRAM_FAULT_A_MAX, (struct nlattr *)nest, fault_policy))
		return -EPROTO;
	vm->faults.count = u64_or0(f[PCRAM_FAULT_A_COUNT]);
	vm->faults.sum = u64_or0(f[PCRAM_FAULT_A_BLOCKED_NS]);
	vm->faults.max = u64_or0(f[PCRAM_FAULT_A_MAX_NS]);
	vm->nmissed = u64_or0(f[PCRAM_FAULT_A_LATENCY_PROBE_NMISSED]);
	if (f[PCRAM_FAULT_A_LHIST]) {
		vm->has_lhist = true;
		vm->lhist.count = vm->faults.count;
		vm->lhist.sum = vm->faults.sum;
		vm->lhist.max = vm->faults.max;
		if (parse_lhist(f[PCRAM_FAULT_A_LHIST], vm->lhist.bucket))
			return -EPROTO;
	}
	return parse_hist(f[PCRAM_FAULT_A_HIST], vm->faults.bucket, PCRAM_HIST_BUCKETS);
}

/* The thread table: nests of types 1, 2, ... in order, longest first. */
static int parse_threads(const struct nlattr *nest, struct pcram_kmod_vm *vm)
{
	struct nlattr *a;
	int rem;

	if (!nest)
		return 0;
	nla_for_each_nested(a, (struct nlattr *)nest, rem) {
		struct nlattr *t[PCRAM_THREAD_A_MAX + 1];
		struct pcram_kmod_thread *th = &vm->threads[vm->nr_threads];

		if (vm->nr_threads == PCRAM_KMOD_THREADS_MAX ||
		    nla_type(a) != (int)vm->nr_threads + 1 ||
		    nla_parse_nested(t, PCRAM_THREAD_A_MAX, a, thread_policy) ||
		    !t[PCRAM_THREAD_A_TID])
			return -EPROTO;
		th->tid = u32_or0(t[PCRAM_THREAD_A_TID]);
		copy_string(th->comm, sizeof(th->comm), t[PCRAM_THREAD_A_COMM]);
		th->faults = u64_or0(t[PCRAM_THREAD_A_FAULTS]);
		th->blocked_ns = u64_or0(t[PCRAM_THREAD_A_BLOCKED_NS]);
		th->max_ns = u64_or0(t[PCRAM_THREAD_A_MAX_NS]);
		vm->nr_threads++;
	}
	return 0;
}

static int parse_batch(const struct nlattr *nest, struct pcram_kmod_batch *b)
{
	struct nlattr *t[PCRAM_BATCH_A_MAX + 1];

	if (!nest)
		return 0;
	if (nla_parse_nested(t, PCRAM_BATCH_A_MAX, (struct nlattr *)nest, batch_policy))
		return -EPROTO;
	b->batches = u64_or0(t[PCRAM_BATCH_A_BATCHES]);
	b->ops = u64_or0(t[PCRAM_BATCH_A_OPS]);
	b->pages = u64_or0(t[PCRAM_BATCH_A_PAGES]);
	b->bytes = u64_or0(t[PCRAM_BATCH_A_BYTES]);
	b->zero_pages = u64_or0(t[PCRAM_BATCH_A_ZERO_PAGES]);
	b->wakes = u64_or0(t[PCRAM_BATCH_A_WAKES]);
	b->eexist = u64_or0(t[PCRAM_BATCH_A_EEXIST]);
	b->errors = u64_or0(t[PCRAM_BATCH_A_ERRORS]);
	return parse_hist(t[PCRAM_BATCH_A_SIZE_HIST], b->size_hist,
			  PCRAM_KMOD_BATCH_HIST_BUCKETS);
}

static int parse_sample(const struct nlattr *nest, struct pcram_kmod_vm *vm)
{
	struct nlattr *t[PCRAM_SAMPLE_A_MAX + 1];
	struct pcram_kmod_sample *s = &vm->sample;

	if (!nest)
		return 0;
	if (nla_parse_nested(t, PCRAM_SAMPLE_A_MAX, (struct nlattr *)nest, sample_policy) ||
	    !t[PCRAM_SAMPLE_A_TID] || !t[PCRAM_SAMPLE_A_LATENCY_NS])
		return -EPROTO;
	vm->has_sample = true;
	s->tid = u32_or0(t[PCRAM_SAMPLE_A_TID]);
	copy_string(s->comm, sizeof(s->comm), t[PCRAM_SAMPLE_A_COMM]);
	s->latency_ns = u64_or0(t[PCRAM_SAMPLE_A_LATENCY_NS]);
	s->address = u64_or0(t[PCRAM_SAMPLE_A_ADDRESS]);
	s->flags = u32_or0(t[PCRAM_SAMPLE_A_FLAGS]);
	s->skipped = u64_or0(t[PCRAM_SAMPLE_A_SKIPPED]);
	return 0;
}

int kmod_parse_vm(struct nlmsghdr *hdr, struct pcram_kmod_vm *vm, int *cmd)
{
	struct nlattr *tb[PCRAM_VM_A_MAX + 1];

	memset(vm, 0, sizeof(*vm));
	vm->size = sizeof(*vm);
	if (hdr->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return -EPROTO;
	*cmd = ((struct genlmsghdr *)nlmsg_data(hdr))->cmd;
	if (genlmsg_parse(hdr, 0, tb, PCRAM_VM_A_MAX, vm_policy) || !tb[PCRAM_VM_A_ID])
		return -EPROTO;
	vm->id = u32_or0(tb[PCRAM_VM_A_ID]);
	copy_string(vm->name, sizeof(vm->name), tb[PCRAM_VM_A_NAME]);
	vm->owner_pid = u32_or0(tb[PCRAM_VM_A_OWNER_PID]);
	vm->attached = tb[PCRAM_VM_A_ATTACHED] && nla_get_u8(tb[PCRAM_VM_A_ATTACHED]);
	vm->measured = tb[PCRAM_VM_A_MEASURED] && nla_get_u8(tb[PCRAM_VM_A_MEASURED]);
	vm->has_attach_time = tb[PCRAM_VM_A_ATTACH_TIME] != NULL;
	vm->attach_time_ns = u64_or0(tb[PCRAM_VM_A_ATTACH_TIME]);
	vm->attach_flags = u32_or0(tb[PCRAM_VM_A_ATTACH_FLAGS]);
	vm->kind = u32_or0(tb[PCRAM_VM_A_KIND]);
	vm->pid = u32_or0(tb[PCRAM_VM_A_PID]);
	vm->detach_reason = u32_or0(tb[PCRAM_VM_A_DETACH_REASON]);
	if (parse_faults(tb[PCRAM_VM_A_FAULTS], vm) ||
	    parse_threads(tb[PCRAM_VM_A_THREADS], vm) ||
	    parse_batch(tb[PCRAM_VM_A_BATCH], &vm->batch) ||
	    parse_sample(tb[PCRAM_VM_A_SAMPLE], vm))
		return -EPROTO;
	return 0;
}
