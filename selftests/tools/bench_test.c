// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 'pcram bench fault', 'pcram bench migrate' and 'pcram bench batch': the
 * JSON is whole and consistent with itself (every page of every run served
 * and verified, ratios made of the numbers shown, 2 MiB rows present exactly
 * when huge pages are free), the text names its targets, and bad usage is
 * refused.
 * The performance targets are not asserted here: a loaded machine is no
 * bug. They are for reports.
 */
#include <math.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "common.h"

#define BENCH "pcram bench fault --quick"

/* Under TCG in the VM a quick run takes seconds, not the default 30 s. */
#define BENCH_TIMEOUT 180

FIXTURE(bench) {
	struct cmd_result r;
};

FIXTURE_SETUP(bench)
{
}

FIXTURE_TEARDOWN(bench)
{
}

static long free_2m_pages(void)
{
	char buf[32];

	read_whole("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", buf,
		   sizeof(buf));
	return buf[0] ? atol(buf) : 0;
}

/*
 * Run @cmd with -j: one JSON object on one line, with every key of @keys
 * (a jq array's insides), from this kernel.
 */
static void run_json(struct __test_metadata *_metadata, struct cmd_result *r,
		     const char *cmd, const char *keys)
{
	char val[512], filter[1024];
	struct utsname uts;

	ASSERT_EQ(0, run(r, "%s -j", cmd)) TH_LOG("%s", r->err);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, "type")) TH_LOG("not JSON: %s", r->out);
	ASSERT_STREQ("object", val);
	/* Exactly one object, on one line: a second document is a second line. */
	EXPECT_EQ(r->out + strlen(r->out) - 1, strchr(r->out, '\n')) TH_LOG("%s", r->out);
	snprintf(filter, sizeof(filter), "[%s] - keys | join(\",\")", keys);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, filter));
	EXPECT_STREQ("", val) TH_LOG("keys missing");
	uname(&uts);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, ".kernel"));
	EXPECT_STREQ(uts.release, val);
}

struct side_vals {
	unsigned long long p50, p99, max, fps, per_run, served;
};

struct row_vals {
	unsigned long long page_size, threads;
	char placement[32];
	struct side_vals pcram, floor;
	double ratio_p50, ratio_p99;
};

/* Row @i of @key ("4k", "2m"): 0, or -1 past the last row. */
static int get_row(const char *json, const char *key, int i, struct row_vals *v)
{
	char filter[512], line[512];
	int n;

	snprintf(filter, sizeof(filter),
		 ".\"%s\".rows[%d] | if . == null then \"none\" else "
		 "[.page_size, .threads, .placement, "
		 ".pcram.p50_ns, .pcram.p99_ns, .pcram.max_ns, .pcram.faults_per_s, "
		 ".pcram.faults_per_run, .pcram.requests, "
		 ".floor.p50_ns, .floor.p99_ns, .floor.max_ns, .floor.faults_per_s, "
		 ".floor.faults_per_run, .floor.faults_read, "
		 ".ratio_p50, .ratio_p99] | map(tostring) | join(\" \") end", key, i);
	if (jq(line, sizeof(line), json, filter) || !strcmp(line, "none"))
		return -1;
	n = sscanf(line, "%llu %llu %31s %llu %llu %llu %llu %llu %llu "
		   "%llu %llu %llu %llu %llu %llu %lf %lf",
		   &v->page_size, &v->threads, v->placement,
		   &v->pcram.p50, &v->pcram.p99, &v->pcram.max, &v->pcram.fps,
		   &v->pcram.per_run, &v->pcram.served,
		   &v->floor.p50, &v->floor.p99, &v->floor.max, &v->floor.fps,
		   &v->floor.per_run, &v->floor.served,
		   &v->ratio_p50, &v->ratio_p99);
	return n == 17 ? 0 : -2;
}

/* Printed with four decimals: off by half a unit of the last at most. */
static bool ratio_matches(double shown, unsigned long long a, unsigned long long b)
{
	return b && fabs(shown - (double)a / (double)b) <= 0.00005 + 1e-9;
}

