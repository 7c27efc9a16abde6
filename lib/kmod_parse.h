/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * pcram.ko's generic netlink messages into libpcram's structs: every
 * attribute checked against the type and size the UAPI header gives it,
 * in this one place.
 */
#ifndef PCRAM_LIB_KMOD_PARSE_H
#define PCRAM_LIB_KMOD_PARSE_H

#include <linux/netlink.h>
#include <pcram.h>

/* A GET_INFO reply: 0, or -EPROTO when malformed. */
int kmod_parse_info(struct nlmsghdr *hdr, struct pcram_kmod_info *info);

/*
 * A GET_VM reply or an event: 0, or -EPROTO when malformed; *@cmd is the
 * message's command (enum pcram_cmd).
 */
int kmod_parse_vm(struct nlmsghdr *hdr, struct pcram_kmod_vm *vm, int *cmd);

#endif /* PCRAM_LIB_KMOD_PARSE_H */
