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

/*
 * Row @key ("4k", "2m") of a measured migrate run: consistent with itself.
 * Checks with jq the relations that need no arithmetic, and the ratios here.
 */
static void check_migrate_row(struct __test_metadata *_metadata, const char *json,
			      const char *key, unsigned long long page_size,
			      unsigned long long bytes, double *r_tp, double *r_p99)
{
	double raw, mig, idle99, loaded99, samples;
	char filter[1024], val[512];

	snprintf(filter, sizeof(filter), ".\"%s\" | [.skipped, .page_size, .bytes] | "
		 "map(tostring) | join(\" \")", key);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	snprintf(filter, sizeof(filter), "null %llu %llu", page_size, bytes);
	EXPECT_STREQ(filter, val);

	/* Every migration of the throughput and loaded runs, every page right. */
	snprintf(filter, sizeof(filter),
		 ".rounds as $r | .\"%s\".throughput as $t | .\"%s\".bytes as $b |"
		 " $t.migrations == 2 * $r and $t.pages_per_migration == $b / %llu and"
		 " $t.pages_verified == $t.migrations * $t.pages_per_migration and"
		 " $t.zero_pages == 0 and $t.raw_bytes_per_s > 0 and"
		 " $t.migration_bytes_per_s > 0", key, key, page_size);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s throughput: %s", key, json);

	/*
	 * Idle: every sample taken, each a request (nothing else brings a
	 * page). Loaded: at most as many, none but the samples' requests.
	 */
	snprintf(filter, sizeof(filter),
		 ".rounds as $r | .\"%s\".faults as $f | $f.samples_per_run > 0 and"
		 " $f.idle.samples == $f.samples_per_run * $r and"
		 " $f.idle.requests == $f.idle.samples and"
		 " $f.idle.p50_ns > 0 and $f.idle.p99_ns >= $f.idle.p50_ns and"
		 " $f.idle.max_ns >= $f.idle.p99_ns and"
		 " $f.loaded.samples <= $f.samples_per_run * $r and"
		 " $f.loaded.requests <= $f.loaded.samples and"
		 " ($f.loaded.samples == 0 or ($f.loaded.p50_ns > 0 and"
		 " $f.loaded.p99_ns >= $f.loaded.p50_ns and"
		 " $f.loaded.max_ns >= $f.loaded.p99_ns)) and"
		 " $f.loaded_bulk_pages > 0 and $f.loaded_bulk_bytes_per_s > 0", key);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s faults: %s", key, json);

	/* The ratios are made of the numbers shown. */
	ASSERT_EQ(0, row_num(_metadata, json, key, "throughput.raw_bytes_per_s", &raw));
	ASSERT_EQ(0, row_num(_metadata, json, key, "throughput.migration_bytes_per_s", &mig));
	ASSERT_EQ(0, row_num(_metadata, json, key, "ratio_throughput", r_tp));
	EXPECT_TRUE(ratio_matches(*r_tp, (unsigned long long)mig, (unsigned long long)raw))
		TH_LOG("%s: ratio_throughput %f, %f / %f", key, *r_tp, mig, raw);

	ASSERT_EQ(0, row_num(_metadata, json, key, "faults.loaded.samples", &samples));
	if (!samples) {
		/* The push brought everything before the first fault: no ratio. */
		snprintf(filter, sizeof(filter), ".\"%s\".ratio_p99_under_load", key);
		ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
		EXPECT_STREQ("null", val);
		*r_p99 = NAN;
		return;
	}
	ASSERT_EQ(0, row_num(_metadata, json, key, "faults.idle.p99_ns", &idle99));
	ASSERT_EQ(0, row_num(_metadata, json, key, "faults.loaded.p99_ns", &loaded99));
	ASSERT_EQ(0, row_num(_metadata, json, key, "ratio_p99_under_load", r_p99));
	EXPECT_TRUE(ratio_matches(*r_p99, (unsigned long long)loaded99,
				  (unsigned long long)idle99))
		TH_LOG("%s: ratio_p99_under_load %f, %f / %f", key, *r_p99, loaded99, idle99);
}

