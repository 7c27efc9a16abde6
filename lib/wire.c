// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The wire protocol: big-endian, length-prefixed messages. The parser
 * refuses anything the specification does not allow, naming the message
 * and the field, before any of it is used.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "wire.h"

/* ---- bytes ------------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- limits --------------------------------------------------------------- */

static const char *const type_names[__WIRE_MAX] = {
	[WIRE_HELLO] = "HELLO", [WIRE_BLOCKS] = "BLOCKS",
	[WIRE_RECEIVED] = "RECEIVED", [WIRE_READY] = "READY",
	[WIRE_DISCARD] = "DISCARD", [WIRE_PAGE] = "PAGE", [WIRE_ZERO] = "ZERO",
	[WIRE_REQUEST] = "REQUEST", [WIRE_SWITCHOVER] = "SWITCHOVER",
	[WIRE_COMPLETE] = "COMPLETE", [WIRE_CHECKSUM] = "CHECKSUM",
	[WIRE_SHUTDOWN] = "SHUTDOWN", [WIRE_KEEPALIVE] = "KEEPALIVE",
};

/* Payload length bounds, by type. */
static const struct { uint64_t min, max; } len_bounds[__WIRE_MAX] = {
	[WIRE_HELLO] = { 24, 24 },
	[WIRE_BLOCKS] = { 12 + 1 + 1 + 16,
			  12 + WIRE_MAX_BLOCKS * (1 + WIRE_NAME_MAX + 16) },
	[WIRE_RECEIVED] = { 16 + 1, 16 + WIRE_BITMAP_MAX_BITS / 8 },
	[WIRE_READY] = { 4, 4 },
	[WIRE_DISCARD] = { 8 + 16, 8 + 16 * WIRE_DISCARD_MAX },
	[WIRE_PAGE] = { WIRE_PAGE_HDR + WIRE_MIN_PAGE,
			WIRE_PAGE_HDR + WIRE_MAX_PAGE },
	[WIRE_ZERO] = { 16, 16 },
	[WIRE_REQUEST] = { 17, 17 + WIRE_NAME_MAX },
	[WIRE_SWITCHOVER] = { 0, 0 },
	[WIRE_COMPLETE] = { 0, 0 },
	[WIRE_CHECKSUM] = { 16 + 8, 16 + 8 * WIRE_CHECKSUM_MAX },
	[WIRE_SHUTDOWN] = { 6, 6 + WIRE_TEXT_MAX },
	[WIRE_KEEPALIVE] = { 0, 0 },
};

