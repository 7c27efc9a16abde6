// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The source of a migration: greets the destination, learns what it has,
 * switches over, then pushes every missing page in address order on the
 * bulk connection while the urgent connection answers requests. The push
 * restarts just after the most recently requested page, where the
 * destination is likely to fault next.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "src.h"
#include "thread.h"

int src_error(struct pcram_src *src, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lib_error_vset(&src->error, err, fmt, ap);
	va_end(ap);
	return err;
}

PCRAM_EXPORT
int pcram_src_new(struct pcram_src **out, const struct pcram_src_options *opts)
{
	struct pcram_src *src;

	if (!out || (opts && (opts->flags & ~PCRAM_SRC_F_ALL)))
		return -EINVAL;
	if (opts && opts->precopy_rounds && !opts->switchover)
		return -EINVAL;	/* precopy is for a running VM: it must stop */
	src = calloc(1, sizeof(*src));
	if (!src)
		return -ENOMEM;
	if (opts)
		src->opts = *opts;
	src->bulk = src->urgent = -1;
	src->tracker.uffd = src->tracker.pagemap = -1;
	src->peer_timeout_ms = WIRE_PEER_TIMEOUT_MS;
	lib_error_init(&src->error);
	pthread_mutex_init(&src->fail_lock, NULL);
	*out = src;
	return 0;
}

PCRAM_EXPORT
void pcram_src_free(struct pcram_src *src)
{
	if (!src)
		return;
	precopy_free(src);
	for (unsigned int i = 0; i < src->nr_blocks; i++) {
		free((void *)src->blocks[i].sent);
		free(src->blocks[i].dirty);
		free(src->blocks[i].checked);
	}
	free(src->blocks);
	free(src->wblocks);
	lib_error_destroy(&src->error);
	pthread_mutex_destroy(&src->fail_lock);
	free(src);
}

PCRAM_EXPORT
const char *pcram_src_strerror(const struct pcram_src *src)
{
	return src ? lib_error_get(&src->error) : "no source";
}