static void check_side(struct __test_metadata *_metadata, const char *what,
		       const struct side_vals *s, unsigned long long rounds)
{
	EXPECT_LT(0, s->p50) TH_LOG("%s", what);
	EXPECT_LE(s->p50, s->p99) TH_LOG("%s", what);
	EXPECT_LE(s->p99, s->max) TH_LOG("%s", what);
	EXPECT_LT(0, s->fps) TH_LOG("%s", what);
	EXPECT_LT(0, s->per_run) TH_LOG("%s", what);
	/* Every page of every round went through this side's handler. */
	EXPECT_EQ(s->per_run * rounds, s->served) TH_LOG("%s", what);
}

static int check_rows(struct __test_metadata *_metadata, const char *json,
		      const char *key, unsigned long long page_size,
		      unsigned long long rounds)
{
	static const unsigned long long threads[] = { 1, 2, 4, 16 };
	struct row_vals v;
	char what[96];
	int i;

	for (i = 0; !get_row(json, key, i, &v); i++) {
		snprintf(what, sizeof(what), "%s row %d (%llu threads, %s)", key, i,
			 v.threads, v.placement);
		EXPECT_EQ(page_size, v.page_size) TH_LOG("%s", what);
		if (i < 4) {
			EXPECT_EQ(threads[i], v.threads) TH_LOG("%s", what);
		}
		check_side(_metadata, what, &v.pcram, rounds);
		check_side(_metadata, what, &v.floor, rounds);
		EXPECT_EQ(v.pcram.per_run, v.floor.per_run) TH_LOG("%s", what);
		EXPECT_TRUE(ratio_matches(v.ratio_p50, v.pcram.p50, v.floor.p50))
			TH_LOG("%s: ratio_p50 %f, p50 %llu / %llu", what, v.ratio_p50,
			       v.pcram.p50, v.floor.p50);
		EXPECT_TRUE(ratio_matches(v.ratio_p99, v.pcram.p99, v.floor.p99))
			TH_LOG("%s: ratio_p99 %f, p99 %llu / %llu", what, v.ratio_p99,
			       v.pcram.p99, v.floor.p99);
	}
	return i;
}

