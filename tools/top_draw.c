// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram top's view: a header, a row per VM, and for the selected VM its
 * percentiles, its latency histogram as bars and its threads, as far as
 * the rows go; the keys on the last row.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "fmt.h"
#include "top.h"

static __attribute__((format(printf, 3, 4)))
void add(struct frame *f, bool reverse, const char *fmt, ...)
{
	va_list ap;

	if (f->n >= f->rows)
		return;
	va_start(ap, fmt);
	vsnprintf(f->line[f->n], sizeof(f->line[0]), fmt, ap);
	va_end(ap);
	f->reverse[f->n++] = reverse;
}

static const struct top_vm *selected(const struct top_state *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->vms[i].now.id == s->selected)
			return &s->vms[i];
	return NULL;
}

/* The VMs the table shows: s->vms[first, first + count). */
struct window {
	size_t first, count;
};

/*
 * Every VM, unless the full screen has too few rows for them beside the
 * selected VM's detail (up to 10 rows, at most half the room): then as
 * many as fit, scrolled so that the selected one is in view.
 */
static struct window table_window(const struct top_state *s, const struct frame *f,
				  bool full)
{
	int room = f->rows - 4;	/* two header lines, the column heads, the keys */
	int detail = room / 2 < 10 ? room / 2 : 10;
	const struct top_vm *v = selected(s);
	size_t fit, sel = v ? (size_t)(v - s->vms) : 0;
	struct window w = { 0, s->n };

	if (!full)
		return w;
	fit = room - detail > 1 ? (size_t)(room - detail) : 1;
	if (s->n <= fit)
		return w;
	w.count = fit;
	w.first = sel >= fit ? sel - fit + 1 : 0;
	return w;
}

/* A duration for a column: "-" when there is nothing to show. */
static const char *col_ns(char *buf, size_t len, uint64_t ns, bool known)
{
	return known ? human_ns(buf, len, ns) : "-";
}

static void header(const struct top_state *s, struct frame *f, const struct window *w)
{
	char shown[64] = "";

	const struct pcram_kmod_info *m = &s->info;

	add(f, false, "pcram top - pcram.ko %s, API %u, probe %s, %u VM%s, %" PRIu64
	    " faults missed, %" PRIu64 " samples dropped", m->version, m->api_version,
	    latency_probe_name(m->latency_probe), m->nr_vms, m->nr_vms == 1 ? "" : "s",
	    m->nmissed, m->events_dropped);
	if (w->count < s->n)
		snprintf(shown, sizeof(shown), "; VMs %zu-%zu of %zu", w->first + 1,
			 w->first + w->count, s->n);
	add(f, false, "every %.1fs, sort by %s, latency %s%s", s->delay,
	    top_sort_names[s->sort], s->interval ? "of the last interval" : "since attach",
	    shown);
}

static const char *state(const struct pcram_kmod_vm *vm)
{
	return !vm->attached ? "det" : vm->measured ? "on" : "att";
}

static void table(const struct top_state *s, struct frame *f, bool full,
		  const struct window *w)
{
	char p50[16], p99[16], max[16], blk[16];

	add(f, full, "%5s %-16s %-4s %9s %9s %9s %9s %10s %10s %7s", "ID", "NAME",
	    "ST", "FAULTS/S", "P50", "P99", "MAX", "FAULTS", "BLOCKED/S", "PID");
	for (size_t i = w->first; i < w->first + w->count; i++) {
		const struct top_vm *v = &s->vms[i];
		const struct pcram_hist *h = top_hist(s, v);
		bool any = h->count != 0;
		char rate[16];

		snprintf(rate, sizeof(rate), v->has_rate ? "%.1f" : "-", v->rate);
		add(f, full && v->now.id == s->selected,
		    "%5u %-16.16s %-4s %9s %9s %9s %9s %10" PRIu64 " %10s %7u",
		    v->now.id, v->now.name, state(&v->now), rate,
		    col_ns(p50, sizeof(p50), top_quantile(s, v, 0.50), any),
		    col_ns(p99, sizeof(p99), top_quantile(s, v, 0.99), any),
		    col_ns(max, sizeof(max), v->now.faults.max, v->now.faults.count),
		    v->now.faults.count,
		    col_ns(blk, sizeof(blk), (uint64_t)v->blocked_rate, v->has_rate),
		    v->now.kind == PCRAM_KMOD_VM_PROCESS ? v->now.pid : v->now.owner_pid);
	}
	if (!s->n)
		add(f, false, "      no VMs: no VMM has /dev/pcram open");
}

/* The selected VM's histogram, in the rows left (keeping the last for keys). */
static void detail(const struct top_state *s, struct frame *f, bool utf8)
{
	const struct top_vm *v = selected(s);
	const struct pcram_hist *h;
	char a[16], b[16], c[16], d[16];
	int lo, hi, room, width;
	uint64_t most;

	if (!v)
		return;
	h = top_hist(s, v);
	add(f, false, "%s", "");
	add(f, false, "VM %u \"%s\": %" PRIu64 " faults %s, p50 %s, p90 %s, p99 %s, "
	    "max %s; %" PRIu64 " batches, %" PRIu64 " pages", v->now.id, v->now.name,
	    h->count, s->interval ? "in the last interval" : "since attach",
	    col_ns(a, sizeof(a), top_quantile(s, v, 0.50), h->count),
	    col_ns(b, sizeof(b), top_quantile(s, v, 0.90), h->count),
	    col_ns(c, sizeof(c), top_quantile(s, v, 0.99), h->count),
	    col_ns(d, sizeof(d), v->now.faults.max, v->now.faults.count),
	    v->now.batch.batches, v->now.batch.pages);
	if (!hist_span(h->bucket, PCRAM_HIST_BUCKETS, &lo, &hi, &most))
		return;
	/* Too few rows for every bucket: the ones around the busiest. */
	room = f->rows - 1 - f->n;
	while (hi - lo + 1 > room && hi > lo) {
		if (h->bucket[lo] <= h->bucket[hi])
			lo++;
		else
			hi--;
	}
	width = f->cols - 26;
	if (width > 60)
		width = 60;
	if (width < 10)
		width = 10;
	for (int i = lo; i <= hi && room > 0; i++) {
		char row[1024];

		hist_row(row, sizeof(row), h->bucket[i], i, most, width, utf8 ? "\u2588" : "#");
		add(f, false, "  %s", row);
	}
	if (f->rows - 1 - f->n < 2 || !v->now.nr_threads)
		return;
	add(f, false, "  %-16s %8s %10s %12s %12s", "thread", "tid", "faults",
	    "blocked", "max");
	for (unsigned int i = 0; i < v->now.nr_threads && f->n < f->rows - 1; i++) {
		const struct pcram_kmod_thread *t = &v->now.threads[i];

		add(f, false, "  %-16s %8u %10" PRIu64 " %12s %12s", t->comm, t->tid,
		    t->faults, human_ns(a, sizeof(a), t->blocked_ns),
		    human_ns(b, sizeof(b), t->max_ns));
	}
}

void top_draw(const struct top_state *s, struct frame *f, bool full, bool utf8)
{
	struct window w = table_window(s, f, full);

	f->n = 0;
	header(s, f, &w);
	table(s, f, full, &w);
	if (!full)
		return;
	detail(s, f, utf8);
	/* the keys, on the last row */
	while (f->n < f->rows - 1)
		add(f, false, "%s", "");
	add(f, false, "q quit  p/r/n sort by p99/rate/id  s next sort  up/down select  "
	    "c latency since attach/last interval");
}