PCRAM_EXPORT
int pcram_src_add_block(struct pcram_src *src, const struct pcram_src_block *blk)
{
	struct src_block *nb;
	struct wire_block *nw;
	size_t nl;

	if (!src || !blk || !blk->name || !blk->host)
		return -EINVAL;
	if (src->serves)
		return src_error(src, -EBUSY, "add_block: the migration has started");
	nl = strlen(blk->name);
	if (!nl || nl > PCRAM_BLOCK_NAME_MAX)
		return src_error(src, -EINVAL, "add_block: name of %zu bytes (1..%d)",
				 nl, PCRAM_BLOCK_NAME_MAX);
	for (size_t i = 0; i < nl; i++)
		if ((uint8_t)blk->name[i] < 0x20 || blk->name[i] == 0x7f)
			return src_error(src, -EINVAL, "add_block: name has control bytes");
	if (blk->page_size < WIRE_MIN_PAGE || blk->page_size > WIRE_MAX_PAGE ||
	    (blk->page_size & (blk->page_size - 1)))
		return src_error(src, -EINVAL, "add_block %s: page size %" PRIu64,
				 blk->name, blk->page_size);
	if (!blk->length || blk->length % blk->page_size ||
	    (uintptr_t)blk->host % blk->page_size)
		return src_error(src, -EINVAL,
				 "add_block %s: host and length must be whole pages", blk->name);
	if (src->nr_blocks == WIRE_MAX_BLOCKS)
		return src_error(src, -E2BIG, "add_block: more than %d blocks",
				 WIRE_MAX_BLOCKS);
	for (unsigned int i = 0; i < src->nr_blocks; i++)
		if (!strcmp(src->blocks[i].w.name, blk->name))
			return src_error(src, -EEXIST, "add_block: %s twice", blk->name);

	nb = realloc(src->blocks, (src->nr_blocks + 1) * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	src->blocks = nb;
	nw = realloc(src->wblocks, (src->nr_blocks + 1) * sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	src->wblocks = nw;
	nb = &src->blocks[src->nr_blocks];
	memset(nb, 0, sizeof(*nb));
	memcpy(nb->w.name, blk->name, nl + 1);
	nb->w.length = blk->length;
	nb->w.page_size = blk->page_size;
	nb->host = blk->host;
	nb->shift = __builtin_ctzll(blk->page_size);
	nb->npages = blk->length / blk->page_size;
	nb->sent = calloc((nb->npages + BITS_PER_WORD - 1) / BITS_PER_WORD,
			  sizeof(unsigned long));
	nb->dirty = calloc((nb->npages + BITS_PER_WORD - 1) / BITS_PER_WORD,
			   sizeof(unsigned long));
	nb->checked = calloc((nb->npages + BITS_PER_WORD - 1) / BITS_PER_WORD,
			     sizeof(unsigned long));
	if (!nb->sent || !nb->dirty || !nb->checked) {
		free((void *)nb->sent);
		free(nb->dirty);
		free(nb->checked);
		return -ENOMEM;
	}
	nw[src->nr_blocks] = nb->w;
	src->nr_blocks++;
	return 0;
}

bool sent_test_set(struct src_block *b, uint64_t p)
{
	unsigned long m = 1UL << (p % BITS_PER_WORD);

	return atomic_fetch_or(&b->sent[p / BITS_PER_WORD], m) & m;
}

bool sent_test(struct src_block *b, uint64_t p)
{
	return atomic_load(&b->sent[p / BITS_PER_WORD]) & (1UL << (p % BITS_PER_WORD));
}

void sent_clear(struct src_block *b, uint64_t p)
{
	atomic_fetch_and(&b->sent[p / BITS_PER_WORD], ~(1UL << (p % BITS_PER_WORD)));
}

bool page_is_zero(const uint8_t *p, uint64_t len)
{
	const uint64_t *w = (const uint64_t *)p;

	for (uint64_t i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

int send_page(struct pcram_src *src, struct wire_link *l, unsigned int bi, uint64_t p)
{
	struct src_block *b = &src->blocks[bi];
	const uint8_t *data = b->host + (p << b->shift);
	uint8_t hdr[WIRE_HDR_LEN + WIRE_PAGE_HDR];
	size_t n;

	if (page_is_zero(data, b->w.page_size)) {
		n = wire_put_zero(hdr, sizeof(hdr), bi, p << b->shift, 1);
		atomic_fetch_add(&src->st.zero, 1);
		return wire_link_write(l, hdr, n);
	}
	n = wire_put_page_hdr(hdr, sizeof(hdr), bi, p << b->shift, b->w.page_size);
	atomic_fetch_add(&src->st.bytes, b->w.page_size);
	return wire_link_writev(l, hdr, n, data, b->w.page_size);
}

void send_batch_init(struct send_batch *sb, struct wire_link *l)
{
	sb->link = l;
	sb->nmsg = sb->niov = 0;
}

int send_batch_flush(struct send_batch *sb)
{
	int ret = sb->niov ? wire_link_sendv(sb->link, sb->iov, sb->niov) : 0;

	sb->nmsg = sb->niov = 0;
	return ret;
}

static int send_batch_add(struct send_batch *sb, size_t hlen, const void *data, size_t len)
{
	sb->iov[sb->niov++] = (struct iovec) { sb->hdr[sb->nmsg], hlen };
	if (len)
		sb->iov[sb->niov++] = (struct iovec) { (void *)data, len };
	return ++sb->nmsg == SEND_BATCH ? send_batch_flush(sb) : 0;
}

int send_batch_zero(struct send_batch *sb, unsigned int bi, uint64_t off, uint32_t n)
{
	return send_batch_add(sb, wire_put_zero(sb->hdr[sb->nmsg], sizeof(sb->hdr[0]), bi, off, n),
			      NULL, 0);
}

int send_batch_page(struct pcram_src *src, struct send_batch *sb, unsigned int bi, uint64_t p)
{
	struct src_block *b = &src->blocks[bi];
	const uint8_t *data = b->host + (p << b->shift);

	if (page_is_zero(data, b->w.page_size)) {
		atomic_fetch_add(&src->st.zero, 1);
		return send_batch_zero(sb, bi, p << b->shift, 1);
	}
	atomic_fetch_add(&src->st.bytes, b->w.page_size);
	return send_batch_add(sb, wire_put_page_hdr(sb->hdr[sb->nmsg], sizeof(sb->hdr[0]), bi,
						    p << b->shift, b->w.page_size),
			      data, b->w.page_size);
}

/* ---- failure ------------------------------------------------------------------ */


void serve_fail(struct pcram_src *src, int ret, bool peer, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&src->fail_lock);
	if (!src->fail) {
		src->fail = ret;
		src->fail_peer = peer;
		va_start(ap, fmt);
		vsnprintf(src->fail_text, sizeof(src->fail_text), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&src->fail_lock);
	atomic_store(&src->stop, true);
	/* Wake the readers; the writers see @stop between messages. */
	shutdown(src->bulk, SHUT_RD);
	shutdown(src->urgent, SHUT_RD);
}

static void conn_text(struct pcram_src *src, char *buf, size_t len, int ret,
		      const char *what)
{
	wire_io_text(buf, len, ret, what, "destination", src->peer_timeout_ms);
}

/* A failed read or write of a connection: the failure it is. */
static void serve_fail_io(struct pcram_src *src, int ret, const char *what)
{
	char text[256];

	conn_text(src, text, sizeof(text), ret, what);
	serve_fail(src, ret, false, "%s", text);
}

/* ---- the urgent connection: requests ------------------------------------- */

static int serve_request(struct pcram_src *src, const struct wire_msg *m,
			 int *last, char *err, size_t errlen)
{
	const struct wire_block *w;
	struct src_block *b;
	int bi = *last;

	if (m->request.name_len) {
		bi = -1;
		for (unsigned int i = 0; i < src->nr_blocks; i++)
			if (!strcmp(src->blocks[i].w.name, m->request.name))
				bi = (int)i;
		if (bi < 0) {
			snprintf(err, errlen, "REQUEST: no block named %.255s", m->request.name);
			return -EPROTO;
		}
	} else if (bi < 0) {
		snprintf(err, errlen, "REQUEST: no block named, and none before");
		return -EPROTO;
	}
	*last = bi;
	b = &src->blocks[bi];
	w = &b->w;
	if ((m->request.offset | m->request.length) & (w->page_size - 1) ||
	    m->request.offset >= w->length ||
	    m->request.length > w->length - m->request.offset) {
		snprintf(err, errlen, "REQUEST: %#" PRIx64 "+%#" PRIx64
			 " is not whole pages inside block %.255s", m->request.offset,
			 m->request.length, w->name);
		return -EPROTO;
	}
	atomic_fetch_add(&src->st.requests, 1);
	for (uint64_t off = m->request.offset;
	     off < m->request.offset + m->request.length; off += w->page_size) {
		uint64_t p = off >> b->shift;
		int ret;

		/* Always sent: a page in the bulk stream may be far behind. */
		sent_test_set(b, p);
		atomic_store(&src->hint, ((uint64_t)bi << 40 | p) + 1);
		ret = send_page(src, &src->urgent_tx, bi, p);
		if (ret) {
			conn_text(src, err, errlen, ret, "urgent: sending a requested page");
			return ret;
		}
		atomic_fetch_add(&src->st.requested, 1);
	}
	return 0;
}

static void *urgent_main(void *arg)
{
	struct pcram_src *src = arg;
	struct wire_table t = { src->wblocks, src->nr_blocks };
	uint8_t buf[WIRE_HDR_LEN + 6 + WIRE_TEXT_MAX];
	char err[512];
	int last = -1;

	pthread_setname_np(pthread_self(), "pcram-urgent");
	thread_urgent();
	for (;;) {
		struct wire_msg m;
		int ret = wire_read_msg(src->urgent, &t, buf, sizeof(buf), &m, err,
					sizeof(err));

		if (ret) {
			/* After a stop, a read ends on our own shutdown. */
			if (ret == -EPROTO)
				serve_fail(src, ret, false, "%s", err);
			else if (!atomic_load(&src->stop))
				serve_fail_io(src, ret, "urgent");
			break;
		}
		if (m.type == WIRE_SHUTDOWN) {
			serve_fail(src, m.shutdown.status, true, "%s", m.shutdown.text);
			break;
		}
		if (m.type != WIRE_REQUEST) {
			serve_fail(src, -EPROTO, false, "%s on the urgent connection",
				   wire_type_name(m.type));
			break;
		}
		ret = serve_request(src, &m, &last, err, sizeof(err));
		if (ret) {
			serve_fail(src, ret, false, "%s", err);
			break;
		}
	}
	return NULL;
}

/* ---- the bulk connection: the push ------------------------------------------ */

uint32_t zero_run(struct src_block *b, uint64_t p)
{
	uint32_t n = 1;

	while (n < ZERO_RUN_MAX && p + n < b->npages && !sent_test(b, p + n) &&
	       page_is_zero(b->host + ((p + n) << b->shift), b->w.page_size) &&
	       !sent_test_set(b, p + n))
		n++;
	return n;
}

static uint64_t pages_unsent(const struct pcram_src *src)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < src->nr_blocks; i++)
		for (uint64_t k = 0; k < src->blocks[i].npages; k++)
			n += !sent_test(&src->blocks[i], k);
	return n;
}

static void *push_main(void *arg)
{
	struct pcram_src *src = arg;
	uint64_t seen_hint = 0, left;
	struct send_batch sb;
	unsigned int bi = 0;
	uint64_t p = 0;
	int ret = 0;

	/* Requests only: the destination completes by asking for every page. */
	if (src->opts.flags & PCRAM_SRC_F_NO_PUSH)
		return NULL;
	pthread_setname_np(pthread_self(), "pcram-push");
	send_batch_init(&sb, &src->bulk_tx);
	if (!(src->opts.flags & PCRAM_SRC_F_BULK_SAME_PRIORITY))
		thread_background();
	left = pages_unsent(src);

	/* Laps over all blocks until a whole lap finds nothing left. */
	for (uint64_t idle = 0; !atomic_load(&src->stop);) {
		uint64_t hint = atomic_load(&src->hint);
		struct src_block *b;

		if (hint != seen_hint) {
			/* Just after the page the destination asked for last. */
			seen_hint = hint;
			bi = (unsigned int)((hint - 1) >> 40);
			p = ((hint - 1) & ((1ULL << 40) - 1)) + 1;
		}
		if (bi >= src->nr_blocks)
			bi = 0;
		b = &src->blocks[bi];
		if (p >= b->npages) {
			bi = (bi + 1) % src->nr_blocks;
			p = 0;
			continue;
		}
		if (sent_test_set(b, p)) {
			p++;
			if (++idle > left + 2 * src->nr_blocks) {
				/* A lap with nothing new: check by counting. */
				left = pages_unsent(src);
				if (!left)
					break;
				idle = 0;
			}
			continue;
		}
		idle = 0;
		if (page_is_zero(b->host + (p << b->shift), b->w.page_size)) {
			uint32_t n = zero_run(b, p);

			ret = send_batch_zero(&sb, bi, p << b->shift, n);
			atomic_fetch_add(&src->st.zero, n);
			atomic_fetch_add(&src->st.pushed, n);
			p += n;
		} else {
			ret = send_batch_page(src, &sb, bi, p);
			atomic_fetch_add(&src->st.pushed, 1);
			p++;
		}
		if (ret)
			break;
	}
	/* Claimed pages go even after a stop: they count as sent. */
	if (!ret)
		ret = send_batch_flush(&sb);
	if (ret)
		serve_fail_io(src, ret, "bulk: sending pages");
	return NULL;
}

/* ---- serve -------------------------------------------------------------------- */

static uint64_t new_session(void)
{
	struct timespec ts = clock_now(CLOCK_REALTIME);

	return ((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec ^
		(uint64_t)getpid() << 16) | 1;
}

/*
 * A failed read in the handshake: the failure. A malformed message is
 * refused on every connection of the session known so far.
 */
static int handshake_fail(struct pcram_src *src, int fd, int ret, const char *err)
{
	if (ret == -EPROTO)
		serve_fail(src, ret, false, "%s", err);
	else
		serve_fail_io(src, ret, fd == src->bulk ? "bulk" : "handshake");
	return ret;
}

static void clear_bits(unsigned long *map, uint64_t bits)
{
	memset(map, 0, (bits + BITS_PER_WORD - 1) / BITS_PER_WORD * sizeof(*map));
}

/*
 * HELLO on both, then BLOCKS, RECEIVED..., READY on bulk. @dst_switched:
 * the destination says it has switched over already.
 */
static int handshake(struct pcram_src *src, int fd_a, int fd_b, bool *dst_switched)
{
	bool restarted = false;
	struct wire_table t = { src->wblocks, src->nr_blocks };
	int fds[2] = { fd_a, fd_b }, ret;
	uint64_t session = 0;
	char err[512] = "";
	uint8_t *buf;
	size_t cap = 16 + WIRE_BITMAP_MAX_BITS / 8 + 64, n;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		struct wire_msg m = { .blocks.blocks = NULL };

		ret = wire_read_msg(fds[i], NULL, buf, cap, &m, err, sizeof(err));
		if (!ret && m.type == WIRE_SHUTDOWN) {
			serve_fail(src, m.shutdown.status, true, "%s", m.shutdown.text);
			ret = -ECANCELED;
			goto out;
		}
		if (!ret && m.type != WIRE_HELLO) {
			snprintf(err, sizeof(err), "%s before HELLO", wire_type_name(m.type));
			ret = -EPROTO;
		}
		if (!ret && ((m.hello.channel == WIRE_BULK && src->bulk >= 0) ||
			     (m.hello.channel == WIRE_URGENT && src->urgent >= 0))) {
			snprintf(err, sizeof(err), "HELLO: two %s connections",
				 m.hello.channel ? "urgent" : "bulk");
			ret = -EPROTO;
		}
		if (!ret && i && m.hello.session != session) {
			snprintf(err, sizeof(err), "HELLO: the connections are of two sessions");
			ret = -EPROTO;
		}
		if (ret) {
			handshake_fail(src, fds[i], ret, err);
			goto out;
		}
		session = m.hello.session;
		if (m.hello.channel == WIRE_BULK)
			src->bulk = fds[i];
		else
			src->urgent = fds[i];
	}
	/*
	 * A source with no history of this destination: new, or restarted.
	 * Whatever the destination holds (nothing, if it is new too) may be
	 * older than our RAM unless it has switched over (below).
	 */
	restarted = !src->session && session;
	if (!src->session)
		src->session = session ? session : new_session();
	free(buf);
	cap = WIRE_HDR_LEN + 12 + src->nr_blocks * (1 + WIRE_NAME_MAX + 16) + 64;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	n = wire_put_blocks(buf, cap, src->session, src->wblocks, src->nr_blocks);
	ret = wire_write_full(src->bulk, buf, n);
	if (ret) {
		serve_fail_io(src, ret, "sending BLOCKS");
		goto out;
	}
	free(buf);
	cap = 16 + WIRE_BITMAP_MAX_BITS / 8 + 64;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;

	/* What the destination has: the rest is sent. Checksums start over. */
	for (unsigned int i = 0; i < src->nr_blocks; i++) {
		size_t words = (src->blocks[i].npages + BITS_PER_WORD - 1) / BITS_PER_WORD;

		for (size_t w = 0; w < words; w++)
			atomic_store(&src->blocks[i].sent[w], 0);
		clear_bits(src->blocks[i].checked, src->blocks[i].npages);
	}
	atomic_store(&src->st.equal, 0);
	atomic_store(&src->st.differ, 0);
	for (;;) {
		struct wire_msg m;
		struct src_block *b;

		ret = wire_read_msg(src->bulk, &t, buf, cap, &m, err, sizeof(err));
		if (!ret && m.type == WIRE_SHUTDOWN) {
			serve_fail(src, m.shutdown.status, true, "%s", m.shutdown.text);
			ret = -ECANCELED;
			goto out;
		}
		if (!ret && m.type != WIRE_RECEIVED && m.type != WIRE_READY) {
			snprintf(err, sizeof(err), "%s before READY", wire_type_name(m.type));
			ret = -EPROTO;
		}
		if (ret) {
			handshake_fail(src, src->bulk, ret, err);
			goto out;
		}
		if (m.type == WIRE_READY) {
			*dst_switched = m.ready.flags & WIRE_READY_F_SWITCHED;
			/* It may complete at once: every page may be in. */
			atomic_store(&src->dst_may_complete, *dst_switched);
			break;
		}
		b = &src->blocks[m.received.block];
		for (uint32_t k = 0; k < m.received.nbits; k++)
			if (m.received.bits[k / 8] & (1U << (k % 8)))
				sent_test_set(b, m.received.first + k);
	}
	/*
	 * A restarted source has no dirty history: what a destination that
	 * has not switched over holds may be older than our RAM.
	 */
	if (restarted && !*dst_switched)
		for (unsigned int i = 0; i < src->nr_blocks; i++)
			for (uint64_t p = 0; p < src->blocks[i].npages; p++)
				if (sent_test(&src->blocks[i], p))
					src->blocks[i].dirty[p / BITS_PER_WORD] |=
						1UL << (p % BITS_PER_WORD);
	ret = 0;
out:
	free(buf);
	return ret;
}

/*
 * Checksums of pages [first, first + count) of block @bi, as they come.
 * Each page once a connection, and only a page that was sent: the
 * destination cannot hold anything else.
 */
static int take_checksums(struct pcram_src *src, const struct wire_msg *m,
			  char *err, size_t errlen)
{
	struct src_block *b = &src->blocks[m->checksum.block];

	for (uint32_t i = 0; i < m->checksum.count; i++) {
		uint64_t p = m->checksum.first + i, want = 0;
		unsigned long bit = 1UL << (p % BITS_PER_WORD);

		if (b->checked[p / BITS_PER_WORD] & bit) {
			snprintf(err, errlen, "CHECKSUM: page %" PRIu64 " of block %s twice",
				 p, b->w.name);
			return -EPROTO;
		}
		if (!sent_test(b, p)) {
			snprintf(err, errlen, "CHECKSUM: page %" PRIu64 " of block %s,"
				 " which was never sent", p, b->w.name);
			return -EPROTO;
		}
		b->checked[p / BITS_PER_WORD] |= bit;
		for (int k = 0; k < 8; k++)
			want = want << 8 | m->checksum.sums[8 * i + k];
		if (wire_page_sum(b->host + (p << b->shift), b->w.page_size) == want)
			atomic_fetch_add(&src->st.equal, 1);
		else
			atomic_fetch_add(&src->st.differ, 1);
	}
	return 0;
}

/*
 * The destination's side of bulk, from READY to COMPLETE: KEEPALIVE (read
 * past), CHECKSUM and COMPLETE after the switchover, or its SHUTDOWN.
 * Ends at COMPLETE, or with the failure told to serve_fail().
 */
static void *bulk_reader_main(void *arg)
{
	struct pcram_src *src = arg;
	struct wire_table t = { src->wblocks, src->nr_blocks };
	size_t cap = 16 + 8 * WIRE_CHECKSUM_MAX + 64;
	uint8_t *buf = malloc(cap);
	char err[512];

	if (!buf) {
		serve_fail(src, -ENOMEM, false, "bulk reader: out of memory");
		return NULL;
	}
	for (;;) {
		struct wire_msg m;
		int ret = wire_read_msg(src->bulk, &t, buf, cap, &m, err, sizeof(err));

		if (ret) {
			if (ret == -EPROTO)
				serve_fail(src, ret, false, "%s", err);
			else if (!atomic_load(&src->stop))
				serve_fail_io(src, ret, "bulk");
			break;
		}
		if (m.type == WIRE_SHUTDOWN) {
			serve_fail(src, m.shutdown.status, true, "%s", m.shutdown.text);
			break;
		}
		if ((m.type == WIRE_CHECKSUM || m.type == WIRE_COMPLETE) &&
		    !atomic_load(&src->dst_may_complete)) {
			serve_fail(src, -EPROTO, false, "%s before SWITCHOVER",
				   wire_type_name(m.type));
			break;
		}
		if (m.type == WIRE_COMPLETE)
			break;
		if (m.type != WIRE_CHECKSUM) {
			serve_fail(src, -EPROTO, false, "%s from the destination on bulk",
				   wire_type_name(m.type));
			break;
		}
		ret = take_checksums(src, &m, err, sizeof(err));
		if (ret) {
			serve_fail(src, ret, false, "%s", err);
			break;
		}
	}
	free(buf);
	return NULL;
}

/*
 * COMPLETE came: true if the destination can have every page, and its
 * checksums (if any) cover every page. Else the failure is told.
 */
static bool complete_ok(struct pcram_src *src)
{
	uint64_t total = 0, unsent = 0, checked = 0, first = 0;
	unsigned int first_block = 0;

	for (unsigned int i = 0; i < src->nr_blocks; i++) {
		struct src_block *b = &src->blocks[i];

		total += b->npages;
		for (uint64_t p = 0; p < b->npages; p++) {
			if (!sent_test(b, p) && !unsent++) {
				first_block = i;
				first = p;
			}
			checked += !!(b->checked[p / BITS_PER_WORD] & (1UL << (p % BITS_PER_WORD)));
		}
	}
	if (unsent) {
		serve_fail(src, -EPROTO, false,
			   "COMPLETE, but %" PRIu64 " of %" PRIu64 " pages were never sent"
			   " (the first: page %" PRIu64 " of block %s)", unsent, total,
			   first, src->blocks[first_block].w.name);
		return false;
	}
	if (checked && checked != total) {
		serve_fail(src, -EPROTO, false,
			   "COMPLETE, but the CHECKSUMs cover %" PRIu64 " of %" PRIu64 " pages",
			   checked, total);
		return false;
	}
	if (!checked && (src->opts.flags & PCRAM_SRC_F_REQUIRE_VERIFY)) {
		serve_fail(src, -EPROTO, false,
			   "COMPLETE without CHECKSUMs: this source verifies every page"
			   " (the destination must send them)");
		return false;
	}
	return true;
}

/* SHUTDOWN on both connections, as far as they take it. */
static void send_shutdown_both(struct pcram_src *src, bool bulk_open, int status,
			       const char *text)
{
	if (bulk_open)
		wire_link_shutdown(&src->bulk_tx, status, text);
	wire_link_shutdown(&src->urgent_tx, status, text);
}

/*
 * Read and drop what the destination sent and we never read: a socket
 * closed with unread input sends RST, and an RST makes the peer's kernel
 * drop our SHUTDOWN before the peer has read it. Bounded: a peer that
 * goes on sending gets its RST.
 */
static void drop_unread(int fd)
{
	char buf[16384];

	for (int i = 0; i < 256; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

/* The failure of this serve(), told to the caller (and the peer). */
static int serve_failed(struct pcram_src *src, bool bulk_open)
{
	int ret = src->fail;

	if (src->fail_peer) {
		/* Its reason, not ours; never one that invites a resume. */
		if (!ret || ret == -ECONNRESET)
			ret = -ECANCELED;
		return src_error(src, ret, "the destination gave up: %s (%s)",
				 src->fail_text, strerror(-ret));
	}
	if (ret == -EPROTO) {
		send_shutdown_both(src, bulk_open, -EPROTO, src->fail_text);
		drop_unread(src->bulk);
		drop_unread(src->urgent);
		return src_error(src, ret, "protocol error from the destination: %s",
				 src->fail_text);
	}
	if (wire_conn_lost(ret))
		return src_error(src, -ECONNRESET, "the destination went away: %s",
				 src->fail_text);
	send_shutdown_both(src, bulk_open, ret, src->fail_text);
	return src_error(src, ret, "%s", src->fail_text);
}

/*
 * Wait for the push thread. One blocked writing to a destination that
 * reads nothing more is woken by shutting our sending side: then bulk
 * takes no more messages (false).
 */
static bool join_push(struct pcram_src *src, pthread_t push)
{
	struct timespec ts;

	/*
	 * After COMPLETE a destination reads on until our SHUTDOWN, so the
	 * push ends by itself (or by SO_SNDTIMEO). After a failure, briefly.
	 */
	if (!src->fail) {
		pthread_join(push, NULL);
		return true;
	}
	ts = clock_deadline(CLOCK_REALTIME, 200);
	if (!pthread_timedjoin_np(push, NULL, &ts))
		return true;
	shutdown(src->bulk, SHUT_WR);
	pthread_join(push, NULL);
	return false;
}

static void serve_reset(struct pcram_src *src)
{
	src->bulk = src->urgent = -1;
	src->fail = 0;
	src->fail_peer = false;
	src->fail_text[0] = '\0';
	atomic_store(&src->stop, false);
	atomic_store(&src->dst_may_complete, false);
	atomic_store(&src->hint, 0);
}

PCRAM_EXPORT
int pcram_src_serve(struct pcram_src *src, int fd_a, int fd_b)
{
	pthread_t reader, urgent, push;
	bool reading = false, serving = false, bulk_open = true;
	bool dst_switched = false;
	struct wire_keepalive ka = { .running = false };
	char text[128];
	int ret;

	if (!src || fd_a < 0 || fd_b < 0 || fd_a == fd_b)
		return -EINVAL;
	if (!src->nr_blocks)
		return src_error(src, -EINVAL, "serve: no blocks");
	if (src->serves++)
		atomic_fetch_add(&src->st.resumes, 1);
	serve_reset(src);
	/* Liveness: a silent or stuck destination is a lost connection. */
	wire_set_timeout(fd_a, src->peer_timeout_ms);
	wire_set_timeout(fd_b, src->peer_timeout_ms);
	wire_nodelay(fd_a);
	wire_nodelay(fd_b);
	ret = handshake(src, fd_a, fd_b, &dst_switched);
	/* Failed before HELLO told which is which: the refusal goes on both. */
	if (src->bulk < 0)
		src->bulk = src->urgent == fd_a ? fd_b : fd_a;
	if (src->urgent < 0)
		src->urgent = src->bulk == fd_a ? fd_b : fd_a;
	wire_link_init(&src->bulk_tx, src->bulk);
	wire_link_init(&src->urgent_tx, src->urgent);
	if (ret && !src->fail)
		serve_fail(src, ret, false, "serve: %s", strerror(-ret));
	if (src->fail)
		goto out;

	ret = wire_keepalive_start(&ka, &src->bulk_tx, &src->urgent_tx);
	if (!ret) {
		ret = -pthread_create(&reader, NULL, bulk_reader_main, src);
		reading = !ret;
	}
	if (ret) {
		serve_fail(src, ret, false, "serve: thread: %s", strerror(-ret));
		goto out;
	}
	if (!src->switched && !dst_switched && src->opts.precopy_rounds)
		ret = precopy(src);
	if (!ret)
		ret = switchover(src, dst_switched);
	if (ret) {
		char why[LIB_ERROR_LEN];

		lib_error_copy(&src->error, why, sizeof(why));
		serve_fail(src, ret, false, "%s", why);
		goto out;
	}
	ret = -pthread_create(&urgent, NULL, urgent_main, src);
	if (!ret) {
		ret = -pthread_create(&push, NULL, push_main, src);
		if (ret) {
			serve_fail(src, ret, false, "serve: thread: %s", strerror(-ret));
			pthread_join(urgent, NULL);
			goto out;
		}
		serving = true;
	} else {
		serve_fail(src, ret, false, "serve: thread: %s", strerror(-ret));
	}
out:
	if (reading)
		pthread_join(reader, NULL);
	/* COMPLETE, or a failure: either way the rest stops now. */
	atomic_store(&src->stop, true);
	shutdown(src->urgent, SHUT_RD);
	if (serving) {
		pthread_join(urgent, NULL);
		bulk_open = join_push(src, push);
	}
	wire_keepalive_stop(&ka);
	if (!src->fail)
		complete_ok(src);
	if (src->fail) {
		ret = serve_failed(src, bulk_open);
	} else {
		uint64_t equal = src->st.equal, differ = src->st.differ;

		snprintf(text, sizeof(text), "complete: %" PRIu64 " pages verified equal, %" PRIu64
			 " differ", equal, differ);
		ret = differ ? -EIO : 0;
		wire_link_shutdown(&src->bulk_tx, ret, text);
		if (ret)
			src_error(src, ret, "%s", text);
	}
	wire_link_destroy(&src->bulk_tx);
	wire_link_destroy(&src->urgent_tx);
	return ret;
}

PCRAM_EXPORT
int pcram_src_set_peer_timeout(struct pcram_src *src, unsigned int ms)
{
	if (!src)
		return -EINVAL;
	if (ms < WIRE_PEER_TIMEOUT_MIN)
		return src_error(src, -EINVAL, "peer timeout: %u ms (at least %u)", ms,
				 WIRE_PEER_TIMEOUT_MIN);
	src->peer_timeout_ms = ms;
	return 0;
}

PCRAM_DEFAULT_VERSION(pcram_src_stats, PCRAM_0.3);
PCRAM_EXPORT
int pcram_src_stats(const struct pcram_src *src, struct pcram_src_stats *out, size_t size)
{
	struct pcram_src_stats st;

	if (!src || !out || size < PCRAM_SRC_STATS_SIZE_0_1)
		return -EINVAL;
	st = (struct pcram_src_stats) {
		.pages_pushed = src->st.pushed,
		.pages_requested = src->st.requested,
		.zero_pages = src->st.zero,
		.bytes_sent = src->st.bytes,
		.requests = src->st.requests,
		.precopy_rounds = src->rounds,
		.pages_precopy = src->st.precopy,
		.pages_dirtied = src->st.dirtied,
		.discard_ranges = src->st.discard_ranges,
		.dirty_tracking = src->tracking,
		.stop_ns = src->stop_ns,
		.discard_commands = src->st.discard_commands,
		.resumes = src->st.resumes,
		.verified_equal = src->st.equal,
		.verified_differ = src->st.differ,
	};
	pcram_copy_out(out, size, &st, sizeof(st));
	return 0;
}
