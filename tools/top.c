// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram top: every VM, refreshed every -d seconds, full screen on a
 * terminal (keys: q or Ctrl-C quit, p/r/n/s sort, up/down select, c
 * switches the latency to the last interval), plain periodic output
 * when standard output is not one or with -b.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cli.h"
#include "term.h"
#include "top.h"

const char *const top_sort_names[NR_SORTS] = { "p99", "rate", "id" };

static volatile sig_atomic_t stop, resized;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	resized = 1;
}

const struct pcram_hist *top_hist(const struct top_state *s, const struct top_vm *vm)
{
	return s->interval ? &vm->interval : &vm->now.faults;
}

static const struct pcram_kmod_lhist *top_lhist(bool interval, const struct top_vm *vm)
{
	if (interval)
		return vm->has_interval_l ? &vm->interval_l : NULL;
	return vm->now.has_lhist ? &vm->now.lhist : NULL;
}

uint64_t top_quantile(const struct top_state *s, const struct top_vm *vm, double q)
{
	return kmod_fault_quantile(top_hist(s, vm), top_lhist(s->interval, vm), q);
}

/* @b less @a, bucket by bucket (0 where a reset made it go down): their sum. */
static uint64_t bucket_delta(uint64_t *d, const uint64_t *a, const uint64_t *b, int n)
{
	uint64_t sum = 0;

	for (int i = 0; i < n; i++) {
		d[i] = b[i] > a[i] ? b[i] - a[i] : 0;
		sum += d[i];
	}
	return sum;
}

/* What happened between @old and @now: rates and the interval's histogram. */
static void delta(struct top_vm *v, const struct pcram_kmod_vm *old, double secs)
{
	const struct pcram_hist *a = &old->faults, *b = &v->now.faults;

	memset(&v->interval, 0, sizeof(v->interval));
	memset(&v->interval_l, 0, sizeof(v->interval_l));
	v->has_interval_l = false;
	/* A reset (RESET_STATS) makes counts go down: no rate this time. */
	v->has_rate = secs > 0 && b->count >= a->count && b->sum >= a->sum;
	if (!v->has_rate)
		return;
	v->rate = (double)(b->count - a->count) / secs;
	v->blocked_rate = (double)(b->sum - a->sum) / secs;
	v->interval.count = bucket_delta(v->interval.bucket, a->bucket, b->bucket,
					 PCRAM_HIST_BUCKETS);
	v->interval.sum = b->sum - a->sum;
	/* the interval's own longest is not known: the all-time one bounds it */
	v->interval.max = b->max;
	v->has_interval_l = old->has_lhist && v->now.has_lhist;
	if (v->has_interval_l) {
		v->interval_l.count = bucket_delta(v->interval_l.bucket, old->lhist.bucket,
						   v->now.lhist.bucket, PCRAM_KMOD_LHIST_BUCKETS);
		v->interval_l.sum = v->interval.sum;
		v->interval_l.max = v->interval.max;
	}
}

static int by_id(const void *x, const void *y)
{
	const struct top_vm *a = x, *b = y;

	return (a->now.id > b->now.id) - (a->now.id < b->now.id);
}

static enum top_sort sort_key;
static bool sort_interval;

static double sort_value(const struct top_vm *v)
{
	const struct pcram_hist *h = sort_interval ? &v->interval : &v->now.faults;

	if (sort_key == SORT_RATE)
		return v->has_rate ? v->rate : -1;
	return h->count ? (double)kmod_fault_quantile(h, top_lhist(sort_interval, v), 0.99) : -1;
}

/* Largest first; ties and SORT_ID by id. */
static int by_key(const void *x, const void *y)
{
	const struct top_vm *a = x, *b = y;
	double va, vb;

	if (sort_key == SORT_ID)
		return by_id(x, y);
	va = sort_value(a);
	vb = sort_value(b);
	if (va != vb)
		return va < vb ? 1 : -1;
	return by_id(x, y);
}

static void sort_view(struct top_state *s)
{
	sort_key = s->sort;
	sort_interval = s->interval;
	qsort(s->vms, s->n, sizeof(*s->vms), by_key);
}

