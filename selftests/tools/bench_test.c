// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 'pcram bench fault', 'migrate', 'batch' and 'netfault', JSON and text:
 * every key present, from this kernel; every ratio computed from the
 * numbers of the same run, as shown; every page of every run served and
 * verified; the 2 MiB rows present exactly when huge pages are free, and
 * skipped with the reason when not; batch without pcram.ko refused with
 * the reason; bad usage refused, and the usage as pcram(8)'s SYNOPSIS.
 * No figure is held to a target: a loaded machine is no bug.
 */
#include <math.h>
#include <sched.h>
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

/* Printed with four decimals: off by half a unit of the last at most. */
static bool ratio_matches(double shown, unsigned long long a, unsigned long long b)
{
	return b && fabs(shown - (double)a / (double)b) <= 0.00005 + 1e-9;
}

/* ---- bench fault: JSON and text alike ---------------------------------------------- */

/* A side's figures, in the order of the JSON and the text. */
#define NR_FIGS 5	/* p50, p99, p99.9, max (ns), faults/s */
#define NR_RATIOS 3	/* p50, p99, p99.9 */
#define FIG_FAULTS_PER_S 4

struct spread_vals {
	unsigned long long min, median, max;
};

struct fault_side {
	struct spread_vals fig[NR_FIGS];
	unsigned long long per_run, served;
};

enum { SIDE_PCRAM, SIDE_FLOOR };

struct fault_row {
	unsigned long long page_size, faulters, distinct_cpus, handler_threads;
	long long handler_cpu, first_faulter_cpu;	/* -1: null */
	char placement[32];
	bool skipped;
	struct fault_side side[2];	/* [SIDE_PCRAM], [SIDE_FLOOR] */
	double ratio[NR_RATIOS];
};

/* The rows bench fault measures, in order. */
struct fault_row_plan {
	const char *placement;
	bool one_faulter;		/* else one on each CPU */
	unsigned long long handler_threads;
};

static const struct fault_row_plan fault_rows_4k[] = {
	{ "same-cpu", true, 1 }, { "split-cpu", true, 1 },
	{ "all-cpus", false, 1 }, { "all-cpus", false, 2 }, { "all-cpus", false, 4 },
};
static const struct fault_row_plan fault_rows_2m[] = {
	{ "same-cpu", true, 1 }, { "split-cpu", true, 1 }, { "all-cpus", false, 1 },
};

#define FAULT_ROW_KEYS "[\"page_size\", \"placement\", \"faulters\", \"faulter_cpus\", " \
	"\"handler_threads\", \"handler_cpu\", \"skipped\", \"pcram\", \"floor\", " \
	"\"ratio_p50\", \"ratio_p99\", \"ratio_p99_9\"]"
#define FAULT_SIDE_KEYS "[\"p50_ns\", \"p99_ns\", \"p99_9_ns\", \"max_ns\", \"faults_per_s\", " \
	"\"faults_per_run\"]"
#define FAULT_FIGS "(.p50_ns, .p99_ns, .p99_9_ns, .max_ns, .faults_per_s)"

/* The CPUs this test may run on, and so the bench it starts. */
static unsigned long long cpus_allowed(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) ? 0 : (unsigned long long)CPU_COUNT(&set);
}

/* Row @i of @key ("4k", "2m"): 0, -1 past the last row, -2 unreadable. */
static int get_fault_row(const char *json, const char *key, int i, struct fault_row *v)
{
	char filter[1024], line[1024], skipped[8], *save = NULL, *tok;
	unsigned long long *u[2 * (3 * NR_FIGS + 2)];
	unsigned int nr_u = 0;

	snprintf(filter, sizeof(filter),
		 ".\"%s\".rows[%d] | if . == null then \"none\" else "
		 "[.page_size, .placement, .faulters, (.faulter_cpus | unique | length), "
		 ".handler_threads, (.handler_cpu // -1), (.faulter_cpus[0] // -1), "
		 "(.skipped != null)] + (if .skipped != null then [] else "
		 "[(.pcram, .floor) | (" FAULT_FIGS " | .min, .median, .max), .faults_per_run, "
		 "(.requests // .faults_read)] + [.ratio_p50, .ratio_p99, .ratio_p99_9] end) "
		 "| map(tostring) | join(\" \") end", key, i);
	if (jq(line, sizeof(line), json, filter))
		return -2;
	if (!strcmp(line, "none"))
		return -1;
	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%llu %31s %llu %llu %llu %lld %lld %7s", &v->page_size,
		   v->placement, &v->faulters, &v->distinct_cpus, &v->handler_threads,
		   &v->handler_cpu, &v->first_faulter_cpu, skipped) != 8)
		return -2;
	v->skipped = !strcmp(skipped, "true");
	if (v->skipped)
		return 0;
	for (int s = 0; s < 2; s++) {
		for (int k = 0; k < NR_FIGS; k++) {
			u[nr_u++] = &v->side[s].fig[k].min;
			u[nr_u++] = &v->side[s].fig[k].median;
			u[nr_u++] = &v->side[s].fig[k].max;
		}
		u[nr_u++] = &v->side[s].per_run;
		u[nr_u++] = &v->side[s].served;
	}
	/* Past the 8 fields read above. */
	tok = strtok_r(line, " ", &save);
	for (int k = 0; k < 8 && tok; k++)
		tok = strtok_r(NULL, " ", &save);
	for (unsigned int k = 0; k < nr_u; k++, tok = strtok_r(NULL, " ", &save))
		if (!tok || sscanf(tok, "%llu", u[k]) != 1)
			return -2;
	for (int k = 0; k < NR_RATIOS; k++, tok = strtok_r(NULL, " ", &save))
		if (!tok || sscanf(tok, "%lf", &v->ratio[k]) != 1)
			return -2;
	return tok ? -2 : 0;
}

