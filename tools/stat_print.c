// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram stat's table and its JSON (-j), from one printer: the module in
 * a line, then a block per VM with its latency (percentiles, and the
 * histogram as bars), its threads (the vCPUs that blocked longest) and
 * its batches. The JSON has the keys and units pcram(8) documents (times
 * in ns, counts as plain numbers); keys may be added, and one that
 * changes its meaning or goes bumps "schema".
 */
#include <inttypes.h>
#include <string.h>

#include "output.h"
#include "stat.h"

const double stat_quantiles[STAT_QUANTILES] = { 0.50, 0.90, 0.99 };
static const char *const quantile_keys[STAT_QUANTILES] = {
	"p50_ns", "p90_ns", "p99_ns"
};
static const char *const quantile_formats[STAT_QUANTILES] = {
	" p50 %s ", " p90 %s ", " p99 %s "
};

uint64_t stat_mean_ns(const struct pcram_hist *h)
{
	return h->count ? h->sum / h->count : 0;
}

const char *stat_attach_flag_name(unsigned int bit)
{
	switch (1ULL << bit) {
	case PCRAM_KMOD_ATTACH_F_NO_LATENCY:
		return "no_latency";
	case PCRAM_KMOD_ATTACH_F_NO_EVENTS:
		return "no_events";
	default:
		return NULL;
	}
}

void stat_attach_flags(struct output *o, uint32_t flags, const char *sep)
{
	out_names(o, "attach_flags", flags, stat_attach_flag_name, "bit_%u", sep);
}

void stat_print_probe(struct output *o, const struct pcram_kmod_info *m)
{
	out_string(o, OUT_ANY, "probe", "probe %s", latency_probe_name(m->latency_probe));
	out_string(o, OUT_ANY, "probe_error", " (%s)",
		   m->latency_probe_error ? strerror((int)m->latency_probe_error) : NULL);
	out_u64(o, OUT_ANY, "maxactive", ", maxactive %" PRIu64, m->maxactive);
	out_u64(o, OUT_ANY, "nmissed", ", %" PRIu64 " faults missed", m->nmissed);
	out_u64(o, OUT_ANY, "event_interval_ms", "; fault events every %" PRIu64 " ms",
		m->event_interval_ms);
	out_u64(o, OUT_ANY, "events_dropped", ", %" PRIu64 " dropped", m->events_dropped);
	out_u64(o, OUT_ANY, "batch_max", "; batches of up to %" PRIu64 " ops", m->batch_max);
}

static void module(struct output *o, const struct stat_sample *s)
{
	const struct pcram_kmod_info *m = &s->info;

	out_open_object(o, "module");
	out_string(o, OUT_ANY, "version", "pcram.ko %s", m->version);
	out_u64(o, OUT_ANY, "api_version", ", API %" PRIu64, m->api_version);
	out_u64(o, OUT_ANY, "vms", m->nr_vms == 1 ? ": %" PRIu64 " VM, " : ": %" PRIu64 " VMs, ",
		m->nr_vms);
	stat_print_probe(o, m);
	out_close_object(o);
	out_time(o, OUT_ANY, "time_ns", "; at %s", s->time_ns, true);
	out_nl(o);
}

static void vm_head(struct output *o, const struct pcram_kmod_vm *vm)
{
	out_u64(o, OUT_ANY, "id", "\nVM %" PRIu64, vm->id);
	out_string(o, OUT_ANY, "name", " \"%s\"", vm->name);
	out_text(o, ":");
	/* The text names a process VM by its process; a uffd VM has none. */
	out_string(o, OUT_JSON, "kind", NULL, vm_kind_name(vm->kind));
	out_u64(o, vm->kind == PCRAM_KMOD_VM_PROCESS ? OUT_ANY : OUT_JSON, "pid",
		" process %" PRIu64 ",", vm->pid);
	out_u64(o, OUT_ANY, "owner_pid", " pid %" PRIu64, vm->owner_pid);
	out_bool(o, OUT_ANY, "attached", ", %s", vm->attached, "attached", "detached");
	out_time(o, OUT_ANY, "attach_time_ns", vm->attached ? " (since %s)" : " (last attached %s)",
		 vm->attach_time_ns, vm->has_attach_time);
	out_bool(o, OUT_ANY, "measured", ", %s", vm->measured, "measured", "not measured");
	out_text(o, "%s", vm->attach_flags ? ", " : "");
	stat_attach_flags(o, vm->attach_flags, ", ");
	out_nl(o);
}

