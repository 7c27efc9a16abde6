/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pcram.ko's attributes into the tool's structures (nl.h), checked
 * against the types pcram.h gives them.
 */
#ifndef PCRAM_TOOLS_NL_PARSE_H
#define PCRAM_TOOLS_NL_PARSE_H

#include <netlink/msg.h>

#include "nl.h"

/* The attributes of a GET_INFO reply: 0, or -EPROTO when malformed. */
int nl_parse_info(struct nlmsghdr *hdr, struct pcram_module_info *info);

/*
 * A GET_VM reply or an event: 0, or -EPROTO when malformed; *@cmd is the
 * message's command.
 */
int nl_parse_vm(struct nlmsghdr *hdr, struct vm_stats *vm, int *cmd);

#endif /* PCRAM_TOOLS_NL_PARSE_H */
