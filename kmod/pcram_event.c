// SPDX-License-Identifier: GPL-2.0
/*
 * The events multicast group: attach and detach, and sampled faults.
 *
 * Attach and detach happen in process context and are sent at once. Fault
 * samples are taken in the probe's return handler, in the faulting thread
 * with preemption off, where building and sending a netlink message is
 * more than belongs: the sample is queued and a worker sends it. Samples
 * are rate-limited per VM by event_interval_ms, and only taken while
 * someone listens.
 *
 * A listener sees a VM's samples only between its attach and its detach:
 * sampling starts once the attach is sent, and the detach stops it and
 * drains the queue before it is sent. Faults still blocked at the detach
 * end later; they are counted but not sampled.
 *
 * Every measured fault that ends while someone listens is either sent or
 * counted in its VM's unsampled, which the next sample sent reports as
 * PCRAM_SAMPLE_A_SKIPPED: held back by the rate limit, outside the
 * attach and detach events, or dropped (queue full, no memory).
 */
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <uapi/linux/pcram.h>

#include "pcram_internal.h"

static unsigned int event_interval_ms = 100;
module_param(event_interval_ms, uint, 0644);
MODULE_PARM_DESC(event_interval_ms,
		 "Least time between two sampled fault events of a VM, in ms (0: none), default 100");

/* Enough for a burst from many VMs; the worker drains it within a tick. */
#define PCRAM_EVENT_QUEUE 64

static DEFINE_SPINLOCK(pcram_event_lock);	/* the queue, each VM's sampled */
static struct pcram_fault_sample pcram_event_queue[PCRAM_EVENT_QUEUE];
static unsigned int pcram_event_head, pcram_event_len;
static atomic64_t pcram_event_drops = ATOMIC64_INIT(0);

static void pcram_event_work_fn(struct work_struct *work);
static DECLARE_WORK(pcram_event_work, pcram_event_work_fn);

unsigned int pcram_event_interval_ms(void)
{
	return READ_ONCE(event_interval_ms);
}

u64 pcram_event_dropped(void)
{
	return atomic64_read(&pcram_event_drops);
}

static bool pcram_event_listened(void)
{
	return genl_has_listeners(&pcram_genl_family, &init_net,
				  PCRAM_MCGRP_EVENTS) > 0;
}

static void pcram_event_send(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
	/* ESRCH: the last listener left meanwhile, which is no error. */
	genlmsg_multicast(&pcram_genl_family, skb, 0, PCRAM_MCGRP_EVENTS,
			  GFP_KERNEL);
}

static void pcram_event_set_sampled(struct pcram_vm *vm, bool sampled)
{
	spin_lock_irq(&pcram_event_lock);
	vm->sampled = sampled;
	spin_unlock_irq(&pcram_event_lock);
}

static void pcram_event_send_vm(struct pcram_vm *vm, u8 cmd)
{
	struct pcram_vm_info info;
	struct sk_buff *skb;
	void *hdr;

	if (!pcram_event_listened())
		return;
	pcram_vm_get_info(vm, &info);
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &pcram_genl_family, 0, cmd);
	if (!hdr ||
	    pcram_genl_put_vm_id(skb, &info, cmd == PCRAM_CMD_EVENT_ATTACH)) {
		nlmsg_free(skb);
		return;
	}
	pcram_event_send(skb, hdr);
}

/*
 * PCRAM_CMD_EVENT_ATTACH or _DETACH, from process context: may sleep, to
 * let the worker send this VM's queued samples before its detach.
 */
void pcram_event_vm(struct pcram_vm *vm, u8 cmd)
{
	if (cmd == PCRAM_CMD_EVENT_DETACH) {
		pcram_event_set_sampled(vm, false);
		flush_work(&pcram_event_work);
	}
	pcram_event_send_vm(vm, cmd);
	if (cmd == PCRAM_CMD_EVENT_ATTACH)
		pcram_event_set_sampled(vm, true);
}

/*
 * A measured fault of @vm ended at @now after @ns; called from the probe's
 * return handler (atomic context, in the faulting thread).
 */
