// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The destination's userfaultfd: opening it with the features the blocks
 * need, registering every block (enable_notify), and undoing all of it
 * (cleanup), the fault threads and pcram.ko included.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dst.h"

/* ---- enable_notify --------------------------------------------------------- */

static uint64_t needed_features(const struct pcram_dst *dst)
{
	uint64_t need = 0;

	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		const struct dst_block *b = &dst->blocks[i];

		if (dst_is_hugetlb_type(b->type))
			need |= UFFD_FEATURE_MISSING_HUGETLBFS;
		else if (b->type == PCRAM_BLOCK_SHMEM)
			need |= UFFD_FEATURE_MISSING_SHMEM;
	}
	return need;
}

/*
 * One handshake per fd: a first one, on an fd thrown away, learns what
 * the kernel offers (@supported) and how userfaultfd opens (@rep).
 */
static int probe_uffd(struct pcram_dst *dst, uint64_t *supported,
		      struct pcram_open_report *rep)
{
	struct uffdio_api api;
	uint64_t need = needed_features(dst), lack;
	int fd, ret;

	fd = pcram_uffd_open(O_CLOEXEC | O_NONBLOCK, rep);
	if (fd < 0)
		return dst_error(dst, fd,
				 "enable_notify: no userfaultfd (/dev/userfaultfd: %s; userfaultfd(2): %s); pcram probe says why",
				 strerror(-rep->device_error), strerror(-fd));
	ret = pcram_uffd_api(fd, 0, &api);
	close(fd);
	if (ret)
		return dst_error(dst, ret, "enable_notify: UFFDIO_API: %s",
				 strerror(-ret));
	*supported = api.features;
	lack = need & ~api.features;
	if (lack)
		return dst_error(dst, -EOPNOTSUPP,
				 "enable_notify: the kernel lacks %s, which a %s block needs",
				 lack & UFFD_FEATURE_MISSING_HUGETLBFS ?
				 "UFFD_FEATURE_MISSING_HUGETLBFS" : "UFFD_FEATURE_MISSING_SHMEM",
				 lack & UFFD_FEATURE_MISSING_HUGETLBFS ? "hugetlbfs" : "shmem");
	if (rep->opener == PCRAM_OPENER_SYSCALL_USER_ONLY &&
	    (dst->flags & PCRAM_DST_F_KERNEL_FAULTS))
		return dst_error(dst, -EPERM,
				 "enable_notify: only a user-mode-only userfaultfd is allowed here, which misses kernel faults; set vm.unprivileged_userfaultfd=1, grant /dev/userfaultfd or CAP_SYS_PTRACE");
	return 0;
}

static int open_uffd(struct pcram_dst *dst)
{
	struct pcram_open_report rep;
	struct uffdio_api api;
	uint64_t supported = 0;	/* set when probe_uffd() passes */
	int fd, ret;

	ret = probe_uffd(dst, &supported, &rep);
	if (ret)
		return ret;
	/* Blocking: the fault threads sleep in read(2) (fault.c). */
	fd = pcram_uffd_open(O_CLOEXEC, &rep);
	if (fd < 0)
		return dst_error(dst, fd, "enable_notify: userfaultfd: %s",
				 strerror(-fd));
	ret = pcram_uffd_api(fd, PCRAM_WANTED_FEATURES & supported, &api);
	if (ret) {
		close(fd);
		return dst_error(dst, ret, "enable_notify: UFFDIO_API on the new fd: %s",
				 strerror(-ret));
	}
	dst->uffd = fd;
	dst->opener = rep.opener;
	dst->features = PCRAM_WANTED_FEATURES & supported;
	return 0;
}

