// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram monitor against a live VM: its attach, the sampled faults of a
 * workload with a known number of faults, its detach, as JSON and as
 * text; -c; joining refused to an unprivileged user; and without the
 * module, its error.
 */
#include <signal.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod/kmod.h"
#include "workload.h"

#define VCPUS 2
#define PER_VCPU 10
#define FAULTS (VCPUS * PER_VCPU)
#define HOLD_US 3000	/* longer than event_interval_ms: every fault sampled */

FIXTURE(monitor) {
	char out[64], canary[32];
	pid_t pid;		/* of the pcram monitor started */
	struct cmd_result r;
};

FIXTURE_SETUP(monitor)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	snprintf(self->out, sizeof(self->out), "/tmp/pcram-monitor-%d.out", getpid());
	snprintf(self->canary, sizeof(self->canary), "canary-%d", getpid());
	ASSERT_EQ(0, set_param("event_interval_ms", "1"));
	ASSERT_EQ(0, set_param("probe", "1"));
}

FIXTURE_TEARDOWN(monitor)
{
	if (self->pid > 0)
		kill(self->pid, SIGKILL);
	unlink(self->out);
	set_param("event_interval_ms", "100");
}

/* Start 'pcram monitor ARGS' in the background, its output to self->out. */
static pid_t start(struct __test_metadata *_metadata, FIXTURE_DATA(monitor) *self,
		   const char *args)
{
	ASSERT_EQ(0, run(&self->r, "pcram monitor %s > %s 2>&1 & echo $!", args, self->out));
	self->pid = atoi(self->r.out);
	ASSERT_LT(0, self->pid);
	return self->pid;
}

/*
 * Wait until the monitor listens: attach and close canary VMs until one
 * shows in its output (10 s at most).
 */
static bool wait_listening(FIXTURE_DATA(monitor) *self)
{
	char buf[1 << 16];

	for (int i = 0; i < 100; i++) {
		int fd = pcram_open(), uffd = uffd_open(0);

		if (fd >= 0 && uffd >= 0)
			pcram_attach(fd, uffd, self->canary, 0);
		close(fd);
		close(uffd);
		read_whole(self->out, buf, sizeof(buf));
		if (strstr(buf, self->canary))
			return true;
		usleep(100 * 1000);
	}
	return false;
}

/* Wait until the output has @want (10 s at most). */
static bool wait_output(FIXTURE_DATA(monitor) *self, const char *want)
{
	static char buf[1 << 16];

	for (int i = 0; i < 200; i++) {
		read_whole(self->out, buf, sizeof(buf));
		if (strstr(buf, want))
			return true;
		usleep(50 * 1000);
	}
	return false;
}

/* Whether @pid ends within 5 s. */
static bool ends(pid_t pid)
{
	for (int i = 0; i < 100; i++) {
		if (kill(pid, 0) && errno == ESRCH)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

TEST_F(monitor, json_attach_faults_detach)
{
	struct cmd_result *r = &self->r;
	struct workload w;
	char name[32], want[128], filter[256], val[256];
	unsigned long long events, sampled;

	start(_metadata, self, "-j");
	ASSERT_TRUE(wait_listening(self)) TH_LOG("the monitor saw no canary");
	snprintf(name, sizeof(name), "mon-%d", getpid());
	ASSERT_LT(0, workload_open(&w, name, VCPUS, PER_VCPU, 1));
	ASSERT_EQ(FAULTS, workload_round(&w, HOLD_US));
	workload_close(&w);
	/* the detach's end: attach events go on with attach_time_ns */
	snprintf(want, sizeof(want), "\"name\":\"%s\",\"kind\":\"uffd\",\"pid\":0,"
		 "\"owner_pid\":%d,\"reason\":\"closed\"}", name, getpid());
	ASSERT_TRUE(wait_output(self, want));
	kill(self->pid, SIGINT);
	EXPECT_TRUE(ends(self->pid));
	self->pid = 0;

	ASSERT_EQ(0, run(r, "jq -c -s 'map(select(.vm == %d))' %s", w.id, self->out))
		TH_LOG("not JSON lines: %s", r->err);
	/* attach first, detach last, once each, sampled faults between */
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, "[first.event, last.event, (map(select(.event == "
			"\"attach\")) | length), (map(select(.event == \"detach\")) | length)] "
			"| tostring"));
	EXPECT_STREQ("[\"attach\",\"detach\",1,1]", val) TH_LOG("%s", r->out);
	snprintf(filter, sizeof(filter), ".[0] | [.name == \"%s\", .owner_pid == %d, "
		 ".attach_flags == [], .attach_time_ns > 0, (.time_ns | type) == \"number\"] | all",
		 name, getpid());
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s", r->out);
	snprintf(filter, sizeof(filter), ".[-1] | [.name == \"%s\", .owner_pid == %d, "
		 ".kind == \"uffd\", .reason == \"closed\"] | all", name, getpid());
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s", r->out);

	/* every sample: a vCPU's read fault in the VM's area, held HOLD_US */
	snprintf(filter, sizeof(filter), "map(select(.event == \"fault\")) | map("
		 "(.comm | startswith(\"vcpu\")) and .tid > 0 and .flags == [] and "
		 ".latency_ns >= %d and .address >= %llu and .address < %llu and "
		 ".name == \"%s\") | all", HOLD_US * 1000,
		 (unsigned long long)(uintptr_t)w.area,
		 (unsigned long long)(uintptr_t)w.area + FAULTS * PAGE, name);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s", r->out);
	events = jq_u64(r->out, "map(select(.event == \"fault\")) | length");
	sampled = jq_u64(r->out, "map(select(.event == \"fault\") | 1 + .skipped) | add");
	TH_LOG("%llu fault events for %d faults (%llu counted with the skipped)",
	       events, FAULTS, sampled);
	/* each fault outlasts the interval, so most are sampled; none twice */
	EXPECT_LE(FAULTS / 2, events);
	EXPECT_GE(FAULTS, sampled);
}

