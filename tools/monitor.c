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
#include "kmod_client.h"
#include "output.h"
#include "cli.h"
#include "stat.h"

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

static const char *fault_flag_name(unsigned int bit)
{
	static const char *const names[] = { "write", "wp", "minor" };	/* UFFD_PAGEFAULT_FLAG_* */

	return bit < 3 ? names[bit] : NULL;
}

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

/* A CLOCK_REALTIME time as -t shows it: "2024-05-01T10:00:00.123456". */
static void out_stamp(struct output *o, enum out_kind k, const char *key, const char *fmt,
		      uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	char when[32] = "", text[48];
	struct tm tm;

	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(text, sizeof(text), "%s.%06" PRIu64, when, ns % 1000000000 / 1000);
	out_u64_as(o, k, key, fmt, ns, text);
}

/* An event's first fields: when it came (in text with -t only), and what. */
static void begin_event(struct output *o, const struct monitor *m, const char *event)
{
	out_init(o, stdout, m->json);
	out_open_object(o, NULL);
	out_stamp(o, m->timestamps ? OUT_ANY : OUT_JSON, "time_ns", "[%s] ", realtime_ns());
	out_string(o, OUT_ANY, "event", "%s", event);
}

static void end_event(struct output *o)
{
	out_nl(o);
	out_close_object(o);
	out_finish(o);
}

static void fault(struct output *o, const struct pcram_kmod_sample *s)
{
	out_u64(o, OUT_ANY, "tid", " tid %" PRIu64, s->tid);
	out_string(o, OUT_ANY, "comm", " (%s)", s->comm);
	out_ns(o, OUT_ANY, "latency_ns", " latency %s", s->latency_ns);
	out_u64(o, OUT_ANY, "address", " addr 0x%" PRIx64, s->address);
	/* The text names a read, which JSON's empty array is. */
	out_text(o, " %s", s->flags & 1 ? "" : s->flags ? "read," : "read");
	out_names(o, "flags", s->flags, fault_flag_name, "bit_%u", ",");
	out_u64(o, OUT_ANY, "skipped", " skipped %" PRIu64, s->skipped);
}

static void print_event(const struct monitor *m, int cmd, const struct pcram_kmod_vm *vm)
{
	bool is_fault = cmd == PCRAM_KMOD_EVENT_FAULT;
	struct output o;

	begin_event(&o, m, event_name(cmd));
	out_u64(&o, OUT_ANY, "vm", " vm %" PRIu64, vm->id);
	out_string(&o, OUT_ANY, "name", " \"%s\"", is_fault ? name_of(m, vm->id) : vm->name);
	if (!is_fault) {
		out_string(&o, OUT_JSON, "kind", NULL, vm_kind_name(vm->kind));
		out_u64(&o, vm->kind == PCRAM_KMOD_VM_PROCESS ? OUT_ANY : OUT_JSON, "pid",
			" process %" PRIu64, vm->pid);
		out_u64(&o, OUT_ANY, "owner_pid", " pid %" PRIu64, vm->owner_pid);
	}
	if (cmd == PCRAM_KMOD_EVENT_DETACH)
		out_string(&o, OUT_ANY, "reason", " reason %s", detach_reason_name(vm->detach_reason));
	if (cmd == PCRAM_KMOD_EVENT_ATTACH) {
		out_text(&o, "%s", vm->attach_flags ? " flags " : "");
		stat_attach_flags(&o, vm->attach_flags, " ");
		out_stamp(&o, OUT_ANY, "attach_time_ns", " at %s", vm->attach_time_ns);
	}
	if (is_fault)
		fault(&o, &vm->sample);
	end_event(&o);
}

static void on_event(enum pcram_kmod_event cmd, const struct pcram_kmod_vm *vm, void *arg)
{
	struct monitor *m = arg;

	if (!event_name(cmd) || (m->count && m->seen == m->count))
		return;	/* a command of a later API, or past the count */
	if (cmd == PCRAM_KMOD_EVENT_ATTACH || cmd == PCRAM_KMOD_EVENT_DETACH)
		remember(m, vm->id, vm->name);
	print_event(m, cmd, vm);
	m->seen++;
}

static void lost(const struct monitor *m)
{
	struct output o;

	begin_event(&o, m, "lost");
	out_text(&o, " events: the socket's buffer overran");
	end_event(&o);
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
