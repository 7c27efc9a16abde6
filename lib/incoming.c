// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The destination of a migration: a provider that asks the source over
 * the urgent connection, and two receivers that place what comes, bulk
 * pages in batches and urgent ones at once. A broken connection pauses
 * everything (faults keep queueing, their requests stay outstanding)
 * until pcram_in_resume() brings a new pair; a protocol error, a page
 * that cannot be placed, or the source's SHUTDOWN ends the migration.
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

#include "compat.h"
#include "dst.h"
#include "thread.h"
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
	unsigned int peer_timeout_ms;

	int bulk, urgent;
	/* Our sending halves, and the thread that keeps them talking. */
	struct wire_link bulk_tx, urgent_tx;
	struct wire_keepalive ka;
	pthread_t rx[2];
	struct rx_arg {
		struct pcram_in *in;
		bool urgent;
	} rx_arg[2];
	bool rx_running;
	_Atomic bool switched;

	/* Requests go out on urgent from every fault thread. */
	pthread_mutex_t req_lock;
	bool req_open;		/* false while disconnected */
	int req_last;		/* remote block of the last request sent */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool all_in;		/* every page placed after switchover */
	bool completing;	/* COMPLETE sent */
	uint64_t checksummed;	/* pages whose CHECKSUMs went before it */
	int conn_err;		/* -ECONNRESET: a connection broke; resume */
	int final;		/* IN_COMPLETE, or why the migration failed */
	struct lib_error error;

	struct {
		_Atomic uint64_t bulk, urgent, zero, batches, discards, resumes;
		_Atomic uint64_t precopy, rewritten;
	} st;
	uint64_t verified_equal;
	uint64_t switchover_ns, complete_ns;
};

