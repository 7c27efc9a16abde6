// SPDX-License-Identifier: GPL-2.0
/*
 * VM contexts and their registry.
 *
 * A uffd context lives from open(2) of /dev/pcram until the last
 * reference to it is dropped. References are held by the open file and by
 * each fault the probe is measuring, because a thread can stay blocked in
 * handle_userfault long after the context that saw it start was closed.
 *
 * A process VM (PCRAM_CMD_ATTACH_PID) has no file: the registry holds its
 * first reference until it is detached, and its mmu notifier another
 * until the notifier is freed. The notifier's release callback, run when
 * the process's address space is torn down at exit, detaches it.
 *
 * Four indexes find contexts:
 * - pcram_vms, an xarray by id, for netlink; a context leaves it when its
 *   file is released, or a process VM when it is detached, so closed
 *   contexts are never listed;
 * - pcram_vm_by_ctx, a hash by the attached userfaultfd's context pointer
 *   (the vma->vm_userfaultfd_ctx.ctx a fault carries), read by the probe
 *   under RCU; a context is in it only while attached, and then holds a
 *   reference on the userfaultfd's file, so that pointer cannot be freed
 *   and handed to another userfaultfd while it is a key here;
 * - pcram_vm_by_mm, a hash of process VMs by their mm (the faulting vma's
 *   vm_mm), read by the probe under RCU; the mmu notifier pins the mm
 *   (mmgrab) until after the VM left this hash, so a key is never reused;
 * - pcram_vm_all, every context not yet freed, so that module unload can
 *   free those still referenced by faults that the then unregistered
 *   probe will never see end.
 * Freeing waits for an RCU grace period, as the probe and netlink look
 * contexts up under RCU before taking a reference.
 *
 * Locking: pcram_vm_hash_lock, a spinlock, guards the two hashes (and the
 * checks that keep a key in them once) and nothing else; each VM's
 * attach_mutex serializes that VM's attach and detach and orders their
 * events. Every wait (an RCU grace period, the event worker's flush, the
 * mmap lock of an mmu notifier registration) happens under the VM's own
 * mutex at most, so one VM's teardown never stalls another's.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/magic.h>
#include <linux/mmu_notifier.h>
#include <linux/pid.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/xarray.h>
#include <uapi/linux/pcram.h>

#include "pcram_internal.h"

static DEFINE_XARRAY_ALLOC1(pcram_vms);
static u32 pcram_vm_next_id;
static atomic_t pcram_vm_nr = ATOMIC_INIT(0);

/* Guards changes to the hashes, and pcram_vm_closing; never held long. */
static DEFINE_SPINLOCK(pcram_vm_hash_lock);
static DEFINE_HASHTABLE(pcram_vm_by_ctx, 8);
static DEFINE_HASHTABLE(pcram_vm_by_mm, 8);
static bool pcram_vm_closing;	/* module unload: no process attaches */

static LIST_HEAD(pcram_vm_all);
static DEFINE_SPINLOCK(pcram_vm_all_lock);

u32 pcram_vm_count(void)
{
	return atomic_read(&pcram_vm_nr);
}

struct pcram_vm *pcram_vm_create(enum pcram_vm_kind kind)
{
	struct pcram_vm *vm;
	int ret;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return ERR_PTR(-ENOMEM);
	ret = pcram_stats_init(&vm->stats);
	if (ret)
		goto err_free;
	refcount_set(&vm->ref, 1);
	vm->kind = kind;
	mutex_init(&vm->attach_mutex);
	spin_lock_init(&vm->lock);
	INIT_HLIST_NODE(&vm->hnode);
	vm->owner = task_tgid_nr(current);
	vm->owner_uid = current_euid();

	spin_lock_irq(&pcram_vm_all_lock);
	list_add_tail(&vm->node, &pcram_vm_all);
	spin_unlock_irq(&pcram_vm_all_lock);

