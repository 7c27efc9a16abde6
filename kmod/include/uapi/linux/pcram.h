/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * pcram: userfaultfd postcopy-RAM statistics and placement controls.
 *
 * This header is the contract between pcram.ko, libpcram and the pcram
 * tool. Everything here is ABI: values are only ever appended, never
 * renumbered, and every version change is recorded in PCRAM_API_VERSION.
 *
 * The module offers two interfaces:
 *
 * 1. The misc character device /dev/pcram (mode 0600). Each open file is
 *    one VM context: it is created by open(2) and destroyed when its last
 *    reference is closed. Contexts are counted by the netlink GET_INFO
 *    command and, in later API versions, bound to a userfaultfd by ioctl.
 *    API version 1 defines no ioctls; every ioctl fails with ENOTTY.
 *
 * 2. The generic netlink family PCRAM_GENL_NAME, version
 *    PCRAM_GENL_VERSION. Requests are validated strictly: an attribute a
 *    command does not take, or a reserved header field that is not zero,
 *    is refused with EINVAL and an extended ACK message naming it.
 *
 * ------------------------------------------------------------------------
 *
 * PCRAM_CMD_GET_INFO
 * ------------------
 *
 * Describes the loaded module. May be called by any user; it reveals no
 * per-VM data. Must be called as a do (not a dump) request and takes no
 * attributes. The reply carries:
 *
 *    PCRAM_INFO_A_MODULE_VERSION: NLA_NUL_STRING, the module's version
 *                                 (the same string as
 *                                 /sys/module/pcram/version)
 *    PCRAM_INFO_A_API_VERSION:    NLA_U32, PCRAM_API_VERSION of the
 *                                 module; a client built against another
 *                                 value must check what it relies on
 *    PCRAM_INFO_A_NR_VMS:         NLA_U32, VM contexts open right now
 *                                 (open files of /dev/pcram)
 *
 * Errors:
 *    EINVAL: the request carried attributes (with an extended ACK
 *            message from the strict validation).
 *    EOPNOTSUPP: it was a dump request.
 *    ENOMEM: no memory for the reply.
 */

#ifndef _UAPI_LINUX_PCRAM_H
#define _UAPI_LINUX_PCRAM_H

#include <linux/types.h>

/*
 * Version of this contract. Incremented whenever a command, attribute,
 * ioctl or flag is added. 1: the misc device and PCRAM_CMD_GET_INFO.
 */
#define PCRAM_API_VERSION 1

/* Path of the misc device, relative to /dev. */
#define PCRAM_DEVICE_NAME "pcram"

#define PCRAM_GENL_NAME "pcram"
#define PCRAM_GENL_VERSION 1

/**
 * enum pcram_cmd - generic netlink commands of the pcram family
 * @PCRAM_CMD_UNSPEC: never valid
 * @PCRAM_CMD_GET_INFO: describe the module (see the comment at the top)
 */
enum pcram_cmd {
	PCRAM_CMD_UNSPEC,
	PCRAM_CMD_GET_INFO,
	__PCRAM_CMD_MAX
};

#define PCRAM_CMD_MAX (__PCRAM_CMD_MAX - 1)

/**
 * enum pcram_info_attr - attributes of the PCRAM_CMD_GET_INFO reply
 * @PCRAM_INFO_A_UNSPEC: never sent
 * @PCRAM_INFO_A_MODULE_VERSION: NLA_NUL_STRING, module version
 * @PCRAM_INFO_A_API_VERSION: NLA_U32, PCRAM_API_VERSION of the module
 * @PCRAM_INFO_A_NR_VMS: NLA_U32, number of open VM contexts
 */
enum pcram_info_attr {
	PCRAM_INFO_A_UNSPEC,
	PCRAM_INFO_A_MODULE_VERSION,
	PCRAM_INFO_A_API_VERSION,
	PCRAM_INFO_A_NR_VMS,
	__PCRAM_INFO_A_MAX
};

#define PCRAM_INFO_A_MAX (__PCRAM_INFO_A_MAX - 1)

#endif /* _UAPI_LINUX_PCRAM_H */
