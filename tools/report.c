// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The report of a migration, from the source's side, the destination's,
 * or both ('pcram demo'): text with a latency histogram drawn in terminal
 * bars, or JSON with the keys pcram(8) documents.
 */
#include <inttypes.h>
#include <string.h>

#include "fmt.h"
#include "json.h"
#include "migrate.h"

static const char *tracking_name(enum pcram_dirty_tracking t)
{
	switch (t) {
	case PCRAM_DIRTY_UFFD_WP_ASYNC:
		return "uffd-wp-async";
	case PCRAM_DIRTY_SOFT_DIRTY:
		return "soft-dirty";
	default:
		return "none";
	}
}

static uint64_t total_ns(const struct serve_report *s, const struct recv_report *r)
{
	if (r && r->end_ns > r->start_ns)
		return r->end_ns - r->start_ns;
	return s && s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;
}

/* VM stopped at the source .. running at the destination: both sides known. */
static int64_t downtime_ns(const struct serve_report *s, const struct recv_report *r)
{
	if (!s || !r || !s->st.stop_ns || !r->in.switchover_ns)
		return -1;
	return (int64_t)(r->in.switchover_ns - s->st.stop_ns);
}

static void text(FILE *out, const struct serve_report *s, const struct recv_report *r)
{
	char a[32], b[32], c[32];
	int64_t down = downtime_ns(s, r);
	uint64_t t = total_ns(s, r);

	if (r)
		fprintf(out, "migrated %" PRIu64 " MiB (%" PRIu64 " pages of %" PRIu64
			" KiB) in %s\n", r->bytes >> 20, r->pages, r->page_size >> 10,
			human_ns(a, sizeof(a), t));
	else if (s)
		fprintf(out, "served %" PRIu64 " MiB in %s\n",
			s->st.bytes_sent >> 20, human_ns(a, sizeof(a), t));
	if (down >= 0)
		fprintf(out, "  downtime      %s (source stopped -> destination running)\n",
			human_ns(a, sizeof(a), (uint64_t)down));
	if (s) {
		fprintf(out, "  precopy       %" PRIu64 " rounds, %" PRIu64 " pages, %" PRIu64
			" written again by the workload (%" PRIu64 " writes); dirty tracking: %s\n",
			s->st.precopy_rounds, s->st.pages_precopy, s->st.pages_dirtied, s->writes,
			tracking_name(s->st.dirty_tracking));
		fprintf(out, "  discards      %" PRIu64 " ranges in %" PRIu64 " commands\n",
			s->st.discard_ranges, s->st.discard_commands);
		fprintf(out, "  postcopy      pushed %" PRIu64 ", requested %" PRIu64
			" (%" PRIu64 " requests), zero %" PRIu64 " (sent as flags), resumes %" PRIu64
			"\n", s->st.pages_pushed, s->st.pages_requested, s->st.requests,
			s->st.zero_pages, s->st.resumes);
	} else if (r) {
		fprintf(out, "  pages         precopy %" PRIu64 ", bulk %" PRIu64 ", urgent %" PRIu64
			", zero %" PRIu64 ", discarded %" PRIu64 ", resumes %" PRIu64 "\n",
			r->in.pages_precopy, r->in.pages_bulk - r->in.pages_precopy,
			r->in.pages_urgent, r->in.zero_pages, r->in.discards, r->in.resumes);
	}
	if (r) {
		const struct pcram_hist *h = &r->dst.fault_to_placed;

		fprintf(out, "  faults        %" PRIu64 " (%" PRIu64 " requests), latency p50 %s"
			"  p99 %s  max %s\n", r->dst.faults, r->dst.requests,
			human_ns(a, sizeof(a), pcram_hist_quantile(h, 0.50)),
			human_ns(b, sizeof(b), pcram_hist_quantile(h, 0.99)),
			human_ns(c, sizeof(c), h->max));
		hist_bars(out, h->bucket, PCRAM_HIST_BUCKETS, "    ");
		for (unsigned int v = 0; v < r->vcpus; v++)
			fprintf(out, "  vCPU %-3u      blocked %-10s in %" PRIu64 " faults (max %s),"
				" %" PRIu64 " reads%s\n", v,
				human_ns(a, sizeof(a), r->vcpu[v].blocked_ns), r->vcpu[v].faults,
				human_ns(b, sizeof(b), r->vcpu[v].max_ns), r->vcpu[v].accesses,
				r->vcpu[v].sigbus ? ", ended by SIGBUS (a poisoned page)" : "");
		if (r->poisoned)
			fprintf(out, "  poisoned      %" PRIu64 " pages that never came\n",
				r->poisoned);
	}
	/* Only a run that succeeded says it; then every page was compared. */
	if (r && !r->ret && !r->verify)
		fprintf(out, "verified: no (--no-verify)\n");
	else if (r && !r->ret)
		fprintf(out, "verified: %" PRIu64 " pages equal\n", r->in.verified_equal);
	else if (s && !s->ret && !s->st.verified_equal && !s->st.verified_differ)
		fprintf(out, "verified: no (the destination sent no checksums)\n");
	else if (s && !s->ret)
		fprintf(out, "verified: %" PRIu64 " of %" PRIu64 " pages equal, %" PRIu64
			" differ\n", s->st.verified_equal, s->pages, s->st.verified_differ);
}

