// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram_probe(): its answer against the kernel's, asked independently.
 */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <pcram.h>

#include "kselftest_harness.h"
#include "common.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

/* A userfaultfd opened and hand-shaken here, not through libpcram. */
static int raw_uffd(struct uffdio_api *api)
{
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC);

	if (fd < 0 && errno == EPERM) /* unprivileged: as pcram falls back */
		fd = syscall(__NR_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
	if (fd < 0)
		return -errno;
	api->api = UFFD_API;
	api->features = 0;
	if (ioctl(fd, UFFDIO_API, api)) {
		close(fd);
		return -errno;
	}
	return fd;
}

TEST(null_result_is_refused)
{
	ASSERT_EQ(-EINVAL, pcram_probe(NULL, sizeof(struct pcram_probe_result)));
}

TEST(answer_matches_kernel)
{
	struct pcram_probe_result res;
	struct uffdio_api api;
	uint64_t need = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_ZEROPAGE) |
			(1ULL << _UFFDIO_WAKE);
	int fd;

	fd = raw_uffd(&api);
	if (fd < 0)
		SKIP(return, "userfaultfd(2) unavailable here: %s", strerror(-fd));
	close(fd);

	ASSERT_EQ(0, pcram_probe(&res, sizeof(res))) TH_LOG("%s", res.diagnosis);
	EXPECT_EQ(UFFD_API, res.api);
	EXPECT_EQ(api.features, res.features);
	EXPECT_EQ(api.ioctls, res.ioctls);
	EXPECT_EQ(0, res.enabled & ~res.features);
	EXPECT_TRUE(res.reg[PCRAM_BACKING_ANON][PCRAM_REG_MISSING].tried);
	EXPECT_EQ(need, res.reg[PCRAM_BACKING_ANON][PCRAM_REG_MISSING].ioctls & need);
	EXPECT_EQ((size_t)sysconf(_SC_PAGESIZE), res.page_size);
	EXPECT_NE(PCRAM_OPENER_NONE, res.opener);
	/* Root here: access is never the problem. */
	EXPECT_EQ(0, res.diag & (PCRAM_DIAG_SYSCTL | PCRAM_DIAG_USER_MODE_ONLY));
}

TEST(leaves_no_fd_or_mapping)
{
	struct pcram_probe_result res;
	int fds, maps;

	fds = count_dir("/proc/self/fd");
	maps = count_lines("/proc/self/maps");
	pcram_probe(&res, sizeof(res));
	EXPECT_EQ(fds, count_dir("/proc/self/fd"));
	EXPECT_EQ(maps, count_lines("/proc/self/maps"));
}

TEST(hugepage_pools_match_sysfs)
{
	struct pcram_probe_result res;
	char path[256], buf[64];
	unsigned int i;

	pcram_probe(&res, sizeof(res));
	EXPECT_EQ(count_dir("/sys/kernel/mm/hugepages"), (int)res.nr_hugepage_pools);
	for (i = 0; i < res.nr_hugepage_pools; i++) {
		const struct pcram_hugepage_pool *p = &res.hugepage_pools[i];

		snprintf(path, sizeof(path),
			 "/sys/kernel/mm/hugepages/hugepages-%llukB/free_hugepages",
			 (unsigned long long)p->page_size >> 10);
		read_whole(path, buf, sizeof(buf));
		EXPECT_EQ(strtoull(buf, NULL, 10), p->free) TH_LOG("%s", path);
		EXPECT_EQ(p->free > 0, pcram_probe_page_size_usable(&res, p->page_size));
	}
	EXPECT_TRUE(pcram_probe_page_size_usable(&res, res.page_size));
	EXPECT_FALSE(pcram_probe_page_size_usable(&res, 12345));
	EXPECT_FALSE(pcram_probe_page_size_usable(NULL, res.page_size));
}

