// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram.ko watching a program nobody here wrote: the kernel's own
 * userfaultfd stress test (tools/testing/selftests/vm/userfaultfd.c of
 * Debian's linux-source-6.1, built as uffd_stress), attached by pid.
 *
 * The program is started stopped at its exec (ptrace), attached with
 * 'pcram vm add --pid', and let go; on a pseudo-terminal its stdout is
 * line-buffered, so each "bounces: N, ... userfaults: M missing W wp"
 * line arrives as the bounce ends, and the module's fault count for the
 * VM is read right then. Per bounce, the module's count must be at least
 * the program's (each message its handlers read is one call of
 * handle_userfault that blocked) and at most a little more: a fault that
 * races with the page being placed enters handle_userfault, finds the
 * page there and returns without its message ever being read, and the
 * "racing" modes do exactly that. The program's own checks must still
 * pass with the probe on.
 */
#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"

#include <pty.h>
#include <sys/ptrace.h>

#define MIB "16"
#define BOUNCES 6
/* Faults the module may count beyond the program's messages, per bounce. */
#define EXCESS_RATIO 0.10
#define EXCESS_SLACK 16

static char prog[4096];

static const char *find_prog(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	snprintf(prog, sizeof(prog), "%.*s/uffd_stress", (int)(strrchr(self, '/') - self),
		 self);
	return access(prog, X_OK) ? NULL : prog;
}

/* "... userfaults: 347 missing (...) 913 wp (...)": missing + wp + minor. */
static unsigned long long userfaults(const char *line)
{
	const char *p = strstr(line, "userfaults:");
	unsigned long long sum = 0, n;
	char kind[16];
	int used;

	if (!p)
		return ~0ULL;
	p += strlen("userfaults:");
	while (sscanf(p, " %llu %15s%n", &n, kind, &used) == 2) {
		if (strcmp(kind, "missing") && strcmp(kind, "wp") && strcmp(kind, "minor"))
			break;
		sum += n;
		p += used;
		p = strchr(p, ')');	/* past the per-CPU figures */
		if (!p)
			break;
		p++;
	}
	return sum;
}

FIXTURE(stress) {
	pid_t pid;
	int pty;
	unsigned int vm_id;
};

FIXTURE_SETUP(stress)
{
	self->pid = 0;
	self->pty = -1;
	self->vm_id = 0;
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	if (!find_prog())
		SETUP_SKIP("no uffd_stress beside the test (make builds it from linux-source-6.1)");
}

FIXTURE_TEARDOWN(stress)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	if (self->pty >= 0)
		close(self->pty);
}

TEST_F_TIMEOUT(stress, module_counts_what_the_program_counts, 600)
{
	struct cmd_result *r = malloc(sizeof(*r));
	struct vm_answer *v = calloc(1, sizeof(*v));
	unsigned long long before = 0, prog_total = 0, mod_total = 0;
	int bounces = 0, status;
	char line[4096];
	FILE *out;

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, v);
	self->pid = forkpty(&self->pty, NULL, NULL, NULL);
	ASSERT_LE(0, self->pid);
	if (self->pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execl(prog, "uffd_stress", "anon", MIB, "99", (char *)NULL);
		_exit(127);
	}
	/* Stopped at the exec: its memory is the one to watch from now. */
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status));
	ASSERT_EQ(0, run(r, "pcram vm add --pid %d --name uffd-stress -j", self->pid))
		TH_LOG("%s", r->err);
	self->vm_id = (unsigned int)jq_u64(r->out, ".id");
	ASSERT_LT(0, self->vm_id) TH_LOG("%s", r->out);
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, self->pid, NULL, NULL));

	out = fdopen(dup(self->pty), "r");
	ASSERT_NE(NULL, out);
	while (bounces < BOUNCES && fgets(line, sizeof(line), out)) {
		unsigned long long prog_n, mod_n;

		if (strncmp(line, "bounces:", 8))
			continue;
		prog_n = userfaults(line);
		ASSERT_NE(~0ULL, prog_n) TH_LOG("%s", line);
		ASSERT_EQ(0, get_vm(self->vm_id, v));
		mod_n = v->faults - before;
		before = v->faults;
		bounces++;
		prog_total += prog_n;
		mod_total += mod_n;
		line[strcspn(line, "\r\n")] = '\0';
		TH_LOG("bounce %d: program %llu userfaults, module %llu faults (+%lld): %s",
		       bounces, prog_n, mod_n, (long long)(mod_n - prog_n), line);
		EXPECT_GE(mod_n, prog_n);
		EXPECT_LE(mod_n, prog_n + prog_n * EXCESS_RATIO + EXCESS_SLACK);
	}
	fclose(out);
	ASSERT_EQ(BOUNCES, bounces) TH_LOG("the program stopped early");
	TH_LOG("%d bounces: program %llu userfaults, module %llu faults (%.2f%% more; "
	       "allowed %.0f%% + %d a bounce), %llu missed by the probe", bounces, prog_total,
	       mod_total, prog_total ? 100.0 * (mod_total - prog_total) / prog_total : 0,
	       100 * EXCESS_RATIO, EXCESS_SLACK, v->nmissed);
	/* Enough seen; the rest of its run (fork, events tests) is its own. */
	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, 0);
	self->pid = 0;
	free(v);
	free(r);
}

/* The program's own verdict, with the probe on: a whole short run. */
TEST_F_TIMEOUT(stress, program_passes_with_the_probe_on, 600)
{
	struct cmd_result *r = malloc(sizeof(*r));
	int status;
	char buf[4096];

	ASSERT_NE(NULL, r);
	self->pid = forkpty(&self->pty, NULL, NULL, NULL);
	ASSERT_LE(0, self->pid);
	if (self->pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execl(prog, "uffd_stress", "anon", "8", "4", (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, 0));
	ASSERT_EQ(0, run(r, "pcram vm add --pid %d --name uffd-stress-run -j", self->pid))
		TH_LOG("%s", r->err);
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, self->pid, NULL, NULL));
	/* drain its terminal, or it blocks writing */
	while (read(self->pty, buf, sizeof(buf)) > 0)
		;
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, 0));
	self->pid = 0;
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("uffd_stress: status 0x%x", status);
	free(r);
}

TEST_HARNESS_MAIN
