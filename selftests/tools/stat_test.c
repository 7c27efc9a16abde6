// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram stat against a live VM with a known number of faults: the JSON
 * against its schema (the one pcram(8) documents) and the workload, the
 * table, Prometheus' format through promtool and by its rules, -w, -o,
 * a VM chosen by id and by name; and without the module, its errors.
 */
#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod/kmod.h"
#include "workload.h"
#include "output_keys.h"

#define VCPUS 2
#define PER_VCPU 25
#define FAULTS (VCPUS * PER_VCPU)
#define HOLD_US 200

/*
 * The schema of 'pcram stat -j': each key with its JSON type(s), an
 * array by the schema of its elements. conform() wants exactly these
 * keys, no more, no fewer.
 */
static const char schema[] =
	"{\"schema\":\"number\",\"time_ns\":\"number\","
	"\"module\":{\"version\":\"string\",\"api_version\":\"number\",\"vms\":\"number\","
	"\"probe\":\"string\",\"probe_error\":\"string|null\",\"maxactive\":\"number\","
	"\"nmissed\":\"number\",\"batch_max\":\"number\",\"event_interval_ms\":\"number\","
	"\"events_dropped\":\"number\"},"
	"\"vms\":[{\"id\":\"number\",\"name\":\"string\",\"kind\":\"string\",\"pid\":\"number\","
	"\"owner_pid\":\"number\","
	"\"attached\":\"boolean\",\"measured\":\"boolean\",\"attach_time_ns\":\"number|null\","
	"\"attach_flags\":[\"string\"],"
	"\"faults\":{\"count\":\"number\",\"blocked_ns\":\"number\",\"max_ns\":\"number\","
	"\"mean_ns\":\"number\",\"p50_ns\":\"number\",\"p90_ns\":\"number\",\"p99_ns\":\"number\","
	"\"nmissed\":\"number\",\"histogram\":[{\"le_ns\":\"number\",\"count\":\"number\"}]},"
	"\"threads\":[{\"tid\":\"number\",\"comm\":\"string\",\"faults\":\"number\","
	"\"blocked_ns\":\"number\",\"max_ns\":\"number\"}],"
	"\"batch\":{\"batches\":\"number\",\"ops\":\"number\",\"pages\":\"number\","
	"\"bytes\":\"number\",\"zero_pages\":\"number\",\"wakes\":\"number\",\"eexist\":\"number\","
	"\"errors\":\"number\",\"size_histogram\":[{\"le_ops\":\"number\",\"count\":\"number\"}]}}]}";

#define CONFORM \
	"def conform($s): " \
	"if ($s|type) == \"string\" then (type as $t | $s | split(\"|\") | any(. == $t)) " \
	"elif ($s|type) == \"array\" then type == \"array\" and all(.[]; conform($s[0])) " \
	"else type == \"object\" and (keys == ($s|keys)) and " \
	"([keys[] as $k | .[$k] | conform($s[$k])] | all) end; "

/* Whether @json conforms to the schema: "true", or jq's complaint. */
static void check_schema(struct __test_metadata *_metadata, const char *json)
{
	char filter[sizeof(schema) + 512], val[256];

	snprintf(filter, sizeof(filter), CONFORM "conform(%s)", schema);
	ASSERT_EQ(0, jq(val, sizeof(val), json, filter)) TH_LOG("not JSON: %.300s", json);
	EXPECT_STREQ("true", val) TH_LOG("does not conform: %.2000s", json);
}

static bool probe_on(void)
{
	struct info_query q = { 0 };
	struct info_answer a;

	return !info_request(&q, &a) && !a.error && a.probe == PCRAM_LATENCY_PROBE_ON;
}

FIXTURE(stat) {
	struct workload w;
	char name[32];
	struct cmd_result r;
};

FIXTURE_SETUP(stat)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	set_param("probe", "1");
	if (!probe_on())
		SETUP_SKIP("the fault-latency probe is unavailable (see 'pcram module status')");
	snprintf(self->name, sizeof(self->name), "stat-%d", getpid());
	ASSERT_LT(0, workload_open(&self->w, self->name, VCPUS, PER_VCPU, 2));
	ASSERT_EQ(FAULTS, workload_round(&self->w, HOLD_US));
}