TEST_F_TIMEOUT(bench, fault_json, BENCH_TIMEOUT)
{
	const char *json = self->r.out;
	unsigned long long rounds;
	struct row_vals top;
	char val[512];
	double r50, r99;
	int n;

	run_json(_metadata, &self->r, BENCH,
		 "\"benchmark\", \"kernel\", \"ratio_p50\", \"ratio_p99\", \"ratio_of\", "
		 "\"target\", \"placement\", \"rounds\", \"cpus\", \"clocksource\", "
		 "\"clock_read_ns\", \"4k\", \"2m\", \"fault_threads\"");
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".rounds"));
	rounds = strtoull(val, NULL, 10);
	EXPECT_LT(0, rounds);

	/* The placement is stated, and the rows use one that was measured. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".placement.rows as $p | [.placement.measured[] | select(.name == $p)"
			" | .handler_cpu >= 0 and .fault_cpu >= 0] | .[0]"));
	EXPECT_STREQ("true", val);

	n = check_rows(_metadata, json, "4k", 4096, rounds);
	EXPECT_LE(4, n);

	/* The top-level ratios are those of the row they name. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[.ratio_of.page_size, .ratio_of.threads, .ratio_of.placement] | "
			"map(tostring) | join(\" \")"));
	EXPECT_STREQ("4096 1 same-cpu", val);
	ASSERT_EQ(0, get_row(json, "4k", 0, &top));
	EXPECT_STREQ("same-cpu", top.placement);
	ASSERT_EQ(0, jq(val, sizeof(val), json, "[.ratio_p50, .ratio_p99] | map(tostring) | join(\" \")"));
	ASSERT_EQ(2, sscanf(val, "%lf %lf", &r50, &r99));
	EXPECT_LT(0, r50);
	EXPECT_LT(0, r99);
	EXPECT_TRUE(ratio_matches(r50, top.pcram.p50, top.floor.p50))
		TH_LOG("ratio_p50 %f, p50 %llu / %llu", r50, top.pcram.p50, top.floor.p50);
	EXPECT_TRUE(ratio_matches(r99, top.pcram.p99, top.floor.p99))
		TH_LOG("ratio_p99 %f, p99 %llu / %llu", r99, top.pcram.p99, top.floor.p99);

	/* "met" says what the ratios say, whatever they are. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"(.ratio_p50 <= .target.ratio_p50 and .ratio_p99 <= .target.ratio_p99)"
			" == .target.met"));
	EXPECT_STREQ("true", val);

	/* 2 MiB: rows when huge pages are free, else null and the reason. */
	if (free_2m_pages() > 0) {
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".skipped"));
		EXPECT_STREQ("null", val);
		EXPECT_EQ(4, check_rows(_metadata, json, "2m", 2 << 20, rounds));
	} else {
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".rows"));
		EXPECT_STREQ("null", val);
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".skipped"));
		EXPECT_NE(NULL, strstr(val, "huge pages")) TH_LOG("%s", val);
	}

	/* Fault threads 1, 2 and 4, each with every request served. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".fault_threads.pcram | map(.fault_threads | tostring) | join(\" \")"));
	EXPECT_STREQ("1 2 4", val);
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".rounds as $r | .fault_threads as $f | $f.floor.faults_read =="
			" $f.floor.faults_per_run * $r and ([$f.pcram[] | .p50_ns > 0 and"
			" .p99_ns >= .p50_ns and .max_ns >= .p99_ns and .faults_per_s > 0 and"
			" .requests == $f.floor.faults_per_run * $r] | all)"));
	EXPECT_STREQ("true", val) TH_LOG("fault_threads: %s", json);
}

TEST_F_TIMEOUT(bench, fault_text, BENCH_TIMEOUT)
{
	ASSERT_EQ(0, run(&self->r, BENCH)) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.out, "placement (the same for both sides):"));
	EXPECT_NE(NULL, strstr(self->r.out, "same-cpu  handler and faulting threads all on CPU"));
	EXPECT_NE(NULL, strstr(self->r.out, "\ntarget (4K, 1 thread, same-cpu): ratio_p50 "));
	EXPECT_TRUE(strstr(self->r.out, ": met\n") || strstr(self->r.out, ": NOT met\n"))
		TH_LOG("%s", self->r.out);
	if (free_2m_pages() > 0) {
		EXPECT_NE(NULL, strstr(self->r.out, "\n2M         1  same-cpu"));
	} else {
		EXPECT_NE(NULL, strstr(self->r.out, "2M rows skipped: no free 2 MiB huge pages"));
	}
}

/* ---- bench migrate ---------------------------------------------------------------- */

#define MIGRATE "pcram bench migrate --quick"

/* jq @filter on @json as a number: 0, or -1 (with a log) when it is not one. */
static int jq_num(struct __test_metadata *_metadata, const char *json, const char *filter,
		  double *v)
{
	char val[128], *end;

	if (jq(val, sizeof(val), json, filter))
		return -1;
	*v = strtod(val, &end);
	if (end == val || *end) {
		TH_LOG("%s is %s", filter, val);
		return -1;
	}
	return 0;
}

/* Field @field of row @key ("4k", "2m") as a number. */
static int row_num(struct __test_metadata *_metadata, const char *json, const char *key,
		   const char *field, double *v)
{
	char filter[256];

	snprintf(filter, sizeof(filter), ".\"%s\".%s", key, field);
	return jq_num(_metadata, json, filter, v);
}

/* jq @filter on row @key of @json is "true". */
static void expect_row_true(struct __test_metadata *_metadata, const char *json,
			    const char *key, const char *what, const char *filter)
{
	char f[2048], val[512];

	snprintf(f, sizeof(f), ".rounds as $r | .\"%s\" as $row | %s", key, filter);
	ASSERT_EQ(0, jq(val, sizeof(val), json, f)) TH_LOG("%s: %s", key, what);
	EXPECT_STREQ("true", val) TH_LOG("%s: %s: %s", key, what, json);
}

