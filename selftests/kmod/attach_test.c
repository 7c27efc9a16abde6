// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PCRAM_IOC_ATTACH and PCRAM_IOC_DETACH: binding a VM context to a
 * userfaultfd, and every way of getting that wrong.
 */
#include <stdatomic.h>
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod.h"

FIXTURE(attach) {
	int fd;		/* a /dev/pcram context */
	int uffd;
};

FIXTURE_SETUP(attach)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	self->uffd = uffd_open(0);
	if (self->uffd < 0)
		SETUP_SKIP("no userfaultfd: %s", strerror(-self->uffd));
	self->fd = pcram_open();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(attach)
{
	close(self->fd);
	close(self->uffd);
}

TEST_F(attach, returns_the_vm_id_netlink_lists)
{
	struct vm_answer v;
	uint64_t before, after;
	struct timespec ts;
	int id;

	clock_gettime(CLOCK_REALTIME, &ts);
	before = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	id = pcram_attach(self->fd, self->uffd, "guest-a", 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	after = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	ASSERT_LT(0, id) TH_LOG("%s", strerror(-id));

	ASSERT_EQ(0, get_vm(id, &v));
	EXPECT_FALSE(v.bad);
	EXPECT_EQ(id, v.id);
	EXPECT_STREQ("guest-a", v.name);
	EXPECT_EQ(getpid(), v.owner);
	EXPECT_EQ(1, v.attached);
	EXPECT_EQ(0, v.attach_flags);
	ASSERT_TRUE(v.has_attach_time);
	EXPECT_LE(before, v.attach_time);
	EXPECT_GE(after, v.attach_time);
}

TEST_F(attach, listed_before_attach_without_attach_time)
{
	struct vm_answer v;
	int before = info_nr_vms(), fd = pcram_open(), i, n, parts, id = 0;
	struct vm_answer *all = calloc(1024, sizeof(*all));

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, all);
	EXPECT_EQ(before + 1, info_nr_vms());
	/* The id exists from open: find it in a dump as the unattached one. */
	n = dump_vms(all, 1024, &parts);
	ASSERT_LT(0, n);
	for (i = 0; i < n && i < 1024; i++)
		if (all[i].attached == 0 && all[i].owner == (unsigned int)getpid())
			id = all[i].id;
	ASSERT_NE(0, id);
	ASSERT_EQ(0, get_vm(id, &v));
	EXPECT_EQ(0, v.attached);
	EXPECT_FALSE(v.has_attach_time);
	EXPECT_STREQ("", v.name);
	/* Attaching later keeps the id. */
	EXPECT_EQ(id, pcram_attach(fd, self->uffd, "late", 0));
	close(fd);
	free(all);
}

TEST_F(attach, other_fds_refused)
{
	int pipefd[2], efd = eventfd(0, EFD_CLOEXEC), null = open("/dev/null", O_RDWR);
	int memfd = memfd_create("not-uffd", MFD_CLOEXEC), other = pcram_open();
	int closed = dup(null);

	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_LE(0, efd);
	ASSERT_LE(0, null);
	ASSERT_LE(0, memfd);
	ASSERT_LE(0, other);
	close(closed);

	EXPECT_EQ(-EINVAL, pcram_attach(self->fd, null, "x", 0));
	EXPECT_EQ(-EINVAL, pcram_attach(self->fd, pipefd[0], "x", 0));
	EXPECT_EQ(-EINVAL, pcram_attach(self->fd, efd, "x", 0)); /* anon inode too */
	EXPECT_EQ(-EINVAL, pcram_attach(self->fd, memfd, "x", 0));
	EXPECT_EQ(-EINVAL, pcram_attach(self->fd, other, "x", 0));
	EXPECT_EQ(-EINVAL, pcram_attach(self->fd, self->fd, "x", 0));
	EXPECT_EQ(-EBADF, pcram_attach(self->fd, -1, "x", 0));
	EXPECT_EQ(-EBADF, pcram_attach(self->fd, closed, "x", 0));
	EXPECT_EQ(-EBADF, pcram_attach(self->fd, 1 << 20, "x", 0));
	/* Still free to attach the real one. */
	EXPECT_LT(0, pcram_attach(self->fd, self->uffd, "x", 0));
	close(pipefd[0]);
	close(pipefd[1]);
	close(efd);
	close(null);
	close(memfd);
	close(other);
}

TEST_F(attach, unknown_flags_refused)
{
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		uint32_t flag = 1U << bit;

		if (flag & PCRAM_ATTACH_F_ALL)
			continue;
		EXPECT_EQ(-EINVAL, pcram_attach(self->fd, self->uffd, "x", flag))
			TH_LOG("flag %#x", flag);
	}
	EXPECT_LT(0, pcram_attach(self->fd, self->uffd, "x", PCRAM_ATTACH_F_ALL));
}

