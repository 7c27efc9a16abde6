// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the wire protocol's parser (lib/wire.c, built in
 * here: it is not exported). An input is what a receiver reads from its
 * socket, after one byte that picks the starting block table:
 *
 *   byte 0    bit 0 set: no block table yet (a destination before BLOCKS,
 *             the source reading HELLO); clear: the fixed table below
 *   then      messages, read as lib/incoming.c reads them: an 8-byte
 *             header; for PAGE its 16-byte page header, then the page's
 *             data skipped; for every other type the whole payload
 *
 * Why both tables: the fixed one lets a single mutated message reach
 * every check against a block, including blocks near 2^64 bytes that a
 * mutated BLOCKS would rarely describe; a BLOCKS that parses replaces the
 * table, as the destination adopts the source's list, so that the blocks
 * themselves are input too.
 *
 * The stream ends, as a receiver's connection does, at its end, at the
 * first refused message, or after a SHUTDOWN. Each header and payload is
 * copied to a buffer of exactly its size, so that ASan sees a read past
 * the length the header gave. Every parsed message is checked against
 * the specification (Documentation/wire-protocol.rst) with arithmetic of
 * its own, not the parser's, and encoded again with the wire_put_*()
 * encoders, which must give back the bytes that were read; a refusal
 * must be -EPROTO with a reason that names the message. Anything else
 * abort()s, so that the fuzzer reports a logic bug as a crash.
 *
 * Built with -DWIRE_FUZZ_GEN instead, it is the seed generator: one
 * valid stream per message type, written by the encoders into the
 * directory given, each checked to parse here first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WIRE_C
#define WIRE_C "../../lib/wire.c"	/* the mutant test builds another */
#endif
#include WIRE_C

#define ERRLEN 256
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "wire_fuzz: %s:%d: invariant broken: %s\n", \
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

static const struct wire_block fixed_blocks[] = {
	{ .name = "pc.ram", .length = 1 << 20, .page_size = 4096 },
	{ .name = "huge", .length = 4 << 21, .page_size = 2 << 20 },
	/* The largest blocks there can be: no range near 2^64 may wrap. */
	{ .name = "edge", .length = UINT64_MAX & ~(WIRE_MIN_PAGE - 1),
	  .page_size = WIRE_MIN_PAGE },
	{ .name = "giant", .length = UINT64_MAX & ~(WIRE_MAX_PAGE - 1),
	  .page_size = WIRE_MAX_PAGE },
};

/* The parser's output array for BLOCKS, and the table adopted from it. */
static struct wire_block parsed_blocks[WIRE_MAX_BLOCKS];
static struct wire_block adopted_blocks[WIRE_MAX_BLOCKS];

struct stream {
	const uint8_t *p;
	size_t left;
};

/* The next @n bytes in a buffer of exactly @n bytes, or NULL at the end. */
static uint8_t *take(struct stream *s, size_t n)
{
	uint8_t *buf;

	if (s->left < n)
		return NULL;
	buf = malloc(n);	/* n == 0: glibc's and ASan's give no bytes, not NULL */
	CHECK(buf);
	memcpy(buf, s->p, n);
	s->p += n;
	s->left -= n;
	return buf;
}

static bool control_byte(uint8_t c)
{
	return c < 0x20 || c == 0x7f;
}

