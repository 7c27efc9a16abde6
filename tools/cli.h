/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pcram tool: one entry point per subcommand, each in its own file.
 */
#ifndef PCRAM_TOOLS_CLI_H
#define PCRAM_TOOLS_CLI_H

#include <stdio.h>

/* Exit codes: 0 success, 1 the operation failed, 2 bad usage. */
#define EXIT_USAGE 2

struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv);	/* argv[0] is the name */
	const char *synopsis;			/* as in pcram(8) */
	const char *summary;
	const char *options;			/* option lines, or NULL */
};

int probe_main(int argc, char **argv);
int module_main(int argc, char **argv);
int demo_main(int argc, char **argv);
int serve_main(int argc, char **argv);
int recv_main(int argc, char **argv);
int bench_main(int argc, char **argv);
int stat_main(int argc, char **argv);
int top_main(int argc, char **argv);
int monitor_main(int argc, char **argv);
int vm_main(int argc, char **argv);

extern const char *prog;

/* Print "pcram CMD: <message>" to stderr; returns 1 for `return fail(...)`. */
int fail(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same for bad usage: returns EXIT_USAGE. */
int fail_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print the usage of @cmd to @out; returns EXIT_USAGE. */
int usage(const char *cmd, FILE *out);

#endif /* PCRAM_TOOLS_CLI_H */