static int in_error(struct pcram_in *in, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int in_error(struct pcram_in *in, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lib_error_vset(&in->error, err, fmt, ap);
	va_end(ap);
	return err;
}

/*
 * @dst's failure as ours. Copied here, not through pcram_dst_strerror():
 * this runs on the caller's thread, whose strerror copy must stay as it was.
 */
static int in_error_dst(struct pcram_in *in, int err, const char *what,
			const struct pcram_dst *dst)
{
	char why[LIB_ERROR_LEN];

	lib_error_copy(&dst->error, why, sizeof(why));
	return in_error(in, err, "%s: %s", what, why);
}

static void conn_text(struct pcram_in *in, char *buf, size_t len, int ret,
		      const char *what)
{
	wire_io_text(buf, len, ret, what, "source", in->peer_timeout_ms);
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
	in->bulk = in->urgent = -1;
	in->req_last = -1;
	in->peer_timeout_ms = WIRE_PEER_TIMEOUT_MS;
	wire_link_init(&in->bulk_tx, -1);
	wire_link_init(&in->urgent_tx, -1);
	pthread_mutex_init(&in->req_lock, NULL);
	pthread_mutex_init(&in->lock, NULL);
	lib_error_init(&in->error);
	pthread_cond_init(&in->cond, NULL);
	*out = in;
	return 0;
}

static void conn_down(struct pcram_in *in);

PCRAM_EXPORT
void pcram_in_free(struct pcram_in *in)
{
	if (!in)
		return;
	conn_down(in);
	free(in->remote);
	free(in->to_dst);
	free(in->to_remote);
	wire_link_destroy(&in->bulk_tx);
	wire_link_destroy(&in->urgent_tx);
	pthread_mutex_destroy(&in->req_lock);
	pthread_mutex_destroy(&in->lock);
	lib_error_destroy(&in->error);
	pthread_cond_destroy(&in->cond);
	free(in);
}

PCRAM_EXPORT
const char *pcram_in_strerror(const struct pcram_in *in)
{
	return in ? lib_error_get(&in->error) : "no incoming migration";
}

PCRAM_EXPORT
int pcram_in_set_peer_timeout(struct pcram_in *in, unsigned int ms)
{
	if (!in)
		return -EINVAL;
	if (ms < WIRE_PEER_TIMEOUT_MIN)
		return in_error(in, -EINVAL, "peer timeout: %u ms (at least %u)", ms,
				WIRE_PEER_TIMEOUT_MIN);
	in->peer_timeout_ms = ms;
	return 0;
}

/* SHUTDOWN to the source on both connections: why we end the migration. */
static void send_shutdown_both(struct pcram_in *in, int status, const char *text)
{
	wire_link_shutdown(&in->bulk_tx, status, text);
	wire_link_shutdown(&in->urgent_tx, status, text);
}

/*
 * The migration is over, failed with @ret (the first to say so is the
 * story). @tell: send the reason to the source too.
 */
static void in_final(struct pcram_in *in, int ret, bool tell, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void in_final(struct pcram_in *in, int ret, bool tell, const char *fmt, ...)
{
	char text[512];
	bool first;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&in->lock);
	first = !in->final;
	if (first) {
		in->final = ret;
		in_error(in, ret, "%s", text);
	}
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	if (first && tell)
		send_shutdown_both(in, ret, text);
}

/* ---- reading ------------------------------------------------------------ */

static int read_hdr(struct wire_reader *r, struct wire_hdr *h, char *err, size_t errlen)
{
	uint8_t raw[WIRE_HDR_LEN];
	int ret = wire_reader_read(r, raw, sizeof(raw));

	if (ret)
		return ret;
	return wire_parse_hdr(raw, h, err, errlen);
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
	/* Not pages_missing: a page in it may still be in its ioctl. */
	if (!atomic_load(&in->switched) || dst_pages_unplaced(in->dst))
		return;
	pthread_mutex_lock(&in->lock);
	if (!in->all_in) {
		in->all_in = true;
		in->complete_ns = clock_mono_ns();
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

/*
 * What a receiver ran into: a connection that broke (resume), or the
 * end of the migration (a protocol error, a page that cannot be placed,
 * the source's SHUTDOWN). @why says which, for a person.
 */
struct rx_end {
	int ret;
	bool fatal;
	char why[512];
};

static int rx_fatal(struct rx_end *e, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rx_fatal(struct rx_end *e, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
	e->fatal = true;
	return e->ret = ret;
}

static int flush(struct pcram_in *in, struct batch *bt, struct rx_end *e)
{
	unsigned int done = 0;

	while (done < bt->n) {
		int ret = pcram_dst_place_batch(in->dst, bt->ops + done, bt->n - done);

		if (ret < 0)
			return rx_fatal(e, ret, "placing: %s", pcram_dst_strerror(in->dst));
		for (unsigned int i = done; i < done + (unsigned int)ret; i++)
			if (bt->ops[i].result == 1)
				again(in, bt->ops[i].host, bt->ops[i].src,
				      page_size_at(in, bt->ops[i].host));
		done += (unsigned int)ret;
		if (done < bt->n) {
			/* Stopped at an op: EAGAIN is retried, others fail. */
			ret = bt->ops[done].result;
			if (ret != -EAGAIN)
				return rx_fatal(e, ret, "placing: %s",
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
		     struct batch *bt, uint8_t *one, bool urgent, struct rx_end *e)
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
			return flush(in, bt, e);
		return 0;
	}
	ret = wire_reader_read(r, one, m->page.len);
	if (ret)
		return ret;
	ret = place(in, host, one);
	if (ret < 0)
		return rx_fatal(e, ret, "placing: %s", pcram_dst_strerror(in->dst));
	if (ret == 1)
		again(in, host, one, m->page.len);
	atomic_fetch_add(urgent ? &in->st.urgent : &in->st.bulk, 1);
	if (!atomic_load(&in->switched))
		atomic_fetch_add(&in->st.precopy, 1);
	return 0;
}

static int take_zero(struct pcram_in *in, const struct wire_msg *m, bool urgent,
		     struct rx_end *e)
{
	uint64_t ps = in->remote[m->zero.block].page_size;

	for (uint32_t i = 0; i < m->zero.npages; i++) {
		uint8_t *host = host_of(in, m->zero.block, m->zero.offset + i * ps);
		int ret = place(in, host, NULL);

		if (ret < 0)
			return rx_fatal(e, ret, "placing zeros: %s",
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

static int take_discard(struct pcram_in *in, const struct wire_msg *m, struct rx_end *e)
{
	const char *name = in->remote[m->discard.block].name;

	if (atomic_load(&in->switched))
		return rx_fatal(e, -EPROTO, "DISCARD after SWITCHOVER");
	for (uint32_t i = 0; i < m->discard.count; i++) {
		int ret = pcram_dst_discard_range(in->dst, name, m->discard.r[i].start,
						  m->discard.r[i].length);

		if (ret)
			return rx_fatal(e, ret, "discard: %s", pcram_dst_strerror(in->dst));
		atomic_fetch_add(&in->st.discards, 1);
	}
	return 0;
}

/*
 * "complete: N pages verified equal, M differ", exactly: the source's
 * verdict on the checksums this side sent. It must have compared every
 * one, and found none different.
 */
static void take_complete(struct pcram_in *in, const char *text)
{
	uint64_t equal, differ, checksummed;
	int end = -1;

	pthread_mutex_lock(&in->lock);
	checksummed = in->checksummed;
	pthread_mutex_unlock(&in->lock);
	if (sscanf(text, "complete: %" SCNu64 " pages verified equal, %" SCNu64 " differ%n",
		   &equal, &differ, &end) != 2 || end < 0 || text[end]) {
		in_final(in, -EPROTO, false,
			 "the source's closing SHUTDOWN is not \"complete: N pages verified"
			 " equal, M differ\": \"%s\"", text);
		return;
	}
	if (differ) {
		in_final(in, -EIO, false, "the source says %" PRIu64 " pages differ (%s)",
			 differ, text);
		return;
	}
	if (equal != checksummed) {
		in_final(in, -EPROTO, false, "the source verified %" PRIu64 " pages, but %"
			 PRIu64 " were checksummed (%s)", equal, checksummed, text);
		return;
	}
	pthread_mutex_lock(&in->lock);
	if (!in->final) {
		in->verified_equal = equal;
		in->final = IN_COMPLETE;
	}
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
}

/* The source's SHUTDOWN: the end of the migration, one way or the other. */
static void take_shutdown(struct pcram_in *in, const struct wire_msg *m)
{
	bool completing;

	pthread_mutex_lock(&in->lock);
	completing = in->completing;
	pthread_mutex_unlock(&in->lock);
	if (!m->shutdown.status && completing)
		take_complete(in, m->shutdown.text);
	else if (m->shutdown.status == -EPROTO)
		in_final(in, -EPROTO, false, "the source refused our message: %s",
			 m->shutdown.text);
	else
		in_final(in, m->shutdown.status ? m->shutdown.status : -ECANCELED, false,
			 "the source ended the migration: %s", m->shutdown.text);
}

/*
 * One connection's messages until it ends: @e says how (e->ret 0: the
 * source's SHUTDOWN ended the migration).
 */
static void rx_loop(struct pcram_in *in, bool urgent, struct rx_end *e)
{
	struct wire_table t = { in->remote, in->nr_remote };
	int fd = urgent ? in->urgent : in->bulk;
	struct batch bt = { .n = 0 };
	struct wire_reader r;
	uint8_t small[WIRE_HDR_LEN + 6 + WIRE_TEXT_MAX + 64];
	uint8_t *one;
	char err[256];
	int ret = 0;

	if (wire_reader_init(&r, fd, RX_BUFFER)) {
		rx_fatal(e, -ENOMEM, "receiver: out of memory");
		return;
	}
	one = mmap(NULL, in->max_page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (one == MAP_FAILED) {
		wire_reader_free(&r);
		rx_fatal(e, -ENOMEM, "receiver: out of memory");
		return;
	}
	if (!urgent) {
		bt.buf = mmap(NULL, BATCH_PAGES * BATCH_MAX_PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (bt.buf == MAP_FAILED) {
			munmap(one, in->max_page);
			wire_reader_free(&r);
			rx_fatal(e, -ENOMEM, "receiver: out of memory");
			return;
		}
	}

	for (;;) {
		struct wire_hdr h;
		struct wire_msg m;

		ret = read_hdr(&r, &h, err, sizeof(err));
		if (ret == -EPROTO)
			rx_fatal(e, ret, "%s", err);
		if (ret)
			break;
		if (h.type == WIRE_PAGE) {
			uint8_t ph[WIRE_PAGE_HDR];

			ret = wire_reader_read(&r, ph, sizeof(ph));
			if (!ret && wire_parse(&h, ph, &t, &m, err, sizeof(err)))
				ret = rx_fatal(e, -EPROTO, "%s", err);
			if (!ret)
				ret = take_page(in, &r, &m, urgent ? NULL : &bt, one, urgent, e);
			if (ret)
				break;
			check_all_in(in);
			continue;
		}
		/* Any other message ends a batch: a KEEPALIVE may be the last. */
		ret = flush(in, &bt, e);
		if (ret)
			break;
		if (h.type == WIRE_KEEPALIVE) {
			check_all_in(in);	/* the batch may have held the last page */
			continue;
		}
		if (h.len > sizeof(small)) {
			ret = rx_fatal(e, -EPROTO, "%s of %u bytes", wire_type_name(h.type), h.len);
			break;
		}
		ret = wire_reader_read(&r, small, h.len);
		if (ret)
			break;
		ret = wire_parse(&h, small, &t, &m, err, sizeof(err));
		if (ret) {
			rx_fatal(e, ret, "%s", err);
			break;
		}
		if (m.type == WIRE_ZERO) {
			ret = take_zero(in, &m, urgent, e);
		} else if (m.type == WIRE_SHUTDOWN) {
			take_shutdown(in, &m);
			break;
		} else if (urgent) {
			ret = rx_fatal(e, -EPROTO, "%s on the urgent connection",
				       wire_type_name(m.type));
		} else if (m.type == WIRE_DISCARD) {
			ret = take_discard(in, &m, e);
		} else if (m.type == WIRE_SWITCHOVER) {
			if (!atomic_exchange(&in->switched, true)) {
				in->switchover_ns = clock_mono_ns();
				if (in->opts.switchover)
					in->opts.switchover(in->opts.opaque);
			}
		} else {
			ret = rx_fatal(e, -EPROTO, "%s on bulk", wire_type_name(m.type));
		}
		if (ret)
			break;
		check_all_in(in);
	}
	if (!e->fatal)
		e->ret = ret;
	munmap(one, in->max_page);
	if (bt.buf)
		munmap(bt.buf, BATCH_PAGES * BATCH_MAX_PAGE);
	wire_reader_free(&r);
}

static void *rx_main(void *arg)
{
	struct rx_arg *a = arg;
	struct pcram_in *in = a->in;
	struct rx_end e = { .ret = 0 };
	bool stop_other = true;

	pthread_setname_np(pthread_self(), a->urgent ? "pcram-rx-urgent" : "pcram-rx-bulk");
	if (a->urgent)
		thread_urgent();
	else if (!(in->opts.flags & PCRAM_IN_F_BULK_SAME_PRIORITY))
		thread_background();
	rx_loop(in, a->urgent, &e);

	if (e.fatal && e.ret == -EPROTO) {
		in_final(in, -EPROTO, true, "protocol error from the source: %s", e.why);
	} else if (e.fatal) {
		in_final(in, e.ret, true, "%s", e.why);
	} else if (e.ret) {
		char why[512];

		conn_text(in, why, sizeof(why), e.ret,
			  a->urgent ? "the urgent connection" : "the bulk connection");
		pthread_mutex_lock(&in->lock);
		/*
		 * After COMPLETE the source closes once its SHUTDOWN is on
		 * bulk: urgent may see the end first, as an EOF or, with our
		 * keepalives unread there, a reset. The bulk receiver reads
		 * the SHUTDOWN (or fails itself); this one leaves it alone.
		 */
		if (a->urgent && in->completing && wire_conn_lost(e.ret))
			stop_other = false;
		else if (!in->final && !in->conn_err) {
			in->conn_err = -ECONNRESET;
			in_error(in, -ECONNRESET, "%s", why);
		}
		pthread_cond_broadcast(&in->cond);
		pthread_mutex_unlock(&in->lock);
	}
	/* The other receiver stops too: this connection pair is done. */
	if (stop_other) {
		shutdown(in->bulk, SHUT_RD);
		shutdown(in->urgent, SHUT_RD);
	}
	return NULL;
}

static void stop_receivers(struct pcram_in *in)
{
	if (!in->rx_running)
		return;
	shutdown(in->bulk, SHUT_RD);
	shutdown(in->urgent, SHUT_RD);
	pthread_join(in->rx[0], NULL);
	pthread_join(in->rx[1], NULL);
	in->rx_running = false;
}

/*
 * This connection pair is over: no thread of ours reads or writes its
 * sockets from here on (the caller may close them).
 */
static void conn_down(struct pcram_in *in)
{
	pthread_mutex_lock(&in->req_lock);
	in->req_open = false;
	pthread_mutex_unlock(&in->req_lock);
	stop_receivers(in);
	wire_keepalive_stop(&in->ka);
}

static int start_receivers(struct pcram_in *in)
{
	int ret;

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

/* Under req_lock. */
static int send_request(struct pcram_in *in, unsigned int rblock, uint64_t off,
			uint64_t len)
{
	uint8_t buf[WIRE_HDR_LEN + 17 + WIRE_NAME_MAX];
	const char *name = (int)rblock == in->req_last ? NULL : in->remote[rblock].name;
	size_t n = wire_put_request(buf, sizeof(buf), name, off, len);
	int ret;

	if (!in->req_open)
		return -ENOTCONN;
	ret = wire_link_write(&in->urgent_tx, buf, n);
	if (ret)
		in->req_open = false;	/* kept outstanding; sent again on resume */
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

/* HELLO on both; from here on, both connections are kept talking. */
static int hello_both(struct pcram_in *in, int bulk_fd, int urgent_fd)
{
	uint8_t buf[64];
	uint32_t base = (uint32_t)sysconf(_SC_PAGESIZE);
	char why[256];
	int ret;

	if (!in->session) {
		struct timespec ts = clock_now(CLOCK_REALTIME);

		in->session = ((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec ^
			       (uint64_t)getpid()) | 1;
	}
	in->bulk = bulk_fd;
	in->urgent = urgent_fd;
	in->bulk_tx.fd = bulk_fd;
	in->urgent_tx.fd = urgent_fd;
	wire_set_timeout(bulk_fd, in->peer_timeout_ms);
	wire_set_timeout(urgent_fd, in->peer_timeout_ms);
	wire_nodelay(bulk_fd);
	wire_nodelay(urgent_fd);
	ret = wire_link_write(&in->bulk_tx, buf, wire_put_hello(buf, sizeof(buf), WIRE_BULK,
								base, in->session));
	if (!ret)
		ret = wire_link_write(&in->urgent_tx, buf,
				      wire_put_hello(buf, sizeof(buf), WIRE_URGENT,
						     base, in->session));
	if (ret) {
		conn_text(in, why, sizeof(why), ret, "sending HELLO");
		return in_error(in, wire_conn_lost(ret) ? -ECONNRESET : ret, "%s", why);
	}
	ret = wire_keepalive_start(&in->ka, &in->bulk_tx, &in->urgent_tx);
	if (ret)
		return in_error(in, ret, "keepalive thread: %s", strerror(-ret));
	return 0;
}

/*
 * BLOCKS from the source, into @into (WIRE_MAX_BLOCKS). A malformed
 * message is refused with a SHUTDOWN, as anywhere else.
 */
static int read_blocks(struct pcram_in *in, struct wire_block *into, unsigned int *nr)
{
	size_t cap = 12 + WIRE_MAX_BLOCKS * (1 + WIRE_NAME_MAX + 16);
	uint8_t *buf = malloc(cap);
	char err[256], why[512];
	struct wire_msg m;
	int ret;

	if (!buf)
		return in_error(in, -ENOMEM, "reading BLOCKS: out of memory");
	m.blocks.blocks = into;
	ret = wire_read_msg(in->bulk, NULL, buf, cap, &m, err, sizeof(err));
	free(buf);
	if (!ret && m.type == WIRE_SHUTDOWN)
		return in_error(in, m.shutdown.status ? m.shutdown.status : -ECANCELED,
				"the source refused: %s", m.shutdown.text);
	if (!ret && m.type != WIRE_BLOCKS) {
		snprintf(err, sizeof(err), "%s before BLOCKS", wire_type_name(m.type));
		ret = -EPROTO;
	}
	if (ret == -EPROTO) {
		send_shutdown_both(in, -EPROTO, err);
		return in_error(in, ret, "protocol error from the source: %s", err);
	}
	if (ret) {
		conn_text(in, why, sizeof(why), ret, "waiting for BLOCKS");
		return in_error(in, wire_conn_lost(ret) ? -ECONNRESET : ret, "%s", why);
	}
	*nr = m.blocks.nr;
	return 0;
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
	conn_down(in);
	ret = hello_both(in, bulk_fd, urgent_fd);
	if (!ret)
		ret = read_blocks(in, in->remote, &in->nr_remote);
	if (ret) {
		conn_down(in);
		in->nr_remote = 0;
		return ret;
	}
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
	char why[256];
	int ret = 0;

	if (!buf || !bits) {
		ret = in_error(in, -ENOMEM, "sending the received bitmap: out of memory");
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
			ret = wire_link_write(&in->bulk_tx, buf,
					      wire_put_received(buf, cap, r, first,
								(uint32_t)n, bits));
		}
	}
	if (!ret)
		ret = wire_link_write(&in->bulk_tx, buf,
				      wire_put_ready(buf, cap, atomic_load(&in->switched) ?
						     WIRE_READY_F_SWITCHED : 0));
	if (ret) {
		conn_text(in, why, sizeof(why), ret, "sending the received bitmap");
		ret = in_error(in, wire_conn_lost(ret) ? -ECONNRESET : ret, "%s", why);
	}
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
		return in_error(in, -ENOMEM, "start: out of memory");
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
		return in_error_dst(in, ret, "start", dst);
	in->dst = dst;
	ret = send_received(in);
	if (ret) {
		conn_down(in);
		/* The source went away before READY: resume as after any break. */
		if (ret == -ECONNRESET) {
			pthread_mutex_lock(&in->lock);
			in->conn_err = ret;
			pthread_mutex_unlock(&in->lock);
		}
		return ret;
	}
	pthread_mutex_lock(&in->req_lock);
	in->req_open = true;
	in->req_last = -1;
	pthread_mutex_unlock(&in->req_lock);
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
	conn_down(in);
	blocks = calloc(WIRE_MAX_BLOCKS, sizeof(*blocks));
	if (!blocks)
		return in_error(in, -ENOMEM, "resume: out of memory");
	ret = hello_both(in, bulk_fd, urgent_fd);
	if (!ret)
		ret = read_blocks(in, blocks, &nr);
	if (!ret && (nr != in->nr_remote ||
		     memcmp(blocks, in->remote, nr * sizeof(*blocks)))) {
		send_shutdown_both(in, -EINVAL, "the blocks are not the ones of this migration");
		ret = in_error(in, -EINVAL, "resume: the source's blocks are not the ones it had");
	}
	free(blocks);
	if (!ret)
		ret = send_received(in);
	if (ret) {
		conn_down(in);
		return ret;
	}
	atomic_fetch_add(&in->st.resumes, 1);

	/* The outstanding requests first: their threads are waiting. */
	pthread_mutex_lock(&in->req_lock);
	in->req_open = true;
	in->req_last = -1;
	for (unsigned int d = 0; d < in->dst->nr_blocks && !ret; d++) {
		struct dst_block *b = &in->dst->blocks[d];

		for (uint64_t p = 0; p < b->nr_pages && !ret; p++)
			if (bit_test(b->requested, p) && !bit_test(b->received, p))
				ret = send_request(in, (unsigned int)in->to_remote[d],
						   p << b->page_shift, b->page_size);
	}
	pthread_mutex_unlock(&in->req_lock);
	if (ret) {
		char why[256];

		conn_down(in);
		conn_text(in, why, sizeof(why), ret, "resume: sending requests");
		return in_error(in, wire_conn_lost(ret) ? -ECONNRESET : ret, "%s", why);
	}
	pthread_mutex_lock(&in->lock);
	in->conn_err = 0;
	/* Whatever went before the break: the checksums and COMPLETE go again. */
	in->completing = false;
	pthread_mutex_unlock(&in->lock);
	return start_receivers(in);
}

/* ---- completion ---------------------------------------------------------------------- */

/* CHECKSUM of every page, on bulk; how many in @pages. */
static int send_checksums(struct pcram_in *in, uint64_t *pages)
{
	size_t cap = WIRE_HDR_LEN + 16 + 8 * WIRE_CHECKSUM_MAX;
	uint8_t *buf = malloc(cap);
	uint64_t *sums = malloc(8 * WIRE_CHECKSUM_MAX), total = 0;
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
			ret = wire_link_write(&in->bulk_tx, buf,
					      wire_put_checksum(buf, cap, r, first, sums, n));
			total += n;
		}
	}
	*pages = total;
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
	end = clock_deadline(CLOCK_REALTIME, timeout_ms >= 0 ? (unsigned int)timeout_ms : 0);
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
			uint64_t sent = 0;

			in->completing = true;
			pthread_mutex_unlock(&in->lock);
			ret = 0;
			if (in->opts.flags & PCRAM_IN_F_VERIFY)
				ret = send_checksums(in, &sent);
			/* Before COMPLETE: the answer to it is checked against this. */
			pthread_mutex_lock(&in->lock);
			in->checksummed = sent;
			pthread_mutex_unlock(&in->lock);
			if (!ret)
				ret = wire_link_write(&in->bulk_tx, msg,
						      wire_put_empty(msg, sizeof(msg), WIRE_COMPLETE));
			pthread_mutex_lock(&in->lock);
			if (ret == -ENOMEM) {
				in->completing = false;
				pthread_mutex_unlock(&in->lock);
				in_final(in, ret, true, "sending CHECKSUMs: out of memory");
				pthread_mutex_lock(&in->lock);
			} else if (ret && !in->final && !in->conn_err) {
				char why[256];

				conn_text(in, why, sizeof(why), ret, "sending COMPLETE");
				in->completing = false;
				in->conn_err = -ECONNRESET;
				in_error(in, -ECONNRESET, "%s", why);
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
		conn_down(in);
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
			pages_in(b, 1);
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
				return in_error_dst(in, ret, "abandon: poisoning", dst);
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
	conn_down(in);
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

PCRAM_DEFAULT_VERSION(pcram_in_stats, PCRAM_0.3);
PCRAM_EXPORT
int pcram_in_stats(const struct pcram_in *in, struct pcram_in_stats *out, size_t size)
{
	struct pcram_in_stats st;

	if (!in || !out || size < PCRAM_IN_STATS_SIZE_0_1)
		return -EINVAL;
	st = (struct pcram_in_stats) {
		.pages_bulk = in->st.bulk, .pages_urgent = in->st.urgent,
		.zero_pages = in->st.zero, .batches = in->st.batches,
		.discards = in->st.discards, .resumes = in->st.resumes,
		.pages_precopy = in->st.precopy, .pages_rewritten = in->st.rewritten,
		.verified_equal = in->verified_equal,
		.switchover_ns = in->switchover_ns, .complete_ns = in->complete_ns,
	};
	pcram_copy_out(out, size, &st, sizeof(st));
	return 0;
}