/* The VM at @pos in the view, after the selected one moves by @by. */
static void select_by(struct top_state *s, int by)
{
	size_t i = 0;
	long pos;

	if (!s->n)
		return;
	while (i < s->n && s->vms[i].now.id != s->selected)
		i++;
	pos = i == s->n ? 0 : (long)i + by;
	if (pos < 0)
		pos = 0;
	if (pos >= (long)s->n)
		pos = (long)s->n - 1;
	s->selected = s->vms[pos].now.id;
}

/* A new sample: every VM, with rates against the previous one. */
static int refresh(struct top_state *s, struct pcram_kmod *km, struct vm_list *list,
		   char *err, size_t errlen)
{
	uint64_t now = mono_ns();
	double secs = s->sampled_ns ? (double)(now - s->sampled_ns) / 1e9 : 0;
	struct top_vm *vms;
	size_t i, k = 0;
	int ret;

	ret = pcram_kmod_info(km, &s->info, sizeof(s->info));
	if (!ret)
		ret = vm_list_dump(km, list);
	if (ret) {
		snprintf(err, errlen, "%s", pcram_kmod_strerror(km));
		return ret;
	}
	vms = calloc(list->n ? list->n : 1, sizeof(*vms));
	if (!vms) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* The old view, by id, to match the dump (which comes in id order). */
	qsort(s->vms, s->n, sizeof(*s->vms), by_id);
	for (i = 0; i < list->n; i++) {
		vms[i].now = list->vms[i];
		while (k < s->n && s->vms[k].now.id < vms[i].now.id)
			k++;
		if (k < s->n && s->vms[k].now.id == vms[i].now.id)
			delta(&vms[i], &s->vms[k].now, secs);
	}
	free(s->vms);
	s->vms = vms;
	s->n = list->n;
	s->sampled_ns = now;
	sort_view(s);
	/* Keep the selected VM while it lives, else take the first. */
	for (i = 0; i < s->n && s->vms[i].now.id != s->selected; i++)
		;
	if (i == s->n)
		s->selected = s->n ? s->vms[0].now.id : 0;
	return 0;
}

/* Cut a line to @cols cells: a UTF-8 character is one cell. */
static size_t cut(const char *line, int cols, int *cells)
{
	size_t i;
	int n = 0;

	for (i = 0; line[i]; i++) {
		if (((unsigned char)line[i] & 0xc0) == 0x80)
			continue;
		if (n == cols)
			break;
		n++;
	}
	*cells = n;
	return i;
}

static void show_full(const struct frame *f)
{
	fputs("\033[H", stdout);
	for (int i = 0; i < f->n; i++) {
		int cells;
		size_t len = cut(f->line[i], f->cols, &cells);

		if (f->reverse[i])
			fputs("\033[7m", stdout);
		fwrite(f->line[i], 1, len, stdout);
		if (f->reverse[i])
			printf("%*s\033[m", f->cols - cells, "");
		/* no newline after the last row: it would scroll the screen */
		fputs(i + 1 < f->n ? "\033[K\r\n" : "\033[K", stdout);
	}
	fputs("\033[J", stdout);
	fflush(stdout);
}

static void show_plain(const struct frame *f)
{
	for (int i = 0; i < f->n; i++)
		printf("%s\n", f->line[i]);
	putchar('\n');
	fflush(stdout);
}

/* A key: true when it asks to quit. */
static bool key(struct top_state *s, int k)
{
	switch (k) {
	case 'q':
	case 'Q':
	case KEY_CTRL_C:
		return true;
	case 'p':
		s->sort = SORT_P99;
		break;
	case 'r':
		s->sort = SORT_RATE;
		break;
	case 'n':
		s->sort = SORT_ID;
		break;
	case 's':
		s->sort = (s->sort + 1) % NR_SORTS;
		break;
	case 'c':
		s->interval = !s->interval;
		break;
	case KEY_UP:
	case 'k':
		select_by(s, -1);
		return false;
	case KEY_DOWN:
	case 'j':
		select_by(s, 1);
		return false;
	case KEY_HOME:
	case KEY_PGUP:
		select_by(s, -(int)s->n);
		return false;
	case KEY_END:
	case KEY_PGDN:
		select_by(s, (int)s->n);
		return false;
	default:
		return false;
	}
	sort_view(s);
	return false;
}

