/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The source's state, shared by the serving code (src.c) and precopy
 * (precopy.c).
 */
#ifndef PCRAM_SRC_H
#define PCRAM_SRC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sys/uio.h>

#include "clock.h"
#include "dirty.h"
#include "error.h"
#include "internal.h"
#include "wire.h"

#define BITS_PER_WORD (8 * sizeof(unsigned long))
#define ZERO_RUN_MAX 4096	/* pages one ZERO message covers */

struct src_block {
	struct wire_block w;
	const uint8_t *host;
	unsigned int shift;
	uint64_t npages;
	/* The destination has it: sent, or in its RECEIVED bitmap. */
	_Atomic unsigned long *sent;
	/* Written since it was sent: the destination's copy is stale.
	 * Only the serving thread touches it. */
	unsigned long *dirty;
	/* Its CHECKSUM came on this connection. Only the bulk reader's. */
	unsigned long *checked;
};

typedef _Atomic uint64_t counter_t;

struct pcram_src {
	struct src_block *blocks;
	struct wire_block *wblocks;	/* for the parser */
	unsigned int nr_blocks;
	struct pcram_src_options opts;
	uint64_t session;
	bool switched;		/* the VM has stopped */
	unsigned int serves;

	/* Precopy: armed at its first pass, stopped at the switchover. */
	struct dirty tracker;
	unsigned int rounds;
	uint64_t precopy_end_ns;

	struct lib_error error;
	unsigned int peer_timeout_ms;

	/* One serve() at a time. */
	int bulk, urgent;
	struct wire_link bulk_tx, urgent_tx;
	_Atomic bool stop;
	/*
	 * The destination may have switched over: its READY said so, or
	 * our SWITCHOVER is on its way. From here CHECKSUM and COMPLETE may
	 * come (it reads the SWITCHOVER, and answers, before our write
	 * returns).
	 */
	_Atomic bool dst_may_complete;
	/*
	 * The first failure of this serve() is its story: the threads that
	 * stop because of it fail too, and are not heard.
	 */
	pthread_mutex_t fail_lock;
	int fail;
	bool fail_peer;		/* the destination's own SHUTDOWN */
	char fail_text[512];
	/* The last requested page: block << 40 | page, plus 1; 0: none. */
	_Atomic uint64_t hint;

	struct {
		counter_t pushed, requested, zero, bytes, requests;
		counter_t discard_ranges, discard_commands, resumes, equal, differ;
		counter_t precopy, dirtied;
	} st;
	enum pcram_dirty_tracking tracking;
	uint64_t stop_ns;
};

int src_error(struct pcram_src *src, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

bool sent_test_set(struct src_block *b, uint64_t p);
bool sent_test(struct src_block *b, uint64_t p);
void sent_clear(struct src_block *b, uint64_t p);
bool page_is_zero(const uint8_t *p, uint64_t len);
/* Page @p of block @bi on @l: as data, or as a zero flag. */
int send_page(struct pcram_src *src, struct wire_link *l, unsigned int bi, uint64_t p);
/*
 * Bulk messages gathered for one sendmsg(): their headers here, page data
 * by reference to the block, so read when it goes (a write after the
 * page was picked is newer data, and the dirty tracker has it anyway).
 * One sendmsg() a page capped precopy and the push near 1 GB/s.
 */
#define SEND_BATCH 32
struct send_batch {
	struct wire_link *link;
	unsigned int nmsg, niov;
	struct iovec iov[2 * SEND_BATCH];
	uint8_t hdr[SEND_BATCH][WIRE_HDR_LEN + WIRE_PAGE_HDR];
};

void send_batch_init(struct send_batch *sb, struct wire_link *l);
/* Page @p of block @bi, as data or a zero flag: sent when the batch fills. */
int send_batch_page(struct pcram_src *src, struct send_batch *sb, unsigned int bi, uint64_t p);
/* @n zero pages from byte @off of block @bi. */
int send_batch_zero(struct send_batch *sb, unsigned int bi, uint64_t off, uint32_t n);
int send_batch_flush(struct send_batch *sb);

/* Zero pages from @p on, not sent yet, at most ZERO_RUN_MAX: claimed. */
uint32_t zero_run(struct src_block *b, uint64_t p);

/*
 * This serve() has failed with @ret: the first call is the one told.
 * @peer: the destination's own SHUTDOWN. Every thread is told to stop.
 */
void serve_fail(struct pcram_src *src, int ret, bool peer, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Precopy passes on bulk, until the options' limits: 0 or -errno (the
 * message in src's error). Then the switchover: the VM stops, the last
 * written pages are found and their discards sent.
 */
int precopy(struct pcram_src *src);
int switchover(struct pcram_src *src, bool dst_switched);
void precopy_free(struct pcram_src *src);

#endif /* PCRAM_SRC_H */
