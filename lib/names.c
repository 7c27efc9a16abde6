// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Names of userfaultfd features and ioctls, and of pcram's enums.
 */
#include "internal.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Indexed by bit number: the kernel's names without their prefix. */
static const char *const feature_names[] = {
	[0] = "PAGEFAULT_FLAG_WP",
	[1] = "EVENT_FORK",
	[2] = "EVENT_REMAP",
	[3] = "EVENT_REMOVE",
	[4] = "MISSING_HUGETLBFS",
	[5] = "MISSING_SHMEM",
	[6] = "EVENT_UNMAP",
	[7] = "SIGBUS",
	[8] = "THREAD_ID",
	[9] = "MINOR_HUGETLBFS",
	[10] = "MINOR_SHMEM",
	[11] = "EXACT_ADDRESS",
	[12] = "WP_HUGETLBFS_SHMEM",
	[13] = "WP_UNPOPULATED",
	[14] = "POISON",
	[15] = "WP_ASYNC",
	[16] = "MOVE",
};

static const char *const ioctl_names[] = {
	[_UFFDIO_REGISTER] = "REGISTER",
	[_UFFDIO_UNREGISTER] = "UNREGISTER",
	[_UFFDIO_WAKE] = "WAKE",
	[_UFFDIO_COPY] = "COPY",
	[_UFFDIO_ZEROPAGE] = "ZEROPAGE",
	[_UFFDIO_MOVE] = "MOVE",
	[_UFFDIO_WRITEPROTECT] = "WRITEPROTECT",
	[_UFFDIO_CONTINUE] = "CONTINUE",
	[_UFFDIO_POISON] = "POISON",
	[_UFFDIO_API] = "API",
};

static const char *const opener_names[] = {
	[PCRAM_OPENER_NONE] = "none",
	[PCRAM_OPENER_DEVICE] = "device",
	[PCRAM_OPENER_SYSCALL] = "syscall",
	[PCRAM_OPENER_SYSCALL_USER_ONLY] = "syscall-user-only",
};

static const char *const backing_names[] = {
	[PCRAM_BACKING_ANON] = "anon",
	[PCRAM_BACKING_SHMEM] = "shmem",
	[PCRAM_BACKING_HUGETLB] = "hugetlb",
};

static const char *const reg_mode_names[] = {
	[PCRAM_REG_MISSING] = "missing",
	[PCRAM_REG_MINOR] = "minor",
};

/* Indexed by bit number of PCRAM_DIAG_x. */
static const char *const diag_names[] = {
	"no_kernel_support", "device_access", "sysctl", "user_mode_only",
	"blocked", "missing_ioctls", "memory_locked",
};

#define NAME_OR_NULL(table, i) \
	((size_t)(i) < ARRAY_SIZE(table) ? (table)[i] : NULL)

PCRAM_EXPORT const char *pcram_feature_name(unsigned int bit)
{
	return NAME_OR_NULL(feature_names, bit);
}

PCRAM_EXPORT const char *pcram_ioctl_name(unsigned int bit)
{
	return NAME_OR_NULL(ioctl_names, bit);
}

PCRAM_EXPORT const char *pcram_opener_name(enum pcram_opener opener)
{
	return NAME_OR_NULL(opener_names, opener);
}

PCRAM_EXPORT const char *pcram_backing_name(enum pcram_backing backing)
{
	return NAME_OR_NULL(backing_names, backing);
}

PCRAM_EXPORT const char *pcram_reg_mode_name(enum pcram_reg_mode mode)
{
	return NAME_OR_NULL(reg_mode_names, mode);
}

PCRAM_EXPORT const char *pcram_diag_name(unsigned int bit)
{
	return NAME_OR_NULL(diag_names, bit);
}

PCRAM_EXPORT const char *pcram_version(void)
{
	return PCRAM_VERSION_STRING;
}