TEST_F_TIMEOUT(bench, migrate_json, BENCH_TIMEOUT)
{
	const char *json = self->r.out;
	double r_tp, r_p99, top;
	char val[512];

	run_json(_metadata, &self->r, MIGRATE,
		 "\"benchmark\", \"version\", \"kernel\", \"machine\", \"cpus\", "
		 "\"rounds\", \"ratio_throughput\", \"ratio_p99_under_load\", "
		 "\"ratio_of\", \"target\", \"placement\", \"4k\", \"2m\"");
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".benchmark"));
	EXPECT_STREQ("migrate", val);

	/* Two CPUs or more: source and destination apart; one: nothing pinned. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".placement as $p | if .cpus >= 2 then $p.source_cpu != $p.destination_cpu"
			" and $p.source_cpu >= 0 and $p.destination_cpu >= 0 and $p.vcpu_cpu >= 0"
			" else $p.source_cpu == null and $p.destination_cpu == null end"));
	EXPECT_STREQ("true", val) TH_LOG("%s", json);

	check_migrate_row(_metadata, json, "4k", 4096, 16 << 20, &r_tp, &r_p99);

	/* The top-level ratios are the 4 KiB row's. */
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".ratio_of.page_size"));
	EXPECT_STREQ("4096", val);
	ASSERT_EQ(0, jq_num(_metadata, json, ".ratio_throughput", &top));
	EXPECT_EQ(r_tp, top);
	if (isnan(r_p99)) {
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".ratio_p99_under_load"));
		EXPECT_STREQ("null", val);
	} else {
		ASSERT_EQ(0, jq_num(_metadata, json, ".ratio_p99_under_load", &top));
		EXPECT_EQ(r_p99, top);
	}
	/* "met" says what the ratios say, whatever they are. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"(.ratio_throughput >= .target.ratio_throughput and"
			" .ratio_p99_under_load != null and"
			" .ratio_p99_under_load <= .target.ratio_p99_under_load) == .target.met"));
	EXPECT_STREQ("true", val);

	/* 2 MiB: measured when two huge pages are free, else the reason. */
	if (free_2m_pages() >= 2) {
		unsigned long long pages = free_2m_pages() < 8 ? free_2m_pages() : 8;

		check_migrate_row(_metadata, json, "2m", 2 << 20, pages << 21, &r_tp, &r_p99);
	} else {
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".ratio_throughput"));
		EXPECT_STREQ("null", val);
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".skipped"));
		EXPECT_NE(NULL, strstr(val, "huge pages")) TH_LOG("%s", val);
	}
}

TEST_F_TIMEOUT(bench, migrate_text, BENCH_TIMEOUT)
{
	ASSERT_EQ(0, run(&self->r, MIGRATE)) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.out, "\nplacement: ")) TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "\n4K            16 MiB ")) TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "pages verified byte for byte; 0 went as zero flags"));
	EXPECT_NE(NULL, strstr(self->r.out, "\n4K   idle    "));
	EXPECT_NE(NULL, strstr(self->r.out, "\n4K   loaded  "));
	EXPECT_NE(NULL, strstr(self->r.out, "\ntarget (4K): ratio_throughput "));
	EXPECT_TRUE(strstr(self->r.out, ": met\n") || strstr(self->r.out, ": NOT met\n"))
		TH_LOG("%s", self->r.out);
	if (free_2m_pages() < 2) {
		EXPECT_NE(NULL, strstr(self->r.out, "\n2M          skipped: "))
			TH_LOG("%s", self->r.out);
	}
}

/*
 * 'pcram bench batch': needs pcram.ko (the VM). Every key is there, every
 * ratio is made of the medians shown, every spread is in order, and the
 * workloads are what they say.
 */