/*
 * One side's figures: every spread ordered (min <= median <= max), the
 * percentiles ordered (p50 <= p99 <= p99.9 <= max, for each of min, median
 * and max), and @pages pages a run, each served once in every round
 * (@rounds 0: not known, as in the text).
 */
static void check_fault_side(struct __test_metadata *_metadata, const char *what,
			     const struct fault_side *s, unsigned long long pages,
			     unsigned long long rounds)
{
	for (int k = 0; k < NR_FIGS; k++) {
		EXPECT_LE(s->fig[k].min, s->fig[k].median) TH_LOG("%s, figure %d", what, k);
		EXPECT_LE(s->fig[k].median, s->fig[k].max) TH_LOG("%s, figure %d", what, k);
	}
	for (int k = 0; k + 1 < FIG_FAULTS_PER_S; k++) {
		EXPECT_LE(s->fig[k].min, s->fig[k + 1].min) TH_LOG("%s, figure %d", what, k);
		EXPECT_LE(s->fig[k].median, s->fig[k + 1].median) TH_LOG("%s, figure %d", what, k);
		EXPECT_LE(s->fig[k].max, s->fig[k + 1].max) TH_LOG("%s, figure %d", what, k);
	}
	EXPECT_LT(0, s->fig[0].min) TH_LOG("%s", what);
	EXPECT_LT(0, s->fig[FIG_FAULTS_PER_S].min) TH_LOG("%s", what);
	if (!rounds)
		return;
	EXPECT_EQ(pages, s->per_run) TH_LOG("%s", what);
	EXPECT_EQ(pages * rounds, s->served) TH_LOG("%s", what);
}

/* Whether a row of @plan cannot be measured on @cpus CPUs with @pages a run. */
static bool fault_row_skipped(const struct fault_row_plan *plan, unsigned long long cpus,
			      unsigned long long pages)
{
	return strcmp(plan->placement, "same-cpu") &&
	       (cpus < 2 || (!plan->one_faulter && cpus > pages));
}

