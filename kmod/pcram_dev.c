// SPDX-License-Identifier: GPL-2.0
/*
 * The /dev/pcram misc device: each open file is one VM context.
 */
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <uapi/linux/pcram.h>

#include "pcram_internal.h"

static int pcram_dev_open(struct inode *inode, struct file *file)
{
	struct pcram_vm *vm = pcram_vm_create(PCRAM_VM_KIND_UFFD);

	if (IS_ERR(vm))
		return PTR_ERR(vm);
	file->private_data = vm;
	return 0;
}

static int pcram_dev_release(struct inode *inode, struct file *file)
{
	pcram_vm_release(file->private_data);
	return 0;
}

/* The size is part of each number: a wrong size is an unknown ioctl. */
static long pcram_dev_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct pcram_vm *vm = file->private_data;
	void __user *argp = (void __user *)arg;
	struct pcram_attach attach;

	switch (cmd) {
	case PCRAM_IOC_ATTACH:
		if (copy_from_user(&attach, argp, sizeof(attach)))
			return -EFAULT;
		return pcram_vm_attach(vm, &attach);
	case PCRAM_IOC_DETACH:
		return pcram_vm_detach(vm, PCRAM_DETACH_REASON_REQUEST);
	case PCRAM_IOC_BATCH:
		return pcram_batch(vm, argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations pcram_dev_fops = {
	.owner = THIS_MODULE,
	.open = pcram_dev_open,
	.release = pcram_dev_release,
	.unlocked_ioctl = pcram_dev_ioctl,
	/* The structs have one layout on 32 and 64 bits. */
	.compat_ioctl = compat_ptr_ioctl,
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
}