const char *wire_type_name(unsigned int type)
{
	return type > 0 && type < __WIRE_MAX ? type_names[type] : "unknown";
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

int wire_parse_hdr(const uint8_t raw[WIRE_HDR_LEN], struct wire_hdr *h,
		   char *err, size_t errlen)
{
	h->type = get16(raw);
	h->flags = get16(raw + 2);
	h->len = get32(raw + 4);
	if (h->type == 0 || h->type >= __WIRE_MAX)
		return bad(err, errlen, "message type %u is unknown", h->type);
	if (h->flags)
		return bad(err, errlen, "%s: flags %#x are unknown",
			   wire_type_name(h->type), h->flags);
	if (h->len < len_bounds[h->type].min || h->len > len_bounds[h->type].max)
		return bad(err, errlen, "%s: payload of %u bytes (allowed %" PRIu64 "..%" PRIu64 ")",
			   wire_type_name(h->type), h->len,
			   len_bounds[h->type].min, len_bounds[h->type].max);
	return 0;
}

/* ---- parsing ---------------------------------------------------------------- */

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* A byte that steers a terminal rather than showing a character. */
static bool is_control(uint8_t c)
{
	return c < 0x20 || c == 0x7f;
}

static bool name_ok(const uint8_t *p, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		if (is_control(p[i]))
			return false;
	return true;
}

/* Block @idx of @t, or NULL with the reason in @err. */
static const struct wire_block *table_block(const struct wire_table *t,
					    uint32_t idx, const char *what,
					    char *err, size_t errlen)
{
	if (!t || !t->nr_blocks) {
		bad(err, errlen, "%s before BLOCKS", what);
		return NULL;
	}
	if (idx >= t->nr_blocks) {
		bad(err, errlen, "%s: block %u of %u", what, idx, t->nr_blocks);
		return NULL;
	}
	return &t->blocks[idx];
}

/* [off, off + len) lies in @b, aligned to its pages, len > 0. */
static int range_ok(const struct wire_block *b, uint64_t off, uint64_t len,
		    const char *what, char *err, size_t errlen)
{
	if (!len)
		return bad(err, errlen, "%s: empty range in block %s", what, b->name);
	if ((off | len) & (b->page_size - 1))
		return bad(err, errlen, "%s: range %#" PRIx64 "+%#" PRIx64
			   " is not aligned to block %s's %" PRIu64 "-byte pages",
			   what, off, len, b->name, b->page_size);
	if (off >= b->length || len > b->length - off)
		return bad(err, errlen, "%s: range %#" PRIx64 "+%#" PRIx64
			   " ends past block %s (%#" PRIx64 " bytes)",
			   what, off, len, b->name, b->length);
	return 0;
}

static int parse_blocks(const uint8_t *p, uint32_t len, struct wire_msg *m,
			char *err, size_t errlen)
{
	uint32_t pos = 12, n = get32(p + 8);

	m->blocks.session = get64(p);
	if (n == 0 || n > WIRE_MAX_BLOCKS)
		return bad(err, errlen, "BLOCKS: %u blocks (allowed 1..%u)", n,
			   WIRE_MAX_BLOCKS);
	for (uint32_t i = 0; i < n; i++) {
		struct wire_block *b = &m->blocks.blocks[i];
		unsigned int nl;

		if (len - pos < 1)
			return bad(err, errlen, "BLOCKS: block %u is cut short", i);
		nl = p[pos++];
		if (!nl || len - pos < nl + 16U)
			return bad(err, errlen, "BLOCKS: block %u: %s", i,
				   nl ? "cut short" : "empty name");
		if (!name_ok(p + pos, nl))
			return bad(err, errlen, "BLOCKS: block %u: name has control bytes", i);
		memcpy(b->name, p + pos, nl);
		b->name[nl] = '\0';
		pos += nl;
		b->length = get64(p + pos);
		b->page_size = get64(p + pos + 8);
		pos += 16;
		if (!pow2(b->page_size) || b->page_size < WIRE_MIN_PAGE ||
		    b->page_size > WIRE_MAX_PAGE)
			return bad(err, errlen, "BLOCKS: block %s: page size %" PRIu64,
				   b->name, b->page_size);
		if (!b->length || b->length & (b->page_size - 1))
			return bad(err, errlen, "BLOCKS: block %s: length %#" PRIx64
				   " is not a whole number of pages", b->name, b->length);
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(m->blocks.blocks[k].name, b->name))
				return bad(err, errlen, "BLOCKS: block name %s twice", b->name);
	}
	if (pos != len)
		return bad(err, errlen, "BLOCKS: %u bytes after the last block", len - pos);
	m->blocks.nr = n;
	return 0;
}

static int parse_received(const uint8_t *p, uint32_t len,
			  const struct wire_table *t, struct wire_msg *m,
			  char *err, size_t errlen)
{
	const struct wire_block *b;
	uint64_t pages;
	uint32_t nbits;

	m->received.block = get32(p);
	m->received.first = get64(p + 4);
	nbits = m->received.nbits = get32(p + 12);
	m->received.bits = p + 16;
	b = table_block(t, m->received.block, "RECEIVED", err, errlen);
	if (!b)
		return -EPROTO;
	pages = b->length / b->page_size;
	if (!nbits || nbits > WIRE_BITMAP_MAX_BITS || len != 16 + (nbits + 7) / 8)
		return bad(err, errlen, "RECEIVED: %u bits in %u bytes", nbits, len - 16);
	if (m->received.first % 8 || m->received.first >= pages ||
	    nbits > pages - m->received.first)
		return bad(err, errlen, "RECEIVED: bits %" PRIu64 "+%u outside block %s's %" PRIu64
			   " pages (or not at a byte)", m->received.first, nbits,
			   b->name, pages);
	if (nbits % 8 && (p[len - 1] >> (nbits % 8)))
		return bad(err, errlen, "RECEIVED: bits set past the count");
	return 0;
}

