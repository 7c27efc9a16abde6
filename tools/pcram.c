// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram: userfaultfd postcopy RAM from the command line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/pcram.h>
#include <pcram.h>

#include "cli.h"

const char *prog = "pcram";

static int help_main(int argc, char **argv);

static const struct subcommand commands[] = {
	{
		.name = "probe",
		.main = probe_main,
		.synopsis = "pcram probe [-j]",
		.summary = "show what this host's userfaultfd and pcram.ko can do",
		.options = "  -j, --json   print one JSON object\n",
	},
	{
		.name = "module",
		.main = module_main,
		.synopsis = "pcram module { load [NAME | --path FILE] [PARAM=VALUE...] | unload [NAME] | status [-j] [NAME] }",
		.summary = "load, unload or show pcram.ko (NAME defaults to pcram)",
		.options = "  --path FILE  load this .ko file instead of looking NAME up\n"
			   "  -j, --json   print one JSON object\n",
	},
	{
		.name = "stat",
		.main = stat_main,
		.synopsis = "pcram stat [-j | --prometheus] [-w SECONDS [-n COUNT]] [-o FILE] [VM]",
		.summary = "show pcram.ko's fault latency and batch statistics per VM",
		.options = "  VM                   a VM id, or a name (every VM of that name)\n"
			   "  -j, --json           one JSON object (a line each with -w)\n"
			   "  --prometheus         the Prometheus text exposition format\n"
			   "  -w, --watch SECONDS  take a sample every SECONDS until interrupted\n"
			   "  -n, --count COUNT    with -w: stop after COUNT samples\n"
			   "  -o, --output FILE    replace FILE with each sample (written aside, renamed)\n",
	},
	{
		.name = "top",
		.main = top_main,
		.synopsis = "pcram top [-b] [-d SECONDS] [-s p99|rate|id] [-n COUNT]",
		.summary = "watch every VM's fault rate and latency, full screen",
		.options = "  -d, --delay SECONDS  refresh every SECONDS (default 1)\n"
			   "  -s, --sort KEY       sort by p99 (default), rate (faults/s) or id\n"
			   "  -n, --iterations N   stop after N refreshes\n"
			   "  -b, --batch          plain periodic output (also when stdout is not a terminal)\n"
			   "keys: q or Ctrl-C quit, p/r/n sort by p99/rate/id, s next sort,\n"
			   "      up/down (j/k) select a VM, c latency since attach or of the last interval\n",
	},
	{
		.name = "monitor",
		.main = monitor_main,
		.synopsis = "pcram monitor [-j] [-t] [-c COUNT]",
		.summary = "print pcram.ko's events: VMs attaching, detaching, sampled faults",
		.options = "  -j, --json           one JSON object a line\n"
			   "  -t, --timestamp      start each line with the time it came\n"
			   "  -c, --count COUNT    stop after COUNT events\n",
	},
	{
		.name = "vm",
		.main = vm_main,
		.synopsis = "pcram vm { add --pid PID [--name NAME] [-j] | del NAME|ID | list [-j] }",
		.summary = "attach a process to pcram.ko by its pid, detach it, list the VMs",
		.options = "  --pid PID            the process (a VMM) whose userfaultfd faults to measure\n"
			   "  --name NAME          the VM's name (default: the process's name)\n"
			   "  -j, --json           print JSON\n",
	},
	{
		.name = "demo",
		.main = demo_main,
		.synopsis = "pcram demo [-j] [--size SIZE] [--page-size 4k|2m] [--vcpus N] [--pattern P] [--precopy-ms MS] [--dirty-rate PAGES] [--peer-timeout SECONDS]",
		.summary = "migrate 1 GiB from a source process to this one over loopback TCP, and report",
		.options = "  -j, --json           print the report as one JSON object\n"
			   "  --size SIZE          RAM to migrate (default 1G)\n"
			   "  --page-size 4k|2m    2m: anonymous huge pages on both sides\n"
			   "  --vcpus N            vCPU threads reading during postcopy (default 4)\n"
			   "  --pattern P          sequential, random (default) or zipf\n"
			   "  --precopy-ms MS      precopy time budget (default 300; 0: none)\n"
			   "  --dirty-rate PAGES   pages/s the source's workload writes in precopy (default 20000)\n"
			   "  --peer-timeout S     either side silent this long is gone (default 5)\n",
	},
	{
		.name = "serve",
		.main = serve_main,
		.synopsis = "pcram serve --listen ADDR (--image FILE | --size SIZE) [-j] [--page-size 4k|2m] [--precopy-rounds N] [--precopy-ms MS] [--dirty-rate PAGES] [--wait SECONDS] [--rate-limit MBPS] [--peer-timeout SECONDS] [--no-verify]",
		.summary = "be the source of a migration: serve RAM to 'pcram recv'",
		.options = "  --listen ADDR        HOST:PORT, [V6]:PORT or :PORT to listen on\n"
			   "  --image FILE         the RAM is this file, mapped shared (with --size: made anew)\n"
			   "  --size SIZE          RAM of a synthetic pattern (or the new image's size)\n"
			   "  --page-size 4k|2m    2m: anonymous huge pages (no --image)\n"
			   "  --precopy-rounds N   passes before the switchover (default 5; 0: postcopy only)\n"
			   "  --precopy-ms MS      ... for at most this long (default 500; 0: no limit)\n"
			   "  --dirty-rate PAGES   pages/s a workload writes until the switchover (default 0)\n"
			   "  --wait SECONDS       for a destination to connect or come back (default 30)\n"
			   "  --rate-limit MBPS    pace each connection (SO_MAX_PACING_RATE)\n"
			   "  --peer-timeout S     a destination silent this long is gone (default 5)\n"
			   "  --no-verify          complete without the destination's checksums\n"
			   "  -j, --json           print the report as one JSON object\n",
	},
	{
		.name = "recv",
		.main = recv_main,
		.synopsis = "pcram recv --connect ADDR [-j] [-q] [--vcpus N] [--pattern sequential|random|zipf|trace:FILE] [--accesses N] [--source-timeout SECONDS] [--peer-timeout SECONDS] [--poison] [--no-verify]",
		.summary = "be the destination of a migration from 'pcram serve'",
		.options = "  --connect ADDR       HOST:PORT of 'pcram serve'\n"
			   "  --vcpus N            vCPU threads reading from the switchover on (default 4)\n"
			   "  --pattern P          sequential (default), random, zipf, or trace:FILE\n"
			   "                       (one byte offset per line, decimal or 0x hex)\n"
			   "  --accesses N         reads per vCPU (default: pages / vCPUs)\n"
			   "  --source-timeout S   give up when the source is gone this long (default 10)\n"
			   "  --peer-timeout S     a source silent this long is gone: reconnect (default 5)\n"
			   "  --poison             then poison the missing pages: readers get SIGBUS\n"
			   "  --no-verify          skip the checksum of every page at the end\n"
			   "  -q, --quiet          no progress bar\n"
			   "  -j, --json           print the report as one JSON object\n",
	},
	{
		.name = "bench",
		.main = bench_main,
		.synopsis = "pcram bench fault [-j] [-n PAGES] [-r ROUNDS] [--quick]\n"
			    "       pcram bench migrate [-j] [-s MIB] [-r ROUNDS] [--quick]\n"
			    "       pcram bench batch [-j] [-n PAGES] [-r ROUNDS] [--quick]\n"
			    "       pcram bench netfault [-j] [-s MIB] [-r ROUNDS] [--quick]",
		.summary = "measure libpcram and pcram.ko beside their floors",
		.options = "  -j, --json           print one JSON object\n"
			   "  -n, --pages PAGES    fault, batch: pages a run\n"
			   "                       (fault, 2 MiB: at most the free huge pages)\n"
			   "  -s, --size MIB       migrate, netfault: MiB a run\n"
			   "                       (2 MiB: at most the free huge pages)\n"
			   "  -r, --rounds ROUNDS  rounds of runs for each row\n"
			   "  --quick              tiny sizes, for tests\n",
	},
	{
		.name = "help",
		.main = help_main,
		.synopsis = "pcram help [COMMAND]",
		.summary = "show the commands, or one command's usage",
		.options = NULL,
	},
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct subcommand *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void vfail(const char *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s %s: ", prog, cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(cmd, fmt, ap);
	va_end(ap);
	return 1;
}

int fail_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(cmd, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

int usage(const char *name, FILE *out)
{
	const struct subcommand *cmd = find_command(name);

	if (!cmd)
		return EXIT_USAGE;
	fprintf(out, "usage: %s\n%s.\n", cmd->synopsis, cmd->summary);
	if (cmd->options)
		fprintf(out, "options:\n%s", cmd->options);
	return out == stdout ? 0 : EXIT_USAGE;
}

static void list_commands(FILE *out)
{
	size_t i;

	fprintf(out, "usage: pcram [--version] COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'pcram help COMMAND' shows one command's usage; see pcram(8).\n");
}

static int help_main(int argc, char **argv)
{
	if (argc > 2)
		return usage("help", stderr);
	if (argc == 1) {
		list_commands(stdout);
		return 0;
	}
	if (!find_command(argv[1])) {
		fail("help", "unknown command '%s'; 'pcram help' lists them",
		     argv[1]);
		return EXIT_USAGE;
	}
	return usage(argv[1], stdout);
}

int main(int argc, char **argv)
{
	const struct subcommand *cmd;

	if (argc < 2) {
		list_commands(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("pcram %s (libpcram %s, UAPI %d)\n", PCRAM_TOOL_VERSION,
		       pcram_version(), PCRAM_API_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		list_commands(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "%s: unknown command '%s'; 'pcram help' lists them\n",
			prog, argv[1]);
		return EXIT_USAGE;
	}
	return cmd->main(argc - 1, argv + 1);
}
