/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libpcram internals: userfaultfd constants newer than the build host's
 * headers, and the opener and handshake every part of the library uses.
 */
#ifndef PCRAM_INTERNAL_H
#define PCRAM_INTERNAL_H

#include <linux/userfaultfd.h>
#include "pcram.h"

/* Added after Linux 6.1, whose headers Debian 12 builds against. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON		(1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE		(1 << 16)
#endif
#ifndef _UFFDIO_MOVE
#define _UFFDIO_MOVE			(0x05)
#endif
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON			(0x08)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif

#define PCRAM_EXPORT __attribute__((visibility("default")))

#define PCRAM_STR_(x) #x
#define PCRAM_STR(x) PCRAM_STR_(x)
#define PCRAM_VERSION_STRING PCRAM_STR(PCRAM_VERSION_MAJOR) "." \
	PCRAM_STR(PCRAM_VERSION_MINOR) "." PCRAM_STR(PCRAM_VERSION_PATCH)

/* The ioctls every postcopy placement needs on a MISSING range. */
#define PCRAM_NEEDED_RANGE_IOCTLS \
	((1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_ZEROPAGE) | \
	 (1ULL << _UFFDIO_WAKE))

/*
 * Features pcram asks for when they are offered. Left out on purpose:
 * EVENT_FORK (needs CAP_SYS_PTRACE and hands child faults to us),
 * SIGBUS (no fault message at all) and WP_ASYNC (changes WP semantics);
 * those are reported by the probe but never enabled by default.
 */
#define PCRAM_WANTED_FEATURES \
	(UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | \
	 UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_MISSING_HUGETLBFS | \
	 UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MINOR_HUGETLBFS | \
	 UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_THREAD_ID | \
	 UFFD_FEATURE_EXACT_ADDRESS | UFFD_FEATURE_PAGEFAULT_FLAG_WP | \
	 UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_WP_UNPOPULATED | \
	 UFFD_FEATURE_POISON | UFFD_FEATURE_MOVE)

/* What each way of opening a userfaultfd answered. */
struct pcram_open_report {
	enum pcram_opener opener;	/* the one that worked, or NONE */
	int device_error;		/* -errno, 0 if it worked */
	int syscall_error;		/* -errno, 0 if it worked or untried */
};

/*
 * Open a userfaultfd with @flags (O_CLOEXEC, O_NONBLOCK): /dev/userfaultfd
 * first, then userfaultfd(2), then userfaultfd(2) in user-mode-only mode.
 * Returns the fd or -errno of the last way tried.
 */
int pcram_uffd_open(int flags, struct pcram_open_report *report);

/*
 * UFFDIO_API handshake on a fresh fd asking for @want. The kernel allows
 * one handshake per fd and refuses a feature it lacks with EINVAL; on
 * success every bit of @want is enabled and @api holds its answer, whose
 * .features lists everything the kernel supports.
 */
int pcram_uffd_api(int fd, uint64_t want, struct uffdio_api *api);

#endif /* PCRAM_INTERNAL_H */