/* A NUL-terminated name of at most WIRE_NAME_MAX bytes, no control: its length. */
static size_t check_name(const char *name)
{
	size_t n = strnlen(name, WIRE_NAME_MAX + 1);

	CHECK(n <= WIRE_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK(!control_byte((uint8_t)name[i]));
	return n;
}

static const struct wire_block *block_of(const struct wire_table *t, uint32_t i)
{
	CHECK(t && i < t->nr_blocks);
	return &t->blocks[i];
}

static uint64_t pages_of(const struct wire_block *b)
{
	return b->length / b->page_size;
}

/* [off, off + len) non-empty, in @b, on its page boundaries: in 128 bits. */
static void check_range(const struct wire_block *b, uint64_t off,
			__uint128_t len)
{
	CHECK(len > 0);
	CHECK(off % b->page_size == 0 && len % b->page_size == 0);
	CHECK(off + len <= b->length);
}

static bool one_bit(uint64_t v)
{
	return __builtin_popcountll(v) == 1;
}

/* What the specification says of each message that parsed. */
static void check_fields(const struct wire_hdr *h, const uint8_t *pl,
			 const struct wire_table *t, const struct wire_msg *m)
{
	const struct wire_block *b;

	CHECK(m->type == h->type);
	switch (m->type) {
	case WIRE_HELLO:
		CHECK(m->hello.version == WIRE_VERSION);
		CHECK(m->hello.channel == WIRE_BULK || m->hello.channel == WIRE_URGENT);
		CHECK(one_bit(m->hello.base_page) && m->hello.base_page >= WIRE_MIN_PAGE);
		break;
	case WIRE_BLOCKS:
		CHECK(m->blocks.blocks == parsed_blocks);
		CHECK(m->blocks.nr >= 1 && m->blocks.nr <= WIRE_MAX_BLOCKS);
		for (unsigned int i = 0; i < m->blocks.nr; i++) {
			b = &m->blocks.blocks[i];
			CHECK(check_name(b->name) >= 1);
			CHECK(one_bit(b->page_size));
			CHECK(b->page_size >= WIRE_MIN_PAGE && b->page_size <= WIRE_MAX_PAGE);
			CHECK(b->length && b->length % b->page_size == 0);
			for (unsigned int k = 0; k < i; k++)
				CHECK(strcmp(m->blocks.blocks[k].name, b->name));
		}
		break;
	case WIRE_RECEIVED:
		b = block_of(t, m->received.block);
		CHECK(m->received.nbits >= 1 && m->received.nbits <= WIRE_BITMAP_MAX_BITS);
		CHECK(m->received.first % 8 == 0);
		CHECK((__uint128_t)m->received.first + m->received.nbits <= pages_of(b));
		CHECK(h->len == 16 + ((uint64_t)m->received.nbits + 7) / 8);
		CHECK(m->received.bits == pl + 16);
		if (m->received.nbits % 8)
			CHECK(!(m->received.bits[(m->received.nbits - 1) / 8] >>
				(m->received.nbits % 8)));
		break;
	case WIRE_DISCARD:
		b = block_of(t, m->discard.block);
		CHECK(m->discard.count >= 1 && m->discard.count <= WIRE_DISCARD_MAX);
		for (uint32_t i = 0; i < m->discard.count; i++)
			check_range(b, m->discard.r[i].start, m->discard.r[i].length);
		break;
	case WIRE_PAGE:
		b = block_of(t, m->page.block);
		CHECK(m->page.len == b->page_size);
		CHECK(h->len == WIRE_PAGE_HDR + m->page.len);
		check_range(b, m->page.offset, m->page.len);
		break;
	case WIRE_ZERO:
		b = block_of(t, m->zero.block);
		check_range(b, m->zero.offset,
			    (__uint128_t)m->zero.npages * b->page_size);
		break;
	case WIRE_REQUEST:
		/* The block (name length 0: the previous one) is the receiver's. */
		CHECK(m->request.length >= 1 && m->request.length <= WIRE_MAX_PAGE);
		CHECK(check_name(m->request.name) == m->request.name_len);
		break;
	case WIRE_CHECKSUM:
		b = block_of(t, m->checksum.block);
		CHECK(m->checksum.count >= 1 && m->checksum.count <= WIRE_CHECKSUM_MAX);
		CHECK((__uint128_t)m->checksum.first + m->checksum.count <= pages_of(b));
		CHECK(m->checksum.sums == pl + 16);
		break;
	case WIRE_SHUTDOWN:
		CHECK(m->shutdown.status <= 0 && m->shutdown.status >= -4095);
		/* Shown to a person: whole, and no byte that steers a terminal. */
		CHECK(strnlen(m->shutdown.text, WIRE_TEXT_MAX + 1) == h->len - 6U);
		for (uint32_t i = 0; i < h->len - 6U; i++)
			CHECK(!control_byte((uint8_t)m->shutdown.text[i]));
		break;
	case WIRE_READY:
		CHECK(h->len == 4);
		CHECK(!(m->ready.flags & ~WIRE_READY_F_ALL));
		break;
	case WIRE_SWITCHOVER:
	case WIRE_COMPLETE:
	case WIRE_KEEPALIVE:
		CHECK(h->len == 0);
		break;
	default:
		CHECK(!"a type wire_parse_hdr() should have refused");
	}
}

/* @m encoded again into @buf, @cap bytes: the size, 0 if it did not fit. */
static size_t encode(const struct wire_msg *m, uint8_t *buf, size_t cap)
{
	switch (m->type) {
	case WIRE_HELLO:
		return wire_put_hello(buf, cap, m->hello.channel, m->hello.base_page,
				      m->hello.session);
	case WIRE_BLOCKS:
		return wire_put_blocks(buf, cap, m->blocks.session, m->blocks.blocks,
				       m->blocks.nr);
	case WIRE_RECEIVED:
		return wire_put_received(buf, cap, m->received.block, m->received.first,
					 m->received.nbits, m->received.bits);
	case WIRE_DISCARD:
		return wire_put_discard(buf, cap, m->discard.block, m->discard.r,
					m->discard.count);
	case WIRE_PAGE:
		return wire_put_page_hdr(buf, cap, m->page.block, m->page.offset,
					 m->page.len);
	case WIRE_ZERO:
		return wire_put_zero(buf, cap, m->zero.block, m->zero.offset,
				     m->zero.npages);
	case WIRE_REQUEST:
		return wire_put_request(buf, cap, m->request.name, m->request.offset,
					m->request.length);
	case WIRE_CHECKSUM: {
		uint64_t *sums = malloc(m->checksum.count * sizeof(*sums));
		size_t n;

		CHECK(sums);
		for (uint32_t i = 0; i < m->checksum.count; i++)
			sums[i] = get64(m->checksum.sums + 8 * i);
		n = wire_put_checksum(buf, cap, m->checksum.block, m->checksum.first,
				      sums, m->checksum.count);
		free(sums);
		return n;
	}
	case WIRE_SHUTDOWN:
		return wire_put_shutdown(buf, cap, m->shutdown.status, m->shutdown.text);
	case WIRE_READY:
		return wire_put_ready(buf, cap, m->ready.flags);
	default:
		return wire_put_empty(buf, cap, m->type);
	}
}

/*
 * Every field the parser read is the one on the wire: encoded again, the
 * message is the bytes read (@plen of payload; for PAGE its page header),
 * but for the SHUTDOWN text's control bytes, which become '?'.
 */
static void check_round_trip(const uint8_t *raw, const uint8_t *pl, size_t plen,
			     const struct wire_msg *m)
{
	size_t cap = WIRE_HDR_LEN + plen;
	uint8_t *buf = malloc(cap);

	CHECK(buf);
	CHECK(encode(m, buf, cap) == cap);
	CHECK(!memcmp(buf, raw, WIRE_HDR_LEN));
	if (m->type != WIRE_SHUTDOWN) {
		CHECK(!memcmp(buf + WIRE_HDR_LEN, pl, plen));
	} else {
		CHECK(!memcmp(buf + WIRE_HDR_LEN, pl, 6));
		for (size_t i = 6; i < plen; i++)
			CHECK(buf[WIRE_HDR_LEN + i] == pl[i] ||
			      (control_byte(pl[i]) && buf[WIRE_HDR_LEN + i] == '?'));
	}
	free(buf);
}

struct rx {
	struct wire_table table;
	const struct wire_table *t;	/* NULL before BLOCKS */
	unsigned int accepted;
	bool refused;
	char why[ERRLEN];		/* the refusal's reason */
};

/* A refusal: -EPROTO, and a reason that names the message. */
static void refused(struct rx *rx, int ret, const char *err, unsigned int type)
{
	const char *name = wire_type_name(type);

	CHECK(ret == -EPROTO);
	CHECK(memchr(err, '\0', ERRLEN));
	if (strcmp(name, "unknown"))
		CHECK(!strncmp(err, name, strlen(name)));
	else
		CHECK(!strncmp(err, "message type ", 13));
	rx->refused = true;
	memcpy(rx->why, err, sizeof(rx->why));
}

/* Read, parse and check one message: true to go on reading. */
static bool one_message(struct stream *s, struct rx *rx)
{
	uint8_t *raw, *pl = NULL;
	char err[ERRLEN];
	struct wire_hdr h;
	struct wire_msg m;
	bool more = false;
	size_t plen;
	int ret;

	raw = take(s, WIRE_HDR_LEN);
	if (!raw)
		return false;
	memset(err, 0xff, sizeof(err));
	ret = wire_parse_hdr(raw, &h, err, sizeof(err));
	if (ret) {
		refused(rx, ret, err, get16(raw));
		goto out;
	}
	plen = h.type == WIRE_PAGE ? WIRE_PAGE_HDR : h.len;
	pl = take(s, plen);
	if (!pl)
		goto out;

	/* Poisoned, so that a field the parser leaves unset shows. */
	memset(&m, 0xa5, sizeof(m));
	m.blocks.blocks = parsed_blocks;
	memset(err, 0xff, sizeof(err));
	ret = wire_parse(&h, pl, rx->t, &m, err, sizeof(err));
	if (ret) {
		refused(rx, ret, err, h.type);
		goto out;
	}
	check_fields(&h, pl, rx->t, &m);
	check_round_trip(raw, pl, plen, &m);
	rx->accepted++;

	more = true;
	if (m.type == WIRE_BLOCKS) {
		memcpy(adopted_blocks, parsed_blocks, m.blocks.nr * sizeof(*adopted_blocks));
		rx->table = (struct wire_table){ adopted_blocks, m.blocks.nr };
		rx->t = &rx->table;
	} else if (m.type == WIRE_PAGE) {
		/* The data goes straight into place: here, past. */
		more = s->left >= m.page.len;
		if (more) {
			s->p += m.page.len;
			s->left -= m.page.len;
		}
	} else if (m.type == WIRE_SHUTDOWN) {
		more = false;
	}
out:
	free(pl);
	free(raw);
	return more;
}

static void feed(const uint8_t *data, size_t size, struct rx *rx)
{
	struct stream s = { data + 1, size - 1 };

	*rx = (struct rx){ .table = { fixed_blocks, ARRAY_SIZE(fixed_blocks) } };
	rx->t = data[0] & 1 ? NULL : &rx->table;
	while (one_message(&s, rx))
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rx rx;

	if (size)
		feed(data, size, &rx);
	return 0;
}

#ifdef WIRE_FUZZ_GEN
/* ---- the seed corpus ------------------------------------------------ */

struct seed {
	uint8_t buf[2 * 4096];
	size_t n;
	unsigned int msgs;
};

static void start(struct seed *s, uint8_t mode)
{
	s->buf[0] = mode;
	s->n = 1;
	s->msgs = 0;
}

/* Account for the message an encoder just wrote at s->buf + s->n. */
static void add(struct seed *s, size_t n)
{
	CHECK(n);
	s->n += n;
	s->msgs++;
}

/* Where the next message goes, and the room left there. */
static uint8_t *at(struct seed *s)
{
	return s->buf + s->n;
}

static size_t room(const struct seed *s)
{
	return sizeof(s->buf) - s->n;
}

static void add_page(struct seed *s, uint32_t block, uint64_t off, uint64_t len)
{
	add(s, wire_put_page_hdr(at(s), room(s), block, off, len));
	CHECK(room(s) >= len);
	for (uint64_t i = 0; i < len; i++)
		s->buf[s->n++] = (uint8_t)i;
}

/* Write @s to DIR/@name, after checking that it parses as intended. */
static void emit(const char *dir, const char *name, const struct seed *s,
		 bool refused)
{
	char path[4096];
	struct rx rx;
	FILE *f;

	feed(s->buf, s->n, &rx);
	if (rx.accepted != s->msgs - refused || rx.refused != refused) {
		fprintf(stderr, "wire_fuzz_gen: %s: %u of %u messages parsed%s%s\n",
			name, rx.accepted, s->msgs, rx.refused ? ", then refused: " : "",
			rx.refused ? rx.why : "");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->n, f) != s->n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static const struct wire_block remote[] = {
		{ .name = "ram", .length = 64 << 10, .page_size = 4096 },
		{ .name = "vram", .length = 2 << 21, .page_size = 2 << 20 },
	};
	struct wire_range r[2] = { { 0, 4096 }, { 8192, 16384 } };
	uint64_t sums[2] = { 1, 2 };
	uint8_t bits[2] = { 0xff, 0x01 };
	const char *dir;
	struct seed s;

	if (argc != 2) {
		fprintf(stderr, "usage: wire_fuzz_gen DIR\n");
		return 2;
	}
	dir = argv[1];

	/* One valid message of each type: bit 0 of byte 0 set, no table. */
	start(&s, 1);
	add(&s, wire_put_hello(at(&s), room(&s), WIRE_URGENT, 4096, 42));
	emit(dir, "hello", &s, false);
	start(&s, 1);
	add(&s, wire_put_blocks(at(&s), room(&s), 7, remote, ARRAY_SIZE(remote)));
	emit(dir, "blocks", &s, false);
	start(&s, 0);
	add(&s, wire_put_received(at(&s), room(&s), 0, 8, 9, bits));
	emit(dir, "received", &s, false);
	start(&s, 0);
	add(&s, wire_put_ready(at(&s), room(&s), 0));
	emit(dir, "ready", &s, false);
	start(&s, 0);
	add(&s, wire_put_discard(at(&s), room(&s), 0, r, 2));
	emit(dir, "discard", &s, false);
	start(&s, 0);
	add_page(&s, 0, 4096, 4096);
	emit(dir, "page", &s, false);
	start(&s, 0);
	add(&s, wire_put_zero(at(&s), room(&s), 1, 2 << 20, 3));
	emit(dir, "zero", &s, false);
	start(&s, 0);
	add(&s, wire_put_request(at(&s), room(&s), "pc.ram", 4096, 4096));
	emit(dir, "request", &s, false);
	start(&s, 0);
	add(&s, wire_put_request(at(&s), room(&s), NULL, 8192, 4096));
	emit(dir, "request_same_block", &s, false);
	start(&s, 0);
	add(&s, wire_put_empty(at(&s), room(&s), WIRE_SWITCHOVER));
	emit(dir, "switchover", &s, false);
	start(&s, 0);
	add(&s, wire_put_empty(at(&s), room(&s), WIRE_COMPLETE));
	emit(dir, "complete", &s, false);
	start(&s, 0);
	add(&s, wire_put_checksum(at(&s), room(&s), 3, 5, sums, 2));
	emit(dir, "checksum", &s, false);
	start(&s, 0);
	add(&s, wire_put_empty(at(&s), room(&s), WIRE_KEEPALIVE));
	emit(dir, "keepalive", &s, false);
	start(&s, 0);
	add(&s, wire_put_shutdown(at(&s), room(&s), -EPROTO,
				  "PAGE: range 0x100000+0x1000 ends past block pc.ram"));
	emit(dir, "shutdown", &s, false);

	/* A session against the blocks a BLOCKS gave, each message in its order. */
	start(&s, 1);
	add(&s, wire_put_blocks(at(&s), room(&s), 7, remote, ARRAY_SIZE(remote)));
	add(&s, wire_put_received(at(&s), room(&s), 1, 0, 1, bits + 1));
	add(&s, wire_put_ready(at(&s), room(&s), 0));
	add(&s, wire_put_empty(at(&s), room(&s), WIRE_KEEPALIVE));
	add(&s, wire_put_discard(at(&s), room(&s), 0, r, 1));
	add(&s, wire_put_empty(at(&s), room(&s), WIRE_SWITCHOVER));
	add(&s, wire_put_request(at(&s), room(&s), "ram", 4096, 4096));
	add(&s, wire_put_zero(at(&s), room(&s), 1, 0, 1));
	add_page(&s, 0, 4096, 4096);
	add(&s, wire_put_checksum(at(&s), room(&s), 0, 0, sums, 2));
	add(&s, wire_put_empty(at(&s), room(&s), WIRE_COMPLETE));
	add(&s, wire_put_shutdown(at(&s), room(&s), 0,
				  "complete: 16 pages verified equal, 0 differ"));
	emit(dir, "session", &s, false);

	/*
	 * A ZERO one page past the end of pc.ram: refused here; the mutant
	 * parser of wire_fuzz_test.sh accepts it and the harness must abort.
	 */
	start(&s, 0);
	add(&s, wire_put_zero(at(&s), room(&s), 0, 0, 257));
	emit(dir, "zero_past_end", &s, true);
	return 0;
}
#endif /* WIRE_FUZZ_GEN */
