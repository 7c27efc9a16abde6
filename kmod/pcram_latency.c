// SPDX-License-Identifier: GPL-2.0
/*
 * Fault latency: a kretprobe on handle_userfault.
 *
 * handle_userfault() is where a faulting thread queues its fault for the
 * userfaultfd's reader and sleeps until the page is placed and it is
 * woken; the time between its entry and its return is the time the
 * thread (a vCPU) was stopped by postcopy. The entry handler keeps only
 * faults on attached userfaultfds, found by the context pointer the
 * faulting vma carries, or by the faulting vma's mm for process VMs
 * (PCRAM_CMD_ATTACH_PID: any userfaultfd of that process, even one
 * created after the attach; a fault of both kinds of VM counts in each),
 * and takes a reference on their VMs: the thread may
 * stay blocked after the VM is detached or closed, and its return must
 * still find the VM's memory. The reference is dropped by the return
 * handler or, if the module is unloaded first (unregister_kretprobe makes
 * sure no handler runs after it), by pcram_vm_exit().
 *
 * fprobe cannot replace this on 6.1: its exit handler gets no per-call
 * data from its entry handler before 6.5.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/ptrace.h>
#include <linux/timekeeping.h>
#include <uapi/linux/pcram.h>

#include "pcram_internal.h"

/* Instances are preallocated: a bound keeps a typo from eating memory. */
#define PCRAM_MAXACTIVE_MAX 4096

static unsigned int maxactive = 512;
module_param(maxactive, uint, 0444);
MODULE_PARM_DESC(maxactive,
		 "Faulting threads measured at once (1-4096, default 512); more are counted as missed");

static DEFINE_MUTEX(pcram_latency_mutex);	/* guards the state below */
static bool pcram_latency_on = true;
static bool pcram_latency_registered;
static int pcram_latency_err;		/* why it is not registered */

/* Per-fault data, kept in the kretprobe instance between entry and return. */
struct pcram_latency_data {
	struct pcram_vm *vm;		/* the uffd VM, or NULL */
	struct pcram_vm *proc;		/* the process VM, or NULL */
	u64 start_ns;
	unsigned long address;
	u32 flags;
};

static int pcram_latency_entry(struct kretprobe_instance *ri,
			       struct pt_regs *regs)
{
	struct pcram_latency_data *d = (struct pcram_latency_data *)ri->data;
	struct vm_fault *vmf = (struct vm_fault *)regs_get_kernel_argument(regs, 0);
	unsigned long reason = regs_get_kernel_argument(regs, 1);
	struct pcram_vm *vm;

	vm = pcram_vm_get_measured(vmf->vma->vm_userfaultfd_ctx.ctx);
	d->proc = pcram_vm_get_measured_mm(vmf->vma->vm_mm);
	if (!vm && !d->proc)
		return 1;	/* not ours: no return handler */
	d->vm = vm;
	d->address = vmf->address;
	/* The flags a uffd_msg of this fault carries (fs/userfaultfd.c). */
	d->flags = 0;
	if (vmf->flags & FAULT_FLAG_WRITE)
		d->flags |= UFFD_PAGEFAULT_FLAG_WRITE;
	if (reason & VM_UFFD_WP)
		d->flags |= UFFD_PAGEFAULT_FLAG_WP;
	if (reason & VM_UFFD_MINOR)
		d->flags |= UFFD_PAGEFAULT_FLAG_MINOR;
	d->start_ns = ktime_get_ns();
	return 0;
}

static int pcram_latency_return(struct kretprobe_instance *ri,
				struct pt_regs *regs)
{
	struct pcram_latency_data *d = (struct pcram_latency_data *)ri->data;
	u64 now = ktime_get_ns();
	u64 ns = now - d->start_ns;
	struct pcram_vm *vms[] = { d->vm, d->proc };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vms); i++) {
		if (!vms[i])
			continue;
		pcram_stats_fault(&vms[i]->stats, ns);
		pcram_event_fault(vms[i], now, ns, d->address, d->flags);
		pcram_vm_put(vms[i]);
	}
	return 0;
}

