// SPDX-License-Identifier: GPL-2.0
/*
 * The /dev/pcram misc device: each open file is one VM context.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/atomic.h>
#include <uapi/linux/pcram.h>

#include "pcram.h"

/*
 * An open file is a VM context. API version 1 keeps no state per context,
 * so a count of open files is all there is.
 */
static atomic_t pcram_nr_vms = ATOMIC_INIT(0);

u32 pcram_dev_nr_vms(void)
{
	return atomic_read(&pcram_nr_vms);
}

static int pcram_dev_open(struct inode *inode, struct file *file)
{
	atomic_inc(&pcram_nr_vms);
	return 0;
}

static int pcram_dev_release(struct inode *inode, struct file *file)
{
	atomic_dec(&pcram_nr_vms);
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
}