TEST(thp_mode_matches_sysfs)
{
	struct pcram_probe_result res;
	char buf[128], want[32];

	read_whole("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf));
	if (!buf[0])
		SKIP(return, "no transparent huge pages in this kernel");
	ASSERT_EQ(1, sscanf(strchr(buf, '['), "[%31[^]]", want));
	pcram_probe(&res, sizeof(res));
	EXPECT_STREQ(want, res.thp_enabled);
}

TEST(names)
{
	EXPECT_STREQ("MISSING_HUGETLBFS", pcram_feature_name(4));
	EXPECT_STREQ("MOVE", pcram_feature_name(16));
	EXPECT_STREQ("COPY", pcram_ioctl_name(_UFFDIO_COPY));
	EXPECT_STREQ("POISON", pcram_ioctl_name(8));
	EXPECT_EQ(NULL, pcram_feature_name(63));
	EXPECT_EQ(NULL, pcram_ioctl_name(64));
	EXPECT_STREQ("device", pcram_opener_name(PCRAM_OPENER_DEVICE));
	EXPECT_STREQ("hugetlb", pcram_backing_name(PCRAM_BACKING_HUGETLB));
	EXPECT_EQ(NULL, pcram_backing_name(PCRAM_BACKING_MAX));
	EXPECT_STREQ("minor", pcram_reg_mode_name(PCRAM_REG_MINOR));
	EXPECT_NE(NULL, pcram_version());
}

/* Each backing and mode: the probe's registration against our own. */
FIXTURE(registration) {
	struct pcram_probe_result res;
};

FIXTURE_VARIANT(registration) {
	enum pcram_backing backing;
	enum pcram_reg_mode mode;
	uint64_t feature;	/* needed feature, 0 for none */
	uint64_t ioctls;	/* ioctls placement needs on such a range */
};

FIXTURE_VARIANT_ADD(registration, anon_missing) {
	.backing = PCRAM_BACKING_ANON, .mode = PCRAM_REG_MISSING,
	.ioctls = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_ZEROPAGE) |
		  (1ULL << _UFFDIO_WAKE),
};
FIXTURE_VARIANT_ADD(registration, shmem_missing) {
	.backing = PCRAM_BACKING_SHMEM, .mode = PCRAM_REG_MISSING,
	.feature = UFFD_FEATURE_MISSING_SHMEM,
	.ioctls = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_ZEROPAGE) |
		  (1ULL << _UFFDIO_WAKE),
};
FIXTURE_VARIANT_ADD(registration, shmem_minor) {
	.backing = PCRAM_BACKING_SHMEM, .mode = PCRAM_REG_MINOR,
	.feature = UFFD_FEATURE_MINOR_SHMEM,
	.ioctls = (1ULL << _UFFDIO_CONTINUE) | (1ULL << _UFFDIO_WAKE),
};
FIXTURE_VARIANT_ADD(registration, hugetlb_missing) {
	.backing = PCRAM_BACKING_HUGETLB, .mode = PCRAM_REG_MISSING,
	.feature = UFFD_FEATURE_MISSING_HUGETLBFS,
	/* the kernel has no ZEROPAGE for huge pages */
	.ioctls = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_WAKE),
};
FIXTURE_VARIANT_ADD(registration, hugetlb_minor) {
	.backing = PCRAM_BACKING_HUGETLB, .mode = PCRAM_REG_MINOR,
	.feature = UFFD_FEATURE_MINOR_HUGETLBFS,
	.ioctls = (1ULL << _UFFDIO_CONTINUE) | (1ULL << _UFFDIO_WAKE),
};

FIXTURE_SETUP(registration)
{
	pcram_probe(&self->res, sizeof(self->res));
}

FIXTURE_TEARDOWN(registration)
{
}

/* Register one range ourselves; returns the ioctls offered or -errno. */
static int64_t own_registration(const FIXTURE_VARIANT(registration) *v,
				uint64_t features)
{
	struct uffdio_register reg = { 0 };
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	size_t len = v->backing == PCRAM_BACKING_HUGETLB ? 2UL << 20 :
			(size_t)sysconf(_SC_PAGESIZE);
	int64_t ret;
	void *p;
	int uffd, mfd = -1;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		return -errno;
	if (v->backing == PCRAM_BACKING_ANON) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	} else {
		mfd = memfd_create("probe-test", v->backing == PCRAM_BACKING_HUGETLB ?
				   MFD_HUGETLB : 0);
		if (mfd < 0 || ftruncate(mfd, len))
			return -errno;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE, mfd, 0);
	}
	if (p == MAP_FAILED)
		return -errno;
	reg.range.start = (uintptr_t)p;
	reg.range.len = len;
	reg.mode = v->mode == PCRAM_REG_MINOR ? UFFDIO_REGISTER_MODE_MINOR :
						UFFDIO_REGISTER_MODE_MISSING;
	ret = ioctl(uffd, UFFDIO_REGISTER, &reg) ? -errno : (int64_t)reg.ioctls;
	munmap(p, len);
	if (mfd >= 0)
		close(mfd);
	close(uffd);
	return ret;
}

