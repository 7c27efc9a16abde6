// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram.ko watching a program nobody here wrote: the kernel's own
 * userfaultfd stress test (tools/testing/selftests/vm/userfaultfd.c of
 * Debian's linux-source-6.1, built as uffd_stress), attached by pid.
 *
 * The program is started stopped at its exec (ptrace), attached with
 * 'pcram vm add --pid', and let go, traced: on a pseudo-terminal its
 * stdout is line-buffered, so each "bounces: N, ... userfaults: M missing
 * W wp" line is one write(2), made when the bounce has ended and before
 * the next begins, and the module's fault count for the VM is read while
 * the program is stopped at that write's entry. Per bounce, the module's count must be at least
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

#include <pthread.h>
#include <pty.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>

#define MIB "16"
#define BOUNCES 6
/*
 * Faults the module may count beyond the program's messages, per bounce:
 * none but a few where no thread races with the handler, up to this share
 * in the "racing" modes (measured: +12% to +39% under TCG, qemu and vng
 * runners): a racing fault enters handle_userfault once per thread that
 * touches the page before it is placed, and the program runs two threads
 * per CPU.
 */
#define EXCESS_RATIO 0.01
#define RACING_EXCESS 1.00
#define EXCESS_SLACK 4

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

/* What the traced program reported, bounce by bounce. */
struct bounces {
	int n;
	char text[BOUNCES][512];
	unsigned long long faults[BOUNCES];	/* the module's, at the report */
	char line[4096];			/* the line being written */
	size_t len;
};

/* Its terminal, drained: a full one would block its writes. */
static void *drain(void *arg)
{
	char buf[4096];

	while (read(*(int *)arg, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

/* @n bytes the program writes to its stdout, read at the write's entry. */
static void take_write(pid_t pid, const struct user_regs_struct *regs, struct bounces *b,
		       unsigned long long faults)
{
	char data[4096];
	struct iovec local = { data, sizeof(data) };
	struct iovec remote = { (void *)regs->rsi, regs->rdx < sizeof(data) ? regs->rdx :
							   sizeof(data) };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	for (ssize_t i = 0; i < n; i++) {
		if (data[i] != '\n') {
			if (b->len < sizeof(b->line) - 1)
				b->line[b->len++] = data[i];
			continue;
		}
		b->line[b->len] = '\0';
		if (!strncmp(b->line, "bounces:", 8) && b->n < BOUNCES) {
			snprintf(b->text[b->n], sizeof(b->text[0]), "%.500s", b->line);
			b->faults[b->n++] = faults;
		}
		b->len = 0;
	}
}

/*
 * Run the traced program, stopped at the entry of each write(2) to its
 * stdout. A bounce's report ends with the write that carries its
 * newline: made when the bounce is over and before the next one starts,
 * so the module's count read there is exactly the count up to it.
 * Returns 0 once BOUNCES reports came, or -1.
 */
static int trace_bounces(pid_t pid, unsigned int vm_id, struct vm_answer *v, struct bounces *b)
{
	bool in_call = false;
	int status, sig = 0;

	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(PTRACE_O_TRACESYSGOOD |
							PTRACE_O_EXITKILL));
	while (b->n < BOUNCES) {
		struct user_regs_struct regs;

		if (ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig))
			return -1;
		sig = 0;
		if (waitpid(pid, &status, __WALL) != pid || WIFEXITED(status) ||
		    WIFSIGNALED(status))
			return -1;
		if (!WIFSTOPPED(status))
			continue;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			sig = WSTOPSIG(status);	/* the program's own signal */
			continue;
		}
		in_call = !in_call;
		if (!in_call || ptrace(PTRACE_GETREGS, pid, NULL, &regs))
			continue;
		if (regs.orig_rax != SYS_write || regs.rdi != 1)
			continue;
		if (get_vm(vm_id, v))
			return -1;
		take_write(pid, &regs, b, v->faults);
	}
	return 0;
}

TEST_F_TIMEOUT(stress, module_counts_what_the_program_counts, 600)
{
	struct cmd_result *r = malloc(sizeof(*r));
	struct vm_answer *v = calloc(1, sizeof(*v));
	struct bounces *b = calloc(1, sizeof(*b));
	unsigned long long prog_total = 0, mod_total = 0;
	pthread_t drainer;
	int status, traced;

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, v);
	ASSERT_NE(NULL, b);
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

	ASSERT_EQ(0, pthread_create(&drainer, NULL, drain, &self->pty));
	traced = trace_bounces(self->pid, self->vm_id, v, b);
	/* Enough seen; the rest of its run (fork, events tests) is its own. */
	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, __WALL);
	self->pid = 0;
	close(self->pty);
	self->pty = -1;
	pthread_join(drainer, NULL);
	ASSERT_EQ(0, traced) TH_LOG("the program stopped after %d bounces", b->n);

	for (int i = 0; i < BOUNCES; i++) {
		unsigned long long prog_n = userfaults(b->text[i]), mod_n;
		double allowed = strstr(b->text[i], "racing") ? RACING_EXCESS : EXCESS_RATIO;

		ASSERT_NE(~0ULL, prog_n) TH_LOG("%s", b->text[i]);
		mod_n = b->faults[i] - (i ? b->faults[i - 1] : 0);
		prog_total += prog_n;
		mod_total += mod_n;
		TH_LOG("bounce %d: program %llu userfaults, module %llu faults (%+.1f%%; "
		       "allowed 0 to %+.0f%%): %s", i + 1, prog_n, mod_n,
		       prog_n ? 100.0 * ((double)mod_n - prog_n) / prog_n : 0, 100 * allowed,
		       b->text[i]);
		EXPECT_GE(mod_n, prog_n);
		EXPECT_LE(mod_n, prog_n + prog_n * allowed + EXCESS_SLACK);
	}
	TH_LOG("%d bounces: program %llu userfaults, module %llu faults (%+.2f%%), "
	       "%llu missed by the probe", BOUNCES, prog_total, mod_total,
	       prog_total ? 100.0 * ((double)mod_total - prog_total) / prog_total : 0,
	       v->nmissed);
	EXPECT_EQ(0, v->nmissed);
	free(b);
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
