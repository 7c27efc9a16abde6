// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram top driven through tmux, its screen captured: the VMs of a live
 * workload with their fault counts, the histogram bars, the keys (sort,
 * latency of the last interval), a resize, and q and Ctrl-C, after
 * which the terminal is as it was. Its plain output when stdout is not a
 * terminal; without the module, its error on the normal screen.
 */
#include <stdarg.h>

#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod/kmod.h"
#include "workload.h"

#define VCPUS 2
#define PER_VCPU 25
#define FAULTS (VCPUS * PER_VCPU)
#define HOLD_US 2000

/* After top, the pane shows how it exited and the terminal's modes. */
#define AFTER "; echo \"top exited $?\"; stty -a; echo end-of-stty; sleep 120"

struct tmux {
	char sock[64];
	struct cmd_result r;
};

static int tmux(struct tmux *t, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return run(&t->r, "tmux -L %s -f /dev/null %s", t->sock, cmd);
}

/* Start @cmd in a detached 120x40 session, in the C locale. */
static int tmux_start(struct tmux *t, const char *cmd)
{
	snprintf(t->sock, sizeof(t->sock), "pcram-top-%d", getpid());
	return tmux(t, "new-session -d -s top -x 120 -y 40 'LC_ALL=C %s'", cmd);
}

/* Capture the pane until it shows @want (10 s at most): true if it did. */
static bool tmux_wait_for(struct tmux *t, const char *want)
{
	for (int i = 0; i < 200; i++) {
		if (!tmux(t, "capture-pane -p -t top") && strstr(t->r.out, want))
			return true;
		usleep(50 * 1000);
	}
	return false;
}

static void tmux_stop(struct tmux *t)
{
	if (t->sock[0])
		tmux(t, "kill-server");
}

static bool have_tmux(void)
{
	struct cmd_result r;

	return run(&r, "command -v tmux") == 0;
}

/* @word alone (between blanks) in @s: stty -a's "icanon", not "-icanon". */
static bool has_word(const char *s, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = s; (p = strstr(p, word)); p += len)
		if ((p == s || p[-1] == ' ' || p[-1] == '\n') &&
		    (!p[len] || strchr(" \n;", p[len])))
			return true;
	return false;
}

/* The terminal after top: line editing, echo and signals on, the normal screen. */
static void check_restored(struct __test_metadata *_metadata, struct tmux *t)
{
	const char *s;

	ASSERT_TRUE(tmux_wait_for(t, "end-of-stty")) TH_LOG("%s", t->r.out);
	s = t->r.out;
	EXPECT_EQ(NULL, strstr(s, "pcram top -")) TH_LOG("still the alternate screen:\n%s", s);
#define MODE_ON(mode) EXPECT_TRUE(has_word(s, mode)) TH_LOG(mode " is off:\n%s", s)
	MODE_ON("icanon");
	MODE_ON("echo");
	MODE_ON("isig");
	MODE_ON("icrnl");
	MODE_ON("ixon");
#undef MODE_ON
}

FIXTURE(top) {
	struct workload w, other;
	char name[32], other_name[32];
	struct tmux t;
};

FIXTURE_SETUP(top)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	if (set_param("probe", "1"))
		SETUP_SKIP("cannot turn the fault-latency probe on");
	snprintf(self->name, sizeof(self->name), "top-%d", getpid());
	snprintf(self->other_name, sizeof(self->other_name), "quiet-%d", getpid());
	ASSERT_LT(0, workload_open(&self->w, self->name, VCPUS, PER_VCPU, 2));
	ASSERT_EQ(FAULTS, workload_round(&self->w, HOLD_US));
	/* faults not held: its p99 is below the first VM's */
	ASSERT_LT(0, workload_open(&self->other, self->other_name, 1, 3, 1));
	ASSERT_EQ(3, workload_round(&self->other, 0));
}

FIXTURE_TEARDOWN(top)
{
	tmux_stop(&self->t);
	workload_close(&self->w);
	workload_close(&self->other);
}

/* A VM's row: its id, name and total faults, as the table has them. */
static bool has_row(const char *screen, int id, const char *name, int faults)
{
	char head[64];
	const char *p = screen;

	snprintf(head, sizeof(head), "%5d %-16s ", id, name);
	while ((p = strstr(p, head))) {
		const char *eol = strchrnul(p, '\n');
		char line[256], want[32];

		snprintf(line, sizeof(line), "%.*s", (int)(eol - p), p);
		snprintf(want, sizeof(want), " %10d ", faults);
		if (strstr(line, want))
			return true;
		p = eol;
	}
	return false;
}

