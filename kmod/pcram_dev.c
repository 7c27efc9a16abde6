// SPDX-License-Identifier: GPL-2.0
/*
 * The /dev/pcram misc device: each open file is one VM context.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <uapi/linux/pcram.h>

#include "pcram.h"

/**
 * struct pcram_vm - one VM context, the private data of an open file
 * @id: identifier, unique among live contexts, reused after release
 * @owner: thread group of the opener
 */
struct pcram_vm {
	u32 id;
	struct pid *owner;
};

/* Live contexts by id; the xarray's own lock serialises changes. */
static DEFINE_XARRAY_ALLOC1(pcram_vms);

u32 pcram_dev_nr_vms(void)
{
	struct pcram_vm *vm;
	unsigned long id;
	u32 n = 0;

	xa_for_each(&pcram_vms, id, vm)
		n++;
	return n;
}

static int pcram_dev_open(struct inode *inode, struct file *file)
{
	struct pcram_vm *vm;
	int ret;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return -ENOMEM;
	vm->owner = get_task_pid(current, PIDTYPE_TGID);

	ret = xa_alloc(&pcram_vms, &vm->id, vm, xa_limit_31b, GFP_KERNEL);
	if (ret)
		goto err_free;

	file->private_data = vm;
	return 0;

err_free:
	put_pid(vm->owner);
	kfree(vm);
	return ret;
}

static int pcram_dev_release(struct inode *inode, struct file *file)
{
	struct pcram_vm *vm = file->private_data;

	xa_erase(&pcram_vms, vm->id);
	put_pid(vm->owner);
	kfree(vm);
	return 0;
}

static const struct file_operations pcram_dev_fops = {
	.owner = THIS_MODULE,
	.open = pcram_dev_open,
	.release = pcram_dev_release,
	.llseek = noop_llseek,
};

static struct miscdevice pcram_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = PCRAM_DEVICE_NAME,
	.fops = &pcram_dev_fops,
	.mode = 0600,
};

int pcram_dev_init(void)
{
	return misc_register(&pcram_miscdev);
}

void pcram_dev_exit(void)
{
	/* No file can be open here: each one holds a module reference. */
	misc_deregister(&pcram_miscdev);
	WARN_ON(!xa_empty(&pcram_vms));
}
