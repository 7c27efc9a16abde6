// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram stat's table: the module in one line, then a block per VM with
 * its latency (percentiles and the histogram as bars), its threads (the
 * vCPUs that blocked longest) and its batches.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "fmt.h"
#include "stat.h"

static void module_line(FILE *out, const struct pcram_kmod_info *m)
{
	fprintf(out, "pcram.ko %s, API %u: %u VM%s, probe %s", m->version,
		m->api_version, m->nr_vms, m->nr_vms == 1 ? "" : "s",
		latency_probe_name(m->latency_probe));
	if (m->latency_probe_error)
		fprintf(out, " (%s)", strerror((int)m->latency_probe_error));
	fprintf(out, " (maxactive %u), %" PRIu64 " faults missed, %" PRIu64
		" samples dropped\n", m->maxactive, m->nmissed, m->events_dropped);
}

static void vm_head(FILE *out, const struct pcram_kmod_vm *vm)
{
	char when[64] = "";
	unsigned int bit;

	fprintf(out, "\nVM %u \"%s\": pid %u, %s", vm->id, vm->name, vm->owner_pid,
		vm->attached ? "attached" : "detached");
	if (vm->has_attach_time) {
		time_t t = (time_t)(vm->attach_time_ns / 1000000000ULL);
		struct tm tm;

		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(out, " (%s %s)", vm->attached ? "since" : "last attached", when);
	}
	fprintf(out, ", %s", vm->measured ? "measured" : "not measured");
	for (bit = 0; bit < 32; bit++) {
		const char *name = stat_attach_flag_name(bit);

		if (vm->attach_flags & (1U << bit))
			fprintf(out, ", %s", name ? name : "unknown flag");
	}
	fputc('\n', out);
}

static void latency(FILE *out, const struct pcram_kmod_vm *vm)
{
	const struct pcram_hist *h = &vm->faults;
	char a[32];
	int i;

	fprintf(out, "  faults      %" PRIu64 ", blocked %s in total\n", h->count,
		human_ns(a, sizeof(a), h->sum));
	if (!h->count)
		return;
	fprintf(out, "  latency    ");
	for (i = 0; i < STAT_QUANTILES; i++)
		fprintf(out, " p%g %s ", stat_quantiles[i] * 100,
			human_ns(a, sizeof(a), pcram_hist_quantile(h, stat_quantiles[i])));
	fprintf(out, " max %s ", human_ns(a, sizeof(a), h->max));
	fprintf(out, " mean %s\n", human_ns(a, sizeof(a), stat_mean_ns(h)));
	hist_bars(out, h->bucket, PCRAM_HIST_BUCKETS, "    ");
}

static void threads(FILE *out, const struct pcram_kmod_vm *vm)
{
	char a[32], b[32];
	unsigned int i;

	if (!vm->nr_threads)
		return;
	fprintf(out, "  %-16s %8s %10s %12s %12s\n", "thread", "tid", "faults",
		"blocked", "max");
	for (i = 0; i < vm->nr_threads; i++) {
		const struct pcram_kmod_thread *t = &vm->threads[i];

		fprintf(out, "  %-16s %8u %10" PRIu64 " %12s %12s\n", t->comm, t->tid,
			t->faults, human_ns(a, sizeof(a), t->blocked_ns),
			human_ns(b, sizeof(b), t->max_ns));
	}
}

static void batches(FILE *out, const struct pcram_kmod_batch *b)
{
	char a[32];

	if (!b->batches) {
		fprintf(out, "  batches     none\n");
		return;
	}
	fprintf(out, "  batches     %" PRIu64 " (%.1f ops each), %" PRIu64 " ops: %" PRIu64
		" pages (%s, %" PRIu64 " zero), %" PRIu64 " wakes, %" PRIu64
		" EEXIST, %" PRIu64 " errors\n", b->batches,
		(double)b->ops / (double)b->batches, b->ops, b->pages,
		human_bytes(a, sizeof(a), b->bytes), b->zero_pages, b->wakes,
		b->eexist, b->errors);
}

void stat_text(FILE *out, const struct stat_sample *s)
{
	size_t i;

	module_line(out, &s->info);
	if (!s->vms.n)
		fprintf(out, "no VMs: no VMM has /dev/pcram open\n");
	for (i = 0; i < s->vms.n; i++) {
		const struct pcram_kmod_vm *vm = &s->vms.vms[i];

		vm_head(out, vm);
		latency(out, vm);
		threads(out, vm);
		batches(out, &vm->batch);
	}
	fflush(out);
}