TEST_F(top, full_screen_shows_keys_and_quits_clean)
{
	struct tmux *t = &self->t;
	char want[128];

	if (!have_tmux())
		SKIP(return, "tmux is not installed ('make deps')");
	ASSERT_EQ(0, tmux_start(t, "pcram top -d 0.5" AFTER)) TH_LOG("%s", t->r.err);
	ASSERT_TRUE(tmux_wait_for(t, "pcram top - pcram.ko ")) TH_LOG("%s", t->r.out);
	ASSERT_TRUE(tmux_wait_for(t, self->other_name)) TH_LOG("%s", t->r.out);
	EXPECT_NE(NULL, strstr(t->r.out, "sort by p99")) TH_LOG("%s", t->r.out);
	EXPECT_NE(NULL, strstr(t->r.out, "FAULTS/S")) TH_LOG("%s", t->r.out);
	EXPECT_TRUE(has_row(t->r.out, self->w.id, self->name, FAULTS)) TH_LOG("%s", t->r.out);
	EXPECT_TRUE(has_row(t->r.out, self->other.id, self->other_name, 3)) TH_LOG("%s", t->r.out);
	/* sorted by p99: the VM held 2 ms a fault comes first, and is selected */
	EXPECT_LT(strstr(t->r.out, self->name), strstr(t->r.out, self->other_name));
	snprintf(want, sizeof(want), "VM %d \"%s\": %d faults since attach", self->w.id,
		 self->name, FAULTS);
	EXPECT_NE(NULL, strstr(t->r.out, want)) TH_LOG("%s", t->r.out);
	EXPECT_NE(NULL, strstr(t->r.out, "|#")) TH_LOG("no bars:\n%s", t->r.out);
	EXPECT_NE(NULL, strstr(t->r.out, "vcpu0")) TH_LOG("%s", t->r.out);
	EXPECT_NE(NULL, strstr(t->r.out, "q quit")) TH_LOG("%s", t->r.out);

	/* keys: the selection moves down, sorts and the interval */
	ASSERT_EQ(0, tmux(t, "send-keys -t top Down"));
	snprintf(want, sizeof(want), "VM %d \"%s\": 3 faults", self->other.id, self->other_name);
	EXPECT_TRUE(tmux_wait_for(t, want)) TH_LOG("%s", t->r.out);
	ASSERT_EQ(0, tmux(t, "send-keys -t top r"));
	EXPECT_TRUE(tmux_wait_for(t, "sort by rate")) TH_LOG("%s", t->r.out);
	ASSERT_EQ(0, tmux(t, "send-keys -t top n"));
	EXPECT_TRUE(tmux_wait_for(t, "sort by id")) TH_LOG("%s", t->r.out);
	EXPECT_LT(strstr(t->r.out, self->name), strstr(t->r.out, self->other_name));
	ASSERT_EQ(0, tmux(t, "send-keys -t top c"));
	EXPECT_TRUE(tmux_wait_for(t, "latency of the last interval")) TH_LOG("%s", t->r.out);

	/* live: more faults show within a refresh or two, with a rate */
	ASSERT_EQ(FAULTS, workload_round(&self->w, 0));
	for (int i = 0; i < 100; i++) {
		tmux(t, "capture-pane -p -t top");
		if (has_row(t->r.out, self->w.id, self->name, 2 * FAULTS))
			break;
		usleep(100 * 1000);
	}
	EXPECT_TRUE(has_row(t->r.out, self->w.id, self->name, 2 * FAULTS)) TH_LOG("%s", t->r.out);

	ASSERT_EQ(0, tmux(t, "send-keys -t top q"));
	ASSERT_TRUE(tmux_wait_for(t, "top exited 0")) TH_LOG("%s", t->r.out);
	check_restored(_metadata, t);
}

TEST_F(top, ctrl_c_quits_clean)
{
	struct tmux *t = &self->t;

	if (!have_tmux())
		SKIP(return, "tmux is not installed ('make deps')");
	ASSERT_EQ(0, tmux_start(t, "pcram top -d 0.3" AFTER)) TH_LOG("%s", t->r.err);
	ASSERT_TRUE(tmux_wait_for(t, self->other_name)) TH_LOG("%s", t->r.out);
	ASSERT_EQ(0, tmux(t, "send-keys -t top C-c"));
	ASSERT_TRUE(tmux_wait_for(t, "top exited 0")) TH_LOG("%s", t->r.out);
	check_restored(_metadata, t);
}