	/* Cyclic, so that a closed VM's id is not soon seen on another. */
	ret = xa_alloc_cyclic(&pcram_vms, &vm->id, vm, XA_LIMIT(1, INT_MAX),
			      &pcram_vm_next_id, GFP_KERNEL);
	if (ret < 0)
		goto err_list;
	atomic_inc(&pcram_vm_nr);
	return vm;

err_list:
	spin_lock_irq(&pcram_vm_all_lock);
	list_del(&vm->node);
	spin_unlock_irq(&pcram_vm_all_lock);
	pcram_stats_free(&vm->stats);
err_free:
	kfree(vm);
	return ERR_PTR(ret);
}

static void pcram_vm_free(struct pcram_vm *vm)
{
	put_pid(vm->process);
	pcram_stats_free(&vm->stats);
	kfree(vm);
}

static void pcram_vm_free_rcu(struct rcu_head *rcu)
{
	pcram_vm_free(container_of(rcu, struct pcram_vm, rcu));
}

/* May be called from the probe's return handler: no sleeping. */
void pcram_vm_put(struct pcram_vm *vm)
{
	unsigned long flags;

	if (!refcount_dec_and_test(&vm->ref))
		return;
	spin_lock_irqsave(&pcram_vm_all_lock, flags);
	list_del(&vm->node);
	spin_unlock_irqrestore(&pcram_vm_all_lock, flags);
	call_rcu(&vm->rcu, pcram_vm_free_rcu);
}

/* Out of the registry, with the reference it held (the file's, or a process VM's). */
static void pcram_vm_unlist(struct pcram_vm *vm)
{
	xa_erase(&pcram_vms, vm->id);
	atomic_dec(&pcram_vm_nr);
	pcram_vm_put(vm);
}

/* The open file is gone: detach, unlist, drop the file's reference. */
void pcram_vm_release(struct pcram_vm *vm)
{
	pcram_vm_detach(vm, PCRAM_DETACH_REASON_CLOSED);
	pcram_vm_unlist(vm);
}

/*
 * There is no exported way to ask whether a file is a userfaultfd. Its
 * files are anonymous inodes named "[userfaultfd]", which only
 * fs/userfaultfd.c creates, and their private_data is the context that
 * faulting vmas point to.
 */
static bool pcram_is_uffd(struct file *file)
{
	return file_inode(file)->i_sb->s_magic == ANON_INODE_FS_MAGIC &&
	       !strcmp(file->f_path.dentry->d_name.name, "[userfaultfd]") &&
	       file->f_op->unlocked_ioctl && file->private_data;
}

static struct pcram_vm *pcram_vm_find_ctx(const void *uffd_ctx)
{
	struct pcram_vm *vm;

	hash_for_each_possible_rcu(pcram_vm_by_ctx, vm, hnode,
				   (unsigned long)uffd_ctx)
		if (vm->uffd_ctx == uffd_ctx)
			return vm;
	return NULL;
}

static struct pcram_vm *pcram_vm_find_mm(const struct mm_struct *mm)
{
	struct pcram_vm *vm;

	hash_for_each_possible_rcu(pcram_vm_by_mm, vm, hnode, (unsigned long)mm)
		if (vm->mm == mm)
			return vm;
	return NULL;
}

/* The fields every attach sets; under vm->attach_mutex. */
static void pcram_vm_set_attached(struct pcram_vm *vm, u32 flags,
				  const char *name)
{
	spin_lock(&vm->lock);
	WRITE_ONCE(vm->attach_flags, flags);
	vm->owner = task_tgid_nr(current);
	vm->owner_uid = current_euid();
	vm->attach_time_ns = ktime_get_real_ns();
	strscpy(vm->name, name, sizeof(vm->name));
	spin_unlock(&vm->lock);
}