FIXTURE_TEARDOWN(stat)
{
	workload_close(&self->w);
}

TEST_F(stat, json_conforms_and_counts_the_workload)
{
	struct cmd_result *r = &self->r;
	char val[256], want[64];

	ASSERT_EQ(0, run(r, "pcram stat -j %d", self->w.id)) TH_LOG("%s", r->err);
	check_schema(_metadata, r->out);
	EXPECT_EQ(1, jq_u64(r->out, ".vms | length"));
	EXPECT_EQ(self->w.id, jq_u64(r->out, ".vms[0].id"));
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, ".vms[0].name"));
	EXPECT_STREQ(self->name, val);
	EXPECT_EQ(getpid(), jq_u64(r->out, ".vms[0].owner_pid"));
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, ".vms[0] | [.attached, .measured] | tostring"));
	EXPECT_STREQ("[true,true]", val);
	EXPECT_EQ(PCRAM_API_VERSION, jq_u64(r->out, ".module.api_version"));
	EXPECT_LE(1, jq_u64(r->out, ".module.vms"));
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, ".module.probe"));
	EXPECT_STREQ("on", val);

	/* the workload's faults, each in the histogram, in order */
	EXPECT_EQ(FAULTS, jq_u64(r->out, ".vms[0].faults.count"));
	EXPECT_EQ(FAULTS, jq_u64(r->out, "[.vms[0].faults.histogram[].count] | add"));
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, ".vms[0].faults | "
			"[.p50_ns <= .p90_ns, .p90_ns <= .p99_ns, .p99_ns <= .max_ns, "
			".p50_ns > 0, .mean_ns <= .max_ns] | all"));
	EXPECT_STREQ("true", val) TH_LOG("%s", r->out);
	/* every fault was held HOLD_US */
	EXPECT_LE(HOLD_US * 1000ULL, jq_u64(r->out, ".vms[0].faults.max_ns"));
	EXPECT_LE(FAULTS * HOLD_US * 1000ULL, jq_u64(r->out, ".vms[0].faults.blocked_ns"));
	EXPECT_EQ(jq_u64(r->out, ".vms[0].faults.blocked_ns") / FAULTS,
		  jq_u64(r->out, ".vms[0].faults.mean_ns"));

	/* each vCPU with its own faults */
	EXPECT_EQ(VCPUS, jq_u64(r->out, ".vms[0].threads | length"));
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, "[.vms[0].threads[] | .comm] | sort | join(\",\")"));
	EXPECT_STREQ("vcpu0,vcpu1", val);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, "[.vms[0].threads[] | .faults] | unique | tostring"));
	snprintf(want, sizeof(want), "[%d]", PER_VCPU);
	EXPECT_STREQ(want, val);

	/* one batch of one op for each fault */
	EXPECT_EQ(FAULTS, jq_u64(r->out, ".vms[0].batch.batches"));
	EXPECT_EQ(FAULTS, jq_u64(r->out, ".vms[0].batch.ops"));
	EXPECT_EQ(FAULTS, jq_u64(r->out, ".vms[0].batch.pages"));
	EXPECT_EQ(FAULTS * PAGE, jq_u64(r->out, ".vms[0].batch.bytes"));
	EXPECT_EQ(0, jq_u64(r->out, ".vms[0].batch.errors"));
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, ".vms[0].batch.size_histogram | tostring"));
	snprintf(want, sizeof(want), "[{\"le_ops\":1,\"count\":%d}]", FAULTS);
	EXPECT_STREQ(want, val);
}

