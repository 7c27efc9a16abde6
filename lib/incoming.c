// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The destination of a migration: a provider that asks the source over
 * the urgent connection, and two receivers that place what comes, bulk
 * pages in batches and urgent ones at once. A broken connection pauses
 * everything (faults keep queueing, their requests stay outstanding)
 * until pcram_in_resume() brings a new pair.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dst.h"
#include "wire.h"

#define BATCH_PAGES 64
#define BATCH_MAX_PAGE (64ULL << 10)	/* bigger pages are placed one by one */
#define RX_BUFFER (256U << 10)		/* a receiver's read buffer */

enum in_result { IN_RUNNING = 0, IN_COMPLETE = 1 };

struct pcram_in {
	struct pcram_in_options opts;
	struct pcram_dst *dst;
	uint64_t session;
	struct wire_block *remote;
	unsigned int nr_remote;
	int *to_dst;		/* remote block -> dst block */
	int *to_remote;		/* dst block -> remote block */
	uint64_t max_page;

	int bulk, urgent;
	pthread_t rx[2];
	struct rx_arg {
		struct pcram_in *in;
		bool urgent;
	} rx_arg[2];
	bool rx_running;
	_Atomic bool switched;

	/* Requests go out on urgent from every fault thread. */
	pthread_mutex_t req_lock;
	int req_fd;		/* -1 while disconnected */
	int req_last;		/* remote block of the last request sent */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool all_in;		/* every page placed after switchover */
	bool completing;	/* COMPLETE sent */
	int conn_err;		/* a receiver's error, or 0 */
	int final;		/* IN_COMPLETE, or the source's error */
	char error[512];

