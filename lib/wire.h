/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The migration wire protocol: message layouts, encoders and a parser
 * that checks every length, offset, name and count before anything uses
 * them. Documentation/wire-protocol.rst is the specification.
 */
#ifndef PCRAM_WIRE_H
#define PCRAM_WIRE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC		0x5043524d57495245ULL	/* "PCRMWIRE" */
#define WIRE_VERSION		2
#define WIRE_HDR_LEN		8
#define WIRE_MAX_BLOCKS		1024
#define WIRE_NAME_MAX		255
#define WIRE_DISCARD_MAX	12	/* ranges a DISCARD carries, as the seed */
#define WIRE_MIN_PAGE		4096ULL
#define WIRE_MAX_PAGE		(1ULL << 30)
#define WIRE_BITMAP_MAX_BITS	(1U << 20)	/* bits a RECEIVED carries */
#define WIRE_CHECKSUM_MAX	8192		/* page sums a CHECKSUM carries */
#define WIRE_TEXT_MAX		1024
#define WIRE_PAGE_HDR		16	/* PAGE payload before the data */

enum wire_type {
	WIRE_HELLO = 1,
	WIRE_BLOCKS,
	WIRE_RECEIVED,
	WIRE_READY,
	WIRE_DISCARD,
	WIRE_PAGE,
	WIRE_ZERO,
	WIRE_REQUEST,
	WIRE_SWITCHOVER,
	WIRE_COMPLETE,
	WIRE_CHECKSUM,
	WIRE_SHUTDOWN,
	WIRE_KEEPALIVE,
	__WIRE_MAX
};

enum wire_channel { WIRE_BULK = 0, WIRE_URGENT = 1 };

/* READY: the destination has switched over already (a resumed session). */
#define WIRE_READY_F_SWITCHED	(1U << 0)
#define WIRE_READY_F_ALL	WIRE_READY_F_SWITCHED

struct wire_hdr {
	uint16_t type;
	uint16_t flags;
	uint32_t len;		/* payload bytes after the header */
};

struct wire_block {
	char name[WIRE_NAME_MAX + 1];
	uint64_t length;
	uint64_t page_size;
};

/* What a parser checks a message against. */
struct wire_table {
	const struct wire_block *blocks;
	unsigned int nr_blocks;
};

struct wire_range {
	uint64_t start, length;
};

struct wire_msg {
	enum wire_type type;
	union {
		struct {
			uint16_t version;
			uint8_t channel;
			uint32_t base_page;
			uint64_t session;
		} hello;
		struct {
			uint64_t session;
			unsigned int nr;
			struct wire_block *blocks;	/* caller's array, WIRE_MAX_BLOCKS */
		} blocks;
		struct {
			uint32_t block;
			uint64_t first;
			uint32_t nbits;
			const uint8_t *bits;		/* points into the payload */
		} received;
		struct {
			uint32_t flags;			/* WIRE_READY_F_* */
		} ready;
		struct {
			uint32_t block;
			uint32_t count;
			struct wire_range r[WIRE_DISCARD_MAX];
		} discard;
		struct {
			uint32_t block;
			uint64_t offset;
			uint64_t len;			/* data bytes that follow */
		} page;
		struct {
			uint32_t block;
			uint32_t npages;
			uint64_t offset;
		} zero;
		struct {
			uint64_t offset, length;
			uint8_t name_len;		/* 0: the last request's block */
			char name[WIRE_NAME_MAX + 1];
		} request;
		struct {
			uint32_t block;
			uint64_t first;
			uint32_t count;
			const uint8_t *sums;		/* count big-endian u64s */
		} checksum;
		struct {
			int32_t status;
			char text[WIRE_TEXT_MAX + 1];
		} shutdown;
	};
};

const char *wire_type_name(unsigned int type);

/*
 * Check a header: a known type, no flags, a length that type can have.
 * 0, or -EPROTO with the reason in @err.
 */
int wire_parse_hdr(const uint8_t raw[WIRE_HDR_LEN], struct wire_hdr *h,
		   char *err, size_t errlen);

/*
 * Parse a payload of @h->len bytes (for PAGE only its first WIRE_PAGE_HDR
 * bytes: the data is read by the caller straight into place). @t: the
 * blocks, for every message that names one (NULL before BLOCKS). BLOCKS
 * itself is refused unless @t is NULL and @m->blocks.blocks points to
 * WIRE_MAX_BLOCKS entries: callers that do not expect it set it NULL.
 * 0, or -EPROTO with the reason in @err; nothing is used before it passes.
 */
int wire_parse(const struct wire_hdr *h, const uint8_t *payload,
	       const struct wire_table *t, struct wire_msg *m,
	       char *err, size_t errlen);

/* Encoders: a whole message into @buf; the bytes written, or 0 if @cap is short. */
size_t wire_put_hello(uint8_t *buf, size_t cap, uint8_t channel,
		      uint32_t base_page, uint64_t session);
size_t wire_put_blocks(uint8_t *buf, size_t cap, uint64_t session,
		       const struct wire_block *b, unsigned int n);
size_t wire_put_received(uint8_t *buf, size_t cap, uint32_t block,
			 uint64_t first, uint32_t nbits, const uint8_t *bits);
/* SWITCHOVER, COMPLETE, KEEPALIVE. */
size_t wire_put_empty(uint8_t *buf, size_t cap, enum wire_type type);
size_t wire_put_ready(uint8_t *buf, size_t cap, uint32_t flags);
size_t wire_put_discard(uint8_t *buf, size_t cap, uint32_t block,
			const struct wire_range *r, uint32_t count);
