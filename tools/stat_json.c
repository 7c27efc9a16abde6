// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram stat -j: one JSON object a sample, with the keys and units that
 * pcram(8) documents (times in ns, counts as plain numbers). Keys may be
 * added; one that changes its meaning or goes bumps "schema".
 */
#include <string.h>

#include "json.h"
#include "stat.h"

const double stat_quantiles[STAT_QUANTILES] = { 0.50, 0.90, 0.99 };
static const char *const quantile_keys[STAT_QUANTILES] = {
	"p50_ns", "p90_ns", "p99_ns"
};

uint64_t stat_mean_ns(const struct pcram_hist *h)
{
	return h->count ? h->sum / h->count : 0;
}

const char *stat_attach_flag_name(unsigned int bit)
{
	switch (1U << bit) {
	case PCRAM_KMOD_ATTACH_F_NO_LATENCY:
		return "no_latency";
	case PCRAM_KMOD_ATTACH_F_NO_EVENTS:
		return "no_events";
	default:
		return NULL;
	}
}

/* The largest value bucket i holds: 2^(i+1) - 1, which always fits. */
static uint64_t bucket_le(int i)
{
	return i < 63 ? (2ULL << i) - 1 : UINT64_MAX;
}

static void histogram(struct json *j, const char *key, const char *le_key,
		      const uint64_t *bucket, int n)
{
	json_open_array(j, key);
	for (int i = 0; i < n; i++) {
		if (!bucket[i])
			continue;
		json_open_object(j, NULL);
		json_u64(j, le_key, bucket_le(i));
		json_u64(j, "count", bucket[i]);
		json_close_object(j);
	}
	json_close_array(j);
}

void stat_json_probe(struct json *j, const struct pcram_kmod_info *m)
{
	json_string(j, "probe", latency_probe_name(m->latency_probe));
	json_string(j, "probe_error", m->latency_probe_error ?
		    strerror((int)m->latency_probe_error) : NULL);
	json_u64(j, "maxactive", m->maxactive);
	json_u64(j, "nmissed", m->nmissed);
	json_u64(j, "batch_max", m->batch_max);
	json_u64(j, "event_interval_ms", m->event_interval_ms);
	json_u64(j, "events_dropped", m->events_dropped);
}

static void module(struct json *j, const struct pcram_kmod_info *m)
{
	json_open_object(j, "module");
	json_string(j, "version", m->version);
	json_u64(j, "api_version", m->api_version);
	json_u64(j, "vms", m->nr_vms);
	stat_json_probe(j, m);
	json_close_object(j);
}

static void faults(struct json *j, const struct pcram_kmod_vm *vm)
{
	const struct pcram_hist *h = &vm->faults;

	json_open_object(j, "faults");
	json_u64(j, "count", h->count);
	json_u64(j, "blocked_ns", h->sum);
	json_u64(j, "max_ns", h->max);
	json_u64(j, "mean_ns", stat_mean_ns(h));
	for (int i = 0; i < STAT_QUANTILES; i++)
		json_u64(j, quantile_keys[i], pcram_hist_quantile(h, stat_quantiles[i]));
	json_u64(j, "nmissed", vm->nmissed);
	histogram(j, "histogram", "le_ns", h->bucket, PCRAM_HIST_BUCKETS);
	json_close_object(j);
}

static void threads(struct json *j, const struct pcram_kmod_vm *vm)
{
	json_open_array(j, "threads");
	for (unsigned int i = 0; i < vm->nr_threads; i++) {
		const struct pcram_kmod_thread *t = &vm->threads[i];

		json_open_object(j, NULL);
		json_u64(j, "tid", t->tid);
		json_string(j, "comm", t->comm);
		json_u64(j, "faults", t->faults);
		json_u64(j, "blocked_ns", t->blocked_ns);
		json_u64(j, "max_ns", t->max_ns);
		json_close_object(j);
	}
	json_close_array(j);
}

static void batch(struct json *j, const struct pcram_kmod_batch *b)
{
	json_open_object(j, "batch");
	json_u64(j, "batches", b->batches);
	json_u64(j, "ops", b->ops);
	json_u64(j, "pages", b->pages);
	json_u64(j, "bytes", b->bytes);
	json_u64(j, "zero_pages", b->zero_pages);
	json_u64(j, "wakes", b->wakes);
	json_u64(j, "eexist", b->eexist);
	json_u64(j, "errors", b->errors);
	histogram(j, "size_histogram", "le_ops", b->size_hist, PCRAM_KMOD_BATCH_HIST_BUCKETS);
	json_close_object(j);
}

static void vm(struct json *j, const struct pcram_kmod_vm *vm)
{
	json_open_object(j, NULL);
	json_u64(j, "id", vm->id);
	json_string(j, "name", vm->name);
	json_u64(j, "owner_pid", vm->owner_pid);
	json_bool(j, "attached", vm->attached);
	json_bool(j, "measured", vm->measured);
	if (vm->has_attach_time)
		json_u64(j, "attach_time_ns", vm->attach_time_ns);
	else
		json_null(j, "attach_time_ns");
	json_open_array(j, "attach_flags");
	for (unsigned int bit = 0; bit < 32; bit++) {
		char unknown[16];
		const char *name = stat_attach_flag_name(bit);

		if (!(vm->attach_flags & (1U << bit)))
			continue;
		snprintf(unknown, sizeof(unknown), "bit_%u", bit);
		json_string(j, NULL, name ? name : unknown);
	}
	json_close_array(j);
	faults(j, vm);
	threads(j, vm);
	batch(j, &vm->batch);
	json_close_object(j);
}

void stat_json(FILE *out, const struct stat_sample *s)
{
	struct json j;

	json_init(&j, out);
	json_open_object(&j, NULL);
	json_u64(&j, "schema", STAT_JSON_SCHEMA);
	json_u64(&j, "time_ns", s->time_ns);
	module(&j, &s->info);
	json_open_array(&j, "vms");
	for (size_t i = 0; i < s->vms.n; i++)
		vm(&j, &s->vms.vms[i]);
	json_close_array(&j);
	json_close_object(&j);
	json_finish(&j);
}
