// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram demo: the main job on its defaults. A source process ('pcram
 * serve' in a child) and a destination ('pcram recv' here) migrate 1 GiB
 * over loopback TCP: a short precopy while a workload writes, then
 * postcopy with 4 vCPUs reading in a random order. A progress bar on a
 * terminal, then the report of both sides.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "migrate.h"
#include "cli.h"

static int read_all(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

int demo_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "size", required_argument, NULL, 's' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "pattern", required_argument, NULL, 'P' },
		{ "precopy-ms", required_argument, NULL, 'm' },
		{ "dirty-rate", required_argument, NULL, 'd' },
		{ "peer-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct serve_conf sc = {
		.size = 1ULL << 30, .page_size = 4096, .precopy_rounds = 5, .precopy_ms = 300,
		.dirty_rate = 20000, .wait_s = 30, .peer_timeout_s = 5, .verify = true,
		.quiet = true,
	};
	struct recv_conf rc = { .vcpus = 4, .pattern = PATTERN_RANDOM, .source_timeout_s = 10,
				.peer_timeout_s = 5, .verify = true };
	static struct serve_report srep;
	static struct recv_report rrep;
	char addr[64], err[256];
	bool json = false;
	unsigned long v;
	int opt, pfd[2], status;
	pid_t child;

	while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 's':
			if (parse_size(optarg, &sc.size) || !sc.size)
				return fail("demo", "--size '%s': a size like 256M or 1G", optarg),
				       EXIT_USAGE;
			break;
		case 'p':
			if (parse_size(optarg, &sc.page_size) ||
			    (sc.page_size != 4096 && sc.page_size != (2 << 20)))
				return fail("demo", "--page-size '%s': 4k or 2m", optarg), EXIT_USAGE;
			break;
		case 'v':
			if (parse_uint(optarg, RECV_MAX_VCPUS, &v) || !v)
				return fail("demo", "--vcpus '%s': 1..%d", optarg, RECV_MAX_VCPUS),
				       EXIT_USAGE;
			rc.vcpus = (unsigned int)v;
			break;
		case 'P':
			if (parse_pattern(optarg, &rc.pattern, NULL))
				return fail("demo", "--pattern '%s': sequential, random or zipf",
					    optarg), EXIT_USAGE;
			break;
		case 'm':
			if (parse_uint(optarg, 3600000, &v))
				return fail("demo", "--precopy-ms '%s': 0..3600000", optarg), EXIT_USAGE;
			sc.precopy_ms = (unsigned int)v;
			sc.precopy_rounds = v ? 5 : 0;
			break;
		case 'd':
			if (parse_uint(optarg, 10000000, &v))
				return fail("demo", "--dirty-rate '%s': pages/s", optarg), EXIT_USAGE;
			sc.dirty_rate = v;
			break;
		case 'T':
			if (parse_uint(optarg, 3600, &v) || !v)
				return fail("demo", "--peer-timeout '%s': seconds, 1..3600", optarg),
				       EXIT_USAGE;
			sc.peer_timeout_s = rc.peer_timeout_s = (unsigned int)v;
			break;
		case 'h':
			return usage("demo", stdout);
		default:
			return usage("demo", stderr);
		}
	}
	if (optind != argc)
		return fail("demo", "unexpected arguments"), usage("demo", stderr);
	if (sc.size % sc.page_size)
		return fail("demo", "--size is not a whole number of pages"), EXIT_USAGE;

	sc.listen_fd = addr_listen("127.0.0.1:0", err, sizeof(err));
	if (sc.listen_fd < 0)
		return fail("demo", "%s", err);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", addr_port(sc.listen_fd));
	if (pipe2(pfd, O_CLOEXEC))
		return fail("demo", "pipe: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	fflush(NULL);
	child = fork();
	if (child < 0)
		return fail("demo", "fork: %s", strerror(errno));
	if (!child) {
		/* The source: its own process, its own RAM. */
		close(pfd[0]);
		serve_run(&sc, &srep);
		if (write(pfd[1], &srep, sizeof(srep)) != sizeof(srep))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	close(sc.listen_fd);
	if (!json)
		fprintf(stderr, "pcram demo: %llu MiB from a source process to this one over %s;"
			" %u vCPUs, %s precopy, then postcopy\n",
			(unsigned long long)(sc.size >> 20), addr, rc.vcpus,
			sc.precopy_ms ? "a short" : "no");
	rc.connect = addr;
	rc.progress = !json && isatty(STDERR_FILENO);
	recv_run(&rc, &rrep);
	if (rrep.ret)
		kill(child, SIGTERM);	/* it may wait for us forever */
	if (read_all(pfd[0], &srep, sizeof(srep))) {
		srep.ret = -EPIPE;
		snprintf(srep.error, sizeof(srep.error), "the source process died");
	}
	waitpid(child, &status, 0);
	report_print(stdout, json, &srep, &rrep);
	fflush(stdout);
	if (rrep.ret || srep.ret) {
		fail("demo", "%s", rrep.ret ? rrep.error : srep.error);
		_exit(1);
	}
	return 0;
}