static int parse_discard(const uint8_t *p, uint32_t len,
			 const struct wire_table *t, struct wire_msg *m,
			 char *err, size_t errlen)
{
	const struct wire_block *b;
	uint32_t n;

	m->discard.block = get32(p);
	n = m->discard.count = get32(p + 4);
	if (!n || n > WIRE_DISCARD_MAX || len != 8 + 16 * n)
		return bad(err, errlen, "DISCARD: %u ranges in %u bytes", n, len);
	b = table_block(t, m->discard.block, "DISCARD", err, errlen);
	if (!b)
		return -EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		struct wire_range *r = &m->discard.r[i];

		r->start = get64(p + 8 + 16 * i);
		r->length = get64(p + 16 + 16 * i);
		if (range_ok(b, r->start, r->length, "DISCARD", err, errlen))
			return -EPROTO;
	}
	return 0;
}

static int parse_request(const uint8_t *p, uint32_t len, struct wire_msg *m,
			 char *err, size_t errlen)
{
	unsigned int nl = p[16];

	m->request.offset = get64(p);
	m->request.length = get64(p + 8);
	if (len != 17 + nl)
		return bad(err, errlen, "REQUEST: name of %u bytes in %u", nl, len - 17);
	if (!name_ok(p + 17, nl))
		return bad(err, errlen, "REQUEST: block name has control bytes");
	m->request.name_len = nl;
	memcpy(m->request.name, p + 17, nl);
	m->request.name[nl] = '\0';
	/* The block is resolved (and the range checked) by the receiver. */
	if (!m->request.length || m->request.length > WIRE_MAX_PAGE)
		return bad(err, errlen, "REQUEST: length %" PRIu64, m->request.length);
	return 0;
}