struct top_opts {
	double delay;
	unsigned long count;	/* refreshes; 0: until quit */
	bool plain;
	enum top_sort sort;
};

static int parse_opts(int argc, char **argv, struct top_opts *o)
{
	static const struct option opts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "sort", required_argument, NULL, 's' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "batch", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c, i;

	while ((c = getopt_long(argc, argv, "d:s:n:bh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->delay = strtod(optarg, &end);
			if (*end || !(o->delay >= 0.1 && o->delay <= 3600))
				return fail_usage("top", "-d takes seconds from 0.1 to 3600, "
						  "not '%s'", optarg);
			break;
		case 's':
			for (i = 0; i < NR_SORTS && strcmp(optarg, top_sort_names[i]); i++)
				;
			if (i == NR_SORTS)
				return fail_usage("top", "-s sorts by p99, rate or id, not '%s'",
						  optarg);
			o->sort = i;
			break;
		case 'n':
			o->count = strtoul(optarg, &end, 10);
			if (*end || !o->count || optarg[0] == '-')
				return fail_usage("top", "-n takes a count of refreshes, "
						  "not '%s'", optarg);
			break;
		case 'b':
			o->plain = true;
			break;
		case 'h':
			usage("top", stdout);
			return -1;
		default:
			return usage("top", stderr);
		}
	}
	return optind < argc ? usage("top", stderr) : 0;
}

static void handle_signals(void)
{
	struct sigaction stop_sa = { .sa_handler = on_stop };
	struct sigaction winch_sa = { .sa_handler = on_winch };

	/* No SA_RESTART: a signal ends the wait for a key at once. */
	sigaction(SIGINT, &stop_sa, NULL);
	sigaction(SIGTERM, &stop_sa, NULL);
	sigaction(SIGHUP, &stop_sa, NULL);
	sigaction(SIGWINCH, &winch_sa, NULL);
}

int top_main(int argc, char **argv)
{
	struct top_opts o = { .delay = 1.0, .sort = SORT_P99 };
	struct top_state s = { 0 };
	struct vm_list list = { 0 };
	struct frame f = { 0 };
	struct pcram_kmod *km;
	unsigned long refreshes = 0;
	bool full, utf8 = false, quit = false;
	char err[512] = "";
	int ret;

	ret = parse_opts(argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (kmod_connect(&km, KMOD_API_VM, err, sizeof(err)))
		return fail("top", "%s", err);
	s.delay = o.delay;
	s.sort = o.sort;
	handle_signals();
	full = !o.plain && term_open() == 0;
	if (full)
		utf8 = term_utf8();
	while (!stop && !quit) {
		uint64_t due;

		ret = refresh(&s, km, &list, err, sizeof(err));
		if (ret)
			break;
		due = s.sampled_ns + (uint64_t)(o.delay * 1e9);
		do {
			term_size(&f.cols, &f.rows);
			if (!full)
				f.rows = 4 + (int)s.n;
			free(f.line);
			free(f.reverse);
			f.line = calloc((size_t)f.rows, sizeof(*f.line));
			f.reverse = calloc((size_t)f.rows, sizeof(*f.reverse));
			if (!f.line || !f.reverse) {
				snprintf(err, sizeof(err), "out of memory");
				ret = -ENOMEM;
				goto out;
			}
			top_draw(&s, &f, full, utf8);
			if (full) {
				show_full(&f);
			} else {
				show_plain(&f);
				break;
			}
			/* Keys until the next refresh, each redrawn at once. */
			for (;;) {
				uint64_t now = mono_ns();
				int k;

				if (stop || resized || now >= due)
					break;
				k = term_key((int)((due - now + 999999) / 1000000));
				if (k > 0) {
					quit = key(&s, k);
					break;
				}
			}
			resized = 0;
		} while (full && !quit && !stop && mono_ns() < due);
		if (++refreshes == o.count)
			break;
		if (!full)
			nap(o.delay, &stop);
	}
out:
	term_close();
	free(f.line);
	free(f.reverse);
	free(s.vms);
	vm_list_free(&list);
	pcram_kmod_free(km);
	return ret ? fail("top", "%s", err) : 0;
}
