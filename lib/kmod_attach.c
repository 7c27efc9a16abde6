// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * pcram.ko's device: a VM context bound to a userfaultfd, for any caller
 * (pcram_kmod_attach_uffd) and for the destination engine, which attaches
 * its own at enable_notify, detaches at cleanup and reads what the kernel
 * measured for it through a struct pcram_kmod.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/pcram.h>

#include "compat.h"
#include "dst.h"
#include "error.h"
#include "kmod_genl.h"

_Static_assert(PCRAM_VM_NAME_MAX == PCRAM_NAME_MAX, "pcram.h and the module agree on names");

PCRAM_EXPORT
int pcram_kmod_attach_uffd(int uffd, const char *name, unsigned int flags, uint32_t *vm_id)
{
	struct pcram_attach at = { .uffd = uffd, .flags = flags };
	int fd, ret;

	if (uffd < 0 || flags & ~PCRAM_KMOD_ATTACH_F_ALL ||
	    (name && strlen(name) >= sizeof(at.name)))
		return -EINVAL;
	if (name)
		memcpy(at.name, name, strlen(name));
	fd = open("/dev/" PCRAM_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	ret = ioctl(fd, PCRAM_IOC_ATTACH, &at);
	if (ret <= 0) {
		/* 0 is no VM id: the module did not do what API 2 says */
		ret = ret < 0 ? -errno : -EPROTO;
		close(fd);
		return ret;
	}
	if (vm_id)
		*vm_id = (uint32_t)ret;
	return fd;
}

PCRAM_EXPORT
int pcram_kmod_detach_uffd(int ctx_fd)
{
	return ioctl(ctx_fd, PCRAM_IOC_DETACH) ? -errno : 0;
}

PCRAM_EXPORT
int pcram_kmod_batch(int ctx_fd, struct pcram_batch_op *ops, unsigned int count,
		     unsigned int flags)
{
	struct pcram_batch b = { .ops = (uintptr_t)ops, .count = count, .flags = flags };
	int ret = ioctl(ctx_fd, PCRAM_IOC_BATCH, &b);

	return ret < 0 ? -errno : ret;
}

int dst_module_attach(struct pcram_dst *dst)
{
	uint32_t id = 0;
	int fd;

	if (dst->flags & PCRAM_DST_F_NO_MODULE)
		return 0;
	fd = pcram_kmod_attach_uffd(dst->uffd, dst->vm_name, 0, &id);
	if (fd < 0 && !(dst->flags & PCRAM_DST_F_REQUIRE_MODULE))
		return 0;
	if (fd == -ENODEV)
		return dst_error(dst, -ENODEV,
				 "enable_notify: pcram.ko is required but not loaded (no /dev/pcram): 'pcram module load'");
	/* ENOTTY: a module older than PCRAM_IOC_ATTACH. */
	if (fd < 0)
		return dst_error(dst, fd, "enable_notify: pcram.ko is required: attach: %s",
				 strerror(-fd));
	dst->module_fd = fd;
	dst->module_vm_id = id;
	return 0;
}

void dst_module_detach(struct pcram_dst *dst)
{
	/* Closing the context detaches it; the statistics go with it. */
	if (dst->module_fd >= 0)
		close(dst->module_fd);
	dst->module_fd = -1;
	dst->module_vm_id = 0;
}

static void to_kernel_stats(const struct pcram_kmod_vm *vm, struct pcram_kernel_stats *ks)
{
	unsigned int i;

	memset(ks, 0, sizeof(*ks));
	ks->vm_id = vm->id;
	memcpy(ks->name, vm->name, sizeof(ks->name));
	ks->nmissed = vm->nmissed;
	ks->blocked = vm->faults;
	ks->nr_threads = vm->nr_threads;
	for (i = 0; i < vm->nr_threads && i < PCRAM_KERNEL_THREADS_MAX; i++) {
		ks->threads[i].tid = vm->threads[i].tid;
		ks->threads[i].faults = vm->threads[i].faults;
		ks->threads[i].blocked_ns = vm->threads[i].blocked_ns;
		ks->threads[i].max_ns = vm->threads[i].max_ns;
	}
	ks->batches = vm->batch.batches;
	ks->batch_ops = vm->batch.ops;
	ks->batch_bytes = vm->batch.bytes;
	ks->batch_wakes = vm->batch.wakes;
	ks->batch_eexist = vm->batch.eexist;
	ks->batch_errors = vm->batch.errors;
}

PCRAM_DEFAULT_VERSION(pcram_dst_kernel_stats, PCRAM_0.3);
PCRAM_EXPORT
int pcram_dst_kernel_stats(struct pcram_dst *dst, struct pcram_kernel_stats *out, size_t size)
{
	struct pcram_kmod_vm *vm = NULL;
	struct pcram_kmod *k = NULL;
	struct pcram_kernel_stats ks;	/* copied out to @size */
	int ret;

	if (!dst || !out || size < PCRAM_KERNEL_STATS_SIZE_0_1)
		return -EINVAL;
	if (dst->module_fd < 0)
		return dst_error(dst, -ENODEV, "kernel_stats: pcram.ko is not attached");
	vm = malloc(sizeof(*vm));
	ret = vm ? pcram_kmod_new(&k) : -ENOMEM;
	if (!ret)
		ret = pcram_kmod_open(k, 0);
	if (!ret)
		ret = pcram_kmod_get_vm(k, dst->module_vm_id, vm, sizeof(*vm));
	if (!ret) {
		to_kernel_stats(vm, &ks);
		pcram_copy_out(out, size, &ks, sizeof(ks));
	} else if (k) {
		char why[LIB_ERROR_LEN];

		/* not pcram_kmod_strerror(): the caller's copies stay as they are */
		kmod_error_copy(k, why, sizeof(why));
		dst_error(dst, ret, "kernel_stats: %s", why);
	} else {
		dst_error(dst, ret, "kernel_stats: out of memory");
	}
	pcram_kmod_free(k);
	free(vm);
	return ret;
}