TEST_F(monitor, text_lines)
{
	char want[96], buf[8192];
	int fd, uffd, id;

	start(_metadata, self, "-t");
	ASSERT_TRUE(wait_listening(self));
	fd = pcram_open();
	uffd = uffd_open(0);
	ASSERT_LT(0, id = pcram_attach(fd, uffd, "text-vm", PCRAM_ATTACH_F_NO_EVENTS));
	close(fd);
	close(uffd);
	snprintf(want, sizeof(want), "] detach vm %d \"text-vm\" pid %d reason closed\n", id, getpid());
	EXPECT_TRUE(wait_output(self, want));
	kill(self->pid, SIGTERM);
	EXPECT_TRUE(ends(self->pid)) TH_LOG("SIGTERM did not end it");
	self->pid = 0;
	read_whole(self->out, buf, sizeof(buf));
	snprintf(want, sizeof(want), "] attach vm %d \"text-vm\" pid %d flags no_events at ",
		 id, getpid());
	EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("%s", buf);
	EXPECT_EQ('[', buf[0]) TH_LOG("-t: no time stamp: %s", buf);
}

TEST_F(monitor, count_ends_it)
{
	char want[64], buf[1024];

	start(_metadata, self, "-c 1");
	ASSERT_TRUE(wait_listening(self));
	EXPECT_TRUE(ends(self->pid)) TH_LOG("-c 1 did not end it");
	self->pid = 0;
	read_whole(self->out, buf, sizeof(buf));
	EXPECT_EQ(1, count_lines(self->out)) TH_LOG("%s", buf);
	snprintf(want, sizeof(want), "\"%s\" pid %d", self->canary, getpid());
	EXPECT_NE(NULL, strstr(buf, want)) TH_LOG("%s", buf);
	EXPECT_TRUE(!strncmp(buf, "attach vm ", 10) || !strncmp(buf, "detach vm ", 10))
		TH_LOG("%s", buf);
}

/* Joining needs CAP_NET_ADMIN: refused in words, exit 1. */
TEST_F(monitor, unprivileged_is_refused)
{
	char path[64], buf[1024];
	pid_t pid;
	int status = 0;

	snprintf(path, sizeof(path), "/tmp/pcram-monitor-%d.err", getpid());
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);

		if (fd < 0 || fchmod(fd, 0666) || drop_to_nobody())
			_exit(99);
		dup2(fd, 2);
		execlp("pcram", "pcram", "monitor", NULL);
		_exit(98);
	}
	for (int i = 0; i < 100 && !waitpid(pid, &status, WNOHANG); i++)
		usleep(50 * 1000);
	if (!kill(pid, SIGKILL)) {
		waitpid(pid, &status, 0);
		unlink(path);
		SKIP(return, "this kernel lets anyone join the events group "
		     "(no GENL_MCAST_CAP_NET_ADMIN)");
	}
	read_whole(path, buf, sizeof(buf));
	unlink(path);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(1, WEXITSTATUS(status)) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "pcram monitor: not permitted")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "CAP_NET_ADMIN")) TH_LOG("%s", buf);
}

TEST(usage_errors)
{
	struct cmd_result r;

	EXPECT_EQ(2, run(&r, "pcram monitor -c 0"));
	EXPECT_NE(NULL, strstr(r.err, "-c takes a count")) TH_LOG("%s", r.err);
	EXPECT_EQ(2, run(&r, "pcram monitor extra"));
	EXPECT_NE(NULL, strstr(r.err, "usage: pcram monitor ")) TH_LOG("%s", r.err);
}

TEST(module_not_loaded_is_said)
{
	struct cmd_result r;

	if (pcram_loaded())
		SKIP(return, "pcram.ko is loaded (the host tests this)");
	EXPECT_EQ(1, run(&r, "pcram monitor -j"));
	EXPECT_NE(NULL, strstr(r.err, "pcram monitor: pcram.ko is not loaded")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "'pcram module load'")) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
}

TEST_HARNESS_MAIN
