/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The benchmarks of 'pcram bench', one file each in bench/, and what they
 * share (bench/common.c); tools/bench.c is the subcommand.
 */
#ifndef PCRAM_TOOLS_BENCH_H
#define PCRAM_TOOLS_BENCH_H

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif

#define KIB ((uint64_t)1024)
#define MIB (1024 * KIB)
#define HUGE_SIZE (2 * MIB)

/* bench/fault.c: fault round trip, libpcram against a bare handler. */
int bench_fault_main(int argc, char **argv);
/* bench/migrate.c: migration over loopback TCP against raw TCP. */
int bench_migrate_main(int argc, char **argv);
/* bench/batch.c: PCRAM_IOC_BATCH against UFFDIO_COPY, and the probe. */
int bench_batch_main(int argc, char **argv);
/* bench/netfault.c: a fault served over TCP, libpcram against a bare handler. */
int bench_netfault_main(int argc, char **argv);

/* What went wrong, for the one line a failed benchmark prints. */
extern char bench_errbuf[512];
/* Say it in bench_errbuf; returns @err, for 'return bench_err(...)'. */
int bench_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- CPUs and threads ---------------------------------------------------------------------- */

/*
 * The CPUs this process may run on: how many into @count, the first @max
 * of them into @ids: 0 or -errno.
 */
int bench_cpus(unsigned int *count, int *ids, unsigned int max);
/* Pin the calling thread to @cpu: 0 or -errno. */
int bench_pin(int cpu);
/*
 * Pin the calling thread to @cpu (-1: leave it) for a while, its CPU set
 * saved in @saved for bench_pin_restore(): what it starts meanwhile (a
 * process, libpcram's threads) inherits @cpu. 0 or -errno.
 */
int bench_pin_saving(int cpu, cpu_set_t *saved);
void bench_pin_restore(const cpu_set_t *saved);
/* A thread on @cpu (-1: anywhere this process may run): 0 or -errno. */
int bench_thread_on(pthread_t *t, int cpu, void *(*fn)(void *), void *arg);
/* Wait for @t, or end the command: after @timeout_s a run is stuck for good. */
void bench_join(pthread_t t, unsigned int timeout_s, const char *what);

/* ---- userfaultfd --------------------------------------------------------------------------- */

/*
 * A userfaultfd the way libpcram gets one (/dev/userfaultfd, the system
 * call, user-mode only), close-on-exec, UFFDIO_API done. @flags: 0 for a
 * handler that blocks in read(), or O_NONBLOCK. The fd, or -errno with
 * the reason in bench_errbuf.
 */
int bench_uffd_new(int flags);
/*
 * Place the page at @page (@page_size bytes) from @src: one UFFDIO_COPY,
 * which wakes whoever faulted on it. 0 or -errno; a handler thread's, so
 * bench_errbuf is left to the caller.
 */
int bench_uffd_copy_page(int uffd, uint64_t page, const void *src, uint64_t page_size);

/* ---- memory and data ----------------------------------------------------------------------- */

/* The benchmarks measure 4 KiB base pages: 0, or -EINVAL saying this system's size. */
int bench_base_pages_4k(void);
/* Every 8 bytes of page @page of a benchmark's data; never 0, so no page
 * is a zero page. */
uint64_t bench_pattern(uint64_t page);

/*
 * A source's RAM, @size bytes: private anonymous memory aligned to
 * @page_size (it is only read: a 2 MiB block needs no huge pages there),
 * every page filled with bench_pattern() of its number. munmap(*@src,
 * @size) frees it. 0 or -errno.
 */
int bench_map_source(uint64_t size, uint64_t page_size, uint8_t **src);
/*
 * Fresh destination memory, nothing of it touched: private anonymous base
 * pages (MADV_NOHUGEPAGE, whatever the THP mode), or 2 MiB hugetlbfs.
 */
int bench_map_dest(uint64_t size, bool huge, uint8_t **dest);
/*
 * How many 2 MiB hugetlbfs pages a benchmark may use, at most @want: 0 with
 * the reason in @why when fewer than @min are free.
 */
uint64_t bench_huge_pages_usable(uint64_t want, uint64_t min, char *why, size_t size);

/* ---- figures ------------------------------------------------------------------------------- */

/* qsort() order of uint64_t. */
int bench_cmp_u64(const void *a, const void *b);
/* The median of @v (sorted in place), n >= 1. */
uint64_t bench_median_u64(uint64_t *v, unsigned int n);
/* Nearest rank: the smallest of @sorted with at least q of them at or below. */
uint64_t bench_percentile(const uint64_t *sorted, uint64_t n, double q);
/* A figure's spread over the rounds of a run: shown beside every figure. */
struct bench_spread {
	uint64_t min, median, max;
};
/* The spread of @v (sorted in place); all 0 when @n is 0. */
void bench_spread_of(uint64_t *v, unsigned int n, struct bench_spread *s);

