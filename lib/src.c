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

#include "src.h"

int src_error(struct pcram_src *src, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&src->error_lock);
	va_start(ap, fmt);
	vsnprintf(src->error, sizeof(src->error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&src->error_lock);
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
	pthread_mutex_init(&src->error_lock, NULL);
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
	}
	free(src->blocks);
	free(src->wblocks);
	pthread_mutex_destroy(&src->error_lock);
	free(src);
}

PCRAM_EXPORT
const char *pcram_src_strerror(const struct pcram_src *src)
{
	return src ? src->error : "no source";
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
	if (!nb->sent || !nb->dirty) {
		free((void *)nb->sent);
		free(nb->dirty);
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

uint64_t src_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool page_is_zero(const uint8_t *p, uint64_t len)
{
	const uint64_t *w = (const uint64_t *)p;

	for (uint64_t i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

int send_page(struct pcram_src *src, int fd, unsigned int bi, uint64_t p)
{
	struct src_block *b = &src->blocks[bi];
	const uint8_t *data = b->host + (p << b->shift);
	uint8_t hdr[WIRE_HDR_LEN + WIRE_PAGE_HDR];
	size_t n;

	if (page_is_zero(data, b->w.page_size)) {
		n = wire_put_zero(hdr, sizeof(hdr), bi, p << b->shift, 1);
		atomic_fetch_add(&src->st.zero, 1);
		return wire_write_full(fd, hdr, n);
	}
	n = wire_put_page_hdr(hdr, sizeof(hdr), bi, p << b->shift, b->w.page_size);
	atomic_fetch_add(&src->st.bytes, b->w.page_size);
	return wire_writev_full(fd, hdr, n, data, b->w.page_size);
}

void send_batch_init(struct send_batch *sb, int fd)
{
	sb->fd = fd;
	sb->nmsg = sb->niov = 0;
}

int send_batch_flush(struct send_batch *sb)
{
	int ret = sb->niov ? wire_sendv_full(sb->fd, sb->iov, sb->niov) : 0;

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
		ret = send_page(src, src->urgent, bi, p);
		if (ret)
			return ret;
		atomic_fetch_add(&src->st.requested, 1);
	}
	return 0;
}

struct urgent_ctx {
	struct pcram_src *src;
	int ret;
	char err[512];
};

static void *urgent_main(void *arg)
{
	struct urgent_ctx *u = arg;
	struct pcram_src *src = u->src;
	struct wire_table t = { src->wblocks, src->nr_blocks };
	uint8_t buf[512];
	int last = -1;

	while (!atomic_load(&src->stop)) {
		struct wire_msg m;
		int ret = wire_read_msg(src->urgent, &t, buf, sizeof(buf), &m, u->err,
				   sizeof(u->err));

		if (!ret && m.type != WIRE_REQUEST) {
			snprintf(u->err, sizeof(u->err), "%s on the urgent connection",
				 wire_type_name(m.type));
			ret = -EPROTO;
		}
		if (!ret)
			ret = serve_request(src, &m, &last, u->err, sizeof(u->err));
		if (ret) {
			u->ret = ret;
			break;
		}
	}
	/* Wake serve() from its bulk read: the migration cannot go on. */
	if (u->ret && !atomic_load(&src->stop))
		shutdown(src->bulk, SHUT_RD);
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

static void *push_main(void *arg)
{
	struct urgent_ctx *u = arg;
	struct pcram_src *src = u->src;
	uint64_t seen_hint = 0, left = 0;
	struct send_batch sb;
	unsigned int bi = 0;
	uint64_t p = 0;

	/* Requests only: the destination completes by asking for every page. */
	if (src->opts.flags & PCRAM_SRC_F_NO_PUSH)
		return NULL;
	send_batch_init(&sb, src->bulk);
	if (!(src->opts.flags & PCRAM_SRC_F_BULK_SAME_PRIORITY))
		wire_background_thread();
	for (unsigned int i = 0; i < src->nr_blocks; i++)
		for (uint64_t k = 0; k < src->blocks[i].npages; k++)
			left += !sent_test(&src->blocks[i], k);

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
				uint64_t n = 0;

				for (unsigned int i = 0; i < src->nr_blocks; i++)
					for (uint64_t k = 0; k < src->blocks[i].npages; k++)
						n += !sent_test(&src->blocks[i], k);
				if (!n)
					break;
				left = n;
				idle = 0;
			}
			continue;
		}
		idle = 0;
		if (page_is_zero(b->host + (p << b->shift), b->w.page_size)) {
			uint32_t n = zero_run(b, p);

			u->ret = send_batch_zero(&sb, bi, p << b->shift, n);
			atomic_fetch_add(&src->st.zero, n);
			atomic_fetch_add(&src->st.pushed, n);
			p += n;
		} else {
			u->ret = send_batch_page(src, &sb, bi, p);
			atomic_fetch_add(&src->st.pushed, 1);
			p++;
		}
		if (u->ret)
			break;
	}
	if (!u->ret)
		u->ret = send_batch_flush(&sb);
	if (u->ret)
		snprintf(u->err, sizeof(u->err), "bulk: %s", strerror(-u->ret));
	return NULL;
}

/* ---- serve -------------------------------------------------------------------- */

static uint64_t new_session(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec ^
		(uint64_t)getpid() << 16) | 1;
}

