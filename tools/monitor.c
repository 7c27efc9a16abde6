// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram monitor: pcram.ko's events as they come, like 'ip monitor': a
 * VM attached or detached, and the faults the module samples (at most
 * one per VM every event_interval_ms). A line each, or a JSON object
 * each with -j.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fmt.h"
#include "json.h"
#include "kmod_client.h"
#include "pcram.h"

struct monitor {
	bool json, timestamps;
	unsigned long count, seen;	/* events to print (0: no end), printed */
	/* VM names by id: fault events carry only the id */
	struct { uint32_t id; char name[PCRAM_KMOD_NAME_MAX]; } *names;
	size_t nr_names;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void remember(struct monitor *m, uint32_t id, const char *name)
{
	size_t i;
	void *p;

	for (i = 0; i < m->nr_names && m->names[i].id != id; i++)
		;
	if (i == m->nr_names) {
		p = realloc(m->names, (m->nr_names + 1) * sizeof(*m->names));
		if (!p)
			return;	/* the event is still printed, without its name */
		m->names = p;
		m->nr_names++;
		m->names[i].id = id;
	}
	snprintf(m->names[i].name, sizeof(m->names[i].name), "%s", name);
}

static const char *name_of(const struct monitor *m, uint32_t id)
{
	for (size_t i = 0; i < m->nr_names; i++)
		if (m->names[i].id == id)
			return m->names[i].name;
	return "";
}

static const char *const fault_flags[] = { "write", "wp", "minor" };

static const char *event_name(int cmd)
{
	switch (cmd) {
	case PCRAM_KMOD_EVENT_ATTACH:
		return "attach";
	case PCRAM_KMOD_EVENT_DETACH:
		return "detach";
	case PCRAM_KMOD_EVENT_FAULT:
		return "fault";
	default:
		return NULL;
	}
}

static void print_json(const struct monitor *m, int cmd, const struct pcram_kmod_vm *vm)
{
	const struct pcram_kmod_sample *s = &vm->sample;
	struct json j;

	json_init(&j, stdout);
	json_open_object(&j, NULL);
	json_string(&j, "event", event_name(cmd));
	json_u64(&j, "time_ns", realtime_ns());
	json_u64(&j, "vm", vm->id);
	json_string(&j, "name", cmd == PCRAM_KMOD_EVENT_FAULT ? name_of(m, vm->id) : vm->name);
	if (cmd != PCRAM_KMOD_EVENT_FAULT)
		json_u64(&j, "owner_pid", vm->owner_pid);
	if (cmd == PCRAM_KMOD_EVENT_ATTACH) {
		json_u64(&j, "attach_time_ns", vm->attach_time_ns);
		json_open_array(&j, "attach_flags");
		if (vm->attach_flags & PCRAM_KMOD_ATTACH_F_NO_LATENCY)
			json_string(&j, NULL, "no_latency");
		if (vm->attach_flags & PCRAM_KMOD_ATTACH_F_NO_EVENTS)
			json_string(&j, NULL, "no_events");
		json_close_array(&j);
	}
	if (cmd == PCRAM_KMOD_EVENT_FAULT) {
		json_u64(&j, "tid", s->tid);
		json_string(&j, "comm", s->comm);
		json_u64(&j, "latency_ns", s->latency_ns);
		json_u64(&j, "address", s->address);
		json_open_array(&j, "flags");
		for (unsigned int b = 0; b < 3; b++)
			if (s->flags & (1U << b))
				json_string(&j, NULL, fault_flags[b]);
		json_close_array(&j);
		json_u64(&j, "skipped", s->skipped);
	}
	json_close_object(&j);
	json_finish(&j);
}

static void timestamp(void)
{
	uint64_t now = realtime_ns();
	time_t t = (time_t)(now / 1000000000ULL);
	char when[32] = "";
	struct tm tm;

	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("[%s.%06" PRIu64 "] ", when, now % 1000000000 / 1000);
}

static void print_text(const struct monitor *m, int cmd, const struct pcram_kmod_vm *vm)
{
	const struct pcram_kmod_sample *s = &vm->sample;
	char lat[32];

	if (m->timestamps)
		timestamp();
	if (cmd == PCRAM_KMOD_EVENT_FAULT) {
		printf("fault vm %u \"%s\" tid %u (%s) latency %s addr 0x%" PRIx64,
		       vm->id, name_of(m, vm->id), s->tid, s->comm,
		       human_ns(lat, sizeof(lat), s->latency_ns), s->address);
		printf(" %s", s->flags & 1 ? "write" : "read");
		for (unsigned int b = 1; b < 3; b++)
			if (s->flags & (1U << b))
				printf(",%s", fault_flags[b]);
		printf(" skipped %" PRIu64 "\n", s->skipped);
	} else {
		printf("%s vm %u \"%s\" pid %u", cmd == PCRAM_KMOD_EVENT_ATTACH ?
		       "attach" : "detach", vm->id, vm->name, vm->owner_pid);
		if (cmd == PCRAM_KMOD_EVENT_ATTACH && vm->attach_flags)
			printf(" flags%s%s",
			       vm->attach_flags & PCRAM_KMOD_ATTACH_F_NO_LATENCY ? " no_latency" : "",
			       vm->attach_flags & PCRAM_KMOD_ATTACH_F_NO_EVENTS ? " no_events" : "");
		putchar('\n');
	}
	fflush(stdout);
}

static void on_event(enum pcram_kmod_event cmd, const struct pcram_kmod_vm *vm, void *arg)
{
	struct monitor *m = arg;

	if (!event_name(cmd) || (m->count && m->seen == m->count))
		return;	/* a command of a later API, or past the count */
	if (cmd == PCRAM_KMOD_EVENT_ATTACH || cmd == PCRAM_KMOD_EVENT_DETACH)
		remember(m, vm->id, vm->name);
	if (m->json)
		print_json(m, cmd, vm);
	else
		print_text(m, cmd, vm);
	m->seen++;
}

static void lost(const struct monitor *m)
{
	if (m->json)
		printf("{\"event\":\"lost\",\"time_ns\":%" PRIu64 "}\n", realtime_ns());
	else
		printf("lost events: the socket's buffer overran\n");
	fflush(stdout);
}

static int parse_opts(int argc, char **argv, struct monitor *m)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "timestamp", no_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "jtc:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			m->json = true;
			break;
		case 't':
			m->timestamps = true;
			break;
		case 'c':
			m->count = strtoul(optarg, &end, 10);
			if (*end || !m->count || optarg[0] == '-')
				return fail_usage("monitor", "-c takes a count of events, "
						  "not '%s'", optarg);
			break;
		case 'h':
			usage("monitor", stdout);
			return -1;
		default:
			return usage("monitor", stderr);
		}
	}
	return optind < argc ? usage("monitor", stderr) : 0;
}

