// SPDX-License-Identifier: GPL-2.0
/*
 * pcram.ko: userfaultfd postcopy-RAM statistics and placement controls.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/genetlink.h>
#include <uapi/linux/pcram.h>

#include "pcram_internal.h"

/*
 * The device comes last: once it exists a file can be opened, and a
 * failure after that would free the module under the open file.
 */
static int __init pcram_init(void)
{
	int ret;

	ret = pcram_genl_init();
	if (ret)
		goto err;
	ret = pcram_latency_init();
	if (ret)
		goto err_genl;
	ret = pcram_dev_init();
	if (ret)
		goto err_probe;

	pr_info("version %s, API %d\n", PCRAM_MODULE_VERSION, PCRAM_API_VERSION);
	return 0;

err_probe:
	pcram_latency_exit();
	pcram_event_exit();
err_genl:
	pcram_genl_exit();
err:
	return ret;
}

/*
 * The reverse, with the order mattering: once the probe is unregistered
 * no sample is queued and no fault drops a reference; process VMs, which
 * hold no module reference, are detached while their events can be sent; the worker sending
 * samples needs the family; and the contexts left, which only faults still
 * blocked hold, can be freed last.
 */
static void __exit pcram_exit(void)
{
	pcram_dev_exit();
	pcram_latency_exit();
	pcram_vm_shutdown();
	pcram_event_exit();
	pcram_genl_exit();
	pcram_vm_exit();
}

module_init(pcram_init);
module_exit(pcram_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("userfaultfd postcopy-RAM statistics and placement controls");
MODULE_AUTHOR("The pcram developers");
MODULE_VERSION(PCRAM_MODULE_VERSION);
MODULE_ALIAS_GENL_FAMILY(PCRAM_GENL_NAME);