int pcram_vm_attach(struct pcram_vm *vm, const struct pcram_attach *arg)
{
	struct file *file;
	bool busy;
	int ret;

	if (arg->flags & ~PCRAM_ATTACH_F_ALL)
		return -EINVAL;
	if (!memchr(arg->name, '\0', sizeof(arg->name)))
		return -EINVAL;
	file = fget(arg->uffd);
	if (!file)
		return -EBADF;
	ret = -EINVAL;
	if (!pcram_is_uffd(file))
		goto err_put;

	mutex_lock(&vm->attach_mutex);
	ret = -EBUSY;
	if (vm->uffd)
		goto err_unlock;
	/*
	 * A probe still walking the chain this node was in when it was last
	 * detached must not be led into another chain: wait for it. Only
	 * this VM's mutex is held, so only this VM waits.
	 */
	if (vm->attach_time_ns)
		synchronize_rcu();

	spin_lock(&pcram_vm_hash_lock);
	rcu_read_lock();
	busy = !!pcram_vm_find_ctx(file->private_data);
	rcu_read_unlock();
	if (!busy) {
		vm->uffd_ctx = file->private_data;
		hash_add_rcu(pcram_vm_by_ctx, &vm->hnode,
			     (unsigned long)vm->uffd_ctx);
	}
	spin_unlock(&pcram_vm_hash_lock);
	if (busy)
		goto err_unlock;

	spin_lock(&vm->lock);
	vm->uffd = file;
	spin_unlock(&vm->lock);
	pcram_vm_set_attached(vm, arg->flags, arg->name);
	/* Under the VM's mutex: a racing detach's event cannot overtake it. */
	pcram_event_vm(vm, PCRAM_CMD_EVENT_ATTACH);
	mutex_unlock(&vm->attach_mutex);
	return vm->id;

err_unlock:
	mutex_unlock(&vm->attach_mutex);
err_put:
	fput(file);
	return ret;
}

int pcram_vm_detach(struct pcram_vm *vm, enum pcram_detach_reason reason)
{
	struct file *file;

	mutex_lock(&vm->attach_mutex);
	spin_lock(&vm->lock);
	file = vm->uffd;
	vm->uffd = NULL;
	if (file)
		vm->detach_reason = reason;
	spin_unlock(&vm->lock);
	if (!file) {
		mutex_unlock(&vm->attach_mutex);
		return -ENOTCONN;
	}
	spin_lock(&pcram_vm_hash_lock);
	hash_del_rcu(&vm->hnode);
	spin_unlock(&pcram_vm_hash_lock);
	/* May wait for the event worker: under this VM's mutex only. */
	pcram_event_vm(vm, PCRAM_CMD_EVENT_DETACH);
	mutex_unlock(&vm->attach_mutex);

	/*
	 * If this was the last reference, the userfaultfd is released now
	 * and wakes its blocked faults; they end in the probe with their
	 * own references on this context.
	 */
	fput(file);
	return 0;
}

/* ---- process VMs -------------------------------------------------------- */

/*
 * The rule of ptrace_may_access(task, PTRACE_MODE_READ_FSCREDS), which
 * /proc/PID/mem and process_vm_readv apply, less its LSM hook: that
 * function is not exported to modules. The same process; or the caller's
 * fsuid and fsgid are the task's real, effective and saved ids and its mm
 * is dumpable; or CAP_SYS_PTRACE in the user namespace that owns the
 * task's credentials (and its mm, when not dumpable).
 */
static bool pcram_may_read(struct task_struct *task)
{
	const struct cred *cred = current_cred(), *tcred;
	struct mm_struct *mm;
	bool ok;

	if (same_thread_group(task, current))
		return true;
	rcu_read_lock();
	tcred = __task_cred(task);
	ok = (uid_eq(cred->fsuid, tcred->euid) &&
	      uid_eq(cred->fsuid, tcred->suid) &&
	      uid_eq(cred->fsuid, tcred->uid) &&
	      gid_eq(cred->fsgid, tcred->egid) &&
	      gid_eq(cred->fsgid, tcred->sgid) &&
	      gid_eq(cred->fsgid, tcred->gid)) ||
	     ns_capable(tcred->user_ns, CAP_SYS_PTRACE);
	rcu_read_unlock();
	if (!ok)
		return false;
	task_lock(task);
	mm = task->mm;
	if (mm && get_dumpable(mm) != SUID_DUMP_USER &&
	    !ns_capable(mm->user_ns, CAP_SYS_PTRACE))
		ok = false;
	task_unlock(task);
	return ok;
}

/*
 * Detach a process VM and drop it from the registry: by request, at its
 * process's exit (the notifier's release), or at unload. -ENOENT when it
 * was detached already.
 */
