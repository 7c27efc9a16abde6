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
#include <sys/resource.h>
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

/* ---- bench netfault --------------------------------------------------------------- */

#define NETFAULT "pcram bench netfault --quick"
#define NETFAULT_MIB 16
#define NETFAULT_SAMPLES 100

/*
 * Row @key ("4k", "2m") of a measured netfault run: every key; samples
 * and requests as the runs make them; percentiles and spreads in order,
 * each pooled figure inside its rounds' spread; every ratio the quotient
 * of the pooled figures shown, to its four decimals.
 */
static void check_netfault_row(struct __test_metadata *_metadata, const char *json,
			       const char *key, unsigned long long page_size,
			       unsigned long long bytes, unsigned long long rounds)
{
	char filter[2048], val[512];

	snprintf(filter, sizeof(filter),
		 "[\"skipped\", \"page_size\", \"bytes\", \"samples_per_run\", \"ratios\","
		 " \"floor\", \"idle\", \"loaded\", \"loaded_bulk_bytes_per_s\","
		 " \"loaded_bulk_pages\"] - (.\"%s\" | keys) | join(\",\")", key);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	EXPECT_STREQ("", val) TH_LOG("%s: keys missing", key);
	snprintf(filter, sizeof(filter), ".\"%s\" | [.skipped, .page_size, .bytes] | "
		 "map(tostring) | join(\" \")", key);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	snprintf(filter, sizeof(filter), "null %llu %llu", page_size, bytes);
	EXPECT_STREQ(filter, val);

	/* Each side: its keys, its spread's keys, and the order of its figures. */
	snprintf(filter, sizeof(filter),
		 ".\"%s\" as $r | [\"floor\", \"idle\", \"loaded\"] | map($r[.] as $s |"
		 " ([\"samples\", \"requests\", \"rounds_measured\", \"p50_ns\", \"p99_ns\","
		 " \"p99_9_ns\", \"max_ns\", \"spread\"] - ($s | keys) | length == 0) and"
		 " ([\"p50_ns\", \"p99_ns\", \"p99_9_ns\"] - ($s.spread | keys) | length == 0) and"
		 " (if $s.samples == 0 then $s.p50_ns == null and $s.rounds_measured == 0 else"
		 " $s.p50_ns > 0 and $s.p50_ns <= $s.p99_ns and $s.p99_ns <= $s.p99_9_ns and"
		 " $s.p99_9_ns <= $s.max_ns and $s.rounds_measured >= 1 and"
		 " ([\"p50_ns\", \"p99_ns\", \"p99_9_ns\"] | map(. as $q | $s.spread[$q] as $d |"
		 " $d.min <= $d.median and $d.median <= $d.max and $d.min <= $s[$q] and"
		 " $s[$q] <= $d.max and $d.max <= $s.max_ns) | all) end)) | all", key);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s sides: %s", key, json);

	/*
	 * Floor and idle: every sample of every round taken, each one request
	 * (nothing else brings a page). Loaded: at most as many; the push
	 * carried pages.
	 */
	snprintf(filter, sizeof(filter),
		 ".\"%s\" as $r | %llu as $n | $r.samples_per_run > 0 and"
		 " ([$r.floor, $r.idle] | map(.samples == $r.samples_per_run * $n and"
		 " .requests == .samples and .rounds_measured == $n) | all) and"
		 " $r.loaded.samples <= $r.samples_per_run * $n and"
		 " $r.loaded.requests <= $r.loaded.samples and"
		 " $r.loaded.rounds_measured <= $n and"
		 " $r.loaded_bulk_pages > 0 and $r.loaded_bulk_bytes_per_s > 0", key, rounds);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s samples: %s", key, json);

	/* Each ratio of each percentile: a over b of the pooled figures shown. */
	snprintf(filter, sizeof(filter),
		 ".\"%s\" as $r | [[\"idle_over_floor\", \"idle\", \"floor\"],"
		 " [\"loaded_over_idle\", \"loaded\", \"idle\"],"
		 " [\"loaded_over_floor\", \"loaded\", \"floor\"]] | map(. as [$k, $a, $b] |"
		 " [\"p50\", \"p99\", \"p99_9\"] | map(. as $q | $r.ratios[$k][$q] as $x |"
		 " if $r[$a].samples == 0 or $r[$b].samples == 0 then $x == null else"
		 " ($x - $r[$a][$q + \"_ns\"] / $r[$b][$q + \"_ns\"] | fabs) <= 0.0000501 end)"
		 " | all) | all", key);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s ratios: %s", key, json);
}

