// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * pcram_probe(): can postcopy run here, and with what?
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"
#include "internal.h"

#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

#define CAP_SYS_PTRACE_BIT 19

static void diag(struct pcram_probe_result *res, unsigned int reason,
		 const char *fmt, ...)
{
	size_t used = strlen(res->diagnosis);
	va_list ap;

	res->diag |= reason;
	if (used >= sizeof(res->diagnosis) - 1)
		return;
	if (used)
		res->diagnosis[used++] = ' ';
	va_start(ap, fmt);
	vsnprintf(res->diagnosis + used, sizeof(res->diagnosis) - used, fmt, ap);
	va_end(ap);
}

/* Read a small sysfs or procfs file into @buf, without the newline. */
static int read_line(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static uint64_t read_u64(const char *path)
{
	char buf[32];

	return read_line(path, buf, sizeof(buf)) ? 0 : strtoull(buf, NULL, 10);
}

/* "always [madvise] never" -> "madvise" */
static void read_bracketed(const char *path, char *out, size_t size)
{
	char buf[128], *open_b, *close_b;

	out[0] = '\0';
	if (read_line(path, buf, sizeof(buf)))
		return;
	open_b = strchr(buf, '[');
	close_b = open_b ? strchr(open_b, ']') : NULL;
	if (!close_b)
		return;
	*close_b = '\0';
	snprintf(out, size, "%s", open_b + 1);
}

static void probe_hugepage_pools(struct pcram_probe_result *res)
{
	const char *root = "/sys/kernel/mm/hugepages";
	struct pcram_hugepage_pool *pool;
	struct dirent *de;
	char path[320];
	uint64_t kb;
	DIR *dir;

	dir = opendir(root);
	if (!dir)
		return;
	while ((de = readdir(dir)) &&
	       res->nr_hugepage_pools < PCRAM_MAX_HUGEPAGE_POOLS) {
		if (sscanf(de->d_name, "hugepages-%" SCNu64 "kB", &kb) != 1)
			continue;
		pool = &res->hugepage_pools[res->nr_hugepage_pools++];
		pool->page_size = kb << 10;
		snprintf(path, sizeof(path), "%s/%s/nr_hugepages", root, de->d_name);
		pool->total = read_u64(path);
		snprintf(path, sizeof(path), "%s/%s/free_hugepages", root, de->d_name);
		pool->free = read_u64(path);
	}
	closedir(dir);
}

/* A "Key:   N kB" line of a /proc file, in bytes; 0 when absent. */
static uint64_t proc_kb(const char *path, const char *key)
{
	char line[256];
	uint64_t kb = 0;
	size_t klen = strlen(key);
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			kb = strtoull(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb << 10;
}

/*
 * Does this process hold CAP_SYS_PTRACE where userfaultfd(2) checks it,
 * in the initial user namespace? A container's root holds it only in its
 * own namespace, which does not count.
 */
static bool has_cap_sys_ptrace(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };

	unsigned long inner, outer, count;
	char map[64] = "";

	read_line("/proc/self/uid_map", map, sizeof(map));
	if (sscanf(map, "%lu %lu %lu", &inner, &outer, &count) != 3 ||
	    inner || outer || count != 4294967295UL)
		return false;
	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_SYS_PTRACE_BIT / 32].effective &
	       (1u << (CAP_SYS_PTRACE_BIT % 32));
}

/* Explain why no userfaultfd (or only a user-mode-only one) opened. */
static void diagnose_access(struct pcram_probe_result *res,
			    const struct pcram_open_report *rep)
{
	char sysctl[16] = "";
	bool privileged = has_cap_sys_ptrace();

	if (rep->device_error == -EACCES || rep->device_error == -EPERM)
		diag(res, PCRAM_DIAG_DEVICE_ACCESS,
		     "/dev/userfaultfd exists but this user may not open it (%s): "
		     "grant read-write access, e.g. 'setfacl -m u:$USER:rw "
		     "/dev/userfaultfd' or a udev rule KERNEL==\"userfaultfd\", "
		     "GROUP=\"kvm\", MODE=\"0660\".",
		     strerror(-rep->device_error));

	if (rep->syscall_error == -ENOSYS && rep->device_error == -ENOENT) {
		diag(res, PCRAM_DIAG_NO_KERNEL_SUPPORT,
		     "This kernel has no userfaultfd: build it with "
		     "CONFIG_USERFAULTFD=y.");
		return;
	}
	if (rep->syscall_error != -EPERM)
		return;

	read_line("/proc/sys/vm/unprivileged_userfaultfd", sysctl, sizeof(sysctl));
	if (privileged || !strcmp(sysctl, "1")) {
		diag(res, PCRAM_DIAG_BLOCKED,
		     "userfaultfd(2) was refused although this process may use it "
		     "(CAP_SYS_PTRACE %s, vm.unprivileged_userfaultfd=%s): a seccomp "
		     "filter (a container runtime's default profile) or an LSM "
		     "blocks it; allow the userfaultfd syscall there.",
		     privileged ? "held" : "not held", sysctl[0] ? sysctl : "?");
		return;
	}
	diag(res, PCRAM_DIAG_SYSCTL,
	     "userfaultfd(2) is refused to this user: set "
	     "'sysctl -w vm.unprivileged_userfaultfd=1', or give the process "
	     "CAP_SYS_PTRACE, or use /dev/userfaultfd as above.");
}