/* The header and fixed part of a PAGE; @len data bytes follow. */
size_t wire_put_page_hdr(uint8_t *buf, size_t cap, uint32_t block,
			 uint64_t offset, uint64_t len);
size_t wire_put_zero(uint8_t *buf, size_t cap, uint32_t block,
		     uint64_t offset, uint32_t npages);
size_t wire_put_request(uint8_t *buf, size_t cap, const char *name,
			uint64_t offset, uint64_t length);
size_t wire_put_checksum(uint8_t *buf, size_t cap, uint32_t block,
			 uint64_t first, const uint64_t *sums, uint32_t count);
size_t wire_put_shutdown(uint8_t *buf, size_t cap, int32_t status,
			 const char *text);

/* A page's checksum, the same on both sides (FNV-1a over 64-bit words). */
uint64_t wire_page_sum(const void *page, uint64_t len);

/*
 * Whole reads and writes on a stream socket: 0, or -errno (-EPIPE at EOF,
 * -ETIMEDOUT when the socket's timeout passed with nothing moving).
 */
int wire_read_full(int fd, void *buf, size_t len);
int wire_write_full(int fd, const void *buf, size_t len);
int wire_writev_full(int fd, const void *a, size_t alen, const void *b,
		     size_t blen);
/* All of @iov (changed on the way), in as few sendmsg() as it takes. */
struct iovec;
int wire_sendv_full(int fd, struct iovec *iov, unsigned int n);

/*
 * No Nagle: a request, a page asked for, or the last message of a
 * handshake must not wait for the ACK of the one before (with delayed
 * ACKs, 40 ms). Bulk writes are batched by the sender instead.
 */
void wire_nodelay(int fd);

/*
 * Liveness (Documentation/wire-protocol.rst, "Liveness"): a read that
 * waits @ms with nothing arriving, or a write that moves nothing for
 * @ms, fails with -ETIMEDOUT (SO_RCVTIMEO, SO_SNDTIMEO).
 */
#define WIRE_KEEPALIVE_MS	250	/* idle this long: a KEEPALIVE goes */
#define WIRE_PEER_TIMEOUT_MS	5000	/* silent this long: the peer is gone */
#define WIRE_PEER_TIMEOUT_MIN	1000	/* four keepalive intervals at least */
int wire_set_timeout(int fd, unsigned int ms);
/* A read's or write's error that means the connection (or peer) is gone. */
bool wire_conn_lost(int ret);
/*
 * @what failed with @ret, in words for a person: "@what: nothing moved
 * for @timeout_ms ms (the @peer went silent)", "... closed the
 * connection", or the errno's text.
 */
void wire_io_text(char *buf, size_t len, int ret, const char *what, const char *peer,
		  unsigned int timeout_ms);

/*
 * The sending half of a connection. Several threads write it (the push,
 * the discards, requests from every fault thread, the keepalive), each
 * whole messages under @lock; @writes tells the keepalive that the
 * connection was busy without a clock read on the write path.
 */
struct wire_link {
	int fd;
	pthread_mutex_t lock;
	_Atomic uint64_t writes;
};

void wire_link_init(struct wire_link *l, int fd);
void wire_link_destroy(struct wire_link *l);
int wire_link_write(struct wire_link *l, const void *buf, size_t len);
int wire_link_writev(struct wire_link *l, const void *a, size_t alen,
		     const void *b, size_t blen);
int wire_link_sendv(struct wire_link *l, struct iovec *iov, unsigned int n);
/* A SHUTDOWN with @status and @text on @l. */
int wire_link_shutdown(struct wire_link *l, int32_t status, const char *text);

/*
 * A thread that sends KEEPALIVE on each link that carried nothing for a
 * WIRE_KEEPALIVE_MS tick (so the gap between two messages stays under
 * two ticks), while another writer holding the link is left alone.
 */
struct wire_keepalive {
	struct wire_link *links[2];
	uint64_t seen[2];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, stop;
};

int wire_keepalive_start(struct wire_keepalive *k, struct wire_link *a,
			 struct wire_link *b);
/* Returns with the thread gone: nothing more is written by it. */
void wire_keepalive_stop(struct wire_keepalive *k);

/*
 * A connection read through a buffer: one read() brings many small
 * messages, where reading each header and payload apart costs a syscall
 * each. Reads at least half the buffer long go straight to the caller.
 */
struct wire_reader {
	int fd;
	uint8_t *buf;
	size_t cap, head, tail;
};

int wire_reader_init(struct wire_reader *r, int fd, size_t cap);
void wire_reader_free(struct wire_reader *r);
/* Exactly @len bytes: 0, or -errno (-EPIPE at EOF). */
int wire_reader_read(struct wire_reader *r, void *buf, size_t len);
/* Bytes buffered, or waiting in the socket: is another message here? */
bool wire_reader_more(const struct wire_reader *r);

/*
 * Read one whole message other than PAGE (its payload at most @cap bytes,
 * into @buf) and parse it: 0, -EPROTO with @err, or a read's -errno.
 */
int wire_read_msg(int fd, const struct wire_table *t, uint8_t *buf, size_t cap,
		  struct wire_msg *m, char *err, size_t errlen);
/* Tell the peer why it is left: a SHUTDOWN with @status and @text. */
int wire_send_shutdown(int fd, int32_t status, const char *text);

#endif /* PCRAM_WIRE_H */