static struct kretprobe pcram_kretprobe = {
	.kp.symbol_name = "handle_userfault",
	.entry_handler = pcram_latency_entry,
	.handler = pcram_latency_return,
	.data_size = sizeof(struct pcram_latency_data),
};

/*
 * The probe parameter turns the registered probe on and off, so that it
 * can be compared with itself without unloading. Faults in progress when
 * it is turned off still reach the return handler.
 */
static int pcram_latency_param_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int ret;

	ret = kstrtobool(val, &on);
	if (ret)
		return ret;
	mutex_lock(&pcram_latency_mutex);
	if (pcram_latency_registered)
		ret = on ? enable_kretprobe(&pcram_kretprobe) :
			   disable_kretprobe(&pcram_kretprobe);
	else if (pcram_latency_err)
		ret = -ENODEV;
	if (!ret)
		pcram_latency_on = on;
	mutex_unlock(&pcram_latency_mutex);
	return ret;
}

static int pcram_latency_param_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%c\n", READ_ONCE(pcram_latency_on) ? 'Y' : 'N');
}

static const struct kernel_param_ops pcram_latency_param_ops = {
	.set = pcram_latency_param_set,
	.get = pcram_latency_param_get,
};

module_param_cb(probe, &pcram_latency_param_ops, NULL, 0644);
MODULE_PARM_DESC(probe, "Measure fault latency (kretprobe on handle_userfault), default on");

enum pcram_latency_probe_state pcram_latency_state(int *err)
{
	enum pcram_latency_probe_state state;

	mutex_lock(&pcram_latency_mutex);
	if (!pcram_latency_registered)
		state = PCRAM_LATENCY_PROBE_UNAVAILABLE;
	else if (pcram_latency_on)
		state = PCRAM_LATENCY_PROBE_ON;
	else
		state = PCRAM_LATENCY_PROBE_OFF;
	if (err)
		*err = pcram_latency_err;
	mutex_unlock(&pcram_latency_mutex);
	return state;
}

/* Both ways of missing: no free instance, or the probe busy on a CPU. */
u64 pcram_latency_nmissed(void)
{
	return (u64)READ_ONCE(pcram_kretprobe.nmissed) +
	       READ_ONCE(pcram_kretprobe.kp.nmissed);
}

unsigned int pcram_latency_maxactive(void)
{
	return maxactive;
}

/*
 * A probe that cannot be registered (no kprobes, a blacklisted symbol)
 * leaves the module usable for batches; GET_INFO says why it is missing.
 */
int pcram_latency_init(void)
{
	int ret;

	if (!maxactive || maxactive > PCRAM_MAXACTIVE_MAX) {
		pr_err("maxactive=%u is not in 1-%d\n", maxactive,
		       PCRAM_MAXACTIVE_MAX);
		return -EINVAL;
	}
	pcram_kretprobe.maxactive = maxactive;

	mutex_lock(&pcram_latency_mutex);
	if (!pcram_latency_on)
		pcram_kretprobe.kp.flags |= KPROBE_FLAG_DISABLED;
	ret = register_kretprobe(&pcram_kretprobe);
	if (ret) {
		pcram_latency_err = -ret;
		pr_warn("cannot probe handle_userfault (error %d): fault latency is not measured\n",
			ret);
	} else {
		pcram_latency_registered = true;
	}
	mutex_unlock(&pcram_latency_mutex);
	return 0;
}

void pcram_latency_exit(void)
{
	mutex_lock(&pcram_latency_mutex);
	if (pcram_latency_registered)
		unregister_kretprobe(&pcram_kretprobe);
	pcram_latency_registered = false;
	pcram_latency_err = ENODEV;
	mutex_unlock(&pcram_latency_mutex);
}