/* Row @key's ratio @ratio is the migration's median bytes/s over @floor's. */
static void check_migrate_ratio(struct __test_metadata *_metadata, const char *json,
				const char *key, const char *ratio, const char *floor)
{
	double r, mig, fl;
	char field[128];

	ASSERT_EQ(0, row_num(_metadata, json, key, ratio, &r));
	ASSERT_EQ(0, row_num(_metadata, json, key, "migration.bytes_per_s.median", &mig));
	snprintf(field, sizeof(field), "%s.bytes_per_s.median", floor);
	ASSERT_EQ(0, row_num(_metadata, json, key, field, &fl));
	EXPECT_TRUE(ratio_matches(r, (unsigned long long)mig, (unsigned long long)fl))
		TH_LOG("%s: %s %f, %f / %f", key, ratio, r, mig, fl);
}

/* Row @key ("4k", "2m") of a measured migrate run: whole, and consistent with itself. */
static void check_migrate_row(struct __test_metadata *_metadata, const char *json,
			      const char *key, unsigned long long page_size,
			      unsigned long long bytes)
{
	char filter[1024], val[512];

	snprintf(filter, sizeof(filter), ".\"%s\" | [.skipped, .page_size, .bytes, "
		 ".pages_per_run] | map(tostring) | join(\" \")", key);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	snprintf(filter, sizeof(filter), "null %llu %llu %llu", page_size, bytes,
		 bytes / page_size);
	EXPECT_STREQ(filter, val);

	expect_row_true(_metadata, json, key, "keys",
			"([\"ratio_migration_equal_work\", \"ratio_migration_raw\", "
			"\"migration\", \"equal_work\", \"raw\"] - ($row | keys)) == [] and "
			"([\"bytes_per_s\", \"source_cpu_us_per_gib\", "
			"\"destination_cpu_us_per_gib\", \"source_peak_rss_bytes\", "
			"\"destination_peak_rss_bytes\", \"runs\", \"pages_verified\", "
			"\"zero_pages\"] - ($row.migration | keys)) == [] and "
			"([\"bytes_per_s\", \"writer_cpu_us_per_gib\", \"reader_cpu_us_per_gib\", "
			"\"writer_peak_rss_bytes\", \"reader_peak_rss_bytes\", \"runs\", "
			"\"pages_verified\", \"uffdio_copies\"] - ($row.equal_work | keys)) == [] and "
			"([\"bytes_per_s\", \"writer_cpu_us_per_gib\", \"reader_cpu_us_per_gib\", "
			"\"writer_peak_rss_bytes\", \"reader_peak_rss_bytes\", \"runs\"] - "
			"($row.raw | keys)) == []");
	/* Every spread is of figures measured, in order. */
	expect_row_true(_metadata, json, key, "spreads",
			"[$row | .. | objects | select(has(\"median\"))] as $s | ($s | length) == 15"
			" and ($s | map(.min > 0 and .min <= .median and .median <= .max) | all)");
	/* Every run of each kind, every page placed right, none as a zero flag. */
	expect_row_true(_metadata, json, key, "runs and pages",
			"$row.migration.runs == $r and $row.equal_work.runs == $r and"
			" $row.raw.runs == $r and"
			" $row.migration.pages_verified == $r * $row.pages_per_run and"
			" $row.equal_work.pages_verified == $r * $row.pages_per_run and"
			" $row.migration.zero_pages == 0");
	/* One UFFDIO_COPY per run received: at least one a run, at most one a page. */
	expect_row_true(_metadata, json, key, "UFFDIO_COPY calls",
			"$row.equal_work.uffdio_copies >= $r and"
			" $row.equal_work.uffdio_copies <= $r * $row.pages_per_run");
	/* The sending sides hold the block, the placing receivers theirs. */
	expect_row_true(_metadata, json, key, "peak RSS",
			"[$row.migration.source_peak_rss_bytes, "
			"$row.migration.destination_peak_rss_bytes, "
			"$row.equal_work.writer_peak_rss_bytes, $row.equal_work.reader_peak_rss_bytes,"
			" $row.raw.writer_peak_rss_bytes] | map(.min >= $row.bytes) | all");

	check_migrate_ratio(_metadata, json, key, "ratio_migration_equal_work", "equal_work");
	check_migrate_ratio(_metadata, json, key, "ratio_migration_raw", "raw");
}

