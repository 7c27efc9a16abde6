// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PCRAM_CMD_ATTACH_PID and PCRAM_CMD_DETACH: a process as a VM. The
 * process (a child) creates its userfaultfd only after the attach, as
 * QEMU does when postcopy starts, and its faults are counted all the
 * same; its exit ends the VM with a detach event that says so. Checked
 * through the selftests' own netlink client (genl.h).
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod.h"

#define NR_PAGES 8
#define VCPU_NAME "CPU 0/TCG"

/* A child that waits for a byte on go, then runs its function, then waits to be killed. */
struct child {
	pid_t pid;
	int go[2];	/* parent -> child */
	int done[2];	/* child -> parent: one byte, the result */
};

struct server {
	int uffd;
	uint8_t *area;
	int served;
};

/* The child's handler thread: each missing page gets a page of its index. */
static void *serve_fn(void *arg)
{
	struct server *s = arg;
	static uint8_t page[PAGE] __attribute__((aligned(PAGE)));
	uint64_t addr;

	while (s->served < NR_PAGES && (addr = uffd_wait_fault(s->uffd, 10000))) {
		addr &= ~(PAGE - 1);
		memset(page, (int)((addr - (uintptr_t)s->area) / PAGE), PAGE);
		if (uffd_copy(s->uffd, (void *)(uintptr_t)addr, page, PAGE))
			break;
		s->served++;
	}
	return NULL;
}

/*
 * In the child: a userfaultfd made now, NR_PAGES pages registered on it,
 * a handler thread, and this thread, named as QEMU names a vCPU, touching
 * each page once. 0 when every page came back right.
 */
static int fault_pages(void)
{
	struct server s = { 0 };
	pthread_t t;
	int i, bad = 0;

	s.uffd = uffd_open(0);
	if (s.uffd < 0)
		return 1;
	s.area = uffd_area(s.uffd, NR_PAGES);
	if (!s.area || pthread_create(&t, NULL, serve_fn, &s))
		return 2;
	prctl(PR_SET_NAME, VCPU_NAME);
	for (i = 0; i < NR_PAGES; i++)
		bad |= s.area[i * PAGE] != i;
	pthread_join(t, NULL);
	return bad || s.served != NR_PAGES ? 3 : 0;
}

