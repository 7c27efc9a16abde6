// SPDX-License-Identifier: GPL-2.0
/*
 * The "pcram" generic netlink family.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include <uapi/linux/pcram.h>

#include "pcram_internal.h"

/*
 * The events group carries fault addresses and thread ids: only
 * CAP_NET_ADMIN may join it. GENL_MCAST_CAP_NET_ADMIN (mainline 6.7,
 * backported to 6.1.y, so in Debian's 6.1) is the only way a family has
 * to say so: genetlink lets anyone join a group without it, and 6.1 has
 * no bind hook through which the module could refuse a join itself.
 */
#ifndef GENL_MCAST_CAP_NET_ADMIN
#error "pcram.ko needs GENL_MCAST_CAP_NET_ADMIN: without it anyone may join its events group"
#endif

static int pcram_genl_get_info(struct sk_buff *skb, struct genl_info *info)
{
	enum pcram_latency_probe_state probe;
	struct sk_buff *msg;
	int probe_err;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG_MOD(info->extack, "no memory for the reply");
		return -ENOMEM;
	}

	probe = pcram_latency_state(&probe_err);
	hdr = genlmsg_put_reply(msg, info, &pcram_genl_family, 0,
				PCRAM_CMD_GET_INFO);
	if (!hdr ||
	    nla_put_string(msg, PCRAM_INFO_A_MODULE_VERSION,
			   PCRAM_MODULE_VERSION) ||
	    nla_put_u32(msg, PCRAM_INFO_A_API_VERSION, PCRAM_API_VERSION) ||
	    nla_put_u32(msg, PCRAM_INFO_A_NR_VMS, pcram_vm_count()) ||
	    nla_put_u32(msg, PCRAM_INFO_A_LATENCY_PROBE, probe) ||
	    (probe == PCRAM_LATENCY_PROBE_UNAVAILABLE &&
	     nla_put_u32(msg, PCRAM_INFO_A_LATENCY_PROBE_ERROR, probe_err)) ||
	    nla_put_u32(msg, PCRAM_INFO_A_LATENCY_PROBE_MAXACTIVE,
			pcram_latency_maxactive()) ||
	    nla_put_u64_64bit(msg, PCRAM_INFO_A_LATENCY_PROBE_NMISSED,
			      pcram_latency_nmissed(), PCRAM_INFO_A_PAD) ||
	    nla_put_u32(msg, PCRAM_INFO_A_BATCH_MAX, PCRAM_BATCH_MAX) ||
	    nla_put_u32(msg, PCRAM_INFO_A_EVENT_INTERVAL_MS,
			pcram_event_interval_ms()) ||
	    nla_put_u64_64bit(msg, PCRAM_INFO_A_EVENTS_DROPPED,
			      pcram_event_dropped(), PCRAM_INFO_A_PAD)) {
		nlmsg_free(msg);
		NL_SET_ERR_MSG_MOD(info->extack, "reply does not fit");
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);

	return genlmsg_reply(msg, info);
}

/* What names a VM: shared by GET_VM and the attach and detach events. */
int pcram_genl_put_vm_id(struct sk_buff *skb, const struct pcram_vm_info *info,
			 bool attach)
{
	if (nla_put_u32(skb, PCRAM_VM_A_ID, info->id) ||
	    nla_put_string(skb, PCRAM_VM_A_NAME, info->name) ||
	    nla_put_u32(skb, PCRAM_VM_A_OWNER_PID, info->owner) ||
	    nla_put_u32(skb, PCRAM_VM_A_KIND, info->kind) ||
	    (info->kind == PCRAM_VM_KIND_PROCESS &&
	     nla_put_u32(skb, PCRAM_VM_A_PID, info->pid)))
		return -EMSGSIZE;
	if (!attach)
		return nla_put_u32(skb, PCRAM_VM_A_DETACH_REASON,
				   info->detach_reason) ? -EMSGSIZE : 0;
	if (!info->attach_time_ns)
		return 0;
	if (nla_put_u64_64bit(skb, PCRAM_VM_A_ATTACH_TIME, info->attach_time_ns,
			      PCRAM_VM_A_PAD) ||
	    nla_put_u32(skb, PCRAM_VM_A_ATTACH_FLAGS, info->attach_flags))
		return -EMSGSIZE;
	return 0;
}

