/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Talking to pcram.ko over its generic netlink family.
 */
#ifndef PCRAM_TOOLS_NL_H
#define PCRAM_TOOLS_NL_H

#include <stdint.h>

struct pcram_module_info {
	char version[64];
	uint32_t api_version;
	uint32_t nr_vms;
};

/*
 * PCRAM_CMD_GET_INFO. Returns 0, -ENOENT when the family is not
 * registered (the module is not loaded), or another -errno; on failure
 * @err holds a sentence for the user.
 */
int pcram_nl_get_info(struct pcram_module_info *info, char *err, size_t errlen);

#endif /* PCRAM_TOOLS_NL_H */