static void faults(struct output *o, const struct pcram_kmod_vm *vm)
{
	const struct pcram_hist *h = &vm->faults;
	/* Without faults the table says so in its first line, and no more. */
	enum out_kind some = h->count ? OUT_ANY : OUT_JSON;

	out_open_object(o, "faults");
	out_u64(o, OUT_ANY, "count", "  faults      %" PRIu64, h->count);
	out_ns(o, OUT_ANY, "blocked_ns", ", blocked %s in total", h->sum);
	out_u64(o, OUT_ANY, "nmissed", ", %" PRIu64 " missed\n", vm->nmissed);
	out_text(o, "%s", h->count ? "  latency    " : "");
	for (int i = 0; i < STAT_QUANTILES; i++)
		out_ns(o, some, quantile_keys[i], quantile_formats[i],
		       vm_fault_quantile(vm, stat_quantiles[i]));
	out_ns(o, some, "max_ns", " max %s ", h->max);
	out_ns(o, some, "mean_ns", " mean %s\n", stat_mean_ns(h));
	out_hist_ns(o, "histogram", "le_ns", true, h->bucket, PCRAM_HIST_BUCKETS, "    ");
	out_close_object(o);
}

static void threads(struct output *o, const struct pcram_kmod_vm *vm)
{
	if (vm->nr_threads)
		out_text(o, "  %-16s %8s %10s %12s %12s\n", "thread", "tid", "faults",
			 "blocked", "max");
	out_open_array(o, "threads");
	for (unsigned int i = 0; i < vm->nr_threads; i++) {
		const struct pcram_kmod_thread *t = &vm->threads[i];

		out_open_object(o, NULL);
		out_string(o, OUT_ANY, "comm", "  %-16s", t->comm);
		out_u64(o, OUT_ANY, "tid", " %8" PRIu64, t->tid);
		out_u64(o, OUT_ANY, "faults", " %10" PRIu64, t->faults);
		out_ns(o, OUT_ANY, "blocked_ns", " %12s", t->blocked_ns);
		out_ns(o, OUT_ANY, "max_ns", " %12s\n", t->max_ns);
		out_close_object(o);
	}
	out_close_array(o);
}

static void batch_sizes(struct output *o, const struct pcram_kmod_batch *b, enum out_kind some)
{
	const char *sep = "  sizes       ";

	out_open_array(o, "size_histogram");
	for (int i = 0; i < PCRAM_KMOD_BATCH_HIST_BUCKETS; i++) {
		if (!b->size_hist[i])
			continue;
		out_open_object(o, NULL);
		out_text(o, "%s", sep);
		/* The most the bucket holds: 2^(i+1) - 1 ops. */
		out_u64(o, some, "le_ops", "<=%" PRIu64 " ops: ", (2ULL << i) - 1);
		out_u64(o, some, "count", "%" PRIu64, b->size_hist[i]);
		out_close_object(o);
		sep = ", ";
	}
	out_close_array(o);
	out_text(o, "%s", b->batches ? "\n" : "");
}

static void batch(struct output *o, const struct pcram_kmod_batch *b)
{
	/* Without batches the table says "none", and no more. */
	enum out_kind some = b->batches ? OUT_ANY : OUT_JSON;

	out_open_object(o, "batch");
	out_text(o, "  batches     %s", b->batches ? "" : "none\n");
	out_u64(o, some, "batches", "%" PRIu64, b->batches);
	if (b->batches)
		out_text(o, " (%.1f ops each)", (double)b->ops / (double)b->batches);
	out_u64(o, some, "ops", ", %" PRIu64 " ops", b->ops);
	out_u64(o, some, "pages", ": %" PRIu64 " pages", b->pages);
	out_bytes(o, some, "bytes", " (%s", b->bytes);
	out_u64(o, some, "zero_pages", ", %" PRIu64 " zero)", b->zero_pages);
	out_u64(o, some, "wakes", ", %" PRIu64 " wakes", b->wakes);
	out_u64(o, some, "eexist", ", %" PRIu64 " EEXIST", b->eexist);
	out_u64(o, some, "errors", ", %" PRIu64 " errors\n", b->errors);
	batch_sizes(o, b, some);
	out_close_object(o);
}

static void vm(struct output *o, const struct pcram_kmod_vm *vm)
{
	out_open_object(o, NULL);
	vm_head(o, vm);
	faults(o, vm);
	threads(o, vm);
	batch(o, &vm->batch);
	out_close_object(o);
}

void stat_print(struct output *o, const struct stat_sample *s)
{
	out_open_object(o, NULL);
	out_u64(o, OUT_JSON, "schema", NULL, STAT_JSON_SCHEMA);
	module(o, s);
	if (!s->vms.n)
		out_text(o, "no VMs: no VMM has /dev/pcram open\n");
	out_open_array(o, "vms");
	for (size_t i = 0; i < s->vms.n; i++)
		vm(o, &s->vms.vms[i]);
	out_close_array(o);
	out_close_object(o);
}