TEST_F_TIMEOUT(bench, netfault_json, BENCH_TIMEOUT)
{
	const char *json = self->r.out;
	unsigned long long rounds;
	char val[512];

	run_json(_metadata, &self->r, NETFAULT,
		 "\"benchmark\", \"version\", \"kernel\", \"machine\", \"cpus\", \"rounds\", "
		 "\"fault_path_nice\", \"placement\", \"4k\", \"2m\"");
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".benchmark"));
	EXPECT_STREQ("netfault", val);
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".rounds"));
	rounds = strtoull(val, NULL, 10);
	EXPECT_EQ(2, rounds);
	/* The nice value this test runs at: the floor's threads inherit it. */
	ASSERT_EQ(0, jq(val, sizeof(val), json, ".fault_path_nice"));
	EXPECT_EQ(getpriority(PRIO_PROCESS, 0), atoi(val));

	/* Two CPUs or more: source and destination apart; one: nothing pinned. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			".placement as $p | ([\"source_cpu\", \"destination_cpu\", \"vcpu_cpu\"] -"
			" ($p | keys) | length == 0) and (if .cpus >= 2 then"
			" $p.source_cpu != $p.destination_cpu and $p.source_cpu >= 0 and"
			" $p.destination_cpu >= 0 and $p.vcpu_cpu >= 0 else $p.source_cpu == null"
			" and $p.destination_cpu == null and $p.vcpu_cpu == null end)"));
	EXPECT_STREQ("true", val) TH_LOG("%s", json);

	check_netfault_row(_metadata, json, "4k", 4096, NETFAULT_MIB << 20, rounds);
	/* 2 MiB: measured when two huge pages are free, else the reason. */
	if (free_2m_pages() >= 2) {
		long free = free_2m_pages();
		unsigned long long pages = free < NETFAULT_MIB / 2 ? free : NETFAULT_MIB / 2;

		check_netfault_row(_metadata, json, "2m", 2 << 20, pages << 21, rounds);
	} else {
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\" | keys | join(\",\")"));
		EXPECT_STREQ("skipped", val);
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".skipped"));
		EXPECT_NE(NULL, strstr(val, "huge pages")) TH_LOG("%s", val);
	}
}

/* A side's lines in the text: samples, requests, and per percentile pooled, min, median, max. */
struct netfault_text_side {
	unsigned long long samples, requests, v[3][4];
};

/* Side @name of @row's table: 0, 1 when it has no samples, -1 when not found. */
static int netfault_text_side(const char *row, const char *name,
			      struct netfault_text_side *s)
{
	static const char *const pct[3] = { "p50", "p99", "p99.9" };
	char head[32];
	const char *p;

	snprintf(head, sizeof(head), "\n  %-7s ", name);
	p = strstr(row, head);
	if (!p)
		return -1;
	if (!strncmp(p + strlen(head), "(no samples", 11))
		return 1;
	for (int q = 0; q < 3; q++, p = strchr(p + 1, '\n')) {
		char got[8];
		unsigned long long *v = s->v[q];

		if (!p)
			return -1;
		if (!q && sscanf(p, " %*s %7s %llu %llu %llu %llu %llu %llu", got, &s->samples,
				 &s->requests, &v[0], &v[1], &v[2], &v[3]) != 7)
			return -1;
		if (q && sscanf(p, " %7s %llu %llu %llu %llu", got, &v[0], &v[1], &v[2],
				&v[3]) != 5)
			return -1;
		if (strcmp(got, pct[q]))
			return -1;
	}
	return 0;
}