	struct {
		_Atomic uint64_t bulk, urgent, zero, batches, discards, resumes;
		_Atomic uint64_t precopy, rewritten;
	} st;
	uint64_t verified_equal;
	uint64_t switchover_ns, complete_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int in_error(struct pcram_in *in, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int in_error(struct pcram_in *in, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(in->error, sizeof(in->error), fmt, ap);
	va_end(ap);
	return err;
}

PCRAM_EXPORT
int pcram_in_new(struct pcram_in **out, const struct pcram_in_options *opts)
{
	struct pcram_in *in;

	if (!out || (opts && (opts->flags & ~PCRAM_IN_F_ALL)))
		return -EINVAL;
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->remote = calloc(WIRE_MAX_BLOCKS, sizeof(*in->remote));
	if (!in->remote) {
		free(in);
		return -ENOMEM;
	}
	if (opts)
		in->opts = *opts;
	in->bulk = in->urgent = in->req_fd = -1;
	in->req_last = -1;
	pthread_mutex_init(&in->req_lock, NULL);
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	*out = in;
	return 0;
}

static void stop_receivers(struct pcram_in *in);

PCRAM_EXPORT
void pcram_in_free(struct pcram_in *in)
{
	if (!in)
		return;
	stop_receivers(in);
	free(in->remote);
	free(in->to_dst);
	free(in->to_remote);
	pthread_mutex_destroy(&in->req_lock);
	pthread_mutex_destroy(&in->lock);
	pthread_cond_destroy(&in->cond);
	free(in);
}

PCRAM_EXPORT
const char *pcram_in_strerror(const struct pcram_in *in)
{
	return in ? in->error : "no incoming migration";
}

/* ---- reading ------------------------------------------------------------ */

static int read_hdr(struct pcram_in *in, struct wire_reader *r, struct wire_hdr *h)
{
	uint8_t raw[WIRE_HDR_LEN];
	char err[256];
	int ret = wire_reader_read(r, raw, sizeof(raw));

	if (ret)
		return ret;
	ret = wire_parse_hdr(raw, h, err, sizeof(err));
	if (ret)
		in_error(in, ret, "malformed message from the source: %s", err);
	return ret;
}

/* A whole message other than PAGE; a malformed one is the error. */
static int read_msg(struct pcram_in *in, int fd, const struct wire_table *t,
		    uint8_t *buf, size_t cap, struct wire_msg *m)
{
	char err[256];
	int ret = wire_read_msg(fd, t, buf, cap, m, err, sizeof(err));

	if (ret == -EPROTO)
		in_error(in, ret, "malformed message from the source: %s", err);
	return ret;
}

/* ---- placing ------------------------------------------------------------------ */

static uint8_t *host_of(struct pcram_in *in, uint32_t rblock, uint64_t off)
{
	return in->dst->blocks[in->to_dst[rblock]].host + off;
}

/* Place, retrying while the kernel says the mm is changing (EAGAIN). */
static int place(struct pcram_in *in, void *host, const void *data)
{
	for (int tries = 0;; tries++) {
		int ret = data ? pcram_dst_place_page(in->dst, host, data) :
				 pcram_dst_place_zero(in->dst, host);

		if (ret != -EAGAIN || tries == 1000)
			return ret;
		usleep(100);
	}
}

static void check_all_in(struct pcram_in *in)
{
	if (!atomic_load(&in->switched) || pcram_dst_pages_missing(in->dst))
		return;
	pthread_mutex_lock(&in->lock);
	if (!in->all_in) {
		in->all_in = true;
		in->complete_ns = mono_ns();
		pthread_cond_broadcast(&in->cond);
	}
	pthread_mutex_unlock(&in->lock);
}

/*
 * A page placed already and sent again: before the switchover that is
 * precopy sending what the VM wrote since, and nothing runs here yet, so
 * the new data simply goes over the old. After it, the same data again.
 */
static void again(struct pcram_in *in, void *host, const void *data, uint64_t len)
{
	if (atomic_load(&in->switched))
		return;
	if (data)
		memcpy(host, data, len);
	else
		memset(host, 0, len);
	atomic_fetch_add(&in->st.rewritten, 1);
}

/* Page size at @host, a page of a batch that was placed, so in a block. */
static uint64_t page_size_at(struct pcram_in *in, const void *host)
{
	unsigned int d = 0;
	uint64_t off;

	pcram_dst_lookup(in->dst, host, &d, &off);
	return in->dst->blocks[d].page_size;
}

/*
 * Pages back to back in @buf, so that a run of pages next to each other
 * at the destination is one run in memory too: one UFFDIO_COPY.
 */
struct batch {
	struct pcram_place_op ops[BATCH_PAGES];
	unsigned int n;
	size_t used;
	uint8_t *buf;		/* BATCH_PAGES * BATCH_MAX_PAGE */
};

static int flush(struct pcram_in *in, struct batch *bt)
{
	unsigned int done = 0;

	while (done < bt->n) {
		int ret = pcram_dst_place_batch(in->dst, bt->ops + done, bt->n - done);

		if (ret < 0)
			return in_error(in, ret, "placing: %s", pcram_dst_strerror(in->dst));
		for (unsigned int i = done; i < done + (unsigned int)ret; i++)
			if (bt->ops[i].result == 1)
				again(in, bt->ops[i].host, bt->ops[i].src,
				      page_size_at(in, bt->ops[i].host));
		done += (unsigned int)ret;
		if (done < bt->n) {
			/* Stopped at an op: EAGAIN is retried, others fail. */
			ret = bt->ops[done].result;
			if (ret != -EAGAIN)
				return in_error(in, ret, "placing: %s",
						pcram_dst_strerror(in->dst));
			usleep(100);
		}
	}
	atomic_fetch_add(&in->st.batches, bt->n ? 1 : 0);
	bt->n = 0;
	bt->used = 0;
	return 0;
}

/* The data of a PAGE, into place. */
static int take_page(struct pcram_in *in, struct wire_reader *r, const struct wire_msg *m,
		     struct batch *bt, uint8_t *one, bool urgent)
{
	uint8_t *host = host_of(in, m->page.block, m->page.offset);
	int ret;

	if (bt && m->page.len <= BATCH_MAX_PAGE) {
		uint8_t *slot = bt->buf + bt->used;

		ret = wire_reader_read(r, slot, m->page.len);
		if (ret)
			return ret;
		bt->used += m->page.len;
		bt->ops[bt->n++] = (struct pcram_place_op) {
			.type = PCRAM_OP_COPY, .host = host, .src = slot,
		};
		atomic_fetch_add(&in->st.bulk, 1);
		if (!atomic_load(&in->switched))
			atomic_fetch_add(&in->st.precopy, 1);
		if (bt->n == BATCH_PAGES || !wire_reader_more(r))
			return flush(in, bt);
		return 0;
	}
	ret = wire_reader_read(r, one, m->page.len);
	if (ret)
		return ret;
	ret = place(in, host, one);
	if (ret < 0)
		return in_error(in, ret, "placing: %s", pcram_dst_strerror(in->dst));
	if (ret == 1)
		again(in, host, one, m->page.len);
	atomic_fetch_add(urgent ? &in->st.urgent : &in->st.bulk, 1);
	if (!atomic_load(&in->switched))
		atomic_fetch_add(&in->st.precopy, 1);
	return 0;
}

static int take_zero(struct pcram_in *in, const struct wire_msg *m, bool urgent)
{
	uint64_t ps = in->remote[m->zero.block].page_size;

	for (uint32_t i = 0; i < m->zero.npages; i++) {
		uint8_t *host = host_of(in, m->zero.block, m->zero.offset + i * ps);
		int ret = place(in, host, NULL);

		if (ret < 0)
			return in_error(in, ret, "placing zeros: %s",
					pcram_dst_strerror(in->dst));
		if (ret == 1)
			again(in, host, NULL, ps);
	}
	if (!atomic_load(&in->switched))
		atomic_fetch_add(&in->st.precopy, m->zero.npages);
	atomic_fetch_add(&in->st.zero, m->zero.npages);
	atomic_fetch_add(urgent ? &in->st.urgent : &in->st.bulk, m->zero.npages);
	return 0;
}

static int take_discard(struct pcram_in *in, const struct wire_msg *m)
{
	const char *name = in->remote[m->discard.block].name;

	if (atomic_load(&in->switched))
		return in_error(in, -EPROTO,
				"malformed message from the source: DISCARD after SWITCHOVER");
	for (uint32_t i = 0; i < m->discard.count; i++) {
		int ret = pcram_dst_discard_range(in->dst, name, m->discard.r[i].start,
						  m->discard.r[i].length);

		if (ret)
			return in_error(in, ret, "discard: %s", pcram_dst_strerror(in->dst));
		atomic_fetch_add(&in->st.discards, 1);
	}
	return 0;
}


static int rx_loop(struct pcram_in *in, bool urgent)
{
	struct wire_table t = { in->remote, in->nr_remote };
	int fd = urgent ? in->urgent : in->bulk;
	struct batch bt = { .n = 0 };
	struct wire_reader r;
	uint8_t small[WIRE_HDR_LEN + 6 + WIRE_TEXT_MAX + 64];
	uint8_t *one;
	int ret = 0;

	if (wire_reader_init(&r, fd, RX_BUFFER))
		return -ENOMEM;
	one = mmap(NULL, in->max_page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (one == MAP_FAILED) {
		wire_reader_free(&r);
		return -ENOMEM;
	}
	if (!urgent) {
		bt.buf = mmap(NULL, BATCH_PAGES * BATCH_MAX_PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (bt.buf == MAP_FAILED) {
			munmap(one, in->max_page);
			wire_reader_free(&r);
			return -ENOMEM;
		}
	}

	for (;;) {
		struct wire_hdr h;
		struct wire_msg m;
		char err[256];

		ret = read_hdr(in, &r, &h);
		if (ret)
			break;
		if (h.type == WIRE_PAGE) {
			uint8_t ph[WIRE_PAGE_HDR];

			ret = wire_reader_read(&r, ph, sizeof(ph));
			if (!ret && wire_parse(&h, ph, &t, &m, err, sizeof(err)))
				ret = in_error(in, -EPROTO,
					       "malformed message from the source: %s", err);
			if (!ret)
				ret = take_page(in, &r, &m, urgent ? NULL : &bt, one, urgent);
			if (ret)
				break;
			check_all_in(in);
			continue;
		}
		ret = flush(in, &bt);
		if (ret)
			break;
		if (h.len > sizeof(small)) {
			ret = in_error(in, -EPROTO, "malformed message from the source: %s of %u bytes",
				       wire_type_name(h.type), h.len);
			break;
		}
		ret = wire_reader_read(&r, small, h.len);
		if (ret)
			break;
		ret = wire_parse(&h, small, &t, &m, err, sizeof(err));
		if (ret) {
			in_error(in, ret, "malformed message from the source: %s", err);
			break;
		}
		if (m.type == WIRE_ZERO) {
			ret = take_zero(in, &m, urgent);
		} else if (urgent) {
			ret = in_error(in, -EPROTO, "malformed message from the source: %s on the urgent connection",
				       wire_type_name(m.type));
		} else if (m.type == WIRE_DISCARD) {
			ret = take_discard(in, &m);
		} else if (m.type == WIRE_SWITCHOVER) {
			if (!atomic_exchange(&in->switched, true)) {
				in->switchover_ns = mono_ns();
				if (in->opts.switchover)
					in->opts.switchover(in->opts.opaque);
			}
		} else if (m.type == WIRE_SHUTDOWN) {
			pthread_mutex_lock(&in->lock);
			if (!m.shutdown.status && in->completing) {
				in->final = IN_COMPLETE;
				sscanf(m.shutdown.text, "complete: %" SCNu64, &in->verified_equal);
			} else {
				in->final = m.shutdown.status ? m.shutdown.status : -ECANCELED;
				in_error(in, in->final, "the source ended the migration: %s",
					 m.shutdown.text);
			}
			pthread_cond_broadcast(&in->cond);
			pthread_mutex_unlock(&in->lock);
			ret = 1;
		} else {
			ret = in_error(in, -EPROTO, "malformed message from the source: %s on bulk",
				       wire_type_name(m.type));
		}
		if (ret)
			break;
		check_all_in(in);
	}
	/* The first error is the story: the other receiver stops because of it. */
	pthread_mutex_lock(&in->lock);
	/*
	 * After COMPLETE the source closes when it has sent SHUTDOWN on
	 * bulk: the urgent connection may see the end first. Not an error;
	 * the bulk receiver reads the SHUTDOWN.
	 */
	if (urgent && ret == -EPIPE && in->completing)
		ret = 0;
	if (ret < 0 && ret != -EPROTO && !in->final && !in->conn_err)
		in_error(in, -ECONNRESET, "the %s connection broke: %s",
			 urgent ? "urgent" : "bulk", strerror(-ret));
	pthread_mutex_unlock(&in->lock);
	if (ret == -EPROTO)
		wire_send_shutdown(fd, -EPROTO, in->error);
	munmap(one, in->max_page);
	if (bt.buf)
		munmap(bt.buf, BATCH_PAGES * BATCH_MAX_PAGE);
	wire_reader_free(&r);
	return ret < 0 ? ret : 0;
}

static void *rx_main(void *arg)
{
	struct rx_arg *a = arg;
	struct pcram_in *in = a->in;
	int ret;

	if (!a->urgent && !(in->opts.flags & PCRAM_IN_F_BULK_SAME_PRIORITY))
		wire_background_thread();
	ret = rx_loop(in, a->urgent);

	pthread_mutex_lock(&in->lock);
	if (ret < 0 && !in->conn_err)
		in->conn_err = ret == -EPROTO ? -EPROTO : -ECONNRESET;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	/* The other receiver stops too. */
	if (ret < 0) {
		shutdown(in->bulk, SHUT_RD);
		shutdown(in->urgent, SHUT_RD);
	}
	return NULL;
}

static void stop_receivers(struct pcram_in *in)
{
	if (!in->rx_running)
		return;
	pthread_mutex_lock(&in->req_lock);
	in->req_fd = -1;
	pthread_mutex_unlock(&in->req_lock);
	shutdown(in->bulk, SHUT_RD);
	shutdown(in->urgent, SHUT_RD);
	pthread_join(in->rx[0], NULL);
	pthread_join(in->rx[1], NULL);
	in->rx_running = false;
}

static int start_receivers(struct pcram_in *in)
{
	int ret;

	in->conn_err = 0;
	for (int i = 0; i < 2; i++) {
		struct rx_arg *a = &in->rx_arg[i];

		a->in = in;
		a->urgent = i;
		ret = pthread_create(&in->rx[i], NULL, rx_main, a);
		if (ret) {
			if (i) {
				shutdown(in->bulk, SHUT_RD);
				pthread_join(in->rx[0], NULL);
			}
			return in_error(in, -ret, "receiver thread: %s", strerror(ret));
		}
	}
	in->rx_running = true;
	return 0;
}

/* ---- the provider: requests on urgent ------------------------------------------ */

static int send_request(struct pcram_in *in, unsigned int rblock, uint64_t off,
			uint64_t len)
{
	uint8_t buf[WIRE_HDR_LEN + 17 + WIRE_NAME_MAX];
	const char *name = (int)rblock == in->req_last ? NULL : in->remote[rblock].name;
	size_t n = wire_put_request(buf, sizeof(buf), name, off, len);
	int ret;

	if (in->req_fd < 0)
		return -ENOTCONN;
	ret = wire_write_full(in->req_fd, buf, n);
	if (ret)
		in->req_fd = -1;	/* kept outstanding; sent again on resume */
	else
		in->req_last = (int)rblock;
	return ret;
}

static int remote_request(struct pcram_dst *dst, const struct pcram_request *req,
			  void *opaque)
{
	struct pcram_in *in = opaque;

	(void)dst;
	pthread_mutex_lock(&in->req_lock);
	send_request(in, (unsigned int)in->to_remote[req->block_index], req->offset,
		     req->length);
	pthread_mutex_unlock(&in->req_lock);
	/* Outstanding either way: a lost connection resends it on resume. */
	return 0;
}

/* ---- handshake ------------------------------------------------------------------- */

static int hello_both(struct pcram_in *in, int bulk_fd, int urgent_fd)
{
	uint8_t buf[64];
	uint32_t base = (uint32_t)sysconf(_SC_PAGESIZE);
	int ret;

	if (!in->session) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		in->session = ((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec ^
			       (uint64_t)getpid()) | 1;
	}
	wire_nodelay(bulk_fd);
	wire_nodelay(urgent_fd);
	ret = wire_write_full(bulk_fd, buf, wire_put_hello(buf, sizeof(buf), WIRE_BULK,
							   base, in->session));
	if (!ret)
		ret = wire_write_full(urgent_fd, buf,
				      wire_put_hello(buf, sizeof(buf), WIRE_URGENT,
						     base, in->session));
	if (ret)
		return in_error(in, ret, "sending HELLO: %s", strerror(-ret));
	in->bulk = bulk_fd;
	in->urgent = urgent_fd;
	return 0;
}

/* BLOCKS from the source, into @into (WIRE_MAX_BLOCKS). */
static int read_blocks(struct pcram_in *in, struct wire_block *into, unsigned int *nr)
{
	size_t cap = 12 + WIRE_MAX_BLOCKS * (1 + WIRE_NAME_MAX + 16);
	uint8_t *buf = malloc(cap);
	struct wire_msg m;
	int ret;

	if (!buf)
		return -ENOMEM;
	m.blocks.blocks = into;
	ret = read_msg(in, in->bulk, NULL, buf, cap, &m);
	if (!ret && m.type == WIRE_SHUTDOWN)
		ret = in_error(in, m.shutdown.status ? m.shutdown.status : -ECANCELED,
			       "the source refused: %s", m.shutdown.text);
	else if (!ret && m.type != WIRE_BLOCKS)
		ret = in_error(in, -EPROTO, "malformed message from the source: %s before BLOCKS",
			       wire_type_name(m.type));
	if (!ret)
		*nr = m.blocks.nr;
	free(buf);
	if (ret == -EPIPE)
		in_error(in, -ECONNRESET, "the source closed the connection");
	return ret == -EPIPE ? -ECONNRESET : ret;
}

PCRAM_EXPORT
int pcram_in_connect(struct pcram_in *in, int bulk_fd, int urgent_fd,
		     struct pcram_remote_block *blocks, unsigned int max)
{
	int ret;

	if (!in || bulk_fd < 0 || urgent_fd < 0 || bulk_fd == urgent_fd ||
	    (!blocks && max))
		return -EINVAL;
	if (in->dst)
		return in_error(in, -EBUSY, "connect: already started; use resume");
	ret = hello_both(in, bulk_fd, urgent_fd);
	if (ret)
		return ret;
	ret = read_blocks(in, in->remote, &in->nr_remote);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < in->nr_remote && i < max; i++) {
		memcpy(blocks[i].name, in->remote[i].name, sizeof(blocks[i].name));
		blocks[i].length = in->remote[i].length;
		blocks[i].page_size = in->remote[i].page_size;
	}
	return (int)in->nr_remote;
}

/* RECEIVED for every block, then READY. */
static int send_received(struct pcram_in *in)
{
	size_t cap = WIRE_HDR_LEN + 16 + WIRE_BITMAP_MAX_BITS / 8;
	uint8_t *buf = malloc(cap), *bits = malloc(WIRE_BITMAP_MAX_BITS / 8);
	int ret = 0;

	if (!buf || !bits) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned int r = 0; r < in->nr_remote && !ret; r++) {
		struct dst_block *b = &in->dst->blocks[in->to_dst[r]];

		for (uint64_t first = 0; first < b->nr_pages && !ret;
		     first += WIRE_BITMAP_MAX_BITS) {
			uint64_t n = b->nr_pages - first;

			if (n > WIRE_BITMAP_MAX_BITS)
				n = WIRE_BITMAP_MAX_BITS;
			memset(bits, 0, (n + 7) / 8);
			for (uint64_t k = 0; k < n; k++)
				if (bit_test(b->received, first + k))
					bits[k / 8] |= 1U << (k % 8);
			ret = wire_write_full(in->bulk, buf,
					      wire_put_received(buf, cap, r, first,
								(uint32_t)n, bits));
		}
	}
	if (!ret)
		ret = wire_write_full(in->bulk, buf,
				      wire_put_ready(buf, cap, atomic_load(&in->switched) ?
						     WIRE_READY_F_SWITCHED : 0));
	if (ret)
		in_error(in, ret, "sending the received bitmap: %s", strerror(-ret));
out:
	free(buf);
	free(bits);
	return ret;
}

PCRAM_EXPORT
int pcram_in_start(struct pcram_in *in, struct pcram_dst *dst)
{
	struct pcram_provider prov = { .request = remote_request, .opaque = in };
	int ret;

	if (!in || !dst)
		return -EINVAL;
	if (in->dst)
		return in_error(in, -EBUSY, "start: already started");
	if (!in->nr_remote)
		return in_error(in, -ENOTCONN, "start: connect first");
	if (dst->nr_blocks != in->nr_remote)
		return in_error(in, -EINVAL, "start: the source has %u blocks, the destination %u",
				in->nr_remote, dst->nr_blocks);
	free(in->to_dst);
	free(in->to_remote);
	in->to_dst = calloc(in->nr_remote, sizeof(int));
	in->to_remote = calloc(in->nr_remote, sizeof(int));
	if (!in->to_dst || !in->to_remote)
		return -ENOMEM;
	in->max_page = 0;
	for (unsigned int r = 0; r < in->nr_remote; r++) {
		const struct wire_block *w = &in->remote[r];
		int d = -1;

		for (unsigned int i = 0; i < dst->nr_blocks; i++)
			if (!strcmp(dst->blocks[i].name, w->name))
				d = (int)i;
		if (d < 0)
			return in_error(in, -ENOENT, "start: no destination block named %s",
					w->name);
		if (dst->blocks[d].length != w->length ||
		    dst->blocks[d].page_size != w->page_size)
			return in_error(in, -EINVAL,
					"start: block %s is %#" PRIx64 " bytes of %" PRIu64
					"-byte pages at the source, %#" PRIx64 " of %" PRIu64 " here",
					w->name, w->length, w->page_size,
					dst->blocks[d].length, dst->blocks[d].page_size);
		in->to_dst[r] = d;
		in->to_remote[d] = (int)r;
		if (w->page_size > in->max_page)
			in->max_page = w->page_size;
	}
	ret = pcram_dst_set_provider(dst, &prov);
	if (!ret)
		ret = pcram_dst_enable_notify(dst);
	if (ret)
		return in_error(in, ret, "start: %s", pcram_dst_strerror(dst));
	in->dst = dst;
	ret = send_received(in);
	if (ret)
		return ret;
	in->req_fd = in->urgent;
	in->req_last = -1;
	return start_receivers(in);
}

PCRAM_EXPORT
int pcram_in_resume(struct pcram_in *in, int bulk_fd, int urgent_fd)
{
	struct wire_block *blocks;
	unsigned int nr = 0;
	int ret;

	if (!in || bulk_fd < 0 || urgent_fd < 0 || bulk_fd == urgent_fd)
		return -EINVAL;
	if (!in->dst)
		return in_error(in, -ENOTCONN, "resume: never started");
	if (in->final)
		return in_error(in, -EALREADY, "resume: the migration has ended");
	stop_receivers(in);
	blocks = calloc(WIRE_MAX_BLOCKS, sizeof(*blocks));
	if (!blocks)
		return -ENOMEM;
	ret = hello_both(in, bulk_fd, urgent_fd);
	if (!ret)
		ret = read_blocks(in, blocks, &nr);
	if (!ret && (nr != in->nr_remote ||
		     memcmp(blocks, in->remote, nr * sizeof(*blocks))))
		ret = in_error(in, -EINVAL, "resume: the source's blocks are not the ones it had");
	free(blocks);
	if (!ret)
		ret = send_received(in);
	if (ret)
		return ret;
	atomic_fetch_add(&in->st.resumes, 1);

	/* The outstanding requests first: their threads are waiting. */
	pthread_mutex_lock(&in->req_lock);
	in->req_fd = in->urgent;
	in->req_last = -1;
	for (unsigned int d = 0; d < in->dst->nr_blocks && !ret; d++) {
		struct dst_block *b = &in->dst->blocks[d];

		for (uint64_t p = 0; p < b->nr_pages && !ret; p++)
			if (bit_test(b->requested, p) && !bit_test(b->received, p))
				ret = send_request(in, (unsigned int)in->to_remote[d],
						   p << b->page_shift, b->page_size);
	}
	pthread_mutex_unlock(&in->req_lock);
	if (ret)
		return in_error(in, ret, "resume: sending requests: %s", strerror(-ret));
	pthread_mutex_lock(&in->lock);
	in->conn_err = 0;
	pthread_mutex_unlock(&in->lock);
	return start_receivers(in);
}

/* ---- completion ---------------------------------------------------------------------- */

static int send_checksums(struct pcram_in *in)
{
	size_t cap = WIRE_HDR_LEN + 16 + 8 * WIRE_CHECKSUM_MAX;
	uint8_t *buf = malloc(cap);
	uint64_t *sums = malloc(8 * WIRE_CHECKSUM_MAX);
	int ret = 0;

	if (!buf || !sums) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned int r = 0; r < in->nr_remote && !ret; r++) {
		struct dst_block *b = &in->dst->blocks[in->to_dst[r]];

		for (uint64_t first = 0; first < b->nr_pages && !ret;
		     first += WIRE_CHECKSUM_MAX) {
			uint32_t n = (uint32_t)(b->nr_pages - first < WIRE_CHECKSUM_MAX ?
						b->nr_pages - first : WIRE_CHECKSUM_MAX);

			for (uint32_t k = 0; k < n; k++)
				sums[k] = wire_page_sum(b->host + ((first + k) << b->page_shift),
							b->page_size);
			ret = wire_write_full(in->bulk, buf,
					      wire_put_checksum(buf, cap, r, first, sums, n));
		}
	}
out:
	free(buf);
	free(sums);
	return ret;
}

PCRAM_EXPORT
int pcram_in_wait(struct pcram_in *in, int timeout_ms)
{
	struct timespec end;
	int ret = 0;

	if (!in)
		return -EINVAL;
	if (!in->dst)
		return in_error(in, -ENOTCONN, "wait: never started");
	clock_gettime(CLOCK_REALTIME, &end);
	if (timeout_ms >= 0) {
		end.tv_sec += timeout_ms / 1000;
		end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (end.tv_nsec >= 1000000000L) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&in->lock);
	for (;;) {
		if (in->final) {
			ret = in->final == IN_COMPLETE ? 0 : in->final;
			break;
		}
		if (in->conn_err) {
			ret = in->conn_err;
			break;
		}
		if (in->all_in && !in->completing) {
			uint8_t msg[WIRE_HDR_LEN];

			in->completing = true;
			pthread_mutex_unlock(&in->lock);
			ret = 0;
			if (in->opts.flags & PCRAM_IN_F_VERIFY)
				ret = send_checksums(in);
			if (!ret)
				ret = wire_write_full(in->bulk, msg,
						      wire_put_empty(msg, sizeof(msg), WIRE_COMPLETE));
			pthread_mutex_lock(&in->lock);
			if (ret) {
				in->completing = false;
				in->conn_err = -ECONNRESET;
				in_error(in, -ECONNRESET, "sending COMPLETE: %s", strerror(-ret));
			}
			continue;
		}
		if (timeout_ms < 0) {
			pthread_cond_wait(&in->cond, &in->lock);
		} else if (pthread_cond_timedwait(&in->cond, &in->lock, &end) == ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&in->lock);
	if (ret != -ETIMEDOUT)
		stop_receivers(in);
	if (!ret)
		pcram_dst_cleanup(in->dst);	/* unregister: every page is in */
	return ret;
}

/* ---- giving up -------------------------------------------------------------------------- */

/*
 * Pages [first, first + n) of @b, on a kernel without UFFDIO_POISON: an
 * empty memfd mapped over them, so a touch is past the file's end, which
 * is SIGBUS too. The block's mapping is split there.
 */
static int poison_by_mapping(struct pcram_dst *dst, struct dst_block *b,
			     uint64_t first, uint64_t n)
{
	struct uffdio_range wake = {
		(uintptr_t)b->host + (first << b->page_shift), n << b->page_shift,
	};
	int fd = memfd_create("pcram-lost", MFD_CLOEXEC);
	void *p;

	if (fd < 0)
		return -errno;
	p = mmap((void *)(uintptr_t)wake.start, wake.len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	for (uint64_t k = 0; k < n; k++)
		if (!bit_test_set(b->received, first + k))
			atomic_fetch_sub(&b->missing, 1);
	/* The threads blocked there fault again, on the new mapping. */
	ioctl(dst->uffd, UFFDIO_WAKE, &wake);
	return 0;
}

static int64_t poison_missing(struct pcram_in *in)
{
	struct pcram_dst *dst = in->dst;
	int64_t n = 0;

	for (unsigned int d = 0; d < dst->nr_blocks; d++) {
		struct dst_block *b = &dst->blocks[d];

		for (uint64_t p = 0; p < b->nr_pages; p++) {
			uint64_t run = 0;
			int ret;

			if (bit_test(b->received, p))
				continue;
			ret = pcram_dst_poison(dst, b->host + (p << b->page_shift));
			if (ret >= 0) {
				n += !ret;
				continue;
			}
			if (ret != -EOPNOTSUPP)
				return in_error(in, ret, "abandon: poisoning: %s",
						pcram_dst_strerror(dst));
			while (p + run < b->nr_pages && !bit_test(b->received, p + run))
				run++;
			ret = poison_by_mapping(dst, b, p, run);
			if (ret)
				return in_error(in, ret, "abandon: mapping over %s+%#" PRIx64
						": %s", b->name, p << b->page_shift, strerror(-ret));
			n += (int64_t)run;
			p += run - 1;
		}
	}
	return n;
}

PCRAM_EXPORT
int pcram_in_abandon(struct pcram_in *in, unsigned int flags)
{
	int64_t n = 0;

	if (!in || (flags & ~PCRAM_IN_ABANDON_F_ALL))
		return -EINVAL;
	if (!in->dst)
		return in_error(in, -ENOTCONN, "abandon: never started");
	stop_receivers(in);
	pthread_mutex_lock(&in->lock);
	if (in->final == IN_COMPLETE) {
		pthread_mutex_unlock(&in->lock);
		return in_error(in, -EALREADY, "abandon: the migration is complete");
	}
	if (!in->final)
		in->final = -ENOTCONN;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	if (flags & PCRAM_IN_ABANDON_POISON)
		n = poison_missing(in);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

PCRAM_EXPORT
int pcram_in_stats(const struct pcram_in *in, struct pcram_in_stats *st)
{
	if (!in || !st)
		return -EINVAL;
	*st = (struct pcram_in_stats) {
		.pages_bulk = in->st.bulk, .pages_urgent = in->st.urgent,
		.zero_pages = in->st.zero, .batches = in->st.batches,
		.discards = in->st.discards, .resumes = in->st.resumes,
		.pages_precopy = in->st.precopy, .pages_rewritten = in->st.rewritten,
		.verified_equal = in->verified_equal,
		.switchover_ns = in->switchover_ns, .complete_ns = in->complete_ns,
	};
	return 0;
}
