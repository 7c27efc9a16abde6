/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The benchmarks of 'pcram bench', one file each.
 */
#ifndef PCRAM_TOOLS_BENCH_H
#define PCRAM_TOOLS_BENCH_H

#include <stdbool.h>
#include <stdint.h>

/* tools/bench_fault.c: fault round trip, libpcram against a bare handler. */
int bench_fault_main(int argc, char **argv);

/* tools/bench_batch.c: PCRAM_IOC_BATCH against UFFDIO_COPY, and the probe. */
int bench_batch_main(int argc, char **argv);

/* ---- shared by the benchmarks (bench.c) ---- */

/* Why the last bench_err() failed. */
extern char bench_errbuf[512];
/* Keep the message in bench_errbuf and return @err. */
__attribute__((format(printf, 2, 3)))
int bench_err(int err, const char *fmt, ...);
/* The 8-byte words of image page @page; never 0, so no page is a zero page. */
uint64_t bench_pattern(uint64_t page);
/* CLOCK_MONOTONIC in ns. */
uint64_t bench_now_ns(void);
/* Pin the calling thread to @cpu: 0 or -errno. */
int bench_pin(int cpu);
int bench_cmp_u64(const void *a, const void *b);
/* Nearest rank: the smallest sample with at least q of them at or below. */
uint64_t bench_percentile(const uint64_t *sorted, uint64_t n, double q);
/* The median of @n values (sorts them). */
uint64_t bench_median(uint64_t *v, unsigned int n);
/* a / b, or 0 when b is 0. */
double bench_ratio(uint64_t a, uint64_t b);
/* The options every benchmark takes; 0 where not given. */
struct bench_args {
	bool json;		/* -j */
	bool quick;		/* --quick */
	unsigned long pages;	/* -n */
	unsigned long rounds;	/* -r */
};

/*
 * Parse them: -1 to go on, or the exit code to return (the usage or the
 * help was printed).
 */
int bench_parse_args(int argc, char **argv, unsigned long max_pages,
		     unsigned long max_rounds, struct bench_args *a);

#endif /* PCRAM_TOOLS_BENCH_H */