#define BATCH "pcram bench batch --quick"
#define BATCH_METHODS "ioctl ioctl-run batch16 batch64 batch256 batch64-single " \
		      "zero-ioctl zero-run zero-batch64"
#define BATCH_NR_METHODS 9
#define BATCH_NR_WORKLOADS 3

TEST_F_TIMEOUT(bench, batch_json, BENCH_TIMEOUT)
{
	const char *json = self->r.out;
	char val[512];

	if (!pcram_loaded())
		SKIP(return, PCRAM_NOT_LOADED);
	run_json(_metadata, &self->r, BATCH,
		 "\"benchmark\", \"version\", \"kernel\", \"machine\", \"cpus\", \"cpu\", "
		 "\"rounds\", \"probe_overhead\", \"place\", \"probe\"");
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".benchmark"));
	EXPECT_STREQ("batch", val);
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[\"page_size\", \"pages_per_run\", \"area_pages\", \"random_seed\", "
			"\"workloads\"] - (.place | keys) | join(\",\")"));
	EXPECT_STREQ("", val) TH_LOG("place: keys missing");
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".place | .page_size == 4096 and .pages_per_run == 256 and "
			".area_pages == 512"));
	EXPECT_STREQ("true", val) TH_LOG("%s", json);
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".place.workloads | keys_unsorted | join(\" \")"));
	EXPECT_STREQ("contiguous scattered random", val);
	/* every workload: runs and the same methods, each with every key */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[.place.workloads[] | (.methods | keys_unsorted | join(\" \")), "
			"(has(\"runs\") | tostring)] | unique | join(\"|\")"));
	EXPECT_STREQ(BATCH_METHODS "|true", val);
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[.place.workloads[].methods[] | [\"op\", \"call\", \"ops_per_call\", "
			"\"coalesce\", \"pages_per_s\", \"ns_per_page\", \"ratio_per_page\", "
			"\"ratio_per_run\"] - keys | join(\",\")] | unique | join(\"|\")"));
	EXPECT_STREQ("", val) TH_LOG("a method's keys missing");

	/* Spreads: min <= median <= max, figures above 0. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[.place.workloads[] | .runs, (.methods[] | .pages_per_s, .ns_per_page)] | "
			"\"\\(length) \\(map(.min > 0 and .min <= .median and .median <= .max) | all)\""));
	EXPECT_STREQ("57 true", val) TH_LOG("%s", json);
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[.probe.off, .probe.on | .p50_ns, .p99_ns | "
			".min > 0 and .min <= .median and .median <= .max] | "
			"\"\\(length) \\(all)\""));
	EXPECT_STREQ("4 true", val) TH_LOG("%s", json);

	/*
	 * Each ratio is its method's median pages/s over its floor's, in the
	 * same workload, printed with four decimals.
	 */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[.place.workloads[] | .methods as $m | $m[] | . as $v | "
			"(if .op == \"copy\" then [\"ioctl\", \"ioctl-run\"] "
			"else [\"zero-ioctl\", \"zero-run\"] end) as $f | "
			"((.ratio_per_page - .pages_per_s.median / $m[$f[0]].pages_per_s.median)"
			" | fabs) <= 0.0000501 and "
			"((.ratio_per_run - .pages_per_s.median / $m[$f[1]].pages_per_s.median)"
			" | fabs) <= 0.0000501] | \"\\(length) \\(all)\""));
	EXPECT_STREQ("27 true", val) TH_LOG("%s", json);

	/* What each method is, as its name says. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".place.workloads.random.methods | map_values(\"\\(.op) \\(.call) "
			"\\(.ops_per_call) \\(.coalesce)\") | to_entries | "
			"map(\"\\(.key)=\\(.value)\") | join(\",\")"));
	EXPECT_STREQ("ioctl=copy page 1 false,ioctl-run=copy run 1 false,"
		     "batch16=copy batch 16 true,batch64=copy batch 64 true,"
		     "batch256=copy batch 256 true,batch64-single=copy batch 64 false,"
		     "zero-ioctl=zeropage page 1 false,zero-run=zeropage run 1 false,"
		     "zero-batch64=zeropage batch 64 true", val);

	/*
	 * The runs: one for contiguous pages, one a page for scattered ones
	 * (where ioctl-run is ioctl), and for random ones, as drawn.
	 */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".place.pages_per_run as $n | .place.workloads | "
			"[.contiguous.runs.max == 1, .scattered.runs.min == $n, "
			".scattered.runs.max == $n, .random.runs.max <= $n] | all"));
	EXPECT_STREQ("true", val) TH_LOG("%s", json);

	/* the VM runs as root: the probe part is measured */
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".probe.skipped"));
	EXPECT_STREQ("null", val);
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"(.probe_overhead - (.probe.on.p50_ns.median / .probe.off.p50_ns.median - 1))"
			" | fabs <= 0.0000501"));
	EXPECT_STREQ("true", val) TH_LOG("%s", json);
	/* the probe parameter is as it was */
	read_whole("/sys/module/pcram/parameters/probe", val, sizeof(val));
	EXPECT_EQ('Y', val[0]);
}