TEST_F(attach, name_must_be_terminated)
{
	struct pcram_attach a = { .uffd = self->uffd };
	struct vm_answer v;
	int id;

	memset(a.name, 'n', sizeof(a.name));
	EXPECT_EQ(-1, ioctl(self->fd, PCRAM_IOC_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	/* The longest name fits, and bytes after the NUL do not matter. */
	a.name[PCRAM_NAME_MAX - 1] = '\0';
	id = ioctl(self->fd, PCRAM_IOC_ATTACH, &a);
	ASSERT_LT(0, id);
	ASSERT_EQ(0, get_vm(id, &v));
	EXPECT_EQ(PCRAM_NAME_MAX - 1, strlen(v.name));
}

TEST_F(attach, twice_busy)
{
	int other = pcram_open(), uffd2 = uffd_open(0);

	ASSERT_LE(0, other);
	ASSERT_LE(0, uffd2);
	ASSERT_LT(0, pcram_attach(self->fd, self->uffd, "a", 0));
	EXPECT_EQ(-EBUSY, pcram_attach(self->fd, self->uffd, "a", 0));
	EXPECT_EQ(-EBUSY, pcram_attach(self->fd, uffd2, "a", 0));
	/* One userfaultfd, one VM: faults must have one owner. */
	EXPECT_EQ(-EBUSY, pcram_attach(other, self->uffd, "b", 0));
	EXPECT_LT(0, pcram_attach(other, uffd2, "b", 0));
	close(other);
	close(uffd2);
}

TEST_F(attach, detach_keeps_context_and_allows_reattach)
{
	int id, uffd2 = uffd_open(0);
	struct vm_answer v;

	ASSERT_LE(0, uffd2);
	EXPECT_EQ(-1, ioctl(self->fd, PCRAM_IOC_DETACH));
	EXPECT_EQ(ENOTCONN, errno);
	id = pcram_attach(self->fd, self->uffd, "first", 0);
	ASSERT_LT(0, id);
	EXPECT_EQ(0, ioctl(self->fd, PCRAM_IOC_DETACH));
	EXPECT_EQ(-1, ioctl(self->fd, PCRAM_IOC_DETACH));
	EXPECT_EQ(ENOTCONN, errno);
	ASSERT_EQ(0, get_vm(id, &v));
	EXPECT_EQ(0, v.attached);
	EXPECT_STREQ("first", v.name);	/* until the next attach */

	/* Another context may have it now, and this one another uffd. */
	EXPECT_EQ(id, pcram_attach(self->fd, uffd2, "second", PCRAM_ATTACH_F_NO_EVENTS));
	ASSERT_EQ(0, get_vm(id, &v));
	EXPECT_EQ(1, v.attached);
	EXPECT_STREQ("second", v.name);
	EXPECT_EQ(PCRAM_ATTACH_F_NO_EVENTS, v.attach_flags);
	close(uffd2);
}

TEST_F(attach, close_detaches_and_unlists)
{
	int fd = pcram_open(), id;
	struct vm_answer v;

	ASSERT_LE(0, fd);
	id = pcram_attach(fd, self->uffd, "gone", 0);
	ASSERT_LT(0, id);
	close(fd);
	EXPECT_EQ(-ENOENT, get_vm(id, &v));
	/* The userfaultfd is free for another context again. */
	EXPECT_LT(0, pcram_attach(self->fd, self->uffd, "next", 0));
}

/*
 * The external-handler model: the process whose memory it is creates the
 * userfaultfd and sends it to the handler, which attaches it and places
 * pages into the other process's memory with a batch.
 */
TEST_F(attach, uffd_of_another_process_accepted)
{
	int sv[2], st, id, uffd;
	uint8_t src[PAGE];
	uint64_t addr = 0;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint8_t *area;
		char ok;
		int err = send_own_uffd(sv[1], &area);

		if (err)
			_exit(err);
		if (read(sv[1], &ok, 1) != 1)
			_exit(3);
		/* Placed by the parent: no fault, the content is there. */
		_exit(area[0] == 0x5a && area[PAGE - 1] == 0x5a ? 0 : 1);
	}
	uffd = recv_own_uffd(sv[0], &addr);
	ASSERT_LE(0, uffd);
	id = pcram_attach(self->fd, uffd, "external", 0);
	ASSERT_LT(0, id);
	close(uffd);

	memset(src, 0x5a, sizeof(src));
	{
		struct pcram_batch_op op = op_copy((void *)(uintptr_t)addr, src, PAGE, 0);

		EXPECT_EQ(1, pcram_batch(self->fd, &op, 1, 0));
		EXPECT_EQ(0, op.result);
		EXPECT_EQ(PAGE, op.copy.copy);
	}
	ASSERT_EQ(1, write(sv[0], "k", 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
	close(sv[0]);
	close(sv[1]);
}

TEST_F(attach, bad_ioctl_numbers_and_sizes)
{
	struct { char b[64]; } big = { 0 };
	unsigned long cmds[] = {
		0,
		_IO('p', 1),
		_IO(PCRAM_IOC_MAGIC, 0),
		_IO(PCRAM_IOC_MAGIC, 4),
		_IO(PCRAM_IOC_MAGIC, 0xff),
		/* the right numbers with the wrong size or direction */
		_IOC(_IOC_WRITE, PCRAM_IOC_MAGIC, 1, sizeof(struct pcram_attach) - 4),
		_IOC(_IOC_WRITE, PCRAM_IOC_MAGIC, 1, sizeof(struct pcram_attach) + 8),
		_IOR(PCRAM_IOC_MAGIC, 1, struct pcram_attach),
		_IOWR(PCRAM_IOC_MAGIC, 1, struct pcram_attach),
		_IOW(PCRAM_IOC_MAGIC, 2, int),
		_IOC(_IOC_WRITE, PCRAM_IOC_MAGIC, 3, sizeof(struct pcram_batch) - 8),
		_IOC(_IOC_WRITE, PCRAM_IOC_MAGIC, 3, sizeof(struct pcram_batch) + 8),
		_IOWR(PCRAM_IOC_MAGIC, 3, struct pcram_batch),
		_IO(PCRAM_IOC_MAGIC, 3),
	};
	unsigned int i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &big)) TH_LOG("cmd %#lx", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
	/* The argument is checked after the number. */
	EXPECT_EQ(-1, ioctl(self->fd, PCRAM_IOC_ATTACH, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, PCRAM_IOC_BATCH, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

/*
 * A VM attached before waits out an RCU grace period when it attaches
 * again, and its detach flushes the event worker: waits that sleep, under
 * the VM's own mutex. Were that mutex one for all VMs, eight VMs cycling
 * at once would finish no more cycles than one alone; with a mutex per VM
 * their waits overlap. A cycle is mostly sleep, so two CPUs show it.
 */
#define CYCLERS 8

struct cycler {
	int fd, uffd;
	atomic_bool *stop;
	long cycles;
	int err;
};

static void *cycler_fn(void *arg)
{
	struct cycler *c = arg;

	while (!atomic_load(c->stop)) {
		int id = pcram_attach(c->fd, c->uffd, "cycler", PCRAM_ATTACH_F_NO_EVENTS);

		if (id < 0) {
			c->err = id;
			break;
		}
		if (ioctl(c->fd, PCRAM_IOC_DETACH)) {
			c->err = -errno;
			break;
		}
		c->cycles++;
	}
	return NULL;
}

/* Attach-detach cycles that @n VMs finish in @ms together; -errno on error. */
static long cycle_vms(struct cycler *c, int n, int ms)
{
	pthread_t t[CYCLERS];
	atomic_bool stop = false;
	long total = 0;
	int i, err = 0;

	for (i = 0; i < n; i++) {
		c[i].stop = &stop;
		c[i].cycles = 0;
		c[i].err = 0;
		if (pthread_create(&t[i], NULL, cycler_fn, &c[i]))
			break;
	}
	usleep(ms * 1000);
	atomic_store(&stop, true);
	n = i;
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		total += c[i].cycles;
		if (c[i].err)
			err = c[i].err;
	}
	return err ? err : total;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

TEST(teardown_of_one_vm_does_not_stall_another)
{
	struct cycler c[CYCLERS];
	double ratio[3];
	int i;

	if (!pcram_loaded())
		SKIP(return, PCRAM_NOT_LOADED);
	for (i = 0; i < CYCLERS; i++) {
		c[i].fd = pcram_open();
		ASSERT_LE(0, c[i].fd);
		c[i].uffd = uffd_open(0);
		ASSERT_LE(0, c[i].uffd);
	}
	/* Every VM attached once: each later attach waits for a grace period. */
	ASSERT_LT(0, cycle_vms(c, CYCLERS, 20));

	/* Interleaved, so that a slow spell of the machine hits both. */
	for (i = 0; i < 3; i++) {
		long one = cycle_vms(c, 1, 400);
		long eight = cycle_vms(c, CYCLERS, 400);

		ASSERT_LT(0, one) TH_LOG("one VM: %s", strerror(-one));
		ASSERT_LT(0, eight) TH_LOG("%d VMs: %s", CYCLERS, strerror(-eight));
		ratio[i] = (double)eight / one;
		ksft_print_msg("round %d: 1 VM %ld cycles, %d VMs %ld cycles in 400 ms: %.2fx\n",
			       i, one, CYCLERS, eight, ratio[i]);
		fflush(stdout);	/* the harness's child ends with _exit() */
	}
	qsort(ratio, 3, sizeof(ratio[0]), cmp_double);
	ksft_print_msg("median %.2fx (range %.2f-%.2f); one mutex for all VMs gives about 1x\n",
		       ratio[1], ratio[0], ratio[2]);
	fflush(stdout);
	EXPECT_LE(3.0, ratio[1]) TH_LOG("median ratio %.2f", ratio[1]);
	for (i = 0; i < CYCLERS; i++) {
		close(c[i].uffd);
		close(c[i].fd);
	}
}

/* The device is root's (0600); a descriptor cannot be had without it. */
TEST_F(attach, unprivileged_opener_refused)
{
	pid_t pid;
	int st;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		_exit(open(DEV, O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

TEST_HARNESS_MAIN