/*
 * A histogram as a nest whose attribute i + 1 is bucket i; empty buckets
 * are left out. Type 0 is never a bucket, so it serves as padding.
 */
static int pcram_genl_put_hist(struct sk_buff *skb, int type, const u64 *hist,
			       unsigned int n)
{
	struct nlattr *nest = nla_nest_start(skb, type);
	unsigned int i;

	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < n; i++)
		if (hist[i] && nla_put_u64_64bit(skb, i + 1, hist[i], 0))
			return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * One run of the log-linear histogram: buckets [@first, @first + @n) as
 * an array of u64, 8-byte aligned (type 0 pads) where that matters.
 */
static int pcram_genl_put_run(struct sk_buff *skb, unsigned int first,
			      const u64 *counts, unsigned int n)
{
	return nla_put_64bit(skb, first + 1, n * sizeof(u64), counts, 0);
}

/*
 * PCRAM_FAULT_A_LHIST: each stretch of non-zero buckets as one run. Its
 * size is at most 8 bytes a bucket and 8 a run (header and padding), and
 * a run takes a zero bucket after it, so never past
 * PCRAM_GENL_LHIST_SIZE.
 */
#define PCRAM_GENL_LHIST_SIZE (8 * (PCRAM_LHIST_BUCKETS + 2))