/* Map one page of @backing for a test registration; NULL if impossible. */
static void *map_test_page(enum pcram_backing backing, size_t len, int *err)
{
	void *p = MAP_FAILED;
	int fd = -1;

	switch (backing) {
	case PCRAM_BACKING_ANON:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case PCRAM_BACKING_SHMEM:
	case PCRAM_BACKING_HUGETLB:
		fd = memfd_create("pcram-probe", MFD_CLOEXEC |
				  (backing == PCRAM_BACKING_HUGETLB ? MFD_HUGETLB : 0));
		if (fd < 0 || ftruncate(fd, len))
			break;
		/* NORESERVE: registering needs no huge page from the pool. */
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE, fd, 0);
		break;
	default:
		break;
	}
	*err = p == MAP_FAILED ? -errno : 0;
	if (fd >= 0)
		close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void try_register(int uffd, enum pcram_backing backing,
			 enum pcram_reg_mode mode, size_t len,
			 struct pcram_reg_result *r)
{
	struct uffdio_register reg = { 0 };
	struct uffdio_range range;
	void *p;

	r->tried = true;
	p = map_test_page(backing, len, &r->error);
	if (!p)
		return;

	reg.range.start = (uintptr_t)p;
	reg.range.len = len;
	reg.mode = mode == PCRAM_REG_MINOR ? UFFDIO_REGISTER_MODE_MINOR :
					     UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		r->error = -errno;
	} else {
		r->ioctls = reg.ioctls;
		range = reg.range;
		if (ioctl(uffd, UFFDIO_UNREGISTER, &range))
			r->error = -errno;
	}
	munmap(p, len);
}

/* The feature each backing and mode needs, 0 when always there. */
static uint64_t reg_feature(enum pcram_backing backing, enum pcram_reg_mode mode)
{
	static const uint64_t need[PCRAM_BACKING_MAX][PCRAM_REG_MAX] = {
		[PCRAM_BACKING_ANON] = { 0, 0 },
		[PCRAM_BACKING_SHMEM] = { UFFD_FEATURE_MISSING_SHMEM,
					  UFFD_FEATURE_MINOR_SHMEM },
		[PCRAM_BACKING_HUGETLB] = { UFFD_FEATURE_MISSING_HUGETLBFS,
					    UFFD_FEATURE_MINOR_HUGETLBFS },
	};

	return need[backing][mode];
}

static void probe_registrations(struct pcram_probe_result *res, int uffd)
{
	size_t hpage = proc_kb("/proc/meminfo", "Hugepagesize");
	enum pcram_backing b;
	enum pcram_reg_mode m;
	uint64_t need;
	size_t len;

	for (b = 0; b < PCRAM_BACKING_MAX; b++) {
		len = b == PCRAM_BACKING_HUGETLB ? hpage : res->page_size;
		for (m = 0; m < PCRAM_REG_MAX; m++) {
			need = reg_feature(b, m);
			/* MINOR faults exist only for page-cache backed memory. */
			if (b == PCRAM_BACKING_ANON && m == PCRAM_REG_MINOR)
				continue;
			if (need && !(res->enabled & need))
				continue;
			if (!len)
				continue;
			try_register(uffd, b, m, len, &res->reg[b][m]);
		}
	}
}

static int open_and_handshake(struct pcram_probe_result *res,
			      struct pcram_open_report *rep, uint64_t want,
			      struct uffdio_api *api)
{
	int fd, ret;