TEST_F_TIMEOUT(bench, netfault_text, BENCH_TIMEOUT)
{
	static const char *const names[3] = { "floor", "idle", "loaded" };
	static const struct { const char *line; int a, b; } ratios[] = {
		{ "\n  idle/floor    ", 1, 0 },
		{ "\n  loaded/idle   ", 2, 1 },
		{ "\n  loaded/floor  ", 2, 0 },
	};
	struct netfault_text_side sides[3];
	int measured[3];
	const char *row;
	char head[96];

	ASSERT_EQ(0, run(&self->r, NETFAULT)) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.out, "\nplacement: ")) TH_LOG("%s", self->r.out);
	EXPECT_NE(NULL, strstr(self->r.out, "\npriority: the floor's threads and libpcram's "
			       "request path at nice "));
	snprintf(head, sizeof(head), "\n4K: a %d MiB block, up to %d samples a run\n",
		 NETFAULT_MIB, NETFAULT_SAMPLES);
	row = strstr(self->r.out, head);
	ASSERT_NE(NULL, row) TH_LOG("%s", self->r.out);
	for (int k = 0; k < 3; k++) {
		measured[k] = netfault_text_side(row, names[k], &sides[k]);
		ASSERT_LE(0, measured[k]) TH_LOG("%s: %s", names[k], self->r.out);
		if (measured[k])
			continue;
		for (int q = 0; q < 3; q++) {
			const unsigned long long *v = sides[k].v[q];

			EXPECT_TRUE(v[0] > 0 && v[1] <= v[2] && v[2] <= v[3] && v[1] <= v[0] &&
				    v[0] <= v[3]) TH_LOG("%s, percentile %d: %s", names[k], q,
							  self->r.out);
		}
	}
	/* Floor and idle always have samples: only the push can bring pages first. */
	EXPECT_EQ(0, measured[0]);
	EXPECT_EQ(0, measured[1]);
	EXPECT_EQ(2 * NETFAULT_SAMPLES, sides[0].samples);
	EXPECT_EQ(2 * NETFAULT_SAMPLES, sides[1].samples);
	/* Printed with three decimals: off by half a unit of the last at most. */
	for (int i = 0; i < 3; i++) {
		const char *p = strstr(row, ratios[i].line);
		double r[3];

		ASSERT_NE(NULL, p) TH_LOG("%s", self->r.out);
		if (measured[ratios[i].a] || measured[ratios[i].b]) {
			EXPECT_EQ(0, strncmp(p + strlen(ratios[i].line), "(a side has no samples)",
					     23));
			continue;
		}
		ASSERT_EQ(3, sscanf(p + strlen(ratios[i].line), "%lf %lf %lf", &r[0], &r[1],
				    &r[2])) TH_LOG("%s", p);
		for (int q = 0; q < 3; q++) {
			double want = (double)sides[ratios[i].a].v[q][0] /
				      (double)sides[ratios[i].b].v[q][0];

			EXPECT_LE(fabs(r[q] - want), 0.0005 + 1e-9)
				TH_LOG("%s percentile %d: %f, not %f", ratios[i].line + 3, q, r[q],
				       want);
		}
	}
	EXPECT_NE(NULL, strstr(row, "\n  the push ran at ")) TH_LOG("%s", self->r.out);
	if (free_2m_pages() < 2) {
		EXPECT_NE(NULL, strstr(self->r.out, "\n2M: skipped: ")) TH_LOG("%s", self->r.out);
	} else {
		EXPECT_NE(NULL, strstr(self->r.out, "\n2M: a ")) TH_LOG("%s", self->r.out);
	}
}

TEST_F(bench, netfault_bad_usage_refused)
{
	EXPECT_EQ(2, run(&self->r, "pcram bench netfault -s 3"));
	EXPECT_NE(NULL, strstr(self->r.err, "-s 3: want a size in MiB from 4 to 65536"));
	EXPECT_EQ(2, run(&self->r, "pcram bench netfault -s 4x"));
	EXPECT_NE(NULL, strstr(self->r.err, "-s 4x: want a size in MiB"));
	EXPECT_EQ(2, run(&self->r, "pcram bench netfault -s 65537"));
	EXPECT_EQ(2, run(&self->r, "pcram bench netfault -r 0"));
	EXPECT_NE(NULL, strstr(self->r.err, "-r 0: want a round count from 1 to 101"));
	EXPECT_EQ(2, run(&self->r, "pcram bench netfault -r 102"));
	EXPECT_EQ(2, run(&self->r, "pcram bench netfault -n 5"));
	EXPECT_EQ(2, run(&self->r, "pcram bench netfault extra"));
	EXPECT_NE(NULL, strstr(self->r.err, "\n       pcram bench netfault [-j] [-s MIB]"));
	EXPECT_EQ(0, run(&self->r, "pcram bench netfault --help"));
	EXPECT_NE(NULL, strstr(self->r.out, "\n       pcram bench netfault [-j] [-s MIB] "
			       "[-r ROUNDS] [--quick]\n"));
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
	EXPECT_EQ(4, n) TH_LOG("usage lines: %s", self->r.out);
}

TEST_HARNESS_MAIN