static int pcram_genl_put_lhist(struct sk_buff *skb,
				const struct pcram_stats_snapshot *s)
{
	struct nlattr *nest = nla_nest_start(skb, PCRAM_FAULT_A_LHIST);
	const u64 *b = s->sum.fault_lhist;
	unsigned int i = 0, first;

	if (!nest)
		return -EMSGSIZE;
	while (i < PCRAM_LHIST_IN_RANGE) {
		if (!b[i]) {
			i++;
			continue;
		}
		first = i;
		while (i < PCRAM_LHIST_IN_RANGE && b[i])
			i++;
		if (pcram_genl_put_run(skb, first, b + first, i - first))
			return -EMSGSIZE;
	}
	if (s->fault_lhist_over &&
	    pcram_genl_put_run(skb, PCRAM_LHIST_IN_RANGE, &s->fault_lhist_over, 1))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * A GET_VM message fitted NLMSG_GOODSIZE before the log-linear
 * histogram; with it, it needs this much, in a do reply and in each part
 * of a dump.
 */
#define PCRAM_GENL_VM_SIZE (NLMSG_GOODSIZE + PCRAM_GENL_LHIST_SIZE)

static int pcram_genl_put_faults(struct sk_buff *skb,
				 const struct pcram_stats_snapshot *s)
{
	struct nlattr *nest = nla_nest_start(skb, PCRAM_VM_A_FAULTS);

	if (!nest ||
	    nla_put_u64_64bit(skb, PCRAM_FAULT_A_COUNT, s->sum.faults,
			      PCRAM_FAULT_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_FAULT_A_BLOCKED_NS, s->sum.blocked_ns,
			      PCRAM_FAULT_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_FAULT_A_MAX_NS, s->max_ns,
			      PCRAM_FAULT_A_PAD) ||
	    pcram_genl_put_hist(skb, PCRAM_FAULT_A_HIST, s->fault_hist,
				PCRAM_HIST_BUCKETS) ||
	    nla_put_u64_64bit(skb, PCRAM_FAULT_A_LATENCY_PROBE_NMISSED,
			      pcram_latency_nmissed(), PCRAM_FAULT_A_PAD) ||
	    pcram_genl_put_lhist(skb, s))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int pcram_genl_put_threads(struct sk_buff *skb,
				  const struct pcram_stats_snapshot *s)
{
	struct nlattr *nest = nla_nest_start(skb, PCRAM_VM_A_THREADS);
	unsigned int i;

	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < s->nr_threads; i++) {
		const struct pcram_thread_stat *t = &s->threads[i];
		struct nlattr *thread = nla_nest_start(skb, i + 1);

		if (!thread ||
		    nla_put_u32(skb, PCRAM_THREAD_A_TID, t->tid) ||
		    nla_put_string(skb, PCRAM_THREAD_A_COMM, t->comm) ||
		    nla_put_u64_64bit(skb, PCRAM_THREAD_A_FAULTS, t->faults,
				      PCRAM_THREAD_A_PAD) ||
		    nla_put_u64_64bit(skb, PCRAM_THREAD_A_BLOCKED_NS,
				      t->blocked_ns, PCRAM_THREAD_A_PAD) ||
		    nla_put_u64_64bit(skb, PCRAM_THREAD_A_MAX_NS, t->max_ns,
				      PCRAM_THREAD_A_PAD))
			return -EMSGSIZE;
		nla_nest_end(skb, thread);
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int pcram_genl_put_batch(struct sk_buff *skb,
				const struct pcram_stats_snapshot *s)
{
	struct nlattr *nest = nla_nest_start(skb, PCRAM_VM_A_BATCH);
	const struct pcram_stats_cpu *c = &s->sum;

	if (!nest ||
	    nla_put_u64_64bit(skb, PCRAM_BATCH_A_BATCHES, c->batches,
			      PCRAM_BATCH_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_BATCH_A_OPS, c->batch.ops,
			      PCRAM_BATCH_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_BATCH_A_PAGES, c->batch.bytes >> PAGE_SHIFT,
			      PCRAM_BATCH_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_BATCH_A_BYTES, c->batch.bytes,
			      PCRAM_BATCH_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_BATCH_A_ZERO_PAGES,
			      c->batch.zero_bytes >> PAGE_SHIFT, PCRAM_BATCH_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_BATCH_A_WAKES, c->batch.wakes,
			      PCRAM_BATCH_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_BATCH_A_EEXIST, c->batch.eexist,
			      PCRAM_BATCH_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_BATCH_A_ERRORS, c->batch.errors,
			      PCRAM_BATCH_A_PAD) ||
	    pcram_genl_put_hist(skb, PCRAM_BATCH_A_SIZE_HIST, c->batch_hist,
				PCRAM_BATCH_HIST_BUCKETS))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * Does request @req come from the VM's owner: was its socket opened by,
 * and is it being used by, the owner's effective uid? Both, as
 * netlink_capable() asks both for a capability.
 */
static bool pcram_genl_is_owner(const struct sk_buff *req, kuid_t owner)
{
	const struct socket *sock = NETLINK_CB(req).sk->sk_socket;

	return sock && sock->file &&
	       uid_eq(sock->file->f_cred->euid, owner) &&
	       uid_eq(current_euid(), owner);
}

/*
 * Fill a GET_VM message of @vm for request @req: -ENOENT, and nothing
 * written, when the requester may not see @vm. @admin: the requester has
 * CAP_NET_ADMIN in the initial user namespace, and sees every VM.
 */
static int pcram_genl_fill_vm(struct sk_buff *skb, struct pcram_vm *vm,
			      const struct sk_buff *req, bool admin,
			      u32 portid, u32 seq, int flags,
			      struct pcram_stats_snapshot *snap)
{
	struct pcram_vm_info info;
	void *hdr;

	pcram_vm_get_info(vm, &info);
	if (!admin && !pcram_genl_is_owner(req, info.owner_uid))
		return -ENOENT;
	pcram_stats_read(&vm->stats, snap);
	hdr = genlmsg_put(skb, portid, seq, &pcram_genl_family, flags,
			  PCRAM_CMD_GET_VM);
	if (!hdr)
		return -EMSGSIZE;
	if (pcram_genl_put_vm_id(skb, &info, true) ||
	    nla_put_u8(skb, PCRAM_VM_A_ATTACHED, info.attached) ||
	    nla_put_u8(skb, PCRAM_VM_A_MEASURED, info.measured) ||
	    pcram_genl_put_faults(skb, snap) ||
	    pcram_genl_put_threads(skb, snap) ||
	    pcram_genl_put_batch(skb, snap)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/*
 * The VM a request names: a reference, or NULL with the refusal set.
 * The id's range is checked here, not by the policy, so that
 * RESET_STATS can check its permission first.
 */
static struct pcram_vm *pcram_genl_vm(struct genl_info *info, int *err)
{
	struct nlattr *attr = info->attrs[PCRAM_VM_A_ID];
	struct pcram_vm *vm;

	if (!nla_get_u32(attr)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "pcram: VM ids start at 1");
		*err = -ERANGE;
		return NULL;
	}
	vm = pcram_vm_get_by_id(nla_get_u32(attr));
	if (!vm) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "pcram: no VM has this id");
		*err = -ENOENT;
	}
	return vm;
}

/* A GET_VM message describing @vm, as the reply to @info; drops @vm. */
static int pcram_genl_reply_vm(struct sk_buff *skb, struct genl_info *info,
			       struct pcram_vm *vm)
{
	struct pcram_stats_snapshot *snap;
	struct sk_buff *msg;
	int ret;

	ret = -ENOMEM;
	snap = kmalloc(sizeof(*snap), GFP_KERNEL);
	msg = genlmsg_new(PCRAM_GENL_VM_SIZE, GFP_KERNEL);
	if (!snap || !msg) {
		NL_SET_ERR_MSG_MOD(info->extack, "no memory for the reply");
		goto err;
	}
	ret = pcram_genl_fill_vm(msg, vm, skb,
				 netlink_capable(skb, CAP_NET_ADMIN),
				 info->snd_portid, info->snd_seq, 0, snap);
	if (ret == -ENOENT) {
		/* As if it did not exist: ids are not for others to probe. */
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[PCRAM_VM_A_ID],
				    "pcram: no VM has this id");
		goto err;
	}
	if (ret) {
		NL_SET_ERR_MSG_MOD(info->extack, "reply does not fit");
		goto err;
	}
	kfree(snap);
	pcram_vm_put(vm);
	return genlmsg_reply(msg, info);

err:
	nlmsg_free(msg);
	kfree(snap);
	pcram_vm_put(vm);
	return ret;
}

/* Each part of the dump must have room for one whole VM. */
static int pcram_genl_get_vm_start(struct netlink_callback *cb)
{
	cb->min_dump_alloc = PCRAM_GENL_VM_SIZE;
	return 0;
}

/* NL_SET_ERR_MSG_ATTR for a message chosen at run time (a static string). */
static void pcram_genl_set_err(struct netlink_ext_ack *extack,
			       const struct nlattr *attr, const char *msg)
{
	if (extack) {
		extack->_msg = msg;
		extack->bad_attr = attr;
	}
}

static int pcram_genl_get_vm(struct sk_buff *skb, struct genl_info *info)
{
	struct pcram_vm *vm;
	int ret;

	if (!info->attrs[PCRAM_VM_A_ID]) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "PCRAM_VM_A_ID is required (dump for every VM)");
		return -EINVAL;
	}
	vm = pcram_genl_vm(info, &ret);
	if (!vm)
		return ret;
	return pcram_genl_reply_vm(skb, info, vm);
}