/* The ioctls placement needs on @b: it is refused if the kernel lacks one. */
static int check_block_ioctls(struct pcram_dst *dst, const struct dst_block *b,
			      uint64_t ioctls)
{
	uint64_t need = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_WAKE), lack;

	if (b->minor)
		need |= 1ULL << _UFFDIO_CONTINUE;
	if (b->type == PCRAM_BLOCK_ANON || b->type == PCRAM_BLOCK_ANON_THP)
		need |= 1ULL << _UFFDIO_ZEROPAGE;
	lack = need & ~ioctls;
	if (lack)
		return dst_error(dst, -EOPNOTSUPP,
				 "enable_notify: block %s (%s): the kernel offers no UFFDIO_%s on it",
				 b->name, dst_type_name(b->type),
				 pcram_ioctl_name(__builtin_ctzll(lack)));
	return 0;
}

static int register_block(struct pcram_dst *dst, struct dst_block *b)
{
	struct uffdio_register reg = {
		.range = { .start = (uint64_t)(uintptr_t)b->host, .len = b->length },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	uint64_t minor_feat = dst_is_hugetlb_type(b->type) ?
		UFFD_FEATURE_MINOR_HUGETLBFS : UFFD_FEATURE_MINOR_SHMEM;

	/*
	 * Shared blocks: MISSING catches pages absent from the file, MINOR
	 * pages in the file but not yet mapped here; both are placed by
	 * writing the alias and UFFDIO_CONTINUE.
	 */
	if (b->shared && (dst->features & minor_feat))
		reg.mode |= UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(dst->uffd, UFFDIO_REGISTER, &reg))
		return dst_error(dst, -errno, "enable_notify: block %s (%s): UFFDIO_REGISTER: %s",
				 b->name, dst_type_name(b->type), strerror(errno));
	b->registered = true;
	b->minor = reg.mode & UFFDIO_REGISTER_MODE_MINOR;
	return check_block_ioctls(dst, b, reg.ioctls);
}

static void unregister_blocks(struct pcram_dst *dst, int *first_err)
{
	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		struct dst_block *b = &dst->blocks[i];
		struct uffdio_range r = {
			.start = (uint64_t)(uintptr_t)b->host, .len = b->length,
		};

		if (!b->registered)
			continue;
		/* ENOMEM/EINVAL: unmapped meanwhile; the registration went with it. */
		if (ioctl(dst->uffd, UFFDIO_UNREGISTER, &r) && errno != ENOMEM &&
		    errno != EINVAL && first_err && !*first_err)
			*first_err = dst_error(dst, -errno, "cleanup: block %s: UFFDIO_UNREGISTER: %s",
					       b->name, strerror(errno));
		b->registered = false;
		b->minor = false;
	}
}

/*
 * After the fault threads: unregistered first, since unmapping a
 * registered range would wait for a fault thread to read of it.
 */
static void close_stop_page(struct pcram_dst *dst)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct uffdio_range r = { .start = (uintptr_t)dst->stop_page, .len = ps };

	if (!dst->stop_page)
		return;
	if (dst->uffd >= 0)
		ioctl(dst->uffd, UFFDIO_UNREGISTER, &r);
	munmap(dst->stop_page, ps);
	dst->stop_page = NULL;
}

static void close_notify(struct pcram_dst *dst, int *first_err)
{
	unregister_blocks(dst, first_err);
	dst_stop_fault_threads(dst);
	/*
	 * After the fault threads, whose providers may still place through
	 * the module; before the userfaultfd, which the module holds too.
	 */
	dst_module_detach(dst);
	close_stop_page(dst);
	if (dst->uffd >= 0)
		close(dst->uffd);
	if (dst->pagemap_fd >= 0)
		close(dst->pagemap_fd);
	dst->uffd = dst->pagemap_fd = -1;
}

/* What enable_notify needs before it opens anything. */
static int check_notify_ready(struct pcram_dst *dst)
{
	if (dst->state != DST_INIT)
		return dst_wrong_stage(dst, "enable_notify");
	if (!dst->provider.request)
		return dst_error(dst, -EINVAL,
				 "enable_notify: no provider; set one with pcram_dst_set_provider() or pcram_dst_use_image()");
	if (dst->image && dst->image->nr_blocks != dst->nr_blocks)
		return dst_error(dst, -EINVAL,
				 "enable_notify: blocks were added after pcram_dst_use_image()");
	return 0;
}

