/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What 'pcram serve', 'pcram recv' and 'pcram demo' share: addresses,
 * sizes, RAM, the report of a migration.
 */
#ifndef PCRAM_TOOLS_MIGRATE_H
#define PCRAM_TOOLS_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <pcram.h>

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (any address): 0, or -1 with @err. */
int addr_listen(const char *addr, char *err, size_t errlen);
/* A TCP connection to @addr within @timeout_ms, or -1 and why in @err. */
int addr_connect(const char *addr, unsigned int timeout_ms, char *err, size_t errlen);
/* The port a listening socket got (for port 0). */
int addr_port(int fd);

/* "512M", "1G", "4096", "2m": bytes; 0 on success, -1 if malformed. */
int parse_size(const char *s, uint64_t *out);
int parse_uint(const char *s, unsigned long max, unsigned long *out);

/* A source's RAM: an image file mapped shared, or a synthetic pattern. */
struct ram {
	uint8_t *host;
	uint64_t length;
	uint64_t page_size;
};

/*
 * @image: map it (MAP_SHARED: the workload's writes go to the file, and a
 * source restarted from it serves them); with @size too, create it at
 * that size with the pattern first. No @image: @size bytes of anonymous
 * memory with the pattern. 0, or -1 with @err.
 */
/*
 * Huge pages of @page_size a new mapping can have now (free, less those
 * promised to mappings already), and the pool's size in @total; -1: the
 * kernel has no such pool.
 */
long huge_pages_available(uint64_t page_size, long *total);
/* 0 if @bytes of such pages can be had; else -1, and what to do in @err. */
int huge_pool_check(uint64_t bytes, uint64_t page_size, const char *what,
		    char *err, size_t errlen);

int ram_open(struct ram *r, const char *image, uint64_t size, uint64_t page_size,
	     char *err, size_t errlen);
void ram_close(struct ram *r);
/* The synthetic pattern: every 8th page zeros, the rest from the index. */
void ram_fill(uint8_t *p, uint64_t first_page, uint64_t npages, uint64_t page_size);

/* What the source reports (also over a pipe, in 'pcram demo'). */
struct serve_report {
	int ret;
	char error[256];
	struct pcram_src_stats st;
	uint64_t start_ns, end_ns;	/* CLOCK_MONOTONIC */
	uint64_t writes;		/* by the workload during precopy */
	uint64_t pages;			/* of the RAM served */
};

struct serve_conf {
	int listen_fd;
	const char *image;
	uint64_t size, page_size;
	unsigned int precopy_rounds, precopy_ms;
	unsigned long dirty_rate;	/* pages/s written during precopy */
	unsigned int wait_s;		/* for a destination to (re)connect */
	uint64_t rate_limit;		/* bytes/s per connection, 0: none */
	unsigned int peer_timeout_s;	/* a silent destination is gone */
	bool verify;			/* COMPLETE must follow every checksum */
	bool quiet;
};

int serve_run(const struct serve_conf *c, struct serve_report *rep);

enum access_pattern { PATTERN_SEQUENTIAL, PATTERN_RANDOM, PATTERN_ZIPF, PATTERN_TRACE };

/* "sequential", "random", "zipf", or with @trace "trace:FILE": 0, or -1. */
int parse_pattern(const char *s, enum access_pattern *p, const char **trace);

struct recv_conf {
	const char *connect;
	unsigned int vcpus;
	enum access_pattern pattern;
	const char *trace;		/* PATTERN_TRACE: the file */
	unsigned long accesses;		/* per vCPU; 0: pages / vcpus */
	unsigned int source_timeout_s;
	unsigned int peer_timeout_s;	/* a silent source: reconnect */
	bool poison;
	bool verify;
	bool progress;			/* a live bar on stderr */
};

#define RECV_MAX_VCPUS 256

struct recv_report {
	int ret;
	char error[512];
	struct pcram_in_stats in;
	struct pcram_dst_stats dst;
	uint64_t pages, page_size, bytes;
	uint64_t start_ns, end_ns;	/* connect .. last page in */
	unsigned int vcpus;
	struct {
		uint64_t accesses, faults, blocked_ns, max_ns;
		bool sigbus;		/* touched a poisoned page */
	} vcpu[RECV_MAX_VCPUS];
	uint64_t poisoned;
	bool verify;			/* checksums were asked for */
};

int recv_run(const struct recv_conf *c, struct recv_report *rep);

/* The report: text for people, or JSON (-j). @src may be NULL, @in too. */
void report_print(FILE *out, bool json, const struct serve_report *src,
		  const struct recv_report *in);

#endif /* PCRAM_TOOLS_MIGRATE_H */