static int pcram_vm_detach_process(struct pcram_vm *vm,
				   enum pcram_detach_reason reason)
{
	mutex_lock(&vm->attach_mutex);
	spin_lock(&vm->lock);
	if (!vm->attached) {
		spin_unlock(&vm->lock);
		mutex_unlock(&vm->attach_mutex);
		return -ENOENT;
	}
	vm->attached = false;
	vm->detach_reason = reason;
	spin_unlock(&vm->lock);
	spin_lock(&pcram_vm_hash_lock);
	hash_del_rcu(&vm->hnode);
	spin_unlock(&pcram_vm_hash_lock);
	/* Its samples before its detach, as for a uffd VM. */
	pcram_event_vm(vm, PCRAM_CMD_EVENT_DETACH);
	mutex_unlock(&vm->attach_mutex);

	/*
	 * The notifier is unhooked now and freed after an SRCU grace period
	 * (pcram_vm_mn_free drops its reference, and the mm is dropped
	 * then); never unregistered synchronously, which the release
	 * callback could not do. The mm stays pinned until then, so no
	 * other process can get its address while a probe may still look
	 * it up.
	 */
	mmu_notifier_put(&vm->mn);
	pcram_vm_unlist(vm);
	return 0;
}

/*
 * The address space is being torn down (exit_mmap, in whichever task
 * dropped the last user of the mm): may sleep, under the notifiers' SRCU
 * read lock only.
 */
static void pcram_vm_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	pcram_vm_detach_process(container_of(mn, struct pcram_vm, mn),
				PCRAM_DETACH_REASON_EXITED);
}

/* After an SRCU grace period, in softirq context: no sleeping. */
static void pcram_vm_mn_free(struct mmu_notifier *mn)
{
	pcram_vm_put(container_of(mn, struct pcram_vm, mn));
}

static const struct mmu_notifier_ops pcram_vm_mn_ops = {
	.release = pcram_vm_mn_release,
	.free_notifier = pcram_vm_mn_free,
};

/* The process @nr of the caller's pid namespace, with a reference. */
static struct task_struct *pcram_vm_get_process(pid_t nr, struct pid **pidp)
{
	struct task_struct *task;
	struct pid *pid;

	pid = find_get_pid(nr);
	if (!pid)
		return NULL;
	task = get_pid_task(pid, PIDTYPE_TGID);
	if (!task) {
		put_pid(pid);
		return NULL;
	}
	*pidp = pid;
	return task;
}

/* Hash @vm by @mm unless another VM has it; under vm->attach_mutex. */
static int pcram_vm_hash_mm(struct pcram_vm *vm, struct mm_struct *mm,
			    const char **err)
{
	int ret = 0;

	spin_lock(&pcram_vm_hash_lock);
	rcu_read_lock();
	if (pcram_vm_closing) {
		ret = -ENODEV;
		*err = "pcram: pcram.ko is being unloaded";
	} else if (pcram_vm_find_mm(mm)) {
		ret = -EEXIST;
		*err = "pcram: this process is attached already";
	}
	rcu_read_unlock();
	if (!ret) {
		vm->mm = mm;
		hash_add_rcu(pcram_vm_by_mm, &vm->hnode, (unsigned long)mm);
	}
	spin_unlock(&pcram_vm_hash_lock);
	return ret;
}

/*
 * PCRAM_CMD_ATTACH_PID: a new process VM, with a reference for the
 * caller; or an ERR_PTR with args->err set.
 */
struct pcram_vm *pcram_vm_attach_pid(struct pcram_vm_pid_args *args)
{
	char comm[TASK_COMM_LEN];
	struct task_struct *task;
	struct mm_struct *mm;
	struct pcram_vm *vm;
	struct pid *pid;
	int ret;

	task = pcram_vm_get_process(args->pid, &pid);
	if (!task) {
		args->err = "pcram: no process has this id in the caller's pid namespace";
		return ERR_PTR(-ESRCH);
	}
	ret = -EPERM;
	if (!pcram_may_read(task)) {
		args->err = "pcram: not permitted to ptrace-read it (same user or CAP_SYS_PTRACE)";
		goto err_task;
	}
	ret = -EINVAL;
	mm = get_task_mm(task);
	if (!mm) {
		args->err = "pcram: the process has no address space (a kernel thread, or exiting)";
		goto err_task;
	}
	get_task_comm(comm, task);