static void js(FILE *out, const struct serve_report *s, const struct recv_report *r)
{
	struct json j;
	int64_t down = downtime_ns(s, r);

	json_init(&j, out);
	json_open_object(&j, NULL);
	json_bool(&j, "ok", !(s && s->ret) && !(r && r->ret));
	if ((s && s->ret) || (r && r->ret))
		json_string(&j, "error", r && r->ret ? r->error : s->error);
	json_u64(&j, "total_ms", total_ns(s, r) / 1000000);
	if (down >= 0)
		json_u64(&j, "downtime_us", (uint64_t)down / 1000);
	if (r) {
		const struct pcram_hist *h = &r->dst.fault_to_placed;

		json_u64(&j, "pages", r->pages);
		json_u64(&j, "page_size", r->page_size);
		json_u64(&j, "bytes", r->bytes);
		json_u64(&j, "verified", r->ret ? 0 : r->in.verified_equal);
		json_u64(&j, "faults", r->dst.faults);
		json_u64(&j, "fault_p50_ns", pcram_hist_quantile(h, 0.50));
		json_u64(&j, "fault_p99_ns", pcram_hist_quantile(h, 0.99));
		json_u64(&j, "fault_max_ns", h->max);
		json_u64(&j, "pages_precopy_received", r->in.pages_precopy);
		json_u64(&j, "pages_urgent", r->in.pages_urgent);
		json_u64(&j, "pages_bulk", r->in.pages_bulk);
		json_u64(&j, "resumes", r->in.resumes);
		json_u64(&j, "poisoned", r->poisoned);
		json_u64(&j, "fault_latency_samples", h->count);
		json_open_array(&j, "fault_histogram");
		for (int i = 0; i < PCRAM_HIST_BUCKETS; i++) {
			if (!h->bucket[i])
				continue;
			json_open_object(&j, NULL);
			json_u64(&j, "lt_ns", 2ULL << i);
			json_u64(&j, "count", h->bucket[i]);
			json_close_object(&j);
		}
		json_close_array(&j);
		json_open_array(&j, "vcpus");
		for (unsigned int v = 0; v < r->vcpus; v++) {
			json_open_object(&j, NULL);
			json_u64(&j, "vcpu", v);
			json_u64(&j, "reads", r->vcpu[v].accesses);
			json_u64(&j, "faults", r->vcpu[v].faults);
			json_u64(&j, "blocked_ns", r->vcpu[v].blocked_ns);
			json_u64(&j, "max_ns", r->vcpu[v].max_ns);
			json_bool(&j, "sigbus", r->vcpu[v].sigbus);
			json_close_object(&j);
		}
		json_close_array(&j);
	}
	if (s) {
		json_open_object(&j, "source");
		json_u64(&j, "pages_pushed", s->st.pages_pushed);
		json_u64(&j, "pages_requested", s->st.pages_requested);
		json_u64(&j, "zero_pages", s->st.zero_pages);
		json_u64(&j, "requests", s->st.requests);
		json_u64(&j, "precopy_rounds", s->st.precopy_rounds);
		json_u64(&j, "pages_precopy", s->st.pages_precopy);
		json_u64(&j, "pages_dirtied", s->st.pages_dirtied);
		json_u64(&j, "workload_writes", s->writes);
		json_u64(&j, "discard_ranges", s->st.discard_ranges);
		json_u64(&j, "discard_commands", s->st.discard_commands);
		json_string(&j, "dirty_tracking", tracking_name(s->st.dirty_tracking));
		json_u64(&j, "resumes", s->st.resumes);
		json_u64(&j, "verified_equal", s->st.verified_equal);
		json_u64(&j, "verified_differ", s->st.verified_differ);
		json_close_object(&j);
		if (!r)
			json_u64(&j, "verified", s->ret ? 0 : s->st.verified_equal);
	}
	json_close_object(&j);
	json_finish(&j);
}

void report_print(FILE *out, bool json, const struct serve_report *src,
		  const struct recv_report *in)
{
	if (json)
		js(out, src, in);
	else
		text(out, src, in);
}