TEST_F(stat, every_vm_by_default_one_by_name)
{
	struct cmd_result *r = &self->r;
	struct workload other;
	char filter[128], name[32];

	snprintf(name, sizeof(name), "other-%d", getpid());
	ASSERT_LT(0, workload_open(&other, name, 1, 3, 1));
	ASSERT_EQ(3, workload_round(&other, 0));

	ASSERT_EQ(0, run(r, "pcram stat -j")) TH_LOG("%s", r->err);
	check_schema(_metadata, r->out);
	snprintf(filter, sizeof(filter), "[.vms[] | select(.id == %d or .id == %d)] | length",
		 self->w.id, other.id);
	EXPECT_EQ(2, jq_u64(r->out, filter));
	EXPECT_EQ(1, jq_u64(r->out, "[.vms[].id] | . == sort | if . then 1 else 0 end"));

	ASSERT_EQ(0, run(r, "pcram stat -j %s", name)) TH_LOG("%s", r->err);
	EXPECT_EQ(1, jq_u64(r->out, ".vms | length"));
	EXPECT_EQ(other.id, jq_u64(r->out, ".vms[0].id"));
	EXPECT_EQ(3, jq_u64(r->out, ".vms[0].faults.count"));
	workload_close(&other);
}

TEST_F(stat, table_shows_the_figures)
{
	struct cmd_result *r = &self->r;
	char want[128];

	ASSERT_EQ(0, run(r, "pcram stat %d", self->w.id)) TH_LOG("%s", r->err);
	EXPECT_EQ(0, strncmp(r->out, "pcram.ko ", 9)) TH_LOG("%s", r->out);
	snprintf(want, sizeof(want), "\nVM %d \"%s\": pid %d, attached", self->w.id,
		 self->name, getpid());
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);
	snprintf(want, sizeof(want), "\n  faults      %d, blocked ", FAULTS);
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);
	EXPECT_NE(NULL, strstr(r->out, " p50 ")) TH_LOG("%s", r->out);
	EXPECT_NE(NULL, strstr(r->out, " p99 ")) TH_LOG("%s", r->out);
	EXPECT_NE(NULL, strstr(r->out, "|#")) TH_LOG("no histogram bars: %s", r->out);
	EXPECT_NE(NULL, strstr(r->out, "\n  vcpu0 ")) TH_LOG("%s", r->out);
	EXPECT_NE(NULL, strstr(r->out, "\n  vcpu1 ")) TH_LOG("%s", r->out);
	snprintf(want, sizeof(want), "\n  batches     %d (1.0 ops each)", FAULTS);
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);
}

/* The table has every field of the JSON and no other: one printer writes both. */
TEST_F(stat, text_and_json_agree)
{
	struct cmd_result *r = &self->r;
	char text[64], json[64];

	snprintf(text, sizeof(text), "pcram stat %d", self->w.id);
	snprintf(json, sizeof(json), "pcram stat -j %d", self->w.id);
	/* "schema": the version of the JSON's own keys. */
	/* the text names only a process VM's kind, by its process */
	ASSERT_EQ(0, output_keys_diff(r, text, json,
				      "[\"schema\", \"vms/[]/kind\", \"vms/[]/pid\"]"))
		TH_LOG("%s", r->err);
	EXPECT_STREQ(OUTPUT_KEYS_AGREE, r->out);
}

/* Check a sample of @vm's latency histogram: cumulative, +Inf == count. */
static void check_prom_histogram(struct __test_metadata *_metadata, const char *text,
				 int vm, unsigned long long want)
{
	char prefix[64], *copy = strdup(text), *line, *save;
	unsigned long long last = 0, inf = ~0ULL, count = ~0ULL, v;
	int buckets = 0;

	snprintf(prefix, sizeof(prefix), "{vm=\"%d\",", vm);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(line, ' ');

		if (!strstr(line, prefix) || !sp)
			continue;
		v = strtoull(sp + 1, NULL, 10);
		if (!strncmp(line, "pcram_fault_latency_seconds_bucket{", 35)) {
			EXPECT_LE(last, v) TH_LOG("not cumulative: %s", line);
			last = v;
			buckets++;
			if (strstr(line, "le=\"+Inf\""))
				inf = v;
		} else if (!strncmp(line, "pcram_fault_latency_seconds_count{", 34)) {
			count = v;
		}
	}
	free(copy);
	EXPECT_EQ(28, buckets);
	EXPECT_EQ(want, inf);
	EXPECT_EQ(want, count);
}