int wire_parse(const struct wire_hdr *h, const uint8_t *p,
	       const struct wire_table *t, struct wire_msg *m,
	       char *err, size_t errlen)
{
	const struct wire_block *b;
	uint32_t len = h->len;

	m->type = h->type;
	switch (h->type) {
	case WIRE_HELLO:
		if (get64(p) != WIRE_MAGIC)
			return bad(err, errlen, "HELLO: bad magic %#" PRIx64 " (not a pcram peer)",
				   get64(p));
		m->hello.version = get16(p + 8);
		m->hello.channel = p[10];
		m->hello.base_page = get32(p + 12);
		m->hello.session = get64(p + 16);
		if (m->hello.version != WIRE_VERSION)
			return bad(err, errlen, "HELLO: protocol version %u, this side speaks %u",
				   m->hello.version, WIRE_VERSION);
		if (m->hello.channel > WIRE_URGENT || p[11])
			return bad(err, errlen, "HELLO: channel %u, flags %#x",
				   m->hello.channel, p[11]);
		if (!pow2(m->hello.base_page) || m->hello.base_page < WIRE_MIN_PAGE)
			return bad(err, errlen, "HELLO: base page size %u", m->hello.base_page);
		return 0;
	case WIRE_BLOCKS:
		/* Only where the caller waits for it, with room for it. */
		if (t || !m->blocks.blocks)
			return bad(err, errlen, "BLOCKS: not expected here");
		return parse_blocks(p, len, m, err, errlen);
	case WIRE_RECEIVED:
		return parse_received(p, len, t, m, err, errlen);
	case WIRE_DISCARD:
		return parse_discard(p, len, t, m, err, errlen);
	case WIRE_PAGE:
		m->page.block = get32(p);
		m->page.offset = get64(p + 8);
		m->page.len = len - WIRE_PAGE_HDR;
		if (get32(p + 4))
			return bad(err, errlen, "PAGE: flags %#x are unknown", get32(p + 4));
		b = table_block(t, m->page.block, "PAGE", err, errlen);
		if (!b)
			return -EPROTO;
		if (m->page.len != b->page_size)
			return bad(err, errlen, "PAGE: %" PRIu64 " bytes for block %s's %" PRIu64
				   "-byte pages", m->page.len, b->name, b->page_size);
		return range_ok(b, m->page.offset, m->page.len, "PAGE", err, errlen);
	case WIRE_ZERO:
		m->zero.block = get32(p);
		m->zero.npages = get32(p + 4);
		m->zero.offset = get64(p + 8);
		b = table_block(t, m->zero.block, "ZERO", err, errlen);
		if (!b)
			return -EPROTO;
		return range_ok(b, m->zero.offset, m->zero.npages * b->page_size,
				"ZERO", err, errlen);
	case WIRE_REQUEST:
		return parse_request(p, len, m, err, errlen);
	case WIRE_CHECKSUM:
		m->checksum.block = get32(p);
		m->checksum.first = get64(p + 4);
		m->checksum.count = get32(p + 12);
		m->checksum.sums = p + 16;
		if (!m->checksum.count || len != 16 + 8ULL * m->checksum.count)
			return bad(err, errlen, "CHECKSUM: %u sums in %u bytes",
				   m->checksum.count, len - 16);
		b = table_block(t, m->checksum.block, "CHECKSUM", err, errlen);
		if (!b)
			return -EPROTO;
		if (m->checksum.first >= b->length / b->page_size ||
		    m->checksum.count > b->length / b->page_size - m->checksum.first)
			return bad(err, errlen, "CHECKSUM: pages %" PRIu64 "+%u outside block %s",
				   m->checksum.first, m->checksum.count, b->name);
		return 0;
	case WIRE_SHUTDOWN: {
		uint16_t tl = get16(p + 4);

		m->shutdown.status = (int32_t)get32(p);
		if (len != 6U + tl)
			return bad(err, errlen, "SHUTDOWN: text of %u bytes in %u", tl, len - 6);
		if (m->shutdown.status > 0 || m->shutdown.status < -4095)
			return bad(err, errlen, "SHUTDOWN: status %d", m->shutdown.status);
		memcpy(m->shutdown.text, p + 6, tl);
		m->shutdown.text[tl] = '\0';
		/* Shown to a person: printable only. */
		for (unsigned int i = 0; i < tl; i++)
			if (is_control((uint8_t)m->shutdown.text[i]))
				m->shutdown.text[i] = '?';
		return 0;
	}
	case WIRE_READY:
		m->ready.flags = get32(p);
		if (m->ready.flags & ~WIRE_READY_F_ALL)
			return bad(err, errlen, "READY: flags %#x are unknown",
				   m->ready.flags & ~WIRE_READY_F_ALL);
		return 0;
	default:	/* SWITCHOVER, COMPLETE, KEEPALIVE: no payload */
		return 0;
	}
}

/* ---- encoding ------------------------------------------------------------------ */

static size_t put_hdr(uint8_t *buf, size_t cap, enum wire_type type, uint64_t len)
{
	if (cap < WIRE_HDR_LEN + len || len > UINT32_MAX)
		return 0;
	put16(buf, type);
	put16(buf + 2, 0);
	put32(buf + 4, (uint32_t)len);
	return WIRE_HDR_LEN;
}

