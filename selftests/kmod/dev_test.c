// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /dev/pcram: every open is one VM context, counted by GET_INFO.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"

#define DEV "/dev/" PCRAM_DEVICE_NAME

FIXTURE(dev) {
	int base;	/* VM contexts open before the test */
};

FIXTURE_SETUP(dev)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	self->base = info_nr_vms();
	ASSERT_LE(0, self->base);
}

FIXTURE_TEARDOWN(dev)
{
}

TEST_F(dev, node_is_root_only_char_device)
{
	struct stat st;

	ASSERT_EQ(0, stat(DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(10, major(st.st_rdev)); /* misc */
}

TEST_F(dev, open_close_counts_one_vm)
{
	int fd = open(DEV, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(self->base + 1, info_nr_vms());
	close(fd);
	EXPECT_EQ(self->base, info_nr_vms());
}

TEST_F(dev, many_contexts)
{
	enum { N = 256 };
	int fds[N], i;

	for (i = 0; i < N; i++) {
		fds[i] = open(DEV, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fds[i]) TH_LOG("open %d: %s", i, strerror(errno));
	}
	EXPECT_EQ(self->base + N, info_nr_vms());
	for (i = 0; i < N; i += 2)
		close(fds[i]);
	EXPECT_EQ(self->base + N / 2, info_nr_vms());
	for (i = 1; i < N; i += 2)
		close(fds[i]);
	EXPECT_EQ(self->base, info_nr_vms());
}

TEST_F(dev, context_lives_until_last_reference)
{
	int fd = open(DEV, O_RDWR), dup_fd, st;
	pid_t pid;

	ASSERT_LE(0, fd);
	dup_fd = dup(fd);
	close(fd);
	EXPECT_EQ(self->base + 1, info_nr_vms());
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(close(dup_fd) ? 1 : 0); /* the child's copy only */
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(self->base + 1, info_nr_vms());
	close(dup_fd);
	EXPECT_EQ(self->base, info_nr_vms());
}

TEST_F(dev, unprivileged_open_refused)
{
	pid_t pid;
	int st;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (drop_to_nobody())
			_exit(2);
		_exit(open(DEV, O_RDWR) < 0 && errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
	EXPECT_EQ(self->base, info_nr_vms());
}

/* attach_test.c tries the known numbers with wrong sizes. */
TEST_F(dev, unknown_ioctls_refused)
{
	int fd = open(DEV, O_RDWR);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, _IO('p', 1)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO(PCRAM_IOC_MAGIC, 200)));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
}

TEST_HARNESS_MAIN
