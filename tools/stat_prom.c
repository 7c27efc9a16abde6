// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram stat --prometheus: the Prometheus text exposition format, 0.0.4.
 * Per Prometheus' conventions times are in seconds (the kernel's ns,
 * written as exact decimals), counters end in _total, every family has
 * HELP and TYPE lines and its samples together, and each VM's series
 * carry the labels vm (its id) and name.
 */
#include <inttypes.h>
#include <string.h>

#include "stat.h"

/*
 * The fault latency buckets: the kernel's log2 buckets 9 to 35, whose
 * upper bounds run from 1.023 us to 68.7 s. Buckets are cumulative, so
 * those below fold into the first and those above into +Inf; a fixed set
 * keeps every VM's series alike, as Prometheus' histogram_quantile wants.
 */
#define PROM_BUCKET_FIRST 9
#define PROM_BUCKET_LAST 35

/* ns as seconds, exactly: 1023 -> "0.000001023", 5000000000 -> "5". */
static const char *seconds(char *buf, size_t len, uint64_t ns)
{
	char *p;

	snprintf(buf, len, "%" PRIu64 ".%09" PRIu64, ns / 1000000000,
		 ns % 1000000000);
	p = buf + strlen(buf) - 1;
	while (*p == '0')
		*p-- = '\0';
	if (*p == '.')
		*p = '\0';
	return buf;
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* "name{vm="1",name="x"" without the closing brace, for more labels. */
static void vm_series(FILE *out, const char *name, const struct pcram_kmod_vm *vm)
{
	fprintf(out, "%s{vm=\"%u\",name=\"", name, vm->id);
	label_value(out, vm->name);
	fputc('"', out);
}

static void module(FILE *out, const struct pcram_kmod_info *m)
{
	char s[32];

	family(out, "pcram_module_info", "gauge",
	       "pcram.ko's version and API version, as labels; always 1.");
	fprintf(out, "pcram_module_info{version=\"");
	label_value(out, m->version);
	fprintf(out, "\",api_version=\"%u\"} 1\n", m->api_version);
	family(out, "pcram_vms", "gauge", "VM contexts open (files of /dev/pcram).");
	fprintf(out, "pcram_vms %u\n", m->nr_vms);
	family(out, "pcram_probe_enabled", "gauge",
	       "1 when the fault-latency probe measures faults, 0 when it is off "
	       "or unavailable.");
	fprintf(out, "pcram_probe_enabled %d\n", m->latency_probe == PCRAM_KMOD_LATENCY_PROBE_ON);
	family(out, "pcram_probe_maxactive", "gauge",
	       "Faulting threads the probe can follow at once (maxactive).");
	fprintf(out, "pcram_probe_maxactive %u\n", m->maxactive);
	family(out, "pcram_probe_missed_faults_total", "counter",
	       "Faults the probe could not measure since the module was loaded, "
	       "of every VM.");
	fprintf(out, "pcram_probe_missed_faults_total %" PRIu64 "\n", m->nmissed);
	family(out, "pcram_event_interval_seconds", "gauge",
	       "Least time between two sampled fault events of one VM "
	       "(event_interval_ms); 0 sends none.");
	fprintf(out, "pcram_event_interval_seconds %s\n",
		seconds(s, sizeof(s), m->event_interval_ms * 1000000ULL));
	family(out, "pcram_event_samples_dropped_total", "counter",
	       "Sampled fault events dropped because the module's queue was full.");
	fprintf(out, "pcram_event_samples_dropped_total %" PRIu64 "\n", m->events_dropped);
}

/* A gauge or counter with one sample per VM. */
struct vm_metric {
	const char *name, *type, *help;
	uint64_t (*value)(const struct pcram_kmod_vm *vm);
	bool ns;	/* the value is ns, written as seconds */
};

static uint64_t v_attached(const struct pcram_kmod_vm *vm) { return vm->attached; }
static uint64_t v_measured(const struct pcram_kmod_vm *vm) { return vm->measured; }
static uint64_t v_max(const struct pcram_kmod_vm *vm) { return vm->faults.max; }
static uint64_t v_batches(const struct pcram_kmod_vm *vm) { return vm->batch.batches; }
static uint64_t v_ops(const struct pcram_kmod_vm *vm) { return vm->batch.ops; }
static uint64_t v_pages(const struct pcram_kmod_vm *vm) { return vm->batch.pages; }
static uint64_t v_bytes(const struct pcram_kmod_vm *vm) { return vm->batch.bytes; }
static uint64_t v_zero(const struct pcram_kmod_vm *vm) { return vm->batch.zero_pages; }
static uint64_t v_wakes(const struct pcram_kmod_vm *vm) { return vm->batch.wakes; }
static uint64_t v_eexist(const struct pcram_kmod_vm *vm) { return vm->batch.eexist; }
static uint64_t v_errors(const struct pcram_kmod_vm *vm) { return vm->batch.errors; }

static const struct vm_metric vm_metrics[] = {
	{ "pcram_vm_attached", "gauge", "1 when the VM is attached to a userfaultfd.",
	  v_attached, false },
	{ "pcram_vm_measured", "gauge", "1 when the VM's faults are being measured.",
	  v_measured, false },
	{ "pcram_fault_latency_max_seconds", "gauge",
	  "The longest a fault of the VM blocked.", v_max, true },
	{ "pcram_batches_total", "counter", "PCRAM_IOC_BATCH calls run.",
	  v_batches, false },
	{ "pcram_batch_ops_total", "counter", "Batch ops run.", v_ops, false },
	{ "pcram_batch_pages_total", "counter",
	  "Base pages (4 KiB on x86) placed by batches.", v_pages, false },
	{ "pcram_batch_bytes_total", "counter", "Bytes placed by batches.",
	  v_bytes, false },
	{ "pcram_batch_zero_pages_total", "counter",
	  "Base pages placed by ZEROPAGE ops.", v_zero, false },
	{ "pcram_batch_wakes_total", "counter", "UFFDIO_WAKE calls batches made.",
	  v_wakes, false },
	{ "pcram_batch_eexist_ops_total", "counter",
	  "Batch ops that found their page there already (EEXIST).", v_eexist, false },
	{ "pcram_batch_failed_ops_total", "counter",
	  "Batch ops that failed otherwise.", v_errors, false },
};

/* The attach flags as one label value, named as the table and JSON name them. */
static void attach_flags(FILE *out, uint32_t flags)
{
	const char *sep = "";

	for (unsigned int bit = 0; bit < 32; bit++) {
		const char *name = stat_attach_flag_name(bit);

		if (!(flags & (1U << bit)))
			continue;
		if (name)
			fprintf(out, "%s%s", sep, name);
		else
			fprintf(out, "%sbit_%u", sep, bit);
		sep = ",";
	}
}

static void vm_info(FILE *out, const struct vm_list *vms)
{
	family(out, "pcram_vm_info", "gauge",
	       "A VM, with its kind (uffd or process), the process it measures (pid, "
	       "process VMs), the process that attached it and its attach flags; "
	       "always 1.");
	for (size_t i = 0; i < vms->n; i++) {
		vm_series(out, "pcram_vm_info", &vms->vms[i]);
		fprintf(out, ",kind=\"%s\",pid=\"%u\",owner_pid=\"%u\",attach_flags=\"",
			vm_kind_name(vms->vms[i].kind), vms->vms[i].pid, vms->vms[i].owner_pid);
		attach_flags(out, vms->vms[i].attach_flags);
		fputs("\"} 1\n", out);
	}
	family(out, "pcram_vm_attach_timestamp_seconds", "gauge",
	       "When the VM was last attached, in seconds since the epoch.");
	for (size_t i = 0; i < vms->n; i++) {
		char s[32];

		if (!vms->vms[i].has_attach_time)
			continue;
		vm_series(out, "pcram_vm_attach_timestamp_seconds", &vms->vms[i]);
		fprintf(out, "} %s\n", seconds(s, sizeof(s), vms->vms[i].attach_time_ns));
	}
}

static void vm_metric(FILE *out, const struct vm_metric *m, const struct vm_list *vms)
{
	char s[32];

	family(out, m->name, m->type, m->help);
	for (size_t i = 0; i < vms->n; i++) {
		uint64_t v = m->value(&vms->vms[i]);

		vm_series(out, m->name, &vms->vms[i]);
		if (m->ns)
			fprintf(out, "} %s\n", seconds(s, sizeof(s), v));
		else
			fprintf(out, "} %" PRIu64 "\n", v);
	}
}

/* A family whose samples @series writes for each VM in turn. */
static void vm_family(FILE *out, const struct vm_list *vms, const char *name, const char *type,
		      const char *help,
		      void (*series)(FILE *out, const char *name, const struct pcram_kmod_vm *vm))
{
	family(out, name, type, help);
	for (size_t i = 0; i < vms->n; i++)
		series(out, name, &vms->vms[i]);
}

/* @name's _sum (ns, as seconds) and _count samples of @vm. */
static void sum_count(FILE *out, const char *name, const struct pcram_kmod_vm *vm,
		      uint64_t sum_ns, uint64_t count)
{
	char s[32], series[64];

	snprintf(series, sizeof(series), "%s_sum", name);
	vm_series(out, series, vm);
	fprintf(out, "} %s\n", seconds(s, sizeof(s), sum_ns));
	snprintf(series, sizeof(series), "%s_count", name);
	vm_series(out, series, vm);
	fprintf(out, "} %" PRIu64 "\n", count);
}

/*
 * _count and the +Inf bucket are the sum of the buckets, not the count
 * attribute: the kernel reads each without stopping the faults, and a
 * histogram whose +Inf bucket were not its largest would be invalid.
 */
static void latency(FILE *out, const char *name, const struct pcram_kmod_vm *vm)
{
	uint64_t cum = 0;
	char s[32];

	for (int b = 0; b < PCRAM_HIST_BUCKETS; b++) {
		cum += vm->faults.bucket[b];
		if (b < PROM_BUCKET_FIRST || b > PROM_BUCKET_LAST)
			continue;
		vm_series(out, "pcram_fault_latency_seconds_bucket", vm);
		fprintf(out, ",le=\"%s\"} %" PRIu64 "\n",
			seconds(s, sizeof(s), (2ULL << b) - 1), cum);
	}
	vm_series(out, "pcram_fault_latency_seconds_bucket", vm);
	fprintf(out, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
	sum_count(out, name, vm, vm->faults.sum, cum);
}

/*
 * The module's own quantiles of a VM, as a summary: from its log-linear
 * histogram, within 3.125% of the exact ones (histogram_quantile over the
 * log2 buckets above can be off by half a power of two). Since attach,
 * as stat shows them; a VM of a module older than API 3 has none.
 */
static void quantiles(FILE *out, const char *name, const struct pcram_kmod_vm *vm)
{
	static const double q[] = { 0.5, 0.9, 0.99, 0.999 };
	char s[32];

	if (!vm->has_lhist)
		return;
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		/* Without faults a quantile is not a number. */
		vm_series(out, name, vm);
		fprintf(out, ",quantile=\"%g\"} %s\n", q[i], vm->lhist.count ?
			seconds(s, sizeof(s), pcram_kmod_lhist_quantile(&vm->lhist, q[i])) : "NaN");
	}
	sum_count(out, name, vm, vm->lhist.sum, vm->lhist.count);
}

/* A thread's series: its VM's labels, and its tid and comm. */
static void thread_series(FILE *out, const char *name, const struct pcram_kmod_vm *vm,
			  const struct pcram_kmod_thread *t)
{
	vm_series(out, name, vm);
	fprintf(out, ",tid=\"%u\",comm=\"", t->tid);
	label_value(out, t->comm);
	fputs("\"} ", out);
}

static void threads(FILE *out, const struct vm_list *vms)
{
	static const char *const names[] = {
		"pcram_thread_faults_total",
		"pcram_thread_blocked_seconds_total",
		"pcram_thread_fault_latency_max_seconds",
	};
	static const char *const types[] = { "counter", "counter", "gauge" };
	static const char *const helps[] = {
		"Faults of one thread (a vCPU) of the VM; the VM keeps the threads "
		"that blocked longest.",
		"How long one thread of the VM blocked in faults, in total.",
		"The longest one fault of the thread blocked.",
	};
	char s[32];

	for (int m = 0; m < 3; m++) {
		family(out, names[m], types[m], helps[m]);
		for (size_t i = 0; i < vms->n; i++) {
			const struct pcram_kmod_vm *vm = &vms->vms[i];

			for (unsigned int k = 0; k < vm->nr_threads; k++) {
				const struct pcram_kmod_thread *t = &vm->threads[k];

				thread_series(out, names[m], vm, t);
				if (m == 0)
					fprintf(out, "%" PRIu64 "\n", t->faults);
				else
					fprintf(out, "%s\n", seconds(s, sizeof(s), m == 1 ?
								     t->blocked_ns : t->max_ns));
			}
		}
	}
}

void stat_prom(FILE *out, const struct stat_sample *s)
{
	module(out, &s->info);
	if (s->vms.n) {
		vm_info(out, &s->vms);
		vm_family(out, &s->vms, "pcram_fault_latency_seconds", "histogram",
			  "How long the VM's threads blocked in userfaultfd faults, from "
			  "the kernel's log2 histogram.", latency);
		vm_family(out, &s->vms, "pcram_fault_latency_quantile_seconds", "summary",
			  "Quantiles of how long the VM's threads blocked in userfaultfd "
			  "faults, from the kernel's log-linear histogram (within 3.125%).",
			  quantiles);
		for (size_t m = 0; m < sizeof(vm_metrics) / sizeof(vm_metrics[0]); m++)
			vm_metric(out, &vm_metrics[m], &s->vms);
		threads(out, &s->vms);
	}
	fflush(out);
}