/* a / b, or 0 when b is 0. */
double bench_ratio(uint64_t a, uint64_t b);
/* @n things in @ns nanoseconds, as a rate a second, rounded; 0 when @ns is 0. */
uint64_t bench_per_s(uint64_t n, uint64_t ns);
/* "4K" or "2M", for @page_size. */
const char *bench_size_name(uint64_t page_size);

/* ---- JSON ---------------------------------------------------------------------------------- */

struct json;
struct utsname;
/*
 * Start the one JSON object of a report on stdout with what every report
 * says first: @benchmark, libpcram's version, the kernel and the machine.
 * bench_json_end() closes it.
 */
void bench_json_begin(struct json *j, const char *benchmark, const struct utsname *uts);
void bench_json_end(struct json *j);
/* @key: {"min": .., "median": .., "max": ..}. */
void bench_json_spread(struct json *j, const char *key, const struct bench_spread *s);
/* @key: a CPU number, or null for -1 (not pinned). */
void bench_json_cpu(struct json *j, const char *key, int cpu);
/*
 * Row @key of a block-size report (migrate, netfault): skipped, it is
 * {"skipped": @skipped}, closed, and false; else "skipped": null,
 * "page_size" and "bytes" are in, true, and the caller adds its figures
 * and closes it.
 */
bool bench_json_row_begin(struct json *j, const char *key, const char *skipped,
			  uint64_t page_size, uint64_t bytes);

/* ---- options ------------------------------------------------------------------------------- */

/* A decimal count from @min to @max into @out: 0, or -1 for anything else. */
int bench_parse_count(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out);
/* The options of every benchmark; 0 where not given. */
struct bench_args {
	bool json;		/* -j */
	bool quick;		/* --quick */
	unsigned long pages;	/* -n */
	unsigned long rounds;	/* -r */
	unsigned long mib;	/* -s (bench_parse_args_sized only) */
};

/*
 * Parse them: -1 to go on, or the exit code to return (the usage or the
 * help was printed).
 */
int bench_parse_args(int argc, char **argv, unsigned long max_pages,
		     unsigned long max_rounds, struct bench_args *a);
/*
 * The same, and -s MIB from @min_mib to @max_mib (@max_mib 0: no -s);
 * @max_pages 0: no -n.
 */
int bench_parse_args_sized(int argc, char **argv, unsigned long max_pages,
			   unsigned long max_rounds, unsigned long min_mib,
			   unsigned long max_mib, struct bench_args *a);

/* ---- loopback TCP -------------------------------------------------------------------------- */

/* A listening 127.0.0.1 TCP socket on a free port (into @port), or -errno. */
int bench_tcp_listen(uint16_t *port);
/* A TCP connection to 127.0.0.1:@port, or -errno. */
int bench_tcp_connect(uint16_t port);
/*
 * Send or receive all @len bytes. Called in handler and server threads,
 * so they leave bench_errbuf to the caller. Send: 0 or -errno (-EPIPE:
 * nothing went). Receive: 0; 1 when the peer hung up before the first
 * byte; -errno (-EPIPE: after it).
 */
int bench_send_all(int fd, const void *buf, size_t len);
int bench_recv_all(int fd, void *buf, size_t len);

/* ---- the vCPU simulator (bench netfault) --------------------------------------------------- */

/*
 * A vCPU-like thread on a destination: told to go at the switchover, it
 * touches pages that have not arrived, one after another (each the first
 * missing page from a random one), with CLOCK_MONOTONIC around the first
 * read of each: touch to data. Each page it reads is checked against
 * bench_pattern(). Written once so that every side of a comparison faults
 * the same way: equal seeds pick equal pages, but for pages that arrived
 * by other means.
 */
struct bench_vcpu {
	/* Set before bench_vcpu_start(). */
	uint8_t *mem;			/* the destination's memory */
	uint64_t page_size, nr_pages;
	uint64_t want;			/* samples to take, at most */
	uint64_t *lat;			/* room for @want samples, ns */
	uint32_t seed;			/* not 0 */
	/*
	 * Whether the page at @host arrived other than by the vCPU's touch
	 * (a push); NULL: none does.
	 */
	bool (*arrived)(void *opaque, const void *host);
	void *opaque;
	/* Results, once joined. */
	uint64_t n;			/* samples taken: fewer when nothing is missing */
	uint64_t bad, bad_page, bad_value;	/* pages read wrong, the first of them */
	/* The simulator's own. */
	pthread_t thread;
	sem_t go;
	atomic_bool abort;
	uint64_t *touched;		/* a bit a page */
	bool started;
};

/* Its thread, on @cpu (-1: anywhere), waiting for bench_vcpu_go(): 0 or -errno. */
int bench_vcpu_start(struct bench_vcpu *v, int cpu);
/* Start faulting; safe from a library's callback. */
void bench_vcpu_go(struct bench_vcpu *v);
/* Stop at the next page (the run failed), or before the first. */
void bench_vcpu_abort(struct bench_vcpu *v);
/* Wait for it (bench_join()) and free its own; nothing when it never started. */
void bench_vcpu_join(struct bench_vcpu *v, unsigned int timeout_s, const char *what);

#endif /* PCRAM_TOOLS_BENCH_H */