	fd = pcram_uffd_open(O_CLOEXEC | O_NONBLOCK, rep);
	if (fd < 0)
		return fd;
	ret = pcram_uffd_api(fd, want, api);
	if (ret) {
		close(fd);
		diag(res, 0, "UFFDIO_API handshake failed: %s.", strerror(-ret));
		return ret;
	}
	return fd;
}

/* pcram_probe() into the library's own struct, copied out after. */
static int probe(struct pcram_probe_result *res)
{
	struct pcram_open_report rep;
	struct uffdio_api api;
	uint64_t missing;
	int fd;

	memset(res, 0, sizeof(*res));
	res->page_size = sysconf(_SC_PAGESIZE);
	probe_hugepage_pools(res);
	read_bracketed("/sys/kernel/mm/transparent_hugepage/enabled",
		       res->thp_enabled, sizeof(res->thp_enabled));
	read_bracketed("/sys/kernel/mm/transparent_hugepage/shmem_enabled",
		       res->thp_shmem, sizeof(res->thp_shmem));
	res->locked_bytes = proc_kb("/proc/self/status", "VmLck");

	/* First fd: ask for nothing, learn everything the kernel offers. */
	fd = open_and_handshake(res, &rep, 0, &api);
	res->opener = rep.opener;
	res->device_error = rep.device_error;
	res->syscall_error = rep.syscall_error;
	if (rep.opener != PCRAM_OPENER_DEVICE && rep.opener != PCRAM_OPENER_SYSCALL)
		diagnose_access(res, &rep);
	if (fd < 0)
		return rep.opener == PCRAM_OPENER_NONE && rep.syscall_error ?
		       rep.syscall_error : fd;
	close(fd);
	res->api = api.api;
	res->features = api.features;

	/* Second fd: the handshake pcram really does, then test ranges. */
	fd = open_and_handshake(res, &rep, api.features & PCRAM_WANTED_FEATURES,
				&api);
	if (fd < 0)
		return fd;
	res->enabled = res->features & PCRAM_WANTED_FEATURES;
	res->ioctls = api.ioctls;
	probe_registrations(res, fd);
	close(fd);

	if (rep.opener == PCRAM_OPENER_SYSCALL_USER_ONLY)
		diag(res, PCRAM_DIAG_USER_MODE_ONLY,
		     "Only user-mode faults are caught (UFFD_USER_MODE_ONLY): "
		     "faults taken inside the kernel, by KVM or by a system call "
		     "on the range, are not; a VMM needs the access fixed as above.");
	if (res->locked_bytes)
		diag(res, PCRAM_DIAG_MEMORY_LOCKED,
		     "This process has %" PRIu64 " bytes mlocked: locked pages are "
		     "present and never fault; munlock RAM blocks before postcopy "
		     "and lock them again after.", res->locked_bytes);

	missing = PCRAM_NEEDED_RANGE_IOCTLS &
		  ~res->reg[PCRAM_BACKING_ANON][PCRAM_REG_MISSING].ioctls;
	if (res->reg[PCRAM_BACKING_ANON][PCRAM_REG_MISSING].error)
		missing = PCRAM_NEEDED_RANGE_IOCTLS;
	if (missing) {
		diag(res, PCRAM_DIAG_MISSING_IOCTLS,
		     "A registered anonymous range lacks ioctls postcopy needs "
		     "(mask 0x%" PRIx64 " of COPY, ZEROPAGE, WAKE): upgrade the "
		     "kernel.", missing);
		return -EOPNOTSUPP;
	}
	return 0;
}

PCRAM_DEFAULT_VERSION(pcram_probe, PCRAM_0.3);
PCRAM_EXPORT int pcram_probe(struct pcram_probe_result *res, size_t size)
{
	struct pcram_probe_result full;
	int ret;

	if (!res || size < PCRAM_PROBE_RESULT_SIZE_0_1)
		return -EINVAL;
	ret = probe(&full);
	/* Failures fill it too: .diagnosis says why. */
	pcram_copy_out(res, size, &full, sizeof(full));
	return ret;
}

PCRAM_EXPORT bool pcram_probe_page_size_usable(const struct pcram_probe_result *res,
					       uint64_t page_size)
{
	unsigned int i;

	if (!res)
		return false;
	if (page_size == res->page_size)
		return true;
	for (i = 0; i < res->nr_hugepage_pools; i++)
		if (res->hugepage_pools[i].page_size == page_size)
			return res->hugepage_pools[i].free > 0;
	return false;
}