TEST_F_TIMEOUT(bench, migrate_json, BENCH_TIMEOUT)
{
	const char *json = self->r.out;
	char val[512];

	run_json(_metadata, &self->r, MIGRATE,
		 "\"benchmark\", \"version\", \"kernel\", \"machine\", \"cpus\", "
		 "\"rounds\", \"nice\", \"placement\", \"4k\", \"2m\"");
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".benchmark"));
	EXPECT_STREQ("migrate", val);
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".rounds"));
	EXPECT_STREQ("2", val);

	/* The floors ran at the priority of libpcram's bulk threads. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".nice | .migration_bulk == 19 and .floors == .migration_bulk"));
	EXPECT_STREQ("true", val) TH_LOG("%s", json);

	/* Two CPUs or more: the sides apart; one: nothing pinned. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".placement as $p | if .cpus >= 2 then $p.sending_cpu != $p.receiving_cpu"
			" and $p.sending_cpu >= 0 and $p.receiving_cpu >= 0"
			" else $p.sending_cpu == null and $p.receiving_cpu == null end"));
	EXPECT_STREQ("true", val) TH_LOG("%s", json);

	check_migrate_row(_metadata, json, "4k", 4096, 16 << 20);

	/* 2 MiB: measured when two huge pages are free, else the reason. */
	if (free_2m_pages() >= 2) {
		unsigned long long pages = free_2m_pages() < 8 ? free_2m_pages() : 8;

		check_migrate_row(_metadata, json, "2m", 2 << 20, pages << 21);
	} else {
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\" | keys | join(\" \")"));
		EXPECT_STREQ("skipped", val);
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".skipped"));
		EXPECT_NE(NULL, strstr(val, "huge pages")) TH_LOG("%s", val);
	}
}

/*
 * The median MB/s printed on @kind's line of the row starting at @row,
 * the ratios printed under it.
 */
static int text_mbps(const char *row, const char *kind, double *mbps)
{
	char at[64];
	const char *p;

	snprintf(at, sizeof(at), "\n%-11s ", kind);
	p = strstr(row, at);
	return p && sscanf(p + strlen(at), "%lf", mbps) == 1 ? 0 : -1;
}

/* Printed with 3 decimals from figures printed with 1: within both roundings. */
static bool text_ratio_matches(double shown, double a, double b)
{
	double q = a / b;

	return b > 0 && fabs(shown - q) <= 0.0005 + q * (0.05 / a + 0.05 / b) + 1e-9;
}