size_t wire_put_hello(uint8_t *buf, size_t cap, uint8_t channel,
		      uint32_t base_page, uint64_t session)
{
	uint8_t *p = buf + WIRE_HDR_LEN;

	if (!put_hdr(buf, cap, WIRE_HELLO, 24))
		return 0;
	put64(p, WIRE_MAGIC);
	put16(p + 8, WIRE_VERSION);
	p[10] = channel;
	p[11] = 0;
	put32(p + 12, base_page);
	put64(p + 16, session);
	return WIRE_HDR_LEN + 24;
}

size_t wire_put_blocks(uint8_t *buf, size_t cap, uint64_t session,
		       const struct wire_block *b, unsigned int n)
{
	uint64_t len = 12;
	uint8_t *p = buf + WIRE_HDR_LEN;

	for (unsigned int i = 0; i < n; i++)
		len += 1 + strlen(b[i].name) + 16;
	if (!put_hdr(buf, cap, WIRE_BLOCKS, len))
		return 0;
	put64(p, session);
	put32(p + 8, n);
	p += 12;
	for (unsigned int i = 0; i < n; i++) {
		size_t nl = strlen(b[i].name);

		*p++ = (uint8_t)nl;
		memcpy(p, b[i].name, nl);
		p += nl;
		put64(p, b[i].length);
		put64(p + 8, b[i].page_size);
		p += 16;
	}
	return WIRE_HDR_LEN + len;
}

size_t wire_put_received(uint8_t *buf, size_t cap, uint32_t block,
			 uint64_t first, uint32_t nbits, const uint8_t *bits)
{
	uint64_t bytes = (nbits + 7) / 8;
	uint8_t *p = buf + WIRE_HDR_LEN;

	if (!put_hdr(buf, cap, WIRE_RECEIVED, 16 + bytes))
		return 0;
	put32(p, block);
	put64(p + 4, first);
	put32(p + 12, nbits);
	memcpy(p + 16, bits, bytes);
	return WIRE_HDR_LEN + 16 + bytes;
}

size_t wire_put_empty(uint8_t *buf, size_t cap, enum wire_type type)
{
	return put_hdr(buf, cap, type, 0);
}

size_t wire_put_ready(uint8_t *buf, size_t cap, uint32_t flags)
{
	if (!put_hdr(buf, cap, WIRE_READY, 4))
		return 0;
	put32(buf + WIRE_HDR_LEN, flags);
	return WIRE_HDR_LEN + 4;
}

size_t wire_put_discard(uint8_t *buf, size_t cap, uint32_t block,
			const struct wire_range *r, uint32_t count)
{
	uint8_t *p = buf + WIRE_HDR_LEN;

	if (!put_hdr(buf, cap, WIRE_DISCARD, 8 + 16ULL * count))
		return 0;
	put32(p, block);
	put32(p + 4, count);
	for (uint32_t i = 0; i < count; i++) {
		put64(p + 8 + 16 * i, r[i].start);
		put64(p + 16 + 16 * i, r[i].length);
	}
	return WIRE_HDR_LEN + 8 + 16 * count;
}

size_t wire_put_page_hdr(uint8_t *buf, size_t cap, uint32_t block,
			 uint64_t offset, uint64_t len)
{
	uint8_t *p = buf + WIRE_HDR_LEN;

	if (cap < WIRE_HDR_LEN + WIRE_PAGE_HDR || len > UINT32_MAX - WIRE_PAGE_HDR)
		return 0;
	put16(buf, WIRE_PAGE);
	put16(buf + 2, 0);
	put32(buf + 4, (uint32_t)(WIRE_PAGE_HDR + len));
	put32(p, block);
	put32(p + 4, 0);
	put64(p + 8, offset);
	return WIRE_HDR_LEN + WIRE_PAGE_HDR;
}

size_t wire_put_zero(uint8_t *buf, size_t cap, uint32_t block,
		     uint64_t offset, uint32_t npages)
{
	uint8_t *p = buf + WIRE_HDR_LEN;

	if (!put_hdr(buf, cap, WIRE_ZERO, 16))
		return 0;
	put32(p, block);
	put32(p + 4, npages);
	put64(p + 8, offset);
	return WIRE_HDR_LEN + 16;
}