void pcram_event_fault(struct pcram_vm *vm, u64 now, u64 ns,
		       unsigned long address, u32 flags)
{
	u64 interval = (u64)READ_ONCE(event_interval_ms) * NSEC_PER_MSEC;
	struct pcram_fault_sample *s;
	unsigned long irqflags;
	s64 last;

	if (!interval ||
	    (READ_ONCE(vm->attach_flags) & PCRAM_ATTACH_F_NO_EVENTS) ||
	    !pcram_event_listened())
		return;
	last = atomic64_read(&vm->last_sample_ns);
	if ((last && now - last < interval) ||
	    atomic64_cmpxchg(&vm->last_sample_ns, last, now) != last) {
		atomic64_inc(&vm->unsampled);
		return;
	}

	spin_lock_irqsave(&pcram_event_lock, irqflags);
	if (!vm->sampled || pcram_event_len == PCRAM_EVENT_QUEUE) {
		if (vm->sampled)
			atomic64_inc(&pcram_event_drops);
		spin_unlock_irqrestore(&pcram_event_lock, irqflags);
		atomic64_inc(&vm->unsampled);
		return;
	}
	s = &pcram_event_queue[(pcram_event_head + pcram_event_len++) %
			       PCRAM_EVENT_QUEUE];
	s->vm_id = vm->id;
	s->tid = task_pid_nr(current);
	s->flags = flags;
	strscpy(s->comm, current->comm, sizeof(s->comm));
	s->latency_ns = ns;
	s->address = address;
	s->skipped = atomic64_xchg(&vm->unsampled, 0);
	/* Under the lock: a detach that finds the sample queued flushes it. */
	schedule_work(&pcram_event_work);
	spin_unlock_irqrestore(&pcram_event_lock, irqflags);
}

static int pcram_event_put_sample(struct sk_buff *skb,
				  const struct pcram_fault_sample *s)
{
	struct nlattr *nest;

	if (nla_put_u32(skb, PCRAM_VM_A_ID, s->vm_id))
		return -EMSGSIZE;
	nest = nla_nest_start(skb, PCRAM_VM_A_SAMPLE);
	if (!nest ||
	    nla_put_u32(skb, PCRAM_SAMPLE_A_TID, s->tid) ||
	    nla_put_string(skb, PCRAM_SAMPLE_A_COMM, s->comm) ||
	    nla_put_u64_64bit(skb, PCRAM_SAMPLE_A_LATENCY_NS, s->latency_ns,
			      PCRAM_SAMPLE_A_PAD) ||
	    nla_put_u64_64bit(skb, PCRAM_SAMPLE_A_ADDRESS, s->address,
			      PCRAM_SAMPLE_A_PAD) ||
	    nla_put_u32(skb, PCRAM_SAMPLE_A_FLAGS, s->flags) ||
	    nla_put_u64_64bit(skb, PCRAM_SAMPLE_A_SKIPPED, s->skipped,
			      PCRAM_SAMPLE_A_PAD))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

/* Sample @s could not be sent: its VM's next one counts it and its own. */
static void pcram_event_drop(const struct pcram_fault_sample *s)
{
	struct pcram_vm *vm = pcram_vm_get_by_id(s->vm_id);

	atomic64_inc(&pcram_event_drops);
	if (!vm)
		return;
	atomic64_add(s->skipped + 1, &vm->unsampled);
	pcram_vm_put(vm);
}

static void pcram_event_work_fn(struct work_struct *work)
{
	struct pcram_fault_sample s;
	struct sk_buff *skb;
	void *hdr;

	for (;;) {
		spin_lock_irq(&pcram_event_lock);
		if (!pcram_event_len) {
			spin_unlock_irq(&pcram_event_lock);
			return;
		}
		s = pcram_event_queue[pcram_event_head];
		pcram_event_head = (pcram_event_head + 1) % PCRAM_EVENT_QUEUE;
		pcram_event_len--;
		spin_unlock_irq(&pcram_event_lock);

		skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
		if (!skb) {
			pcram_event_drop(&s);
			continue;
		}
		hdr = genlmsg_put(skb, 0, 0, &pcram_genl_family, 0,
				  PCRAM_CMD_EVENT_FAULT);
		if (!hdr || pcram_event_put_sample(skb, &s)) {
			nlmsg_free(skb);
			pcram_event_drop(&s);
			continue;
		}
		pcram_event_send(skb, hdr);
		cond_resched();
	}
}

/* Called once the probe is gone, so nothing queues samples any more. */
void pcram_event_exit(void)
{
	cancel_work_sync(&pcram_event_work);
}
