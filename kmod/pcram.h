/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcram.ko internals shared by its source files.
 */
#ifndef _PCRAM_H
#define _PCRAM_H

#include <linux/types.h>

#define PCRAM_MODULE_VERSION "0.1.0"

int pcram_dev_init(void);
void pcram_dev_exit(void);
u32 pcram_dev_nr_vms(void);

int pcram_genl_init(void);
void pcram_genl_exit(void);

#endif /* _PCRAM_H */
