// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The report of a migration, from the source's side, the destination's,
 * or both ('pcram demo'): text with a latency histogram drawn in terminal
 * bars, or JSON with the keys pcram(8) documents, from one printer.
 */
#include <inttypes.h>
#include <string.h>

#include "fmt.h"
#include "migrate.h"
#include "output.h"

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

/* "12 MiB", "4 KiB": a unit's whole count, as the report's first line has it. */
static const char *whole(char *buf, size_t len, uint64_t v, unsigned int shift)
{
	snprintf(buf, len, "%" PRIu64, v >> shift);
	return buf;
}

/* The first line: what moved, and how long it took. */
static void headline(struct output *o, const struct serve_report *s,
		     const struct recv_report *r)
{
	uint64_t t = total_ns(s, r);
	char a[32], b[32];

	if (r) {
		out_u64_as(o, OUT_ANY, "bytes", "migrated %s MiB", r->bytes,
			   whole(a, sizeof(a), r->bytes, 20));
		out_u64(o, OUT_ANY, "pages", " (%" PRIu64 " pages", r->pages);
		out_u64_as(o, OUT_ANY, "page_size", " of %s KiB)", r->page_size,
			   whole(b, sizeof(b), r->page_size, 10));
	} else {
		out_text(o, "served %s MiB", whole(a, sizeof(a), s->st.bytes_sent, 20));
		out_u64(o, OUT_ANY, "pages", " (%" PRIu64 " pages)", s->pages);
	}
	out_u64_as(o, OUT_ANY, "total_ms", " in %s\n", t / 1000000, human_ns(a, sizeof(a), t));
}

static void source(struct output *o, const struct serve_report *s)
{
	const struct pcram_src_stats *st = &s->st;

	out_open_object(o, "source");
	out_u64(o, OUT_ANY, "precopy_rounds", "  precopy       %" PRIu64 " rounds",
		st->precopy_rounds);
	out_u64(o, OUT_ANY, "pages_precopy", ", %" PRIu64 " pages", st->pages_precopy);
	out_u64(o, OUT_ANY, "pages_dirtied", ", %" PRIu64 " written again by the workload",
		st->pages_dirtied);
	out_u64(o, OUT_ANY, "workload_writes", " (%" PRIu64 " writes)", s->writes);
	out_string(o, OUT_ANY, "dirty_tracking", "; dirty tracking: %s\n",
		   tracking_name(st->dirty_tracking));
	out_u64(o, OUT_ANY, "discard_ranges", "  discards      %" PRIu64 " ranges",
		st->discard_ranges);
	out_u64(o, OUT_ANY, "discard_commands", " in %" PRIu64 " commands\n", st->discard_commands);
	out_u64(o, OUT_ANY, "pages_pushed", "  postcopy      pushed %" PRIu64, st->pages_pushed);
	out_u64(o, OUT_ANY, "pages_requested", ", requested %" PRIu64, st->pages_requested);
	out_u64(o, OUT_ANY, "requests", " (%" PRIu64 " requests)", st->requests);
	out_u64(o, OUT_ANY, "zero_pages", ", zero %" PRIu64 " (sent as flags)", st->zero_pages);
	out_u64(o, OUT_ANY, "resumes", ", resumes %" PRIu64 "\n", st->resumes);
	out_u64(o, OUT_ANY, "bytes_sent", "  sent          %" PRIu64 " bytes", st->bytes_sent);
	out_u64(o, OUT_ANY, "verified_equal", "; checksums %" PRIu64 " equal", st->verified_equal);
	out_u64(o, OUT_ANY, "verified_differ", ", %" PRIu64 " differ\n", st->verified_differ);
	out_close_object(o);
}

static void pages_in(struct output *o, const struct recv_report *r)
{
	out_u64(o, OUT_ANY, "pages_bulk", "  pages         bulk %" PRIu64, r->in.pages_bulk);
	out_u64(o, OUT_ANY, "pages_precopy_received", " (precopy %" PRIu64 ")",
		r->in.pages_precopy);
	out_u64(o, OUT_ANY, "pages_urgent", ", urgent %" PRIu64, r->in.pages_urgent);
	out_u64(o, OUT_ANY, "zero_pages_received", ", zero %" PRIu64, r->in.zero_pages);
	out_u64(o, OUT_ANY, "pages_discarded", ", discarded %" PRIu64, r->in.discards);
	out_u64(o, OUT_ANY, "resumes", ", resumes %" PRIu64 "\n", r->in.resumes);
}