struct batch_row {
	char name[32];
	unsigned long long pps, pps_min, pps_max, ns, ns_min, ns_max;
	double per_page, per_run;
};

/* The method rows under the line of workload @name: how many, at most @max. */
static int batch_rows(const char *text, const char *name, struct batch_row *rows, int max)
{
	char head[64];
	const char *p;
	int n = 0;

	snprintf(head, sizeof(head), "\n%s: ", name);
	p = strstr(text, head);
	if (!p)
		return -1;
	/* past the header line, the note if any, and the column titles */
	p = strstr(p, "\n  method ");
	if (!p)
		return -1;
	for (p = strchr(p + 1, '\n'); p && p[1] != '\n' && n < max; p = strchr(p + 1, '\n')) {
		struct batch_row *r = &rows[n];

		if (sscanf(p, " %31s %llu (%llu %llu) %llu (%llu %llu) %lfx %lfx", r->name,
			   &r->pps, &r->pps_min, &r->pps_max, &r->ns, &r->ns_min, &r->ns_max,
			   &r->per_page, &r->per_run) != 9)
			return -2;
		n++;
	}
	return n;
}

static const struct batch_row *batch_row_named(const struct batch_row *rows, int n,
					       const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	return NULL;
}

/* Printed with two decimals: off by half a unit of the last at most. */
static bool ratio2_matches(double shown, unsigned long long a, unsigned long long b)
{
	return b && fabs(shown - (double)a / (double)b) <= 0.005 + 1e-9;
}

