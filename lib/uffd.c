// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Opening a userfaultfd and the UFFDIO_API handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static int open_device(int flags)
{
	int dev, fd;

	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
	fd = fd < 0 ? -errno : fd;
	close(dev);
	return fd;
}

static int open_syscall(int flags)
{
	int fd = syscall(__NR_userfaultfd, flags);

	return fd < 0 ? -errno : fd;
}

int pcram_uffd_open(int flags, struct pcram_open_report *report)
{
	struct pcram_open_report r = { .opener = PCRAM_OPENER_NONE };
	int fd;

	fd = open_device(flags);
	if (fd >= 0) {
		r.opener = PCRAM_OPENER_DEVICE;
		goto out;
	}
	r.device_error = fd;

	fd = open_syscall(flags);
	if (fd >= 0) {
		r.opener = PCRAM_OPENER_SYSCALL;
		goto out;
	}
	r.syscall_error = fd;

	fd = open_syscall(flags | UFFD_USER_MODE_ONLY);
	if (fd >= 0)
		r.opener = PCRAM_OPENER_SYSCALL_USER_ONLY;
out:
	if (report)
		*report = r;
	return fd;
}

int pcram_uffd_api(int fd, uint64_t want, struct uffdio_api *api)
{
	api->api = UFFD_API;
	api->features = want;
	api->ioctls = 0;
	if (ioctl(fd, UFFDIO_API, api))
		return -errno;
	return 0;
}