size_t wire_put_request(uint8_t *buf, size_t cap, const char *name,
			uint64_t offset, uint64_t length)
{
	size_t nl = name ? strlen(name) : 0;
	uint8_t *p = buf + WIRE_HDR_LEN;

	if (nl > WIRE_NAME_MAX || !put_hdr(buf, cap, WIRE_REQUEST, 17 + nl))
		return 0;
	put64(p, offset);
	put64(p + 8, length);
	p[16] = (uint8_t)nl;
	memcpy(p + 17, name ? name : "", nl);
	return WIRE_HDR_LEN + 17 + nl;
}

size_t wire_put_checksum(uint8_t *buf, size_t cap, uint32_t block,
			 uint64_t first, const uint64_t *sums, uint32_t count)
{
	uint8_t *p = buf + WIRE_HDR_LEN;

	if (!put_hdr(buf, cap, WIRE_CHECKSUM, 16 + 8ULL * count))
		return 0;
	put32(p, block);
	put64(p + 4, first);
	put32(p + 12, count);
	for (uint32_t i = 0; i < count; i++)
		put64(p + 16 + 8 * i, sums[i]);
	return WIRE_HDR_LEN + 16 + 8ULL * count;
}

size_t wire_put_shutdown(uint8_t *buf, size_t cap, int32_t status,
			 const char *text)
{
	size_t tl = text ? strnlen(text, WIRE_TEXT_MAX) : 0;
	uint8_t *p = buf + WIRE_HDR_LEN;

	if (!put_hdr(buf, cap, WIRE_SHUTDOWN, 6 + tl))
		return 0;
	put32(p, (uint32_t)status);
	put16(p + 4, (uint16_t)tl);
	memcpy(p + 6, text ? text : "", tl);
	return WIRE_HDR_LEN + 6 + tl;
}

uint64_t wire_page_sum(const void *page, uint64_t len)
{
	const uint64_t *w = page;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < len / 8; i++) {
		h ^= w[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- I/O ------------------------------------------------------------------------- */

/* A socket timeout (SO_RCVTIMEO, SO_SNDTIMEO) passed: the peer is silent. */
static int io_errno(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK ? -ETIMEDOUT : -e;
}

/* Some bytes, at least one: how many, or -errno (-EPIPE at EOF). */
static ssize_t read_some(int fd, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n > 0)
			return n;
		if (n == 0)
			return -EPIPE;
		if (errno != EINTR)
			return io_errno(errno);
	}
}