TEST_F_TIMEOUT(bench, batch_text, BENCH_TIMEOUT)
{
	static const char *const workloads[BATCH_NR_WORKLOADS] = {
		"contiguous", "scattered", "random"
	};
	static const char *const batch_methods[BATCH_NR_METHODS] = {
		"ioctl", "ioctl-run", "batch16", "batch64", "batch256", "batch64-single",
		"zero-ioctl", "zero-run", "zero-batch64"
	};
	const char *out = self->r.out;
	unsigned long long p50[2], p50_min, p50_max, p99, p99_min, p99_max;
	struct batch_row rows[BATCH_NR_METHODS + 1];
	const char *p;
	double overhead;

	if (!pcram_loaded())
		SKIP(return, PCRAM_NOT_LOADED);
	ASSERT_EQ(0, run(&self->r, BATCH)) TH_LOG("%s", self->r.err);
	for (int w = 0; w < BATCH_NR_WORKLOADS; w++) {
		int n = batch_rows(out, workloads[w], rows, BATCH_NR_METHODS + 1);

		ASSERT_EQ(BATCH_NR_METHODS, n) TH_LOG("%s: %s", workloads[w], out);
		for (int i = 0; i < n; i++) {
			const struct batch_row *r = &rows[i];
			bool zero = !strncmp(r->name, "zero-", 5);
			const struct batch_row *fp = batch_row_named(rows, n, zero ? "zero-ioctl" : "ioctl");
			const struct batch_row *fr = batch_row_named(rows, n,
								     zero ? "zero-run" : "ioctl-run");

			EXPECT_STREQ(batch_methods[i], r->name) TH_LOG("%s", workloads[w]);
			EXPECT_TRUE(r->pps_min > 0 && r->pps_min <= r->pps && r->pps <= r->pps_max)
				TH_LOG("%s %s", workloads[w], r->name);
			EXPECT_TRUE(r->ns_min > 0 && r->ns_min <= r->ns && r->ns <= r->ns_max)
				TH_LOG("%s %s", workloads[w], r->name);
			ASSERT_TRUE(fp && fr);
			EXPECT_TRUE(ratio2_matches(r->per_page, r->pps, fp->pps))
				TH_LOG("%s %s: /page %.2f, %llu / %llu", workloads[w], r->name,
				       r->per_page, r->pps, fp->pps);
			EXPECT_TRUE(ratio2_matches(r->per_run, r->pps, fr->pps))
				TH_LOG("%s %s: /run %.2f, %llu / %llu", workloads[w], r->name,
				       r->per_run, r->pps, fr->pps);
		}
	}
	/* where ioctl-run is one ioctl a page, the text says so */
	EXPECT_NE(NULL, strstr(out, "\nscattered: every other page, in order; 256 runs\n"
			       "  (no two pages in a row are contiguous"))
		TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\ncontiguous: pages 0 to 255, in order; 1 run\n  method"))
		TH_LOG("%s", out);

	/* The probe: both sides, and the overhead made of their p50s. */
	for (int on = 0; on < 2; on++) {
		p = strstr(out, on ? "\n  on " : "\n  off ");
		ASSERT_NE(NULL, p) TH_LOG("%s", out);
		ASSERT_EQ(6, sscanf(p, " %*s %llu (%llu %llu) %llu (%llu %llu)", &p50[on],
				    &p50_min, &p50_max, &p99, &p99_min, &p99_max));
		EXPECT_TRUE(p50_min > 0 && p50_min <= p50[on] && p50[on] <= p50_max);
		EXPECT_TRUE(p99_min > 0 && p99_min <= p99 && p99 <= p99_max);
		EXPECT_LE(p50[on], p99);
	}
	p = strstr(out, "\n  probe_overhead (p50 on / p50 off - 1): ");
	ASSERT_NE(NULL, p) TH_LOG("%s", out);
	ASSERT_EQ(1, sscanf(strchr(p, ':') + 1, "%lf", &overhead));
	EXPECT_TRUE(p50[0] && fabs(overhead - ((double)p50[1] / (double)p50[0] - 1)) <=
		    0.00005 + 1e-9) TH_LOG("%.4f: %llu / %llu - 1", overhead, p50[1], p50[0]);
	/* Measurements only: pass or fail is for tests and reports. */
	EXPECT_EQ(NULL, strstr(out, "target")) TH_LOG("%s", out);
}

/* Without pcram.ko (this host, say): a clear refusal, and no figures. */
TEST_F(bench, batch_without_module)
{
	if (pcram_loaded())
		SKIP(return, "pcram.ko is loaded: nothing to refuse");
	EXPECT_EQ(1, run(&self->r, BATCH " -j"));
	EXPECT_STREQ("", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.err, "pcram bench: batch: pcram.ko is not loaded"))
		TH_LOG("%s", self->r.err);
	/* and, where it cannot be loaded at all, why not */
	if (access("/proc/modules", F_OK)) {
		EXPECT_NE(NULL, strstr(self->r.err, "this kernel cannot load modules"))
			TH_LOG("%s", self->r.err);
	} else {
		EXPECT_NE(NULL, strstr(self->r.err, "'pcram module load'"))
			TH_LOG("%s", self->r.err);
	}
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