/* The names of the VMs open now, for the fault events of those. */
static int learn_names(struct monitor *m, char *err, size_t errlen)
{
	struct vm_list list = { 0 };
	struct pcram_kmod *k;
	int ret;

	ret = kmod_connect(&k, KMOD_API_VM, err, errlen);
	if (ret)
		return ret;
	ret = vm_list_dump(k, &list);
	if (ret)
		snprintf(err, errlen, "%s", pcram_kmod_strerror(k));
	for (size_t i = 0; !ret && i < list.n; i++)
		remember(m, list.vms[i].id, list.vms[i].name);
	vm_list_free(&list);
	pcram_kmod_free(k);
	return ret;
}

int monitor_main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct monitor m = { 0 };
	struct pcram_kmod *events;
	char err[512];
	int ret;

	ret = parse_opts(argc, argv, &m);
	if (ret)
		return ret < 0 ? 0 : ret;
	/* Join first: what happens while the names are read waits for us. */
	if (kmod_connect(&events, KMOD_API_VM, err, sizeof(err)))
		return fail("monitor", "%s", err);
	if (pcram_kmod_subscribe(events)) {
		ret = fail("monitor", "%s", pcram_kmod_strerror(events));
		goto out;
	}
	if (learn_names(&m, err, sizeof(err))) {
		ret = fail("monitor", "%s", err);
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	while (!stop && (!m.count || m.seen < m.count)) {
		struct pollfd p = { .fd = pcram_kmod_fd(events), .events = POLLIN };

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = fail("monitor", "poll: %s", strerror(errno));
			break;
		}
		ret = pcram_kmod_read_events(events, on_event, &m);
		if (ret == -ENOBUFS) {
			lost(&m);
			ret = 0;
		} else if (ret) {
			ret = fail("monitor", "%s", pcram_kmod_strerror(events));
			break;
		}
	}
out:
	free(m.names);
	pcram_kmod_free(events);
	return ret;
}