/*
 * More VMs than rows: the table shows a window of them that follows the
 * selection, says which ones, and leaves the detail and the keys in view.
 */
TEST_F(top, scrolls_to_the_selected_vm)
{
	enum { MANY = 30 };
	int fd[MANY], uffd[MANY], id[MANY], first, last, total;
	struct tmux *t = &self->t;
	char name[32], want[128];
	const char *p;

	if (!have_tmux())
		SKIP(return, "tmux is not installed ('make deps')");
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "many-%02d", i);
		fd[i] = pcram_open();
		uffd[i] = uffd_open(0);
		ASSERT_LE(0, fd[i]);
		ASSERT_LE(0, uffd[i]);
		id[i] = pcram_attach(fd[i], uffd[i], name, 0);
		ASSERT_LT(0, id[i]);
	}
	ASSERT_EQ(0, tmux_start(t, "pcram top -d 0.3 -s id" AFTER)) TH_LOG("%s", t->r.err);
	ASSERT_EQ(0, tmux(t, "resize-window -t top -x 120 -y 24")) TH_LOG("%s", t->r.err);
	/* 24 rows: 4 for the header, heads and keys, 10 for the detail, 10 VMs */
	ASSERT_TRUE(tmux_wait_for(t, "; VMs 1-10 of ")) TH_LOG("%s", t->r.out);
	EXPECT_NE(NULL, strstr(t->r.out, self->name)) TH_LOG("%s", t->r.out);
	EXPECT_EQ(NULL, strstr(t->r.out, "many-29")) TH_LOG("%s", t->r.out);

	/* down past the end: the last VM, selected, at the bottom of the window */
	ASSERT_EQ(0, tmux(t, "send-keys -t top -N %d Down", MANY + 10));
	snprintf(want, sizeof(want), "VM %d \"many-29\": 0 faults", id[MANY - 1]);
	ASSERT_TRUE(tmux_wait_for(t, want)) TH_LOG("%s", t->r.out);
	p = strstr(t->r.out, "; VMs ");
	ASSERT_NE(NULL, p) TH_LOG("%s", t->r.out);
	ASSERT_EQ(3, sscanf(p, "; VMs %d-%d of %d", &first, &last, &total)) TH_LOG("%s", p);
	EXPECT_EQ(total, last);
	EXPECT_EQ(10, last - first + 1);
	EXPECT_LE(MANY + 2, total);
	EXPECT_TRUE(has_row(t->r.out, id[MANY - 1], "many-29", 0)) TH_LOG("%s", t->r.out);
	EXPECT_TRUE(has_row(t->r.out, id[MANY - 10], "many-20", 0)) TH_LOG("%s", t->r.out);
	EXPECT_EQ(NULL, strstr(t->r.out, "many-19")) TH_LOG("%s", t->r.out);
	EXPECT_EQ(NULL, strstr(t->r.out, self->name)) TH_LOG("%s", t->r.out);
	EXPECT_NE(NULL, strstr(t->r.out, "q quit")) TH_LOG("%s", t->r.out);

	/* and back up to the first */
	ASSERT_EQ(0, tmux(t, "send-keys -t top -N %d Up", MANY + 10));
	ASSERT_TRUE(tmux_wait_for(t, "; VMs 1-10 of ")) TH_LOG("%s", t->r.out);
	EXPECT_EQ(NULL, strstr(t->r.out, "many-29")) TH_LOG("%s", t->r.out);
	ASSERT_EQ(0, tmux(t, "send-keys -t top q"));
	EXPECT_TRUE(tmux_wait_for(t, "top exited 0")) TH_LOG("%s", t->r.out);
	for (int i = 0; i < MANY; i++) {
		close(fd[i]);
		close(uffd[i]);
	}
}