TEST_F(registration, matches_own_registration)
{
	const struct pcram_reg_result *r = &self->res.reg[variant->backing][variant->mode];
	int64_t own;

	if (variant->feature && !(self->res.features & variant->feature))
		SKIP(return, "the kernel lacks the %s feature",
		     pcram_feature_name(__builtin_ctzll(variant->feature)));
	ASSERT_TRUE(r->tried);
	own = own_registration(variant, variant->feature);
	if (own == -ENOMEM || own == -ENOENT || own == -EINVAL)
		/* hugetlb with no pool at all, or a size the kernel lacks */
		EXPECT_EQ(own, r->error);
	if (own < 0)
		SKIP(return, "this backing cannot be mapped and registered here: %s",
		     strerror((int)-own));
	ASSERT_EQ(0, r->error) TH_LOG("probe: %s", strerror(-r->error));
	EXPECT_EQ((uint64_t)own, r->ioctls);
	EXPECT_EQ(variant->ioctls, r->ioctls & variant->ioctls);
}

/*
 * As the unprivileged user nobody, with the sysctl set each way: the probe
 * must say what is refused and how to fix it.
 */
FIXTURE(unprivileged) {
	char saved[16];
};

FIXTURE_VARIANT(unprivileged) {
	const char *sysctl;
};

FIXTURE_VARIANT_ADD(unprivileged, sysctl_0) { .sysctl = "0" };
FIXTURE_VARIANT_ADD(unprivileged, sysctl_1) { .sysctl = "1" };

static int write_sysctl(const char *val)
{
	int fd = open("/proc/sys/vm/unprivileged_userfaultfd", O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

FIXTURE_SETUP(unprivileged)
{
	read_whole("/proc/sys/vm/unprivileged_userfaultfd", self->saved,
		   sizeof(self->saved));
	if (geteuid() != 0)
		SETUP_SKIP("needs root to switch users and set the sysctl");
	if (!self->saved[0] || write_sysctl(variant->sysctl))
		SETUP_SKIP("vm.unprivileged_userfaultfd cannot be set here");
}

FIXTURE_TEARDOWN(unprivileged)
{
	if (self->saved[0])
		write_sysctl(self->saved);
}

TEST_F(unprivileged, diagnosis_names_the_fix)
{
	struct pcram_probe_result res;
	bool device_ok;
	pid_t pid;
	int st, ret;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (drop_to_nobody())
			_exit(90);
		device_ok = access("/dev/userfaultfd", R_OK | W_OK) == 0;
		ret = pcram_probe(&res, sizeof(res));
		if (ret)
			_exit(91);
		if (device_ok != (res.opener == PCRAM_OPENER_DEVICE))
			_exit(92);
		if (device_ok)
			_exit(0);
		if (!strcmp(variant->sysctl, "1")) {
			/* the plain syscall is allowed: a full userfaultfd */
			_exit(res.opener == PCRAM_OPENER_SYSCALL && !res.diag ? 0 : 94);
		}
		if (access("/dev/userfaultfd", F_OK) == 0 &&
		    (!(res.diag & PCRAM_DIAG_DEVICE_ACCESS) ||
		     !strstr(res.diagnosis, "/dev/userfaultfd")))
			_exit(93);
		if (res.opener != PCRAM_OPENER_SYSCALL_USER_ONLY ||
		    !(res.diag & PCRAM_DIAG_USER_MODE_ONLY) ||
		    !(res.diag & PCRAM_DIAG_SYSCTL) ||
		    !strstr(res.diagnosis, "vm.unprivileged_userfaultfd=1") ||
		    !strstr(res.diagnosis, "CAP_SYS_PTRACE"))
			_exit(95);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st)) TH_LOG("child check %d failed", WEXITSTATUS(st));
}

TEST_HARNESS_MAIN