/*
 * One message per VM the requester may see, from the id in cb->args[0]
 * on: a VM that does not fit in this part starts the next one. Ids only
 * grow, so VMs opened or closed during the dump are listed or not, never
 * twice.
 */
static int pcram_genl_get_vm_dump(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	bool admin = netlink_capable(cb->skb, CAP_NET_ADMIN);
	struct pcram_stats_snapshot *snap;
	u32 id = cb->args[0];
	struct pcram_vm *vm;
	int ret = 0;

	/*
	 * A dump lists every VM: refuse a filter it would silently ignore.
	 * Here, not in .start, which has no extack to say why before 6.2;
	 * the error and its message come in the dump's NLMSG_DONE. (An
	 * attribute the policy refuses is refused before, by the core.)
	 */
	if (info->attrs[PCRAM_VM_A_ID]) {
		NL_SET_ERR_MSG_MOD(cb->extack,
				   "a dump takes no attributes: ask for one VM with a do request");
		return -EINVAL;
	}
	snap = kmalloc(sizeof(*snap), GFP_KERNEL);
	if (!snap) {
		NL_SET_ERR_MSG_MOD(cb->extack, "no memory for the dump");
		return -ENOMEM;
	}
	while ((vm = pcram_vm_get_next(&id))) {
		ret = pcram_genl_fill_vm(skb, vm, cb->skb, admin,
					 NETLINK_CB(cb->skb).portid,
					 cb->nlh->nlmsg_seq, NLM_F_MULTI, snap);
		pcram_vm_put(vm);
		if (ret == -EMSGSIZE)
			break;
		ret = 0;	/* listed, or not the requester's to see */
		id++;
	}
	kfree(snap);
	cb->args[0] = id;
	/* A VM too big for an empty part would otherwise end the dump. */
	if (ret && !skb->len) {
		NL_SET_ERR_MSG_MOD(cb->extack, "a VM does not fit in a dump part");
		return ret;
	}
	return skb->len;
}