/* A narrower window: the view is drawn again to its width, not wrapped. */
TEST_F(top, redraws_on_resize)
{
	struct tmux *t = &self->t;
	char *third = NULL;

	if (!have_tmux())
		SKIP(return, "tmux is not installed ('make deps')");
	ASSERT_EQ(0, tmux_start(t, "pcram top -d 5" AFTER)) TH_LOG("%s", t->r.err);
	ASSERT_TRUE(tmux_wait_for(t, self->other_name)) TH_LOG("%s", t->r.out);
	ASSERT_EQ(0, tmux(t, "resize-window -t top -x 60 -y 20")) TH_LOG("%s", t->r.err);
	for (int i = 0; i < 100; i++) {
		usleep(50 * 1000);
		ASSERT_EQ(0, tmux(t, "capture-pane -p -t top"));
		third = strchr(t->r.out, '\n');
		if (third)
			third = strchr(third + 1, '\n');
		if (!strncmp(t->r.out, "pcram top - ", 12) && third &&
		    !strncmp(third + 1, "   ID NAME", 10))
			break;
	}
	EXPECT_EQ(0, strncmp(t->r.out, "pcram top - ", 12)) TH_LOG("%s", t->r.out);
	ASSERT_NE(NULL, third) TH_LOG("%s", t->r.out);
	EXPECT_EQ(0, strncmp(third + 1, "   ID NAME", 10)) TH_LOG("wrapped:\n%s", t->r.out);
	EXPECT_EQ(60, strcspn(t->r.out, "\n")) TH_LOG("%s", t->r.out);
	ASSERT_EQ(0, tmux(t, "send-keys -t top q"));
	EXPECT_TRUE(tmux_wait_for(t, "top exited 0")) TH_LOG("%s", t->r.out);
}

/* Not a terminal: frames of plain lines, no escape sequence. */
TEST_F(top, plain_output_when_not_a_terminal)
{
	struct cmd_result r;
	char *p;
	int frames = 0;

	ASSERT_EQ(0, run(&r, "pcram top -d 0.2 -n 3 -s id | cat")) TH_LOG("%s", r.err);
	for (p = r.out; (p = strstr(p, "pcram top - ")); p++)
		frames++;
	EXPECT_EQ(3, frames) TH_LOG("%s", r.out);
	EXPECT_EQ(NULL, strchr(r.out, '\033')) TH_LOG("%s", r.out);
	EXPECT_TRUE(has_row(r.out, self->w.id, self->name, FAULTS)) TH_LOG("%s", r.out);
	EXPECT_TRUE(has_row(r.out, self->other.id, self->other_name, 3)) TH_LOG("%s", r.out);
	/* -b on a terminal too; the last frame has rates */
	ASSERT_EQ(0, run(&r, "pcram top -b -d 0.2 -n 2 -s rate")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "sort by rate")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "      0.0 ")) TH_LOG("no rate: %s", r.out);
}

TEST(usage_errors)
{
	struct cmd_result r;

	EXPECT_EQ(2, run(&r, "pcram top -d 0"));
	EXPECT_NE(NULL, strstr(r.err, "-d takes seconds")) TH_LOG("%s", r.err);
	EXPECT_EQ(2, run(&r, "pcram top -s latency"));
	EXPECT_NE(NULL, strstr(r.err, "-s sorts by p99, rate or id")) TH_LOG("%s", r.err);
	EXPECT_EQ(2, run(&r, "pcram top -n 0"));
	EXPECT_EQ(2, run(&r, "pcram top extra"));
	EXPECT_NE(NULL, strstr(r.err, "usage: pcram top ")) TH_LOG("%s", r.err);
}

/* Without the module: the error on the normal screen, the terminal untouched. */
TEST(module_not_loaded_is_said)
{
	struct tmux t = { 0 };
	struct cmd_result r;

	if (pcram_loaded())
		SKIP(return, "pcram.ko is loaded (the host tests this)");
	EXPECT_EQ(1, run(&r, "pcram top -b -n 1"));
	EXPECT_NE(NULL, strstr(r.err, "pcram top: pcram.ko is not loaded")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "'pcram module load'")) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	if (!have_tmux())
		SKIP(return, "tmux is not installed ('make deps')");
	ASSERT_EQ(0, tmux_start(&t, "pcram top" AFTER)) TH_LOG("%s", t.r.err);
	EXPECT_TRUE(tmux_wait_for(&t, "top exited 1")) TH_LOG("%s", t.r.out);
	EXPECT_NE(NULL, strstr(t.r.out, "pcram top: pcram.ko is not loaded")) TH_LOG("%s", t.r.out);
	check_restored(_metadata, &t);
	tmux_stop(&t);
}

TEST_HARNESS_MAIN
