/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libpcram: userfaultfd postcopy RAM.
 *
 * Every call returns 0 (or a count) on success and a negative errno on
 * failure. Nothing here prints, exits or keeps global mutable state.
 */
#ifndef PCRAM_H
#define PCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version --------------------------------------------------------- */

#define PCRAM_VERSION_MAJOR 0
#define PCRAM_VERSION_MINOR 1
#define PCRAM_VERSION_PATCH 0

/* The library's version as "MAJOR.MINOR.PATCH", of the loaded library. */
const char *pcram_version(void);

/* ---- Probe: what this host's userfaultfd can do ---------------------- */

/* How a userfaultfd was obtained, best first. */
enum pcram_opener {
	PCRAM_OPENER_NONE = 0,		/* none could be opened */
	PCRAM_OPENER_DEVICE,		/* /dev/userfaultfd, USERFAULTFD_IOC_NEW */
	PCRAM_OPENER_SYSCALL,		/* userfaultfd(2) */
	PCRAM_OPENER_SYSCALL_USER_ONLY,	/* userfaultfd(2), UFFD_USER_MODE_ONLY:
					 * faults taken in the kernel (KVM,
					 * read(2) into the range) are not
					 * caught */
};

/* Memory backings tried with a test registration. */
enum pcram_backing {
	PCRAM_BACKING_ANON = 0,		/* private anonymous, base pages */
	PCRAM_BACKING_SHMEM,		/* memfd (shmem), shared */
	PCRAM_BACKING_HUGETLB,		/* hugetlbfs, default huge page size */
	PCRAM_BACKING_MAX,
};

/* Registration modes tried on each backing. */
enum pcram_reg_mode {
	PCRAM_REG_MISSING = 0,		/* UFFDIO_REGISTER_MODE_MISSING */
	PCRAM_REG_MINOR,		/* UFFDIO_REGISTER_MODE_MINOR */
	PCRAM_REG_MAX,
};

/* Reasons in pcram_probe_result.diag; the text in .diagnosis names fixes. */
#define PCRAM_DIAG_NO_KERNEL_SUPPORT	(1u << 0) /* kernel lacks userfaultfd */
#define PCRAM_DIAG_DEVICE_ACCESS	(1u << 1) /* /dev/userfaultfd refused */
#define PCRAM_DIAG_SYSCTL		(1u << 2) /* vm.unprivileged_userfaultfd=0
						   * and no CAP_SYS_PTRACE */
#define PCRAM_DIAG_USER_MODE_ONLY	(1u << 3) /* kernel-mode faults missed */
#define PCRAM_DIAG_BLOCKED		(1u << 4) /* refused despite privilege:
						   * seccomp or an LSM */
#define PCRAM_DIAG_MISSING_IOCTLS	(1u << 5) /* COPY/ZEROPAGE/WAKE absent */
#define PCRAM_DIAG_MEMORY_LOCKED	(1u << 6) /* mlock: locked pages never
						   * fault */

#define PCRAM_MAX_HUGEPAGE_POOLS 8

struct pcram_hugepage_pool {
	uint64_t page_size;	/* bytes */
	uint64_t total;		/* pages in the pool (nr_hugepages) */
	uint64_t free;		/* pages free now (free_hugepages) */
};

struct pcram_reg_result {
	bool tried;		/* false: the feature or backing is absent */
	int error;		/* 0, or -errno from mapping or UFFDIO_REGISTER */
	uint64_t ioctls;	/* bit _UFFDIO_x: ioctls offered on the range */
};

struct pcram_probe_result {
	enum pcram_opener opener;
	int device_error;	/* -errno opening /dev/userfaultfd, or 0 */
	int syscall_error;	/* -errno of userfaultfd(2) without
				 * UFFD_USER_MODE_ONLY, or 0 */
	uint64_t api;		/* UFFD_API answered by the handshake */
	uint64_t features;	/* UFFD_FEATURE_x the kernel supports */
	uint64_t enabled;	/* ... of which pcram asks for and got */
	uint64_t ioctls;	/* bit _UFFDIO_x offered on the fd itself */
	struct pcram_reg_result reg[PCRAM_BACKING_MAX][PCRAM_REG_MAX];

	size_t page_size;	/* base page size */
	unsigned int nr_hugepage_pools;
	struct pcram_hugepage_pool hugepage_pools[PCRAM_MAX_HUGEPAGE_POOLS];
	char thp_enabled[16];	/* transparent_hugepage/enabled: "always",
				 * "madvise", "never"; "" when absent */
	char thp_shmem[16];	/* transparent_hugepage/shmem_enabled */
	uint64_t locked_bytes;	/* this process's mlocked memory (VmLck) */

	unsigned int diag;	/* PCRAM_DIAG_x */
	char diagnosis[768];	/* what is wrong and how to fix it, or "" */
};

/*
 * Probe this host's userfaultfd: open one the best way this process can,
 * hand-shake the API, try a registration on every backing and mode, and
 * read the huge page pools and THP mode. Nothing is left open or mapped.
 *
 * Returns 0 when postcopy can run here (a userfaultfd opens and a private
 * anonymous range offers COPY, ZEROPAGE and WAKE; check .diag for
 * limits), else -errno: -EPERM or -EACCES when access is refused, -ENOSYS
 * without kernel support, -EOPNOTSUPP when ioctls are missing, -EINVAL
 * for a NULL result. In every case .diagnosis says why and names the fix.
 */
int pcram_probe(struct pcram_probe_result *res);

/* Is a huge page of this size usable now (a pool with free pages)? */
bool pcram_probe_page_size_usable(const struct pcram_probe_result *res,
				  uint64_t page_size);

/*
 * Names. Each returns a static string, or NULL for a bit or value it does
 * not know: "MISSING_HUGETLBFS" for UFFD_FEATURE_MISSING_HUGETLBFS's bit,
 * "COPY" for _UFFDIO_COPY.
 */
const char *pcram_feature_name(unsigned int bit);
const char *pcram_ioctl_name(unsigned int bit);
const char *pcram_opener_name(enum pcram_opener opener);
const char *pcram_backing_name(enum pcram_backing backing);
const char *pcram_reg_mode_name(enum pcram_reg_mode mode);
/* "sysctl" for PCRAM_DIAG_SYSCTL's bit number, and so on. */
const char *pcram_diag_name(unsigned int bit);

#ifdef __cplusplus
}
#endif

#endif /* PCRAM_H */