int wire_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read_some(fd, p, len);

		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void wire_nodelay(int fd)
{
	int one = 1;

	/* Not TCP (a socketpair in tests): nothing to turn off. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int wire_reader_init(struct wire_reader *r, int fd, size_t cap)
{
	*r = (struct wire_reader) { .fd = fd, .cap = cap };
	r->buf = malloc(cap);
	return r->buf ? 0 : -ENOMEM;
}

void wire_reader_free(struct wire_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

int wire_reader_read(struct wire_reader *r, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		size_t have = r->tail - r->head;
		ssize_t n;

		if (have) {
			size_t take = have < len ? have : len;

			memcpy(p, r->buf + r->head, take);
			r->head += take;
			p += take;
			len -= take;
			continue;
		}
		if (len >= r->cap / 2)
			return wire_read_full(r->fd, p, len);
		n = read_some(r->fd, r->buf, r->cap);
		if (n < 0)
			return (int)n;
		r->head = 0;
		r->tail = (size_t)n;
	}
	return 0;
}

bool wire_reader_more(const struct wire_reader *r)
{
	int n = 0;

	return r->tail > r->head || (!ioctl(r->fd, FIONREAD, &n) && n > 0);
}

/*
 * At most this much a sendmsg(). On a kernel without preemption a
 * sendmsg() runs to its end before another thread of its CPU gets in, and
 * on loopback that end includes the receiving side's work: the push's
 * batch of 32 pages of 2 MiB held the urgent thread back for 40 ms.
 */
#define SENDMSG_MAX (256u << 10)

int wire_sendv_full(int fd, struct iovec *iov, unsigned int n)
{
	struct msghdr mh = { .msg_iov = iov };
	unsigned int i = 0;

	while (i < n) {
		unsigned int k = 0, max = n - i < IOV_MAX ? n - i : IOV_MAX;
		struct iovec head;
		size_t bytes = 0;
		ssize_t sent;

		if (!iov[i].iov_len) {
			i++;
			continue;
		}
		while (k < max && bytes + iov[i + k].iov_len <= SENDMSG_MAX)
			bytes += iov[i + k++].iov_len;
		if (k) {
			mh.msg_iov = &iov[i];
			mh.msg_iovlen = k;
		} else {
			/* One part bigger than the limit: its first piece. */
			head = (struct iovec) { iov[i].iov_base, SENDMSG_MAX };
			mh.msg_iov = &head;
			mh.msg_iovlen = 1;
		}
		sent = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			return io_errno(errno);
		}
		/* Partly sent: step over what went, and go on from there. */
		while (sent > 0 && i < n) {
			size_t take = (size_t)sent < iov[i].iov_len ? (size_t)sent : iov[i].iov_len;

			iov[i].iov_base = (uint8_t *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			sent -= (ssize_t)take;
			if (!iov[i].iov_len)
				i++;
		}
	}
	return 0;
}

int wire_writev_full(int fd, const void *a, size_t alen, const void *b,
		     size_t blen)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)a, .iov_len = alen },
		{ .iov_base = (void *)b, .iov_len = blen },
	};

	return wire_sendv_full(fd, iov, 2);
}

int wire_write_full(int fd, const void *buf, size_t len)
{
	return wire_writev_full(fd, buf, len, NULL, 0);
}

int wire_read_msg(int fd, const struct wire_table *t, uint8_t *buf, size_t cap,
		  struct wire_msg *m, char *err, size_t errlen)
{
	uint8_t raw[WIRE_HDR_LEN];
	struct wire_hdr h;
	int ret;

	/* A KEEPALIVE says the peer lives, which the read just learnt. */
	do {
		ret = wire_read_full(fd, raw, sizeof(raw));
		if (ret)
			return ret;
		ret = wire_parse_hdr(raw, &h, err, errlen);
		if (ret)
			return ret;
	} while (h.type == WIRE_KEEPALIVE);
	/* A PAGE's data goes straight into place: wire_parse() its header. */
	if (h.type == WIRE_PAGE || h.len > cap)
		return bad(err, errlen, "%s of %u bytes here", wire_type_name(h.type), h.len);
	ret = wire_read_full(fd, buf, h.len);
	if (ret)
		return ret;
	return wire_parse(&h, buf, t, m, err, errlen);
}

int wire_send_shutdown(int fd, int32_t status, const char *text)
{
	uint8_t buf[WIRE_HDR_LEN + 6 + WIRE_TEXT_MAX];

	return wire_write_full(fd, buf, wire_put_shutdown(buf, sizeof(buf), status, text));
}