	vm = pcram_vm_create(PCRAM_VM_KIND_PROCESS);
	if (IS_ERR(vm)) {
		ret = PTR_ERR(vm);
		args->err = "pcram: no memory for a VM";
		goto err_mm;
	}
	mutex_lock(&vm->attach_mutex);
	/*
	 * Checked before the registration too, which takes the mmap lock:
	 * a second attach is refused at once. The notifier holds a
	 * reference on the VM until it is freed.
	 */
	rcu_read_lock();
	ret = pcram_vm_find_mm(mm) ? -EEXIST : 0;
	rcu_read_unlock();
	if (ret) {
		args->err = "pcram: this process is attached already";
		goto err_vm;
	}
	vm->mn.ops = &pcram_vm_mn_ops;
	refcount_inc(&vm->ref);
	ret = mmu_notifier_register(&vm->mn, mm);
	if (ret) {
		refcount_dec(&vm->ref);
		args->err = "pcram: cannot register an mmu notifier on the process";
		goto err_vm;
	}
	ret = pcram_vm_hash_mm(vm, mm, &args->err);
	if (ret) {
		mutex_unlock(&vm->attach_mutex);
		mmu_notifier_put(&vm->mn);
		goto err_unlist;
	}
	spin_lock(&vm->lock);
	vm->attached = true;
	vm->process = pid;
	vm->pid = task_tgid_nr(task);
	spin_unlock(&vm->lock);
	pcram_vm_set_attached(vm, args->flags, args->name ? args->name : comm);
	pcram_event_vm(vm, PCRAM_CMD_EVENT_ATTACH);
	refcount_inc(&vm->ref);		/* the caller's */
	mutex_unlock(&vm->attach_mutex);
	/*
	 * Not before: if the process exited meanwhile, this is the last
	 * user and its release callback, which takes the VM's mutex, runs
	 * here. The caller's reference keeps the VM for its reply.
	 */
	mmput(mm);
	put_task_struct(task);
	return vm;

err_vm:
	mutex_unlock(&vm->attach_mutex);
err_unlist:
	pcram_vm_unlist(vm);
err_mm:
	mmput(mm);
err_task:
	put_task_struct(task);
	put_pid(pid);
	return ERR_PTR(ret);
}

/*
 * PCRAM_CMD_DETACH of process VM @vm: with CAP_NET_ADMIN (@capable) or
 * the right to read its process.
 */
int pcram_vm_detach_pid(struct pcram_vm *vm, bool capable, const char **err)
{
	struct task_struct *task = NULL;
	struct pid *pid;
	bool ok = capable;

	if (vm->kind != PCRAM_VM_KIND_PROCESS) {
		*err = "pcram: a userfaultfd's VM: use PCRAM_IOC_DETACH or close its file";
		return -EOPNOTSUPP;
	}
	if (!ok) {
		spin_lock(&vm->lock);
		pid = get_pid(vm->process);
		spin_unlock(&vm->lock);
		if (pid)
			task = get_pid_task(pid, PIDTYPE_TGID);
		put_pid(pid);
		ok = task && pcram_may_read(task);
		if (task)
			put_task_struct(task);
	}
	if (!ok) {
		*err = "pcram: not permitted: needs CAP_NET_ADMIN or the ptrace-read right";
		return -EPERM;
	}
	if (pcram_vm_detach_process(vm, PCRAM_DETACH_REASON_REQUEST)) {
		*err = "pcram: no VM has this id (the process exited meanwhile)";
		return -ENOENT;
	}
	return 0;
}

/* A reference on the attached userfaultfd, for a batch; NULL if none. */
struct file *pcram_vm_get_uffd(struct pcram_vm *vm)
{
	struct file *file;

	spin_lock(&vm->lock);
	file = vm->uffd;
	if (file)
		get_file(file);
	spin_unlock(&vm->lock);
	return file;
}

/* @vm, found under RCU, with a reference if its faults are measured; or NULL. */
static struct pcram_vm *pcram_vm_hold_measured(struct pcram_vm *vm)
{
	if (vm && ((READ_ONCE(vm->attach_flags) & PCRAM_ATTACH_F_NO_LATENCY) ||
		   !refcount_inc_not_zero(&vm->ref)))
		return NULL;
	return vm;
}