/* Every row of section @key: keys, placement, figures, and ratios of the figures shown. */
static void check_fault_section(struct __test_metadata *_metadata, const char *json,
				const char *key, unsigned long long page_size,
				unsigned long long rounds, unsigned long long cpus,
				const struct fault_row_plan *plan, int nr_plan)
{
	char filter[2048], val[1024], what[96];
	unsigned long long pages;
	struct fault_row v;
	int i;

	snprintf(filter, sizeof(filter), ".\"%s\".pages_per_run", key);
	pages = jq_u64(json, filter);
	EXPECT_LT(0, pages);
	snprintf(filter, sizeof(filter), ".\"%s\".page_size", key);
	EXPECT_EQ(page_size, jq_u64(json, filter));

	/* Every key of every row, side and spread; nulls exactly when skipped. */
	snprintf(filter, sizeof(filter),
		 "[.\"%s\" | ([\"page_size\", \"pages_per_run\", \"capped\", \"skipped\", \"rows\"]"
		 " - keys)[], (.rows[] | (" FAULT_ROW_KEYS " - keys)[], "
		 "(if .skipped == null then "
		 "((" FAULT_SIDE_KEYS " + [\"requests\", \"duplicates\", \"eagain\"]) - (.pcram | keys))[], "
		 "((" FAULT_SIDE_KEYS " + [\"faults_read\"]) - (.floor | keys))[], "
		 "((.pcram, .floor) | " FAULT_FIGS " | ([\"min\", \"median\", \"max\"] - keys)[]) "
		 "else ([.pcram, .floor, .ratio_p50, .ratio_p99, .ratio_p99_9] | "
		 "map(select(. != null)) | if length > 0 then \"not null when skipped\" "
		 "else empty end) end))] | unique | join(\",\")", key);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	EXPECT_STREQ("", val) TH_LOG("%s: keys missing", key);

	for (i = 0; i < nr_plan; i++) {
		snprintf(what, sizeof(what), "%s row %d (%s, %llu handler threads)", key, i,
			 plan[i].placement, plan[i].handler_threads);
		ASSERT_EQ(0, get_fault_row(json, key, i, &v)) TH_LOG("%s", what);
		EXPECT_EQ(page_size, v.page_size) TH_LOG("%s", what);
		EXPECT_STREQ(plan[i].placement, v.placement) TH_LOG("%s", what);
		EXPECT_EQ(plan[i].one_faulter ? 1 : cpus, v.faulters) TH_LOG("%s", what);
		EXPECT_EQ(plan[i].handler_threads, v.handler_threads) TH_LOG("%s", what);
		EXPECT_EQ(fault_row_skipped(&plan[i], cpus, pages), v.skipped) TH_LOG("%s", what);
		if (v.skipped)
			continue;
		/* Each faulting thread on a CPU of its own; the handler where stated. */
		EXPECT_EQ(v.faulters, v.distinct_cpus) TH_LOG("%s", what);
		if (!strcmp(v.placement, "same-cpu")) {
			EXPECT_LE(0, v.handler_cpu) TH_LOG("%s", what);
			EXPECT_EQ(v.handler_cpu, v.first_faulter_cpu) TH_LOG("%s", what);
		} else if (!strcmp(v.placement, "split-cpu")) {
			EXPECT_LE(0, v.handler_cpu) TH_LOG("%s", what);
			EXPECT_NE(v.handler_cpu, v.first_faulter_cpu) TH_LOG("%s", what);
		} else {
			EXPECT_EQ(-1, v.handler_cpu) TH_LOG("%s: not pinned", what);
		}
		check_fault_side(_metadata, what, &v.side[SIDE_PCRAM], pages, rounds);
		check_fault_side(_metadata, what, &v.side[SIDE_FLOOR], pages, rounds);
		for (int k = 0; k < NR_RATIOS; k++) {
			unsigned long long a = v.side[SIDE_PCRAM].fig[k].median;
			unsigned long long b = v.side[SIDE_FLOOR].fig[k].median;

			EXPECT_TRUE(ratio_matches(v.ratio[k], a, b))
				TH_LOG("%s: ratio %d is %f, the medians %llu / %llu", what, k,
				       v.ratio[k], a, b);
		}
	}
	EXPECT_EQ(-1, get_fault_row(json, key, nr_plan, &v)) TH_LOG("%s: more rows", key);
}

TEST_F_TIMEOUT(bench, fault_json, BENCH_TIMEOUT)
{
	const char *json = self->r.out;
	unsigned long long rounds, cpus;
	char val[512];

	run_json(_metadata, &self->r, BENCH,
		 "\"benchmark\", \"version\", \"kernel\", \"machine\", \"clocksource\", "
		 "\"clock_read_ns\", \"cpus\", \"rounds\", \"image_dir\", \"image_read_through\", "
		 "\"4k\", \"2m\"");
	rounds = jq_u64(json, ".rounds");
	EXPECT_LT(0, rounds);
	cpus = jq_u64(json, ".cpus");
	EXPECT_EQ(cpus_allowed(), cpus);
	/* The binary measures; it judges nothing. */
	ASSERT_EQ(0, jq(val, sizeof(val), json,
			"[paths[] | strings | select(test(\"target\") or . == \"met\")] "
			"| unique | join(\",\")"));
	EXPECT_STREQ("", val);

	ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"4k\".skipped"));
	EXPECT_STREQ("null", val);
	check_fault_section(_metadata, json, "4k", 4096, rounds, cpus, fault_rows_4k,
			    ARRAY_SIZE(fault_rows_4k));

	/* 2 MiB: rows when huge pages are free, else null and the reason. */
	if (free_2m_pages() > 0) {
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".skipped"));
		EXPECT_STREQ("null", val);
		check_fault_section(_metadata, json, "2m", 2 << 20, rounds, cpus,
				    fault_rows_2m, ARRAY_SIZE(fault_rows_2m));
	} else {
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".rows"));
		EXPECT_STREQ("null", val);
		ASSERT_EQ(0, jq(val, sizeof(val), json, ".\"2m\".skipped"));
		EXPECT_NE(NULL, strstr(val, "huge pages")) TH_LOG("%s", val);
	}
}

