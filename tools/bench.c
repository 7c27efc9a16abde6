// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram bench: measurements that print each figure beside its floor,
 * measured in the same run. A table of the benchmarks, which live in
 * bench/ (one file each, and bench/common.c for what they share).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "migrate.h"
#include "cli.h"

/* ---- bench ---------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} benches[] = {
	{ "fault", bench_fault_main },
	{ "migrate", bench_migrate_main },
	{ "batch", bench_batch_main },
	{ "netfault", bench_netfault_main },
};

int bench_main(int argc, char **argv)
{
	if (argc < 2)
		return usage("bench", stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return usage("bench", stdout);
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		if (!strcmp(argv[1], benches[i].name))
			return benches[i].main(argc - 1, argv + 1);
	fail("bench", "unknown benchmark '%s'", argv[1]);
	return usage("bench", stderr);
}