TEST_F(stat, prometheus_format_is_valid)
{
	struct cmd_result *r = &self->r;
	char want[160];

	ASSERT_EQ(0, run(r, "pcram stat --prometheus")) TH_LOG("%s", r->err);
	check_prom_histogram(_metadata, r->out, self->w.id, FAULTS);
	snprintf(want, sizeof(want), "\npcram_thread_faults_total{vm=\"%d\",name=\"%s\",tid=\"",
		 self->w.id, self->name);
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);
	snprintf(want, sizeof(want), "\npcram_batch_pages_total{vm=\"%d\",name=\"%s\"} %d\n",
		 self->w.id, self->name, FAULTS);
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);
	EXPECT_NE(NULL, strstr(r->out, "\n# TYPE pcram_fault_latency_seconds histogram\n"));
	/* the module's own quantiles, from its log-linear histogram */
	EXPECT_NE(NULL, strstr(r->out, "\n# TYPE pcram_fault_latency_quantile_seconds summary\n"));
	snprintf(want, sizeof(want),
		 "\npcram_fault_latency_quantile_seconds{vm=\"%d\",name=\"%s\",quantile=\"0.999\"} ",
		 self->w.id, self->name);
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);
	snprintf(want, sizeof(want),
		 "\npcram_fault_latency_quantile_seconds_count{vm=\"%d\",name=\"%s\"} %d\n",
		 self->w.id, self->name, FAULTS);
	EXPECT_NE(NULL, strstr(r->out, want)) TH_LOG("%s", r->out);

	if (run(r, "command -v promtool"))
		SKIP(return, "promtool is not installed ('make deps' installs Debian's prometheus)");
	ASSERT_EQ(0, run(r, "pcram stat --prometheus > /tmp/pcram-stat-test.prom"));
	EXPECT_EQ(0, run(r, "promtool check metrics < /tmp/pcram-stat-test.prom"))
		TH_LOG("promtool: %s%s", r->out, r->err);
	unlink("/tmp/pcram-stat-test.prom");
}

TEST_F(stat, watch_repeats_and_output_replaces)
{
	struct cmd_result *r = &self->r;
	const char *path = "/tmp/pcram-stat-test-out.prom";
	const char *json = "/tmp/pcram-stat-test-out.json";
	char want[64];
	int i;

	ASSERT_EQ(0, run(r, "pcram stat -j -w 0.1 -n 3 %d | jq -s -c '[length, "
			 "(map(.time_ns) | . == sort), (map(.vms[0].faults.count) | unique)]'",
			 self->w.id)) TH_LOG("%s", r->err);
	snprintf(want, sizeof(want), "[3,true,[%d]]\n", FAULTS);
	EXPECT_STREQ(want, r->out);

	/* more faults between two samples show in the second */
	unlink(json);
	ASSERT_EQ(0, run(r, "pcram stat -j -w 2 -n 2 %d > %s 2>&1 &", self->w.id, json));
	for (i = 0; i < 1000 && count_lines(json) < 1; i++)
		usleep(10000);
	ASSERT_EQ(1, count_lines(json));
	ASSERT_EQ(FAULTS, workload_round(&self->w, 0));
	for (i = 0; i < 1000 && count_lines(json) < 2; i++)
		usleep(10000);
	ASSERT_EQ(0, run(r, "jq -s -c 'map(.vms[0].faults.count)' %s", json));
	snprintf(want, sizeof(want), "[%d,%d]\n", FAULTS, 2 * FAULTS);
	EXPECT_STREQ(want, r->out);
	unlink(json);

	ASSERT_EQ(0, run(r, "pcram stat --prometheus -w 0.1 -n 2 -o %s", path)) TH_LOG("%s", r->err);
	EXPECT_STREQ("", r->out);
	ASSERT_EQ(0, run(r, "cat %s", path));
	check_prom_histogram(_metadata, r->out, self->w.id, 2 * FAULTS);
	EXPECT_EQ(0, run(r, "ls %s.tmp.* 2>/dev/null | wc -l | grep -qx 0"));
	unlink(path);
}