TEST_F_TIMEOUT(bench, migrate_text, BENCH_TIMEOUT)
{
	const char *out = self->r.out, *row;
	double mig, eq, raw, r_eq, r_raw;

	ASSERT_EQ(0, run(&self->r, MIGRATE)) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(out, "\nplacement: ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\npriority: the floors at nice 19, as libpcram's bulk "
				    "threads (nice 19)\n")) TH_LOG("%s", out);
	row = strstr(out, "\n4K: 16 MiB a run (4096 pages)\n");
	ASSERT_NE(NULL, row) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(row, "MB/s")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(row, "send CPU s/GiB")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(row, "peak RSS MiB send/receive")) TH_LOG("%s", out);
	ASSERT_EQ(0, text_mbps(row, "migration", &mig)) TH_LOG("%s", out);
	ASSERT_EQ(0, text_mbps(row, "equal-work", &eq)) TH_LOG("%s", out);
	ASSERT_EQ(0, text_mbps(row, "raw", &raw)) TH_LOG("%s", out);
	row = strstr(row, "\nmigration/equal-work ");
	ASSERT_NE(NULL, row) TH_LOG("%s", out);
	ASSERT_EQ(2, sscanf(row, "\nmigration/equal-work %lf, migration/raw %lf", &r_eq, &r_raw));
	EXPECT_TRUE(text_ratio_matches(r_eq, mig, eq))
		TH_LOG("migration/equal-work %.3f, %.1f / %.1f", r_eq, mig, eq);
	EXPECT_TRUE(text_ratio_matches(r_raw, mig, raw))
		TH_LOG("migration/raw %.3f, %.1f / %.1f", r_raw, mig, raw);
	EXPECT_NE(NULL, strstr(out, "\n8192 of 8192 pages verified byte for byte after the "
				    "migrations, 8192 of 8192 after equal-work\n0 pages went as "
				    "zero flags; ")) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "target")) TH_LOG("%s", out);
	if (free_2m_pages() < 2) {
		EXPECT_NE(NULL, strstr(out, "\n2M: skipped: ")) TH_LOG("%s", out);
	}
}

/*
 * 'pcram bench batch': needs pcram.ko (the VM). The JSON is whole, every
 * ratio is made of the figures shown, and "met" says what they say.
 */
TEST_F_TIMEOUT(bench, batch_json, BENCH_TIMEOUT)
{
	const char *json = self->r.out;
	char val[512];

	if (access("/sys/module/pcram", F_OK))
		SKIP(return, "pcram.ko is not loaded (the VM runner loads it: 'make vmcheck')");
	ASSERT_EQ(0, run(&self->r, "pcram bench batch --quick -j")) TH_LOG("%s", self->r.err);
	ASSERT_EQ(0, jq(val, sizeof(val), json, "type")) TH_LOG("not JSON: %s", json);
	ASSERT_STREQ("object", val);
	EXPECT_EQ(json + strlen(json) - 1, strchr(json, '\n')) TH_LOG("%s", json);
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[\"benchmark\", \"kernel\", \"rounds\", \"ratio_batch16\", "
			"\"ratio_batch64\", \"ratio_batch256\", \"ratio_batch64_single\", "
			"\"ratio_zero_batch64\", \"probe_overhead\", \"target\", \"place\", "
			"\"probe\"] - keys | join(\",\")"));
	EXPECT_STREQ("", val) TH_LOG("keys missing");
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".place.methods | map(.name) | join(\" \")"));
	EXPECT_STREQ("ioctl batch16 batch64 batch256 batch64-single zero-ioctl zero-batch64", val);
	/* each ratio is its method's pages/s over its floor's, to 4 decimals */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"(.place.methods | map({(.name): .pages_per_s}) | add) as $m | "
			"[(.ratio_batch64 - ($m.batch64 / $m.ioctl)), "
			"(.ratio_batch16 - ($m.batch16 / $m.ioctl)), "
			"(.ratio_zero_batch64 - ($m[\"zero-batch64\"] / $m[\"zero-ioctl\"]))] | "
			"map(fabs < 0.0001) | all"));
	EXPECT_STREQ("true", val) TH_LOG("%s", json);
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[.place.methods[] | .pages_per_s > 0 and .ns_per_page > 0] | all"));
	EXPECT_STREQ("true", val);
	/* the VM runs as root: the probe part is measured */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".probe | .skipped == null and .on.p50_ns > 0 and .off.p50_ns > 0 and "
			".on.p99_ns >= .on.p50_ns and .off.p99_ns >= .off.p50_ns"));
	EXPECT_STREQ("true", val) TH_LOG("%s", json);
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"(.probe_overhead - (.probe.on.p50_ns / .probe.off.p50_ns - 1)) | fabs < 0.0001"));
	EXPECT_STREQ("true", val);
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"(.ratio_batch64 >= .target.ratio_batch64 and "
			".probe_overhead <= .target.probe_overhead) == .target.met"));
	EXPECT_STREQ("true", val);
	/* the probe parameter is as it was */
	read_whole("/sys/module/pcram/parameters/probe", val, sizeof(val));
	EXPECT_EQ('Y', val[0]);
}