/* What the fault threads need besides the userfaultfd. */
static int open_thread_fds(struct pcram_dst *dst)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct uffdio_register reg;
	void *p;

	/* Tells a refault of a page that is gone from a stale message. */
	dst->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (dst->pagemap_fd < 0)
		return dst_error(dst, -errno, "enable_notify: /proc/self/pagemap: %s",
				 strerror(errno));
	/* Their stop: a fault on this page (fault.c). */
	p = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return dst_error(dst, -errno, "enable_notify: mapping the fault threads' stop page: %s",
				 strerror(errno));
	dst->stop_page = p;
	reg = (struct uffdio_register) {
		.range = { .start = (uintptr_t)p, .len = ps },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(dst->uffd, UFFDIO_REGISTER, &reg))
		return dst_error(dst, -errno, "enable_notify: registering the fault threads' stop page: %s",
				 strerror(errno));
	return 0;
}


/* Everything but the registrations: on failure, the caller closes what opened. */
static int start_notify(struct pcram_dst *dst)
{
	int ret;

	ret = dst_module_attach(dst);
	if (!ret)
		ret = open_thread_fds(dst);
	if (ret)
		return ret;
	ret = dst_pages_setup(dst);
	if (ret)
		return dst_error(dst, ret, "enable_notify: out of memory");
	return dst_start_fault_threads(dst);
}

PCRAM_EXPORT
int pcram_dst_enable_notify(struct pcram_dst *dst)
{
	int ret;

	if (!dst)
		return -EINVAL;
	ret = check_notify_ready(dst);
	if (!ret)
		ret = open_uffd(dst);
	if (ret)
		return ret;
	ret = start_notify(dst);
	if (ret)
		goto fail;
	/* A page faults as soon as its block is registered: serve it. */
	dst->state = DST_NOTIFY;
	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		ret = register_block(dst, &dst->blocks[i]);
		if (ret)
			goto fail;
	}
	return 0;
fail:
	dst->state = DST_INIT;
	close_notify(dst, NULL);
	dst_zero_pages_free(dst);
	return ret;
}

/* ---- cleanup --------------------------------------------------------------- */

/* The block's THP and mlock back as they were; @err: the first failure. */
static void restore_block(struct pcram_dst *dst, struct dst_block *b, int *err)
{
	if (b->nohugepage_set && b->thp_restore &&
	    madvise(b->host, b->length, MADV_HUGEPAGE) && !*err)
		*err = dst_error(dst, -errno, "cleanup: block %s: MADV_HUGEPAGE: %s",
				 b->name, strerror(errno));
	b->nohugepage_set = false;
	/* The pages are in; a failure here leaves a working VM. */
	if (b->relock && mlock(b->host, b->length) && !*err)
		*err = dst_error(dst, -errno, "cleanup: block %s: mlock: %s",
				 b->name, strerror(errno));
	b->relock = false;
}

PCRAM_EXPORT
int pcram_dst_cleanup(struct pcram_dst *dst)
{
	int err = 0;

	if (!dst)
		return -EINVAL;
	if (dst->state == DST_CLEANED)
		return 0;
	/* A fault thread cannot join itself. */
	if (dst->state == DST_NOTIFY && dst_current_fault_thread(dst))
		return dst_error(dst, -EDEADLK, "cleanup: called from a fault thread");
	if (dst->state == DST_NOTIFY)
		close_notify(dst, &err);

	for (unsigned int i = 0; i < dst->nr_blocks; i++)
		restore_block(dst, &dst->blocks[i], &err);
	dst_pages_free(dst);
	dst->state = DST_CLEANED;
	return err;
}