/*
 * The context whose faults on @uffd_ctx are measured, with a reference;
 * NULL if none. Called by the probe's entry handler (atomic context).
 */
struct pcram_vm *pcram_vm_get_measured(const void *uffd_ctx)
{
	struct pcram_vm *vm;

	rcu_read_lock();
	vm = pcram_vm_hold_measured(pcram_vm_find_ctx(uffd_ctx));
	rcu_read_unlock();
	return vm;
}

/* The same for the process VM of @mm (the faulting vma's vm_mm). */
struct pcram_vm *pcram_vm_get_measured_mm(const struct mm_struct *mm)
{
	struct pcram_vm *vm;

	rcu_read_lock();
	vm = pcram_vm_hold_measured(pcram_vm_find_mm(mm));
	rcu_read_unlock();
	return vm;
}

struct pcram_vm *pcram_vm_get_by_id(u32 id)
{
	struct pcram_vm *vm;

	rcu_read_lock();
	vm = xa_load(&pcram_vms, id);
	if (vm && !refcount_inc_not_zero(&vm->ref))
		vm = NULL;
	rcu_read_unlock();
	return vm;
}

/* The open context with the least id >= *id, with a reference; for dumps. */
struct pcram_vm *pcram_vm_get_next(u32 *id)
{
	unsigned long index = *id;
	struct pcram_vm *vm;

	rcu_read_lock();
	xa_for_each_start(&pcram_vms, index, vm, index)
		if (refcount_inc_not_zero(&vm->ref))
			break;
	rcu_read_unlock();
	*id = index;
	return vm;
}

void pcram_vm_get_info(struct pcram_vm *vm, struct pcram_vm_info *info)
{
	info->id = vm->id;
	info->kind = vm->kind;
	spin_lock(&vm->lock);
	info->attached = vm->uffd || vm->attached;
	info->pid = vm->pid;
	info->detach_reason = vm->detach_reason;
	info->attach_flags = vm->attach_flags;
	info->owner = vm->owner;
	info->owner_uid = vm->owner_uid;
	info->attach_time_ns = vm->attach_time_ns;
	memcpy(info->name, vm->name, sizeof(info->name));
	spin_unlock(&vm->lock);
	info->measured = info->attached &&
			 !(info->attach_flags & PCRAM_ATTACH_F_NO_LATENCY) &&
			 pcram_latency_state(NULL) == PCRAM_LATENCY_PROBE_ON;
}

/*
 * Module unload, with the family still registered (for the detach
 * events): refuse new process VMs and drop those there are. Their
 * notifiers are freed after an SRCU grace period: pcram_vm_exit() waits.
 */
void pcram_vm_shutdown(void)
{
	struct pcram_vm *vm;
	u32 id = 0;

	spin_lock(&pcram_vm_hash_lock);
	pcram_vm_closing = true;
	spin_unlock(&pcram_vm_hash_lock);
	while ((vm = pcram_vm_get_next(&id))) {
		if (vm->kind == PCRAM_VM_KIND_PROCESS)
			pcram_vm_detach_process(vm, PCRAM_DETACH_REASON_UNLOAD);
		pcram_vm_put(vm);
		id++;
	}
}

/*
 * Module unload: no file is open and the probe is unregistered, so the
 * contexts left are held only by faults whose return the probe will never
 * see. Nothing else can reach them: free them here.
 */
void pcram_vm_exit(void)
{
	struct pcram_vm *vm, *tmp;
	unsigned int n = 0;

	/* Process VMs' notifiers, whose free callback is this module's. */
	mmu_notifier_synchronize();
	rcu_barrier();
	list_for_each_entry_safe(vm, tmp, &pcram_vm_all, node) {
		list_del(&vm->node);
		pcram_vm_free(vm);
		n++;
	}
	if (n)
		pr_info("freed %u closed VM contexts whose faults were still blocked\n",
			n);
	WARN_ON(!xa_empty(&pcram_vms));
	xa_destroy(&pcram_vms);
}