TEST_F(bench, bad_usage_refused)
{
	EXPECT_EQ(2, run(&self->r, "pcram bench"));
	EXPECT_NE(NULL, strstr(self->r.err, "usage: pcram bench fault"));
	EXPECT_EQ(2, run(&self->r, "pcram bench frobnicate"));
	EXPECT_NE(NULL, strstr(self->r.err, "unknown benchmark 'frobnicate'"));
	EXPECT_EQ(2, run(&self->r, "pcram bench fault -n 0"));
	EXPECT_NE(NULL, strstr(self->r.err, "-n 0"));
	EXPECT_EQ(2, run(&self->r, "pcram bench fault -r 102"));
	EXPECT_EQ(2, run(&self->r, "pcram bench fault extra"));
	EXPECT_EQ(2, run(&self->r, "pcram bench batch -n 0"));
	EXPECT_NE(NULL, strstr(self->r.err, "-n 0"));
	EXPECT_EQ(2, run(&self->r, "pcram bench batch -r 102"));
	EXPECT_EQ(2, run(&self->r, "pcram bench batch extra"));
	EXPECT_EQ(0, run(&self->r, "pcram bench --help"));
	EXPECT_NE(NULL, strstr(self->r.out, "usage: pcram bench fault"));
	EXPECT_NE(NULL, strstr(self->r.out, "\n       pcram bench migrate [-j]"));
	EXPECT_EQ(2, run(&self->r, "pcram bench migrate -s 3"));
	EXPECT_NE(NULL, strstr(self->r.err, "-s 3: want a size in MiB from 4 to"));
	EXPECT_EQ(2, run(&self->r, "pcram bench migrate -s 4x"));
	EXPECT_EQ(2, run(&self->r, "pcram bench migrate -r 0"));
	EXPECT_NE(NULL, strstr(self->r.err, "-r 0"));
	EXPECT_EQ(2, run(&self->r, "pcram bench migrate -n 5"));
	EXPECT_EQ(2, run(&self->r, "pcram bench migrate extra"));
	EXPECT_NE(NULL, strstr(self->r.err, "usage: pcram bench fault"));
	EXPECT_EQ(0, run(&self->r, "pcram bench migrate --help"));
	EXPECT_NE(NULL, strstr(self->r.out, "pcram bench migrate [-j]"));
}

/*
 * As cli_test does for the older commands: each usage line (one per
 * benchmark, the later ones indented under "usage: ") in pcram(8)'s SYNOPSIS.
 */
TEST_F(bench, usage_matches_man_page)
{
	const char *man = getenv("PCRAM_MANPAGE");
	static const char *const indent[] = { "usage: ", "       " };
	static char page[65536];
	char line[512], *synopsis_end;
	const char *p;
	int n = 0;

	if (!man)
		SKIP(return, "PCRAM_MANPAGE (path of pcram.8) is not set");
	read_whole(man, page, sizeof(page));
	ASSERT_NE(0, page[0]) TH_LOG("cannot read %s", man);
	synopsis_end = strstr(page, "\n.SH DESCRIPTION");
	ASSERT_NE(NULL, synopsis_end);
	*synopsis_end = '\0';
	ASSERT_EQ(0, run(&self->r, "pcram help bench"));
	ASSERT_EQ(0, strncmp(self->r.out, "usage: ", 7));
	for (p = self->r.out; !strncmp(p, indent[!!n], 7); p += strcspn(p, "\n") + 1, n++) {
		snprintf(line, sizeof(line), "\n%.*s\n", (int)strcspn(p + 7, "\n"), p + 7);
		EXPECT_NE(NULL, strstr(page, line)) TH_LOG("pcram(8) SYNOPSIS lacks: %s", line + 1);
	}
	EXPECT_EQ(3, n) TH_LOG("usage lines: %s", self->r.out);
}

TEST_HARNESS_MAIN