int wire_set_timeout(int fd, unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

bool wire_conn_lost(int ret)
{
	return ret == -EPIPE || ret == -ECONNRESET || ret == -ECONNABORTED ||
	       ret == -ETIMEDOUT || ret == -EHOSTUNREACH || ret == -ENETUNREACH ||
	       ret == -ENOTCONN || ret == -ENETDOWN || ret == -EHOSTDOWN;
}

void wire_io_text(char *buf, size_t len, int ret, const char *what, const char *peer,
		  unsigned int timeout_ms)
{
	if (ret == -ETIMEDOUT)
		snprintf(buf, len, "%s: nothing moved for %u ms (the %s went silent)",
			 what, timeout_ms, peer);
	else if (ret == -EPIPE)
		snprintf(buf, len, "%s: the %s closed the connection", what, peer);
	else
		snprintf(buf, len, "%s: %s", what, strerror(-ret));
}

/* ---- links and the keepalive ---------------------------------------------------- */

void wire_link_init(struct wire_link *l, int fd)
{
	l->fd = fd;
	pthread_mutex_init(&l->lock, NULL);
	atomic_init(&l->writes, 0);
}

void wire_link_destroy(struct wire_link *l)
{
	pthread_mutex_destroy(&l->lock);
}

int wire_link_sendv(struct wire_link *l, struct iovec *iov, unsigned int n)
{
	int ret;

	pthread_mutex_lock(&l->lock);
	ret = wire_sendv_full(l->fd, iov, n);
	atomic_fetch_add_explicit(&l->writes, 1, memory_order_relaxed);
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int wire_link_writev(struct wire_link *l, const void *a, size_t alen,
		     const void *b, size_t blen)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)a, .iov_len = alen },
		{ .iov_base = (void *)b, .iov_len = blen },
	};

	return wire_link_sendv(l, iov, 2);
}

int wire_link_write(struct wire_link *l, const void *buf, size_t len)
{
	return wire_link_writev(l, buf, len, NULL, 0);
}

int wire_link_shutdown(struct wire_link *l, int32_t status, const char *text)
{
	uint8_t buf[WIRE_HDR_LEN + 6 + WIRE_TEXT_MAX];

	return wire_link_write(l, buf, wire_put_shutdown(buf, sizeof(buf), status, text));
}

static void keepalive_tick(struct wire_keepalive *k)
{
	uint8_t msg[WIRE_HDR_LEN];

	wire_put_empty(msg, sizeof(msg), WIRE_KEEPALIVE);
	for (int i = 0; i < 2; i++) {
		struct wire_link *l = k->links[i];
		uint64_t w = atomic_load_explicit(&l->writes, memory_order_relaxed);

		/* Written since the last tick, or being written now: alive. */
		if (w != k->seen[i] || pthread_mutex_trylock(&l->lock)) {
			k->seen[i] = w;
			continue;
		}
		/* A broken connection is its reader's to find: ignored here. */
		wire_sendv_full(l->fd, &(struct iovec) { msg, sizeof(msg) }, 1);
		k->seen[i] = atomic_fetch_add_explicit(&l->writes, 1,
						       memory_order_relaxed) + 1;
		pthread_mutex_unlock(&l->lock);
	}
}

static void *keepalive_main(void *arg)
{
	struct wire_keepalive *k = arg;
	struct timespec next;

	next = clock_now(CLOCK_MONOTONIC);
	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		clock_ts_add_ms(&next, WIRE_KEEPALIVE_MS);
		/* Until the tick, or a stop; any error but a wakeup is a tick. */
		while (!k->stop && !pthread_cond_timedwait(&k->cond, &k->lock, &next))
			;
		if (k->stop)
			break;
		pthread_mutex_unlock(&k->lock);
		keepalive_tick(k);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int wire_keepalive_start(struct wire_keepalive *k, struct wire_link *a,
			 struct wire_link *b)
{
	pthread_condattr_t ca;
	int ret;

	*k = (struct wire_keepalive) { .links = { a, b } };
	pthread_mutex_init(&k->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cond, &ca);
	pthread_condattr_destroy(&ca);
	k->seen[0] = atomic_load(&a->writes);
	k->seen[1] = atomic_load(&b->writes);
	ret = pthread_create(&k->thread, NULL, keepalive_main, k);
	if (ret) {
		pthread_cond_destroy(&k->cond);
		pthread_mutex_destroy(&k->lock);
		return -ret;
	}
	k->running = true;
	return 0;
}

void wire_keepalive_stop(struct wire_keepalive *k)
{
	if (!k->running)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	k->running = false;
}