static int pcram_genl_reset_stats(struct sk_buff *skb, struct genl_info *info)
{
	struct pcram_vm *vm;
	u32 id = 0;
	int ret;

	/*
	 * Checked here, not by GENL_ADMIN_PERM, to say why; and before the
	 * id, so that only the form of a request is checked before it.
	 */
	if (!netlink_capable(skb, CAP_NET_ADMIN)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "resetting statistics needs CAP_NET_ADMIN");
		return -EPERM;
	}
	if (info->attrs[PCRAM_VM_A_ID]) {
		vm = pcram_genl_vm(info, &ret);
		if (!vm)
			return ret;
		pcram_stats_reset(&vm->stats);
		pcram_vm_put(vm);
		return 0;
	}
	while ((vm = pcram_vm_get_next(&id))) {
		pcram_stats_reset(&vm->stats);
		pcram_vm_put(vm);
		id++;
	}
	return 0;
}

/* Ids start at 1; pcram_genl_vm() says so, after RESET_STATS' check. */
static const struct nla_policy pcram_vm_policy[PCRAM_VM_A_MAX + 1] = {
	[PCRAM_VM_A_ID] = { .type = NLA_U32 },
};

/* ---- process VMs: ATTACH_PID and DETACH ---------------------------------- */

static int pcram_genl_attach_pid(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *const *tb = info->attrs;
	struct pcram_vm_pid_args args = {};
	struct pcram_vm *vm;

	if (!tb[PCRAM_VM_A_PID]) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "PCRAM_VM_A_PID is required: the process to attach");
		return -EINVAL;
	}
	args.pid = nla_get_u32(tb[PCRAM_VM_A_PID]);
	if (tb[PCRAM_VM_A_NAME])
		args.name = nla_data(tb[PCRAM_VM_A_NAME]);
	if (tb[PCRAM_VM_A_ATTACH_FLAGS])
		args.flags = nla_get_u32(tb[PCRAM_VM_A_ATTACH_FLAGS]);
	vm = pcram_vm_attach_pid(&args);
	if (IS_ERR(vm)) {
		pcram_genl_set_err(info->extack, tb[PCRAM_VM_A_PID], args.err);
		return PTR_ERR(vm);
	}
	/* The VM is attached whether or not the reply can be built. */
	return pcram_genl_reply_vm(skb, info, vm);
}