TEST_F(stat, detached_vm_keeps_its_figures)
{
	struct cmd_result *r = &self->r;
	char val[64];

	ASSERT_EQ(0, ioctl(self->w.fd, PCRAM_IOC_DETACH));
	ASSERT_EQ(0, run(r, "pcram stat -j %d", self->w.id)) TH_LOG("%s", r->err);
	ASSERT_EQ(0, jq(val, sizeof(val), r->out, ".vms[0] | [.attached, .measured] | tostring"));
	EXPECT_STREQ("[false,false]", val);
	EXPECT_EQ(FAULTS, jq_u64(r->out, ".vms[0].faults.count"));
	ASSERT_EQ(0, run(r, "pcram stat %d", self->w.id));
	EXPECT_NE(NULL, strstr(r->out, ", detached (last attached ")) TH_LOG("%s", r->out);
}

TEST_F(stat, unknown_vm_is_said)
{
	struct cmd_result *r = &self->r;

	EXPECT_EQ(1, run(r, "pcram stat 4000000000"));
	EXPECT_NE(NULL, strstr(r->err, "no VM has id 4000000000")) TH_LOG("%s", r->err);
	EXPECT_STREQ("", r->out);
	EXPECT_EQ(1, run(r, "pcram stat -j no-such-vm-name"));
	EXPECT_NE(NULL, strstr(r->err, "no VM is named 'no-such-vm-name'")) TH_LOG("%s", r->err);
	EXPECT_STREQ("", r->out);
}

/* Bad usage is refused before the module is asked anything. */
TEST(usage_errors)
{
	struct cmd_result r;

	EXPECT_EQ(2, run(&r, "pcram stat -w 0"));
	EXPECT_NE(NULL, strstr(r.err, "-w takes seconds")) TH_LOG("%s", r.err);
	EXPECT_EQ(2, run(&r, "pcram stat -n 3"));
	EXPECT_NE(NULL, strstr(r.err, "give -w too")) TH_LOG("%s", r.err);
	EXPECT_EQ(2, run(&r, "pcram stat -w 1 -n -1"));
	EXPECT_EQ(2, run(&r, "pcram stat one two"));
	EXPECT_NE(NULL, strstr(r.err, "usage: pcram stat ")) TH_LOG("%s", r.err);
	EXPECT_EQ(2, run(&r, "pcram stat --frobnicate"));
	EXPECT_EQ(0, run(&r, "pcram stat --help"));
	EXPECT_EQ(0, strncmp(r.out, "usage: pcram stat ", 18));
}

/* Without the module: what is wrong and how to fix it, and no output. */
TEST(module_not_loaded_is_said)
{
	static const char *const forms[] = { "", "-j", "--prometheus", "-w 1 -n 2", "7" };
	struct cmd_result r;

	if (pcram_loaded())
		SKIP(return, "pcram.ko is loaded (the host tests this)");
	for (unsigned int i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		EXPECT_EQ(1, run(&r, "pcram stat %s", forms[i])) TH_LOG("stat %s", forms[i]);
		EXPECT_NE(NULL, strstr(r.err, "pcram stat: pcram.ko is not loaded"))
			TH_LOG("stat %s: %s", forms[i], r.err);
		EXPECT_NE(NULL, strstr(r.err, "'pcram module load'")) TH_LOG("%s", r.err);
		EXPECT_STREQ("", r.out);
	}
}

/* Every key of the schema is documented in pcram(8). */
TEST(schema_documented)
{
	const char *man = getenv("PCRAM_MANPAGE");
	static char page[1 << 17];
	struct cmd_result r;
	char *key, *save;

	if (!man)
		SKIP(return, "PCRAM_MANPAGE (path of pcram.8) is not set");
	read_whole(man, page, sizeof(page));
	ASSERT_NE(0, page[0]);
	ASSERT_EQ(0, run(&r, "echo '%s' | jq -r '[paths | .[-1] | strings] | unique | .[]'",
			 schema));
	for (key = strtok_r(r.out, "\n", &save); key; key = strtok_r(NULL, "\n", &save)) {
		char want[64];

		snprintf(want, sizeof(want), "\\fB%s\\fR", key);
		EXPECT_NE(NULL, strstr(page, want)) TH_LOG("pcram(8) does not document %s", key);
	}
}

TEST_HARNESS_MAIN
