// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Precopy and the switchover, on the source. Passes over the pages while
 * the VM runs: the first sends every page the destination lacks, each
 * later one the pages written since they were sent, as the dirty tracker
 * reports them. At the switchover the VM stops, the tracker is read one
 * last time, and every page the destination holds a stale copy of is
 * discarded there in DISCARD messages of at most 12 ranges each (the
 * seed's init/range/finish batching), to come again in postcopy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src.h"

static bool dirty_test(const struct src_block *b, uint64_t p)
{
	return b->dirty[p / BITS_PER_WORD] & (1UL << (p % BITS_PER_WORD));
}

static void dirty_clear(struct src_block *b, uint64_t p)
{
	b->dirty[p / BITS_PER_WORD] &= ~(1UL << (p % BITS_PER_WORD));
}

/* The tracker's report: pages of block @i touched by [off, off + len). */
static void mark(void *opaque, unsigned int i, uint64_t off, uint64_t len)
{
	struct pcram_src *src = opaque;
	struct src_block *b = &src->blocks[i];
	uint64_t last;

	if (!len || off >= b->w.length)
		return;
	last = (off + len - 1 < b->w.length ? off + len - 1 : b->w.length - 1) >> b->shift;
	for (uint64_t p = off >> b->shift; p <= last; p++) {
		unsigned long m = 1UL << (p % BITS_PER_WORD);

		if (b->dirty[p / BITS_PER_WORD] & m)
			continue;
		b->dirty[p / BITS_PER_WORD] |= m;
		if (sent_test(b, p))
			atomic_fetch_add(&src->st.dirtied, 1);
	}
}

static int harvest(struct pcram_src *src)
{
	bool hold = src->tracker.kind == PCRAM_DIRTY_SOFT_DIRTY && !src->switched;
	int ret;

	if (hold)
		src->opts.hold(src->opts.opaque, 1);
	ret = dirty_harvest(&src->tracker, mark, src);
	if (hold)
		src->opts.hold(src->opts.opaque, 0);
	if (ret)
		return src_error(src, ret, "reading the dirty pages: %s", strerror(-ret));
	return 0;
}

static int start_tracking(struct pcram_src *src)
{
	struct dirty_range *r = calloc(src->nr_blocks, sizeof(*r));
	char why[256];
	int ret;

	if (!r)
		return -ENOMEM;
	for (unsigned int i = 0; i < src->nr_blocks; i++)
		r[i] = (struct dirty_range) {
			.start = (uint8_t *)src->blocks[i].host,
			.len = src->blocks[i].w.length,
		};
	ret = dirty_start(&src->tracker, r, src->nr_blocks,
			  src->opts.flags & PCRAM_SRC_F_SOFT_DIRTY, why, sizeof(why));
	free(r);
	if (ret)
		return src_error(src, ret, "precopy: no way to track dirty pages here: %s", why);
	if (src->tracker.kind == PCRAM_DIRTY_SOFT_DIRTY && !src->opts.hold) {
		dirty_stop(&src->tracker);
		return src_error(src, -EOPNOTSUPP,
				 "precopy: this kernel tracks dirty pages with soft-dirty only (%s),"
				 " which needs options.hold to stop the writers", why);
	}
	src->tracking = src->tracker.kind;
	return 0;
}

static bool past(uint64_t end_ns)
{
	return end_ns && clock_mono_ns() >= end_ns;
}

/* Should page @p go in this pass? */
static bool wanted(struct src_block *b, uint64_t p)
{
	return !sent_test(b, p) || dirty_test(b, p);
}

/* One pass in address order: the pages sent, or -errno. */
static int64_t pass(struct pcram_src *src, bool *timed_out)
{
	struct send_batch sb;
	int64_t n = 0;
	int ret;

	send_batch_init(&sb, &src->bulk_tx);
	for (unsigned int bi = 0; bi < src->nr_blocks; bi++) {
		struct src_block *b = &src->blocks[bi];

		/* Never clean (hugetlbfs under soft-dirty): postcopy only. */
		if (src->tracker.ranges[bi].untracked)
			continue;
		for (uint64_t p = 0; p < b->npages;) {
			uint32_t run = 1;

			if (!wanted(b, p)) {
				p++;
				continue;
			}
			if (past(src->precopy_end_ns)) {
				*timed_out = true;
				goto out;
			}
			/* The destination gave up, or broke a rule: no more. */
			if (atomic_load(&src->stop)) {
				ret = -ECANCELED;
				goto broken;
			}
			/* Clean from here: a later write is the tracker's. */
			dirty_clear(b, p);
			sent_test_set(b, p);
			if (!page_is_zero(b->host + (p << b->shift), b->w.page_size)) {
				ret = send_batch_page(src, &sb, bi, p);
			} else {
				while (run < ZERO_RUN_MAX && p + run < b->npages && wanted(b, p + run) &&
				       page_is_zero(b->host + ((p + run) << b->shift),
						    b->w.page_size)) {
					dirty_clear(b, p + run);
					sent_test_set(b, p + run);
					run++;
				}
				ret = send_batch_zero(&sb, bi, p << b->shift, run);
				atomic_fetch_add(&src->st.zero, run);
			}
			if (ret)
				goto broken;
			atomic_fetch_add(&src->st.precopy, run);
			n += run;
			p += run;
		}
	}
out:
	ret = send_batch_flush(&sb);
	if (!ret)
		return n;
broken:
	return src_error(src, wire_conn_lost(ret) ? -ECONNRESET : ret,
			 "precopy: sending pages: %s", strerror(-ret));
}

int precopy(struct pcram_src *src)
{
	int ret;

	if (src->tracker.kind == PCRAM_DIRTY_NONE) {
		ret = start_tracking(src);
		if (ret)
			return ret;
		if (src->opts.precopy_ms)
			src->precopy_end_ns = clock_mono_ns() +
					      src->opts.precopy_ms * 1000000ULL;
	}
	while (src->rounds < src->opts.precopy_rounds) {
		bool timed_out = false;
		int64_t sent;

		/* Every pass but a first one starts from what was written. */
		if (src->rounds || src->serves > 1) {
			ret = harvest(src);
			if (ret)
				return ret;
		}
		sent = pass(src, &timed_out);
		if (sent < 0)
			return (int)sent;
		if (!sent && !timed_out)
			break;	/* nothing written since the last pass */
		src->rounds++;
		if (timed_out)
			break;
	}
	return 0;
}

/* ---- discards: init, range, finish --------------------------------------------------- */

struct discard_batch {
	struct pcram_src *src;
	unsigned int block;
	uint32_t n;
	struct wire_range r[WIRE_DISCARD_MAX];
	int ret;
};

static void discard_init(struct discard_batch *db, struct pcram_src *src,
			 unsigned int block)
{
	db->src = src;
	db->block = block;
	db->n = 0;
	db->ret = 0;
}

static void discard_send(struct discard_batch *db)
{
	uint8_t msg[WIRE_HDR_LEN + 8 + 16 * WIRE_DISCARD_MAX];

	if (!db->n || db->ret)
		return;
	db->ret = wire_link_write(&db->src->bulk_tx, msg,
				  wire_put_discard(msg, sizeof(msg), db->block, db->r, db->n));
	atomic_fetch_add(&db->src->st.discard_commands, 1);
	db->n = 0;
}

/* Pages [first, first + npages) of the block, as a byte range. */
static void discard_range(struct discard_batch *db, uint64_t first, uint64_t npages)
{
	unsigned int shift = db->src->blocks[db->block].shift;

	db->r[db->n++] = (struct wire_range) { first << shift, npages << shift };
	atomic_fetch_add(&db->src->st.discard_ranges, 1);
	if (db->n == WIRE_DISCARD_MAX)
		discard_send(db);
}

static int discard_finish(struct discard_batch *db)
{
	discard_send(db);
	return db->ret;
}

/* Every page the destination has but that was written since: discarded. */
static int send_discards(struct pcram_src *src)
{
	for (unsigned int bi = 0; bi < src->nr_blocks; bi++) {
		struct src_block *b = &src->blocks[bi];
		struct discard_batch db;
		int ret;

		discard_init(&db, src, bi);
		for (uint64_t p = 0; p < b->npages; p++) {
			uint64_t run = 0;

			while (p + run < b->npages && dirty_test(b, p + run) &&
			       sent_test(b, p + run)) {
				sent_clear(b, p + run);
				run++;
			}
			if (run)
				discard_range(&db, p, run);
			p += run;
		}
		ret = discard_finish(&db);
		if (ret)
			return src_error(src, wire_conn_lost(ret) ? -ECONNRESET : ret,
					 "sending DISCARD: %s", strerror(-ret));
	}
	return 0;
}

int switchover(struct pcram_src *src, bool dst_switched)
{
	uint8_t msg[WIRE_HDR_LEN];
	int ret;

	if (!src->switched) {
		if (src->opts.switchover)
			src->opts.switchover(src->opts.opaque);
		src->stop_ns = clock_mono_ns();
		src->switched = true;
		if (src->tracker.kind != PCRAM_DIRTY_NONE) {
			/* The VM has stopped: the last writes, then no more. */
			ret = harvest(src);
			dirty_stop(&src->tracker);
			if (ret)
				return ret;
		}
	}
	if (dst_switched) {
		/* It processed every DISCARD before the SWITCHOVER it saw. */
		for (unsigned int bi = 0; bi < src->nr_blocks; bi++)
			memset(src->blocks[bi].dirty, 0,
			       (src->blocks[bi].npages + BITS_PER_WORD - 1) / BITS_PER_WORD *
			       sizeof(unsigned long));
	} else {
		ret = send_discards(src);
		if (ret)
			return ret;
	}
	/* On every connection: a resumed destination may have missed it. */
	atomic_store(&src->dst_may_complete, true);
	ret = wire_link_write(&src->bulk_tx, msg, wire_put_empty(msg, sizeof(msg), WIRE_SWITCHOVER));
	if (ret)
		return src_error(src, wire_conn_lost(ret) ? -ECONNRESET : ret,
				 "sending SWITCHOVER: %s", strerror(-ret));
	return 0;
}

void precopy_free(struct pcram_src *src)
{
	dirty_stop(&src->tracker);
}