static int pcram_genl_detach(struct sk_buff *skb, struct genl_info *info)
{
	const char *err = NULL;
	struct pcram_vm *vm;
	int ret;

	if (!info->attrs[PCRAM_VM_A_ID]) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "PCRAM_VM_A_ID is required: the VM to detach");
		return -EINVAL;
	}
	vm = pcram_genl_vm(info, &ret);
	if (!vm)
		return ret;
	ret = pcram_vm_detach_pid(vm, netlink_capable(skb, CAP_NET_ADMIN),
				  &err);
	pcram_vm_put(vm);
	if (ret)
		pcram_genl_set_err(info->extack, info->attrs[PCRAM_VM_A_ID],
				   err);
	return ret;
}

/* NLA_POLICY_MIN/MASK refuse 0 and unknown bits with their own messages. */
static const struct nla_policy pcram_attach_pid_policy[PCRAM_VM_A_MAX + 1] = {
	[PCRAM_VM_A_PID] = NLA_POLICY_MIN(NLA_U32, 1),
	[PCRAM_VM_A_NAME] = { .type = NLA_NUL_STRING,
			      .len = PCRAM_NAME_MAX - 1 },
	[PCRAM_VM_A_ATTACH_FLAGS] = NLA_POLICY_MASK(NLA_U32,
						    PCRAM_ATTACH_F_ALL),
};

/*
 * With resv_start_op left at 0, as new families should, the genetlink core
 * validates every command strictly: one without a policy gets a policy
 * that rejects every attribute, so GET_INFO needs no check of its own,
 * and attributes a policy leaves out are refused as unsupported. The
 * EVENT_* commands have no ops: a request naming one gets EOPNOTSUPP.
 */
static const struct genl_ops pcram_genl_ops[] = {
	{
		.cmd = PCRAM_CMD_GET_INFO,
		.doit = pcram_genl_get_info,
	},
	{
		.cmd = PCRAM_CMD_GET_VM,
		.doit = pcram_genl_get_vm,
		.start = pcram_genl_get_vm_start,
		.dumpit = pcram_genl_get_vm_dump,
		.policy = pcram_vm_policy,
		.maxattr = PCRAM_VM_A_MAX,
	},
	{
		.cmd = PCRAM_CMD_RESET_STATS,
		.doit = pcram_genl_reset_stats,
		.policy = pcram_vm_policy,
		.maxattr = PCRAM_VM_A_MAX,
	},
	/* Their own permission checks: see pcram_vm_attach_pid(). */
	{
		.cmd = PCRAM_CMD_ATTACH_PID,
		.doit = pcram_genl_attach_pid,
		.policy = pcram_attach_pid_policy,
		.maxattr = PCRAM_VM_A_MAX,
	},
	{
		.cmd = PCRAM_CMD_DETACH,
		.doit = pcram_genl_detach,
		.policy = pcram_vm_policy,
		.maxattr = PCRAM_VM_A_MAX,
	},
};

static const struct genl_multicast_group pcram_genl_mcgrps[] = {
	[PCRAM_MCGRP_EVENTS] = {
		.name = PCRAM_GENL_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

struct genl_family pcram_genl_family __ro_after_init = {
	.name = PCRAM_GENL_NAME,
	.version = PCRAM_GENL_VERSION,
	.module = THIS_MODULE,
	.ops = pcram_genl_ops,
	.n_ops = ARRAY_SIZE(pcram_genl_ops),
	.mcgrps = pcram_genl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(pcram_genl_mcgrps),
	/*
	 * Not netnsok: the family is only in the initial network namespace,
	 * so nothing of the VMs, not even their number, crosses into another.
	 */
};

int __init pcram_genl_init(void)
{
	return genl_register_family(&pcram_genl_family);
}

void pcram_genl_exit(void)
{
	genl_unregister_family(&pcram_genl_family);
}