static const char *next_line(const char *p)
{
	p = strchr(p, '\n');
	return p ? p + 1 : NULL;
}

/* "  NAME  median (min-max) ..." with the five figures; 0, or -1. */
static int parse_text_side(const char *line, const char *name, struct fault_side *s)
{
	const char *p = line + 2;
	int used;

	if (strncmp(line, "  ", 2) || strncmp(p, name, strlen(name)))
		return -1;
	p += strlen(name);
	for (int k = 0; k < NR_FIGS; k++, p += used)
		if (sscanf(p, " %llu (%llu-%llu)%n", &s->fig[k].median, &s->fig[k].min,
			   &s->fig[k].max, &used) != 3)
			return -1;
	return 0;
}

/*
 * The text section starting at @p (its title): the rows of @plan in order,
 * each skipped when it must be, else its figures ordered and its ratios
 * (two decimals) those of the medians printed.
 */
static void check_text_section(struct __test_metadata *_metadata, const char *p,
				const struct fault_row_plan *plan, int nr_plan,
				unsigned long long cpus)
{
	p = next_line(next_line(p));	/* past the title and the column names */
	for (int i = 0; i < nr_plan; i++) {
		struct fault_side side[2] = { 0 };
		double ratio[NR_RATIOS];
		char head[48];

		snprintf(head, sizeof(head), "%s, ", plan[i].placement);
		ASSERT_NE(NULL, p) TH_LOG("row %d missing", i);
		ASSERT_EQ(0, strncmp(p, head, strlen(head))) TH_LOG("row %d: %.80s", i, p);
		p = next_line(p);
		ASSERT_NE(NULL, p);
		/* Pages are plenty in the text run: only CPUs make a row skipped. */
		if (fault_row_skipped(&plan[i], cpus, ~0ULL)) {
			EXPECT_EQ(0, strncmp(p, "  SKIP: ", 8)) TH_LOG("row %d: %.80s", i, p);
			p = next_line(p);
			continue;
		}
		ASSERT_EQ(0, parse_text_side(p, "libpcram", &side[SIDE_PCRAM]))
			TH_LOG("row %d: %.200s", i, p);
		p = next_line(p);
		ASSERT_EQ(0, parse_text_side(p, "floor", &side[SIDE_FLOOR]))
			TH_LOG("row %d: %.200s", i, p);
		p = next_line(p);
		ASSERT_EQ(3, sscanf(p, "  pcram/floor %lf %lf %lf", &ratio[0], &ratio[1],
				    &ratio[2])) TH_LOG("row %d: %.80s", i, p);
		p = next_line(p);
		check_fault_side(_metadata, head, &side[SIDE_PCRAM], 0, 0);
		check_fault_side(_metadata, head, &side[SIDE_FLOOR], 0, 0);
		for (int k = 0; k < NR_RATIOS; k++) {
			unsigned long long a = side[SIDE_PCRAM].fig[k].median;
			unsigned long long b = side[SIDE_FLOOR].fig[k].median;

			EXPECT_TRUE(b && fabs(ratio[k] - (double)a / (double)b) <= 0.005 + 1e-9)
				TH_LOG("row %d: ratio %d is %.2f, the medians %llu / %llu", i, k,
				       ratio[k], a, b);
		}
	}
	/* No more rows: the section ends. */
	EXPECT_TRUE(!p || !*p || *p == '\n') TH_LOG("%.80s", p);
}