/* A protocol error: tell the peer what was wrong with its message, fail. */
static int refuse(struct pcram_src *src, int fd, int ret, const char *what)
{
	if (ret == -EPROTO) {
		wire_send_shutdown(fd, -EPROTO, what);
		return src_error(src, -EPROTO, "malformed message from the destination: %s", what);
	}
	if (ret == -EPIPE || ret == -ECONNRESET || ret == -ECONNABORTED ||
	    ret == -ETIMEDOUT || ret == -EHOSTUNREACH || ret == -ENETUNREACH)
		return src_error(src, -ECONNRESET, "the destination went away: %s",
				 what[0] ? what : "connection closed");
	return src_error(src, ret, "%s: %s", what[0] ? what : "connection", strerror(-ret));
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

	src->bulk = src->urgent = -1;
	wire_nodelay(fd_a);
	wire_nodelay(fd_b);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		struct wire_msg m = { .blocks.blocks = NULL };

		ret = wire_read_msg(fds[i], NULL, buf, cap, &m, err, sizeof(err));
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
			ret = refuse(src, fds[i], ret, err);
			goto out;
		}
		session = m.hello.session;
		if (m.hello.channel == WIRE_BULK)
			src->bulk = fds[i];
		else
			src->urgent = fds[i];
	}
	/* A destination resuming with a source that knows nothing of it. */
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
		ret = refuse(src, src->bulk, ret, "sending BLOCKS");
		goto out;
	}
	free(buf);
	cap = 16 + WIRE_BITMAP_MAX_BITS / 8 + 64;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;

	/* What the destination has: the rest is sent. */
	for (unsigned int i = 0; i < src->nr_blocks; i++) {
		size_t words = (src->blocks[i].npages + BITS_PER_WORD - 1) / BITS_PER_WORD;

		for (size_t w = 0; w < words; w++)
			atomic_store(&src->blocks[i].sent[w], 0);
	}
	for (;;) {
		struct wire_msg m;
		struct src_block *b;

		ret = wire_read_msg(src->bulk, &t, buf, cap, &m, err, sizeof(err));
		if (!ret && m.type != WIRE_RECEIVED && m.type != WIRE_READY) {
			snprintf(err, sizeof(err), "%s before READY", wire_type_name(m.type));
			ret = -EPROTO;
		}
		if (ret) {
			ret = refuse(src, src->bulk, ret, err);
			goto out;
		}
		if (m.type == WIRE_READY) {
			*dst_switched = m.ready.flags & WIRE_READY_F_SWITCHED;
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

/* Until COMPLETE: CHECKSUMs are compared as they come. */
static int bulk_read_loop(struct pcram_src *src, char *err, size_t errlen)
{
	struct wire_table t = { src->wblocks, src->nr_blocks };
	size_t cap = 16 + 8 * WIRE_CHECKSUM_MAX + 64;
	uint8_t *buf = malloc(cap);
	int ret;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct wire_msg m;

		ret = wire_read_msg(src->bulk, &t, buf, cap, &m, err, errlen);
		if (ret)
			break;
		if (m.type == WIRE_COMPLETE)
			break;
		if (m.type == WIRE_SHUTDOWN) {
			snprintf(err, errlen, "the destination gave up: %.200s (%s)",
				 m.shutdown.text, strerror(-m.shutdown.status));
			ret = m.shutdown.status ? m.shutdown.status : -ECANCELED;
			break;
		}
		if (m.type != WIRE_CHECKSUM) {
			snprintf(err, errlen, "%s from the destination on bulk",
				 wire_type_name(m.type));
			ret = -EPROTO;
			break;
		}
		for (uint32_t i = 0; i < m.checksum.count; i++) {
			struct src_block *b = &src->blocks[m.checksum.block];
			uint64_t p = m.checksum.first + i, want = 0;

			for (int k = 0; k < 8; k++)
				want = want << 8 | m.checksum.sums[8 * i + k];
			if (wire_page_sum(b->host + (p << b->shift), b->w.page_size) == want)
				atomic_fetch_add(&src->st.equal, 1);
			else
				atomic_fetch_add(&src->st.differ, 1);
		}
	}
	free(buf);
	return ret;
}

PCRAM_EXPORT
int pcram_src_serve(struct pcram_src *src, int fd_a, int fd_b)
{
	struct urgent_ctx uc = { .src = src }, pc = { .src = src };
	pthread_t urgent, push;
	char err[512] = "", text[128];
	bool dst_switched = false;
	int ret;

	if (!src || fd_a < 0 || fd_b < 0 || fd_a == fd_b)
		return -EINVAL;
	if (!src->nr_blocks)
		return src_error(src, -EINVAL, "serve: no blocks");
	if (src->serves++)
		atomic_fetch_add(&src->st.resumes, 1);
	ret = handshake(src, fd_a, fd_b, &dst_switched);
	if (ret)
		return ret;
	if (!src->switched && !dst_switched && src->opts.precopy_rounds) {
		ret = precopy(src);
		if (ret) {
			if (ret != -ECONNRESET)
				wire_send_shutdown(src->bulk, ret, src->error);
			return ret;
		}
	}
	ret = switchover(src, dst_switched);
	if (ret)
		return ret;

	atomic_store(&src->stop, false);
	atomic_store(&src->hint, 0);
	ret = pthread_create(&urgent, NULL, urgent_main, &uc);
	if (ret)
		return src_error(src, -ret, "serve: thread: %s", strerror(ret));
	ret = pthread_create(&push, NULL, push_main, &pc);
	if (ret) {
		atomic_store(&src->stop, true);
		shutdown(src->urgent, SHUT_RDWR);
		pthread_join(urgent, NULL);
		return src_error(src, -ret, "serve: thread: %s", strerror(ret));
	}

	ret = bulk_read_loop(src, err, sizeof(err));
	atomic_store(&src->stop, true);
	/* Unblock the urgent reader, and a pusher stuck on a full socket. */
	shutdown(src->urgent, SHUT_RD);
	if (ret)
		shutdown(src->bulk, SHUT_WR);
	pthread_join(urgent, NULL);
	pthread_join(push, NULL);
	/* After COMPLETE the urgent reader ends on our own shutdown. */
	if (ret && uc.ret)
		return refuse(src, src->urgent, uc.ret, uc.err);
	if (ret)
		return refuse(src, src->bulk, ret, err);
	if (pc.ret)
		return refuse(src, src->bulk, pc.ret, pc.err);

	snprintf(text, sizeof(text), "complete: %" PRIu64 " pages verified equal, %" PRIu64 " differ",
		 (uint64_t)src->st.equal, (uint64_t)src->st.differ);
	wire_send_shutdown(src->bulk, src->st.differ ? -EIO : 0, text);
	if (src->st.differ)
		return src_error(src, -EIO, "%s", text);
	return 0;
}

PCRAM_EXPORT
int pcram_src_stats(const struct pcram_src *src, struct pcram_src_stats *st)
{
	if (!src || !st)
		return -EINVAL;
	*st = (struct pcram_src_stats) {
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
	return 0;
}