static void child_start(struct __test_metadata *_metadata, struct child *c, int (*fn)(void))
{
	char b;

	ASSERT_EQ(0, pipe(c->go));
	ASSERT_EQ(0, pipe(c->done));
	c->pid = fork();
	ASSERT_LE(0, c->pid);
	if (!c->pid) {
		close(c->go[1]);
		close(c->done[0]);
		if (read(c->go[0], &b, 1) != 1)
			_exit(1);
		b = (char)fn();
		if (write(c->done[1], &b, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(c->go[0]);
	close(c->done[1]);
}

/* Let it run its function: its result, or -1. */
static int child_run(struct child *c)
{
	char b = 'g';

	if (write(c->go[1], &b, 1) != 1 || read(c->done[0], &b, 1) != 1)
		return -1;
	return b;
}

static void child_kill(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		close(c->go[1]);
		close(c->done[0]);
	}
	c->pid = 0;
}

FIXTURE(pid_attach) {
	struct child c;
	int id;
};

FIXTURE_SETUP(pid_attach)
{
	struct info_answer a;
	struct info_query q = { 0 };
	int uffd;

	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	if (info_request(&q, &a) || a.error || a.api_version < 3)
		SETUP_SKIP("pcram.ko is older than API 3: no ATTACH_PID");
	uffd = uffd_open(0);
	if (uffd < 0)
		SETUP_SKIP("no userfaultfd: %s", strerror(-uffd));
	close(uffd);
	self->id = 0;
	child_start(_metadata, &self->c, fault_pages);
}

FIXTURE_TEARDOWN(pid_attach)
{
	if (self->id)
		detach_vm(self->id, NULL);
	child_kill(&self->c);
}

/* Faults on a userfaultfd created after the attach, with the vCPU's name. */
TEST_F(pid_attach, counts_faults_of_a_later_uffd)
{
	char extack[256] = "";
	struct vm_answer v;
	int i, found = 0;

	self->id = attach_pid(self->c.pid, "pid-vm", extack);
	ASSERT_LT(0, self->id) TH_LOG("%s: %s", strerror(-self->id), extack);
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_FALSE(v.bad);
	EXPECT_EQ(PCRAM_VM_KIND_PROCESS, v.kind);
	EXPECT_EQ(self->c.pid, v.pid);
	EXPECT_EQ(getpid(), v.owner);
	EXPECT_STREQ("pid-vm", v.name);
	EXPECT_EQ(1, v.attached);
	EXPECT_EQ(0ULL, v.faults);

	ASSERT_EQ(0, child_run(&self->c));
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_EQ(1, v.measured);
	EXPECT_EQ((unsigned long long)NR_PAGES, v.faults);
	for (i = 0; i < v.nr_threads; i++) {
		if (strcmp(v.threads[i].comm, VCPU_NAME))
			continue;
		found = 1;
		EXPECT_EQ((unsigned long long)NR_PAGES, v.threads[i].faults);
	}
	EXPECT_TRUE(found) TH_LOG("no thread named \"" VCPU_NAME "\" among %d", v.nr_threads);
}

/* Without a name, the VM is named after the process. */
TEST_F(pid_attach, name_defaults_to_comm)
{
	char comm[32], path[64];
	struct vm_answer v;

	snprintf(path, sizeof(path), "/proc/%d/comm", self->c.pid);
	read_whole(path, comm, sizeof(comm));
	comm[strcspn(comm, "\n")] = '\0';
	self->id = attach_pid(self->c.pid, NULL, NULL);
	ASSERT_LT(0, self->id);
	ASSERT_EQ(0, get_vm(self->id, &v));
	EXPECT_STREQ(comm, v.name);
}

TEST_F(pid_attach, second_attach_is_eexist)
{
	char extack[256] = "";

	self->id = attach_pid(self->c.pid, "once", NULL);
	ASSERT_LT(0, self->id);
	EXPECT_EQ(-EEXIST, attach_pid(self->c.pid, "twice", extack));
	EXPECT_NE(NULL, strstr(extack, "attached already")) TH_LOG("%s", extack);
}

/* The child exits: a detach event with reason "exited", then ENOENT. */
TEST_F(pid_attach, exit_detaches_with_a_reason)
{
	struct vm_answer evs[16], v;
	struct event_list e;
	struct nl_sock *sock;
	int err, n, i, detach = -1;

	sock = events_join(&err);
	ASSERT_NE(NULL, sock) TH_LOG("events: %s", strerror(-err));
	self->id = attach_pid(self->c.pid, "exits", NULL);
	ASSERT_LT(0, self->id);
	ASSERT_EQ(0, child_run(&self->c));
	child_kill(&self->c);
	n = events_read(sock, &e, evs, 16, 2000);
	for (i = 0; i < n && i < 16; i++)
		if (evs[i].id == (unsigned int)self->id && e.cmds[i] == PCRAM_CMD_EVENT_DETACH)
			detach = i;
	ASSERT_LE(0, detach) TH_LOG("no detach event among %d", n);
	EXPECT_EQ(PCRAM_DETACH_REASON_EXITED, evs[detach].detach_reason);
	EXPECT_EQ(PCRAM_VM_KIND_PROCESS, evs[detach].kind);
	EXPECT_STREQ("exits", evs[detach].name);
	/* its samples, if any, came before it */
	for (i = detach + 1; i < n && i < 16; i++)
		EXPECT_NE(PCRAM_CMD_EVENT_FAULT, e.cmds[i]);
	EXPECT_EQ(-ENOENT, get_vm(self->id, &v));
	self->id = 0;
	nl_socket_free(sock);
}

TEST_F(pid_attach, detach_by_request)
{
	char extack[256] = "";
	struct vm_answer v;

	self->id = attach_pid(self->c.pid, NULL, NULL);
	ASSERT_LT(0, self->id);
	EXPECT_EQ(0, detach_vm(self->id, extack)) TH_LOG("%s", extack);
	EXPECT_EQ(-ENOENT, get_vm(self->id, &v));
	EXPECT_EQ(-ENOENT, detach_vm(self->id, NULL));
	/* and may be attached again */
	self->id = attach_pid(self->c.pid, NULL, NULL);
	EXPECT_LT(0, self->id);
}

/* A uffd VM is detached through its file: refused, and the way named. */
TEST_F(pid_attach, detach_of_a_uffd_vm_is_refused)
{
	char extack[256] = "";
	int fd = pcram_open(), uffd = uffd_open(0), id;

	ASSERT_LE(0, fd);
	ASSERT_LT(0, id = pcram_attach(fd, uffd, "by-fd", 0));
	EXPECT_EQ(-EOPNOTSUPP, detach_vm(id, extack));
	EXPECT_NE(NULL, strstr(extack, "PCRAM_IOC_DETACH")) TH_LOG("%s", extack);
	close(fd);
	close(uffd);
}

TEST_F(pid_attach, bad_requests_are_named)
{
	char extack[256] = "", name[PCRAM_NAME_MAX + 1];

	EXPECT_EQ(-EINVAL, attach_pid(0, "no-pid", extack));
	EXPECT_NE(NULL, strstr(extack, "PCRAM_VM_A_PID")) TH_LOG("%s", extack);
	extack[0] = '\0';
	EXPECT_EQ(-ESRCH, attach_pid(0x3ffffff0, NULL, extack));
	EXPECT_NE(NULL, strstr(extack, "no process")) TH_LOG("%s", extack);
	memset(name, 'x', PCRAM_NAME_MAX);
	name[PCRAM_NAME_MAX] = '\0';
	extack[0] = '\0';
	EXPECT_EQ(-EINVAL, attach_pid(self->c.pid, name, extack));
	EXPECT_NE(0, extack[0]);
	extack[0] = '\0';
	EXPECT_EQ(-EINVAL, attach_pid_ex(self->c.pid, NULL, 1U << 31, extack));
	EXPECT_NE(0, extack[0]);
}

/* nobody may not read a root process: EPERM, in words. */
TEST_F(pid_attach, unprivileged_is_eperm)
{
	int status;
	pid_t p;

	p = fork();
	ASSERT_LE(0, p);
	if (!p) {
		char extack[256] = "";
		int ret;

		if (drop_to_nobody())
			_exit(10);
		ret = attach_pid(self->c.pid, NULL, extack);
		if (ret != -EPERM)
			_exit(11);
		if (!strstr(extack, "not permitted"))
			_exit(12);
		/* but its own process it may */
		ret = attach_pid(getpid(), NULL, NULL);
		if (ret <= 0)
			_exit(13);
		_exit(detach_vm(ret, NULL) ? 14 : 0);
	}
	ASSERT_EQ(p, waitpid(p, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