TEST_F_TIMEOUT(bench, fault_text, BENCH_TIMEOUT)
{
	const char *out = self->r.out, *p;
	unsigned long long cpus = cpus_allowed();

	ASSERT_EQ(0, run(&self->r, BENCH)) TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(out, "placement (the same for both sides):\n"
				"  same-cpu   the faulting thread and the handler threads on CPU "));
	EXPECT_NE(NULL, strstr(out, "blocking in read()"));
	EXPECT_EQ(NULL, strstr(out, "target")) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, " met")) TH_LOG("%s", out);

	p = strstr(out, "\n4 KiB pages, ");
	ASSERT_NE(NULL, p) TH_LOG("%s", out);
	check_text_section(_metadata, p + 1, fault_rows_4k, ARRAY_SIZE(fault_rows_4k), cpus);
	if (free_2m_pages() > 0) {
		p = strstr(out, "\n2 MiB pages (hugetlbfs), ");
		ASSERT_NE(NULL, p) TH_LOG("%s", out);
		check_text_section(_metadata, p + 1, fault_rows_2m, ARRAY_SIZE(fault_rows_2m),
				   cpus);
	} else {
		EXPECT_NE(NULL, strstr(out, "\n2 MiB pages (hugetlbfs): SKIP: no free 2 MiB huge pages"))
			TH_LOG("%s", out);
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
			"\"ratio_cpu_equal_work\", \"ratio_source_cpu_equal_work\", "
			"\"ratio_destination_cpu_equal_work\", "
			"\"migration\", \"equal_work\", \"raw\"] - ($row | keys)) == [] and "
			"([\"bytes_per_s\", \"cpu_us_per_gib\", \"source_cpu_us_per_gib\", "
			"\"destination_cpu_us_per_gib\", \"source_peak_rss_bytes\", "
			"\"destination_peak_rss_bytes\", \"runs\", \"pages_verified\", "
			"\"zero_pages\"] - ($row.migration | keys)) == [] and "
			"([\"bytes_per_s\", \"cpu_us_per_gib\", \"writer_cpu_us_per_gib\", "
			"\"reader_cpu_us_per_gib\", "
			"\"writer_peak_rss_bytes\", \"reader_peak_rss_bytes\", \"runs\", "
			"\"pages_verified\", \"uffdio_copies\"] - ($row.equal_work | keys)) == [] and "
			"([\"bytes_per_s\", \"writer_cpu_us_per_gib\", \"reader_cpu_us_per_gib\", "
			"\"writer_peak_rss_bytes\", \"reader_peak_rss_bytes\", \"runs\"] - "
			"($row.raw | keys)) == []");
	/* Every spread is of figures measured, in order. */
	expect_row_true(_metadata, json, key, "spreads",
			"[$row | .. | objects | select(has(\"median\"))] as $s | ($s | length) == 18"
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
	/*
	 * CPU: both sides of each run added, the ratios of the medians shown;
	 * the sum's spread lies between those of its parts added.
	 */
	expect_row_true(_metadata, json, key, "CPU ratios",
			"def near($x; $y): ($x - $y | fabs) <= 0.0000501;"
			" [$row.migration, $row.equal_work] | map(.cpu_us_per_gib.median) as [$m, $e] |"
			" near($row.ratio_cpu_equal_work; $m / $e) and"
			" near($row.ratio_source_cpu_equal_work;"
			" $row.migration.source_cpu_us_per_gib.median /"
			" $row.equal_work.writer_cpu_us_per_gib.median) and"
			" near($row.ratio_destination_cpu_equal_work;"
			" $row.migration.destination_cpu_us_per_gib.median /"
			" $row.equal_work.reader_cpu_us_per_gib.median) and"
			" ([[$row.migration, \"source\", \"destination\"],"
			" [$row.equal_work, \"writer\", \"reader\"]] | map(. as [$k, $a, $b] |"
			" $k.cpu_us_per_gib.min >= $k[$a + \"_cpu_us_per_gib\"].min +"
			" $k[$b + \"_cpu_us_per_gib\"].min and $k.cpu_us_per_gib.max <="
			" $k[$a + \"_cpu_us_per_gib\"].max + $k[$b + \"_cpu_us_per_gib\"].max) | all)");
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

	/*
	 * Round by round: each side's p99 within its spread, and loaded over
	 * idle of the same round, null where either has none.
	 */
	snprintf(filter, sizeof(filter),
		 ".\"%s\" as $r | %llu as $n | ([$r.floor, $r.idle, $r.loaded] | map("
		 " . as $s | .p99_ns_by_round as $b | ($b | length) == $n and ($b | map(select(. != null))"
		 " | length) == .rounds_measured and ($b | map(select(. != null)) | map("
		 " . >= $s.spread.p99_ns.min and . <= $s.spread.p99_ns.max) | all)) | all) and"
		 " ($r.loaded_over_idle_p99_by_round | length) == $n and"
		 " ([range($n)] | map(. as $i | $r.loaded_over_idle_p99_by_round[$i] as $x |"
		 " $r.loaded.p99_ns_by_round[$i] as $a | $r.idle.p99_ns_by_round[$i] as $b |"
		 " if $a == null or $b == null then $x == null else"
		 " ($x - $a / $b | fabs) <= 0.0000501 end) | all)", key, rounds);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter));
	EXPECT_STREQ("true", val) TH_LOG("%s by round: %s", key, json);
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
