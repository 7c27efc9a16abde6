/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers of the pcram.ko tests: a userfaultfd over some anonymous pages,
 * /dev/pcram contexts, batch ops, and threads that fault and wait. Written
 * against the raw system calls, not libpcram, so that the module is tested
 * on its own. Include after kselftest_harness.h, common.h and genl.h.
 */
#ifndef PCRAM_SELFTESTS_KMOD_H
#define PCRAM_SELFTESTS_KMOD_H

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <linux/userfaultfd.h>
#include <linux/pcram.h>

#define DEV "/dev/" PCRAM_DEVICE_NAME
#define PAGE 4096UL

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A userfaultfd with the API handshake done, asking for @features. */
static inline int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static inline int uffd_register(int uffd, void *addr, size_t len, uint64_t mode)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = mode,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

/* Anonymous private pages registered for missing faults on @uffd. */
static inline uint8_t *uffd_area(int uffd, size_t pages)
{
	void *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (uffd_register(uffd, p, pages * PAGE, UFFDIO_REGISTER_MODE_MISSING)) {
		munmap(p, pages * PAGE);
		return NULL;
	}
	return p;
}

static inline int pcram_open(void)
{
	return open(DEV, O_RDWR | O_CLOEXEC);
}

/* PCRAM_IOC_ATTACH: the VM id, or -errno. */
static inline int pcram_attach(int fd, int uffd, const char *name, uint32_t flags)
{
	struct pcram_attach a = { .uffd = uffd, .flags = flags };
	int ret;

	snprintf(a.name, sizeof(a.name), "%s", name);
	ret = ioctl(fd, PCRAM_IOC_ATTACH, &a);
	return ret < 0 ? -errno : ret;
}

/* PCRAM_IOC_BATCH: ops completed, or -errno. */
static inline int pcram_batch(int fd, struct pcram_batch_op *ops, uint32_t count,
			      uint32_t flags)
{
	struct pcram_batch b = {
		.ops = (uintptr_t)ops, .count = count, .flags = flags,
	};
	int ret = ioctl(fd, PCRAM_IOC_BATCH, &b);

	return ret < 0 ? -errno : ret;
}

static inline struct pcram_batch_op op_copy(void *dst, const void *src, size_t len,
					    uint64_t mode)
{
	struct pcram_batch_op op = { .op = PCRAM_BATCH_OP_COPY };

	op.copy.dst = (uintptr_t)dst;
	op.copy.src = (uintptr_t)src;
	op.copy.len = len;
	op.copy.mode = mode;
	return op;
}

static inline struct pcram_batch_op op_zero(void *dst, size_t len, uint64_t mode)
{
	struct pcram_batch_op op = { .op = PCRAM_BATCH_OP_ZEROPAGE };

	op.zeropage.range.start = (uintptr_t)dst;
	op.zeropage.range.len = len;
	op.zeropage.mode = mode;
	return op;
}

static inline struct pcram_batch_op op_cont(void *dst, size_t len, uint64_t mode)
{
	struct pcram_batch_op op = { .op = PCRAM_BATCH_OP_CONTINUE };

	op.cont.range.start = (uintptr_t)dst;
	op.cont.range.len = len;
	op.cont.mode = mode;
	return op;
}

static inline struct pcram_batch_op op_wake(void *dst, size_t len)
{
	struct pcram_batch_op op = { .op = PCRAM_BATCH_OP_WAKE };

	op.wake.start = (uintptr_t)dst;
	op.wake.len = len;
	return op;
}

/* Place one page with a plain UFFDIO_COPY (not through the module). */
static inline int uffd_copy(int uffd, void *dst, const void *src, size_t len)
{
	struct uffdio_copy c = {
		.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len,
	};

	return ioctl(uffd, UFFDIO_COPY, &c) ? -errno : 0;
}

/* Wait up to @ms for a fault message; its address, or 0. */
static inline uint64_t uffd_wait_fault(int uffd, int ms)
{
	struct pollfd p = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&p, 1, ms) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return 0;
	return msg.arg.pagefault.address;
}

/* How many threads are blocked on @uffd now, from its fdinfo. */
static inline int uffd_blocked(int uffd)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", uffd);
	read_whole(path, buf, sizeof(buf));
	p = strstr(buf, "total:");
	return p ? atoi(p + 6) : -1;
}

/* Wait until @n threads are blocked on @uffd (up to 10 s). */
static inline bool uffd_wait_blocked(int uffd, int n)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (uffd_blocked(uffd) >= n)
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * A thread that reads one byte of each of its pages, timing each touch:
 * the userspace side of the latency comparison.
 */
struct toucher {
	pthread_t thread;
	volatile uint8_t *pages;
	size_t n;
	size_t stride;		/* bytes between touches */
	pid_t tid;
	uint64_t total_ns;
	uint64_t max_ns;
	unsigned int sum;	/* of the bytes read */
	int started;
};

static inline void *toucher_fn(void *arg)
{
	struct toucher *t = arg;
	size_t i;

	t->tid = gettid();
	__atomic_store_n(&t->started, 1, __ATOMIC_RELEASE);
	for (i = 0; i < t->n; i++) {
		uint64_t start = now_ns(), ns;

		t->sum += t->pages[i * t->stride];
		ns = now_ns() - start;
		t->total_ns += ns;
		if (ns > t->max_ns)
			t->max_ns = ns;
	}
	return NULL;
}

static inline int toucher_start(struct toucher *t, void *pages, size_t n)
{
	memset(&t->tid, 0, sizeof(*t) - offsetof(struct toucher, tid));
	t->pages = pages;
	t->n = n;
	if (!t->stride)
		t->stride = PAGE;
	return pthread_create(&t->thread, NULL, toucher_fn, t);
}

/* Send and receive a descriptor over a UNIX socket. */
static inline int send_fd(int sock, int fd)
{
	char data = 'f', cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -errno;
}

static inline int recv_fd(int sock)
{
	char data, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * In a child: make a userfaultfd over one page of its own (*@page, if
 * given) and send both, the descriptor and the page's address, over
 * @sock. 0, or an exit code for the child.
 */
static inline int send_own_uffd(int sock, uint8_t **page)
{
	int u = uffd_open(0);
	uint8_t *area = u < 0 ? NULL : uffd_area(u, 1);

	if (page)
		*page = area;

	if (!area || send_fd(sock, u) ||
	    write(sock, &area, sizeof(area)) != sizeof(area))
		return 2;
	close(u);	/* the receiver's copy is the one left */
	return 0;
}

/* ... and the parent's side: the descriptor, with the page's address. */
static inline int recv_own_uffd(int sock, uint64_t *addr)
{
	int uffd = recv_fd(sock);

	if (uffd >= 0 && read(sock, addr, sizeof(*addr)) != sizeof(*addr)) {
		close(uffd);
		return -1;
	}
	return uffd;
}

/* Write a module parameter; 0 or -errno. */
static inline int set_param(const char *name, const char *value)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/module/pcram/parameters/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

#endif /* PCRAM_SELFTESTS_KMOD_H */
