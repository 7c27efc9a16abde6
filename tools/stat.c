// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram stat [VM]: pcram.ko's statistics per VM, once or every -w
 * seconds, as a table, JSON or Prometheus' text format; with -o each
 * sample replaces a file whole (node_exporter's textfile collector reads
 * such files).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "output.h"
#include "cli.h"
#include "stat.h"

enum format { TEXT, JSON, PROMETHEUS };

struct stat_opts {
	enum format format;
	double watch;		/* seconds between samples; 0: one sample */
	unsigned long count;	/* samples to take with -w; 0: no end */
	const char *output;	/* a file to replace, or NULL for stdout */
	const char *vm;		/* an id or a name, or NULL for all */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * Take one sample: the module's figures and the VMs @vm names (all when
 * NULL). Returns 0, or 1 with the reason said on stderr.
 */
static int sample(struct pcram_kmod *k, const char *vm, struct stat_sample *s)
{
	int ret;

	s->time_ns = realtime_ns();
	if (pcram_kmod_info(k, &s->info, sizeof(s->info)))
		return fail("stat", "%s", pcram_kmod_strerror(k));
	ret = vm_list_select(k, vm, &s->vms);
	if (ret == -ENOENT)
		return fail("stat", "no VM is named '%s' ('pcram stat' lists them)", vm);
	if (ret)
		return fail("stat", "%s", pcram_kmod_strerror(k));
	return 0;
}

static void print(FILE *out, enum format f, const struct stat_sample *s)
{
	struct output o;

	if (f == PROMETHEUS) {
		stat_prom(out, s);
		return;
	}
	out_init(&o, out, f == JSON);
	stat_print(&o, s);
	out_finish(&o);
}

/* Write the sample to a file beside @path, then rename it over @path. */
static int replace_file(const char *path, enum format f, const struct stat_sample *s)
{
	char *tmp;
	FILE *out;
	int ret = 0;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return fail("stat", "out of memory");
	out = fopen(tmp, "we");
	if (!out) {
		ret = fail("stat", "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	print(out, f, s);
	if (ferror(out) | fclose(out) || rename(tmp, path)) {
		ret = fail("stat", "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
out:
	free(tmp);
	return ret;
}

/* 0 to go on, -1 when done (help), or an exit code. */
static int parse_opts(int argc, char **argv, struct stat_opts *o)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "jw:n:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->format = JSON;
			break;
		case 'P':
			o->format = PROMETHEUS;
			break;
		case 'w':
			o->watch = strtod(optarg, &end);
			if (*end || !(o->watch >= 0.01 && o->watch <= 86400))
				return fail_usage("stat", "-w takes seconds from 0.01 to 86400, "
						 "not '%s'", optarg);
			break;
		case 'n':
			o->count = strtoul(optarg, &end, 10);
			if (*end || !o->count || optarg[0] == '-')
				return fail_usage("stat", "-n takes a count of samples, not '%s'",
						 optarg);
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'h':
			usage("stat", stdout);
			return -1;
		default:
			return usage("stat", stderr);
		}
	}
	if (optind < argc)
		o->vm = argv[optind++];
	if (optind < argc)
		return usage("stat", stderr);
	if (o->count && !o->watch)
		return fail_usage("stat", "-n counts the samples of -w: give -w too");
	return 0;
}

int stat_main(int argc, char **argv)
{
	struct stat_opts o = { .format = TEXT };
	struct stat_sample s = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct pcram_kmod *k;
	unsigned long taken = 0;
	char err[512];
	int ret;

	ret = parse_opts(argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (kmod_connect(&k, KMOD_API_VM, err, sizeof(err)))
		return fail("stat", "%s", err);
	/* Interrupting -w ends it between samples, never half-way through a file. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	do {
		if (taken)
			nap(o.watch, &stop);
		if (stop)
			break;
		ret = sample(k, o.vm, &s);
		if (ret)
			break;
		if (o.output)
			ret = replace_file(o.output, o.format, &s);
		else
			print(stdout, o.format, &s);
		if (ret)
			break;
		if (o.watch && !o.output && o.format == TEXT)
			putchar('\n');
		taken++;
	} while (o.watch && !stop && (!o.count || taken < o.count));
	vm_list_free(&s.vms);
	pcram_kmod_free(k);
	return ret;
}