static void faults(struct output *o, const struct recv_report *r)
{
	const struct pcram_hist *h = &r->dst.fault_to_placed;

	out_u64(o, OUT_ANY, "faults", "  faults        %" PRIu64, r->dst.faults);
	out_u64(o, OUT_ANY, "fault_requests", " (%" PRIu64 " requests", r->dst.requests);
	out_u64(o, OUT_ANY, "fault_latency_samples", ", %" PRIu64 " timed)", h->count);
	out_ns(o, OUT_ANY, "fault_p50_ns", ", latency p50 %s", pcram_hist_quantile(h, 0.50));
	out_ns(o, OUT_ANY, "fault_p99_ns", "  p99 %s", pcram_hist_quantile(h, 0.99));
	out_ns(o, OUT_ANY, "fault_max_ns", "  max %s\n", h->max);
	out_hist_ns(o, "fault_histogram", "lt_ns", false, h->bucket, PCRAM_HIST_BUCKETS, "    ");
}

static void vcpus(struct output *o, const struct recv_report *r)
{
	out_open_array(o, "vcpus");
	for (unsigned int v = 0; v < r->vcpus; v++) {
		out_open_object(o, NULL);
		out_u64(o, OUT_ANY, "vcpu", "  vCPU %-3" PRIu64, v);
		out_ns(o, OUT_ANY, "blocked_ns", "      blocked %-10s", r->vcpu[v].blocked_ns);
		out_u64(o, OUT_ANY, "faults", " in %" PRIu64 " faults", r->vcpu[v].faults);
		out_ns(o, OUT_ANY, "max_ns", " (max %s)", r->vcpu[v].max_ns);
		out_u64(o, OUT_ANY, "reads", ", %" PRIu64 " reads", r->vcpu[v].accesses);
		out_bool(o, OUT_ANY, "sigbus", "%s", r->vcpu[v].sigbus,
			 ", ended by SIGBUS (a poisoned page)", "");
		out_nl(o);
		out_close_object(o);
	}
	out_close_array(o);
	/* Pages that never came are worth a line; none are not. */
	out_u64(o, r->poisoned ? OUT_ANY : OUT_JSON, "poisoned",
		"  poisoned      %" PRIu64 " pages that never came\n", r->poisoned);
}

/*
 * The pages the source found equal, of a run that succeeded (otherwise
 * 0, and the text leaves it to the error): then every page was compared.
 */
static void verified(struct output *o, const struct serve_report *s,
		     const struct recv_report *r)
{
	bool ok = r ? !r->ret : !s->ret;
	uint64_t equal = !ok ? 0 : r ? r->in.verified_equal : s->st.verified_equal;
	const char *fmt = "verified: %" PRIu64 " pages equal\n";

	if (r && !r->verify)
		fmt = "verified: no (--no-verify)\n";
	else if (!r && !s->st.verified_equal && !s->st.verified_differ)
		fmt = "verified: no (the destination sent no checksums)\n";
	out_u64(o, ok ? OUT_ANY : OUT_JSON, "verified", fmt, equal);
}

static void print(struct output *o, const struct serve_report *s, const struct recv_report *r)
{
	int64_t down = downtime_ns(s, r);
	char a[32];

	out_open_object(o, NULL);
	/* The text says neither: a failure is said on stderr, and in the exit status. */
	out_bool(o, OUT_JSON, "ok", NULL, !(s && s->ret) && !(r && r->ret), NULL, NULL);
	if ((s && s->ret) || (r && r->ret))
		out_string(o, OUT_JSON, "error", NULL, r && r->ret ? r->error : s->error);
	headline(o, s, r);
	if (down >= 0)
		out_u64_as(o, OUT_ANY, "downtime_us",
			   "  downtime      %s (source stopped -> destination running)\n",
			   (uint64_t)down / 1000, human_ns(a, sizeof(a), (uint64_t)down));
	if (s)
		source(o, s);
	if (r) {
		pages_in(o, r);
		faults(o, r);
		vcpus(o, r);
	}
	verified(o, s, r);
	out_close_object(o);
}

void report_print(FILE *out, bool json, const struct serve_report *src,
		  const struct recv_report *in)
{
	struct output o;

	out_init(&o, out, json);
	print(&o, src, in);
	out_finish(&o);
}
