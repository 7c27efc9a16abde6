// SPDX-License-Identifier: GPL-2.0
/*
 * VM contexts and their registry.
 *
 * A context lives from open(2) of /dev/pcram until the last reference to
 * it is dropped. References are held by the open file and by each fault
 * the probe is measuring, because a thread can stay blocked in
 * handle_userfault long after the context that saw it start was closed.
 *
 * Three indexes find contexts:
 * - pcram_vms, an xarray by id, for netlink; a context leaves it when its
 *   file is released, so closed contexts are never listed;
 * - pcram_vm_by_ctx, a hash by the attached userfaultfd's context pointer
 *   (the vma->vm_userfaultfd_ctx.ctx a fault carries), read by the probe
 *   under RCU; a context is in it only while attached, and then holds a
 *   reference on the userfaultfd's file, so that pointer cannot be freed
 *   and handed to another userfaultfd while it is a key here;
 * - pcram_vm_all, every context not yet freed, so that module unload can
 *   free those still referenced by faults that the then unregistered
 *   probe will never see end.
 * Freeing waits for an RCU grace period, as the probe and netlink look
 * contexts up under RCU before taking a reference.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/magic.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/xarray.h>
#include <uapi/linux/pcram.h>

#include "pcram_internal.h"

static DEFINE_XARRAY_ALLOC1(pcram_vms);
static u32 pcram_vm_next_id;
static atomic_t pcram_vm_nr = ATOMIC_INIT(0);

/* Serializes attach and detach, and so changes to pcram_vm_by_ctx. */
static DEFINE_MUTEX(pcram_vm_mutex);
static DEFINE_HASHTABLE(pcram_vm_by_ctx, 8);

static LIST_HEAD(pcram_vm_all);
static DEFINE_SPINLOCK(pcram_vm_all_lock);

u32 pcram_vm_count(void)
{
	return atomic_read(&pcram_vm_nr);
}

struct pcram_vm *pcram_vm_create(void)
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

/* The open file is gone: detach, unlist, drop the file's reference. */
void pcram_vm_release(struct pcram_vm *vm)
{
	pcram_vm_detach(vm);
	xa_erase(&pcram_vms, vm->id);
	atomic_dec(&pcram_vm_nr);
	pcram_vm_put(vm);
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

	mutex_lock(&pcram_vm_mutex);
	rcu_read_lock();
	busy = vm->uffd || pcram_vm_find_ctx(file->private_data);
	rcu_read_unlock();
	ret = -EBUSY;
	if (busy)
		goto err_unlock;
	/*
	 * A probe still walking the chain this node was in when it was last
	 * detached must not be led into another chain: wait for it.
	 */
	if (vm->attach_time_ns)
		synchronize_rcu();

	spin_lock(&vm->lock);
	vm->uffd = file;
	vm->uffd_ctx = file->private_data;
	WRITE_ONCE(vm->attach_flags, arg->flags);
	vm->owner = task_tgid_nr(current);
	vm->owner_uid = current_euid();
	vm->attach_time_ns = ktime_get_real_ns();
	strscpy(vm->name, arg->name, sizeof(vm->name));
	spin_unlock(&vm->lock);
	hash_add_rcu(pcram_vm_by_ctx, &vm->hnode, (unsigned long)vm->uffd_ctx);
	/* Under the mutex: a racing detach's event cannot overtake it. */
	pcram_event_vm(vm, PCRAM_CMD_EVENT_ATTACH);
	mutex_unlock(&pcram_vm_mutex);
	return vm->id;

err_unlock:
	mutex_unlock(&pcram_vm_mutex);
err_put:
	fput(file);
	return ret;
}

int pcram_vm_detach(struct pcram_vm *vm)
{
	struct file *file;

	mutex_lock(&pcram_vm_mutex);
	spin_lock(&vm->lock);
	file = vm->uffd;
	vm->uffd = NULL;
	spin_unlock(&vm->lock);
	if (!file) {
		mutex_unlock(&pcram_vm_mutex);
		return -ENOTCONN;
	}
	hash_del_rcu(&vm->hnode);
	pcram_event_vm(vm, PCRAM_CMD_EVENT_DETACH);
	mutex_unlock(&pcram_vm_mutex);

	/*
	 * If this was the last reference, the userfaultfd is released now
	 * and wakes its blocked faults; they end in the probe with their
	 * own references on this context.
	 */
	fput(file);
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

/*
 * The context whose faults on @uffd_ctx are measured, with a reference;
 * NULL if none. Called by the probe's entry handler (atomic context).
 */
struct pcram_vm *pcram_vm_get_measured(const void *uffd_ctx)
{
	struct pcram_vm *vm;

	rcu_read_lock();
	vm = pcram_vm_find_ctx(uffd_ctx);
	if (vm && ((READ_ONCE(vm->attach_flags) & PCRAM_ATTACH_F_NO_LATENCY) ||
		   !refcount_inc_not_zero(&vm->ref)))
		vm = NULL;
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
	spin_lock(&vm->lock);
	info->attached = !!vm->uffd;
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
 * Module unload: no file is open and the probe is unregistered, so the
 * contexts left are held only by faults whose return the probe will never
 * see. Nothing else can reach them: free them here.
 */
void pcram_vm_exit(void)
{
	struct pcram_vm *vm, *tmp;
	unsigned int n = 0;

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
