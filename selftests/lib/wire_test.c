// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The wire protocol's parser (lib/wire.c, built in here: it is not
 * exported): every message type well formed, truncated, and with each
 * field wrong; refused with -EPROTO and a reason naming the message.
 * And its liveness parts: a silent socket times out, an idle link gets
 * a KEEPALIVE, a busy one none, and none splits another writer's message.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "kselftest_harness.h"
#include "../../lib/wire.c"

static const struct wire_block blocks[2] = {
	{ .name = "pc.ram", .length = 1 << 20, .page_size = 4096 },
	{ .name = "huge", .length = 4 << 21, .page_size = 2 << 20 },
};
static const struct wire_table table = { blocks, 2 };

/* Parse a whole encoded message @buf of @n bytes: 0 or -EPROTO, @err set. */
static int parse(const uint8_t *buf, size_t n, struct wire_msg *m, char *err)
{
	static struct wire_block into[WIRE_MAX_BLOCKS];
	struct wire_hdr h;
	int ret;

	err[0] = '\0';
	if (n < WIRE_HDR_LEN)
		return -EPIPE;
	ret = wire_parse_hdr(buf, &h, err, 256);
	if (ret)
		return ret;
	if (h.type != WIRE_PAGE && n != WIRE_HDR_LEN + h.len)
		return -EPIPE;		/* the reader would wait for the rest */
	/* BLOCKS comes first, when there is no table yet. */
	m->blocks.blocks = into;
	return wire_parse(&h, buf + WIRE_HDR_LEN, h.type == WIRE_BLOCKS ? NULL : &table,
			  m, err, 256);
}

#define REFUSED(buf, n, what) do {					\
	struct wire_msg __m;						\
	char __err[256];						\
	EXPECT_EQ(-EPROTO, parse(buf, n, &__m, __err));			\
	EXPECT_NE(NULL, strstr(__err, what)) TH_LOG("reason: %s", __err); \
} while (0)

TEST(every_type_round_trips)
{
	uint8_t buf[4096], bits[2] = { 0xff, 0x01 };
	struct wire_range r[2] = { { 0, 4096 }, { 8192, 16384 } };
	uint64_t sums[2] = { 1, 2 };
	struct wire_msg m;
	char err[256];
	size_t n;

	n = wire_put_hello(buf, sizeof(buf), WIRE_URGENT, 4096, 42);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(WIRE_URGENT, m.hello.channel);
	EXPECT_EQ(42, m.hello.session);

	n = wire_put_blocks(buf, sizeof(buf), 7, blocks, 2);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(2, m.blocks.nr);
	EXPECT_STREQ("huge", m.blocks.blocks[1].name);
	EXPECT_EQ(2 << 20, m.blocks.blocks[1].page_size);

	n = wire_put_received(buf, sizeof(buf), 0, 8, 9, bits);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(9, m.received.nbits);

	n = wire_put_discard(buf, sizeof(buf), 0, r, 2);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(2, m.discard.count);
	EXPECT_EQ(16384, m.discard.r[1].length);

	n = wire_put_page_hdr(buf, sizeof(buf), 0, 4096, 4096);
	memset(buf + n, 0, 4096 - n);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(4096, m.page.offset);

	n = wire_put_zero(buf, sizeof(buf), 1, 2 << 20, 3);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(3, m.zero.npages);

	n = wire_put_request(buf, sizeof(buf), "pc.ram", 4096, 4096);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_STREQ("pc.ram", m.request.name);
	n = wire_put_request(buf, sizeof(buf), NULL, 0, 4096);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(0, m.request.name_len);

	n = wire_put_checksum(buf, sizeof(buf), 0, 0, sums, 2);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(2, m.checksum.count);

	n = wire_put_shutdown(buf, sizeof(buf), -EIO, "bad\ntext");
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(-EIO, m.shutdown.status);
	EXPECT_STREQ("bad?text", m.shutdown.text);

	for (int t = WIRE_SWITCHOVER; t <= WIRE_KEEPALIVE; t++) {
		if (t == WIRE_CHECKSUM || t == WIRE_SHUTDOWN)
			continue;
		n = wire_put_empty(buf, sizeof(buf), t);
		EXPECT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s: %s", wire_type_name(t), err);
	}
	n = wire_put_ready(buf, sizeof(buf), WIRE_READY_F_SWITCHED);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	EXPECT_EQ(WIRE_READY_F_SWITCHED, m.ready.flags);
}

TEST(header_refused)
{
	uint8_t buf[64];
	size_t n = wire_put_empty(buf, sizeof(buf), WIRE_SWITCHOVER);

	buf[1] = 0;			/* type 0 */
	REFUSED(buf, n, "type 0 is unknown");
	buf[1] = __WIRE_MAX;
	REFUSED(buf, n, "unknown");
	n = wire_put_ready(buf, sizeof(buf), 0);
	buf[3] = 1;			/* header flags */
	REFUSED(buf, n, "READY: flags");
	n = wire_put_ready(buf, sizeof(buf), 2);	/* an unknown READY flag */
	REFUSED(buf, n, "READY: flags 0x2 are unknown");
	n = wire_put_ready(buf, sizeof(buf), 0);
	buf[7] = 0;			/* READY without its flags */
	REFUSED(buf, n - 4, "READY: payload of 0 bytes");
	n = wire_put_empty(buf, sizeof(buf), WIRE_COMPLETE);
	buf[7] = 4;			/* a payload where none may be */
	REFUSED(buf, n + 4, "COMPLETE: payload of 4 bytes");
	n = wire_put_empty(buf, sizeof(buf), WIRE_KEEPALIVE);
	buf[7] = 1;
	REFUSED(buf, n + 1, "KEEPALIVE: payload of 1 bytes");
	n = wire_put_hello(buf, sizeof(buf), 0, 4096, 1);
	buf[7] = 23;			/* HELLO one byte short */
	REFUSED(buf, n - 1, "HELLO: payload of 23");
	n = wire_put_page_hdr(buf, sizeof(buf), 0, 0, 4096);
	buf[4] = 0x7f;			/* a 2 GiB page */
	REFUSED(buf, n, "PAGE: payload of");
}

TEST(each_field_refused)
{
	uint8_t buf[4096], bits[2] = { 0xff, 0x03 };
	struct wire_range r[1] = { { 0, 4096 } };
	uint64_t sums[1] = { 0 };
	size_t n;

	n = wire_put_hello(buf, sizeof(buf), 0, 4096, 1);
	buf[8] ^= 1;
	REFUSED(buf, n, "HELLO: bad magic");
	n = wire_put_hello(buf, sizeof(buf), 0, 4096, 1);
	buf[17] = 9;
	REFUSED(buf, n, "HELLO: protocol version 9");
	n = wire_put_hello(buf, sizeof(buf), 2, 4096, 1);
	REFUSED(buf, n, "HELLO: channel 2");
	n = wire_put_hello(buf, sizeof(buf), 0, 4097, 1);
	REFUSED(buf, n, "HELLO: base page size");

	{
		struct wire_block two[2] = { blocks[0], blocks[0] };

		n = wire_put_blocks(buf, sizeof(buf), 1, two, 2);
		REFUSED(buf, n, "BLOCKS: block name pc.ram twice");
		two[1] = blocks[1];
		two[1].page_size = 3000;
		n = wire_put_blocks(buf, sizeof(buf), 1, two, 2);
		REFUSED(buf, n, "BLOCKS: block huge: page size 3000");
		two[1] = blocks[1];
		two[1].length += 4096;
		n = wire_put_blocks(buf, sizeof(buf), 1, two, 2);
		REFUSED(buf, n, "not a whole number of pages");
		n = wire_put_blocks(buf, sizeof(buf), 1, blocks, 1);
		buf[WIRE_HDR_LEN + 13] = '\n';
		REFUSED(buf, n, "control bytes");
		n = wire_put_blocks(buf, sizeof(buf), 1, blocks, 1);
		buf[WIRE_HDR_LEN + 12] = 200;	/* name longer than the message */
		REFUSED(buf, n, "cut short");
		n = wire_put_blocks(buf, sizeof(buf), 1, blocks, 1);
		buf[WIRE_HDR_LEN + 11] = 0;	/* no blocks */
		REFUSED(buf, n, "BLOCKS: 0 blocks");
	}

	n = wire_put_received(buf, sizeof(buf), 2, 0, 8, bits);
	REFUSED(buf, n, "RECEIVED: block 2 of 2");
	n = wire_put_received(buf, sizeof(buf), 0, 250, 8, bits);
	REFUSED(buf, n, "outside block");
	n = wire_put_received(buf, sizeof(buf), 0, 0, 9, bits);
	REFUSED(buf, n, "RECEIVED: bits set past the count");

	n = wire_put_discard(buf, sizeof(buf), 0, r, 1);
	buf[WIRE_HDR_LEN + 7] = 13;
	REFUSED(buf, n, "DISCARD: 13 ranges");
	r[0].start = 100;
	n = wire_put_discard(buf, sizeof(buf), 0, r, 1);
	REFUSED(buf, n, "not aligned");
	r[0] = (struct wire_range) { 1 << 20, 4096 };
	n = wire_put_discard(buf, sizeof(buf), 0, r, 1);
	REFUSED(buf, n, "ends past block pc.ram");
	r[0] = (struct wire_range) { 4096, UINT64_MAX & ~4095ULL };
	n = wire_put_discard(buf, sizeof(buf), 0, r, 1);
	REFUSED(buf, n, "ends past block pc.ram");
	r[0] = (struct wire_range) { 0, 0 };
	n = wire_put_discard(buf, sizeof(buf), 0, r, 1);
	REFUSED(buf, n, "empty range");

	n = wire_put_page_hdr(buf, sizeof(buf), 0, 1 << 20, 4096);
	REFUSED(buf, n, "PAGE: range 0x100000+0x1000 ends past block pc.ram");
	n = wire_put_page_hdr(buf, sizeof(buf), 1, 0, 4096);
	REFUSED(buf, n, "PAGE: 4096 bytes for block huge's 2097152-byte pages");
	n = wire_put_page_hdr(buf, sizeof(buf), 5, 0, 4096);
	REFUSED(buf, n, "PAGE: block 5 of 2");
	n = wire_put_page_hdr(buf, sizeof(buf), 0, 0, 4096);
	buf[WIRE_HDR_LEN + 7] = 1;
	REFUSED(buf, n, "PAGE: flags");

	n = wire_put_zero(buf, sizeof(buf), 0, 0, 0);
	REFUSED(buf, n, "ZERO: empty range");
	n = wire_put_zero(buf, sizeof(buf), 1, 0, 5);
	REFUSED(buf, n, "ZERO: range");
	n = wire_put_zero(buf, sizeof(buf), 0, 0, UINT32_MAX);
	REFUSED(buf, n, "ends past block");

	n = wire_put_request(buf, sizeof(buf), "pc.ram", 0, 0);
	REFUSED(buf, n, "REQUEST: length 0");
	n = wire_put_request(buf, sizeof(buf), "pc.ram", 0, 4096);
	buf[WIRE_HDR_LEN + 16] = 7;	/* name length disagrees */
	REFUSED(buf, n, "REQUEST: name of 7 bytes");

	n = wire_put_checksum(buf, sizeof(buf), 0, 256, sums, 1);
	REFUSED(buf, n, "CHECKSUM: pages 256+1 outside block pc.ram");
	n = wire_put_checksum(buf, sizeof(buf), 0, 0, sums, 1);
	buf[WIRE_HDR_LEN + 15] = 2;
	REFUSED(buf, n, "CHECKSUM: 2 sums in 8 bytes");

	n = wire_put_shutdown(buf, sizeof(buf), 5, "x");
	REFUSED(buf, n, "SHUTDOWN: status 5");
	n = wire_put_shutdown(buf, sizeof(buf), 0, "abc");
	buf[WIRE_HDR_LEN + 5] = 9;
	REFUSED(buf, n, "SHUTDOWN: text of 9 bytes");
}

/*
 * A SHUTDOWN's text is shown to a person: every control byte, DEL too,
 * arrives as '?'. (DEL passed through until wire_fuzz found it.)
 */
TEST(shutdown_text_has_no_control_bytes)
{
	char text[256];
	uint8_t buf[512];
	struct wire_msg m;
	char err[256];
	size_t n;

	for (int c = 1; c < 256; c++)
		text[c - 1] = (char)c;
	text[255] = '\0';
	n = wire_put_shutdown(buf, sizeof(buf), -EPROTO, text);
	ASSERT_EQ(0, parse(buf, n, &m, err)) TH_LOG("%s", err);
	ASSERT_EQ(255, strlen(m.shutdown.text));
	for (int c = 1; c < 256; c++) {
		char want = c < 0x20 || c == 0x7f ? '?' : (char)c;

		EXPECT_EQ(want, m.shutdown.text[c - 1]) TH_LOG("byte %#x", c);
	}
}

/* Messages that name a block, before any block is known. */
TEST(block_messages_need_blocks)
{
	uint8_t buf[128];
	struct wire_hdr h;
	struct wire_msg m;
	char err[256];
	size_t n = wire_put_zero(buf, sizeof(buf), 0, 0, 1);

	ASSERT_EQ(0, wire_parse_hdr(buf, &h, err, sizeof(err)));
	EXPECT_EQ(-EPROTO, wire_parse(&h, buf + WIRE_HDR_LEN, NULL, &m, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "ZERO before BLOCKS")) TH_LOG("%s", err);
	(void)n;
}

/*
 * BLOCKS where nobody waits for it: a second one (a table exists), or
 * one read with no array to hold it (m.blocks.blocks NULL, as every
 * reader but the destination's handshake leaves it): refused, nothing
 * written anywhere.
 */
TEST(blocks_only_where_expected)
{
	static struct wire_block into[WIRE_MAX_BLOCKS];
	struct wire_block one = { .name = "pc.ram", .length = 1 << 20, .page_size = 4096 };
	struct wire_table t = { &one, 1 };
	uint8_t buf[512];
	struct wire_hdr h;
	struct wire_msg m = { .blocks.blocks = NULL };
	char err[256];
	size_t n = wire_put_blocks(buf, sizeof(buf), 7, &one, 1);

	ASSERT_NE(0, n);
	ASSERT_EQ(0, wire_parse_hdr(buf, &h, err, sizeof(err)));
	EXPECT_EQ(-EPROTO, wire_parse(&h, buf + WIRE_HDR_LEN, NULL, &m, err, sizeof(err)));
	EXPECT_STREQ("BLOCKS: not expected here", err);
	m.blocks.blocks = into;
	EXPECT_EQ(-EPROTO, wire_parse(&h, buf + WIRE_HDR_LEN, &t, &m, err, sizeof(err)));
	EXPECT_STREQ("BLOCKS: not expected here", err);
	EXPECT_EQ(0, into[0].name[0]);
	EXPECT_EQ(0, wire_parse(&h, buf + WIRE_HDR_LEN, NULL, &m, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_STREQ("pc.ram", into[0].name);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A read that hears nothing for the timeout: -ETIMEDOUT, not a hang. */
TEST(silent_peer_times_out)
{
	struct wire_msg m;
	uint8_t buf[64];
	char err[256];
	uint64_t t0;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, wire_set_timeout(sv[0], 300));
	t0 = ms_now();
	EXPECT_EQ(-ETIMEDOUT, wire_read_msg(sv[0], NULL, buf, sizeof(buf), &m, err, sizeof(err)));
	EXPECT_GE(ms_now() - t0, 250);
	EXPECT_LT(ms_now() - t0, 3000);
	close(sv[0]);
	close(sv[1]);
}

/*
 * Idle links carry a KEEPALIVE every tick or two, and the reader of
 * messages never sees one: wire_read_msg() reads past them.
 */
TEST(idle_link_gets_keepalives)
{
	struct wire_link a, b;
	struct wire_keepalive k;
	uint8_t raw[WIRE_HDR_LEN], buf[64];
	struct wire_hdr h;
	struct wire_msg m;
	char err[256];
	int sa[2], sb[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sa));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sb));
	wire_link_init(&a, sa[0]);
	wire_link_init(&b, sb[0]);
	ASSERT_EQ(0, wire_set_timeout(sa[1], 4 * WIRE_KEEPALIVE_MS));
	ASSERT_EQ(0, wire_set_timeout(sb[1], 4 * WIRE_KEEPALIVE_MS));
	ASSERT_EQ(0, wire_keepalive_start(&k, &a, &b));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, wire_read_full(sa[1], raw, sizeof(raw)));
		ASSERT_EQ(0, wire_parse_hdr(raw, &h, err, sizeof(err)));
		EXPECT_EQ(WIRE_KEEPALIVE, h.type);
		ASSERT_EQ(0, wire_read_full(sb[1], raw, sizeof(raw)));
		ASSERT_EQ(0, wire_parse_hdr(raw, &h, err, sizeof(err)));
		EXPECT_EQ(WIRE_KEEPALIVE, h.type);
	}
	/* A real message after keepalives: the reader gets just it. */
	ASSERT_EQ(0, wire_link_write(&a, buf, wire_put_empty(buf, sizeof(buf), WIRE_COMPLETE)));
	ASSERT_EQ(0, wire_read_msg(sa[1], NULL, buf, sizeof(buf), &m, err, sizeof(err)));
	EXPECT_EQ(WIRE_COMPLETE, m.type);
	wire_keepalive_stop(&k);
	/* Stopped: nothing more comes, and the read times out. */
	EXPECT_EQ(-ETIMEDOUT, wire_read_msg(sb[1], NULL, buf, sizeof(buf), &m, err, sizeof(err)));
	wire_link_destroy(&a);
	wire_link_destroy(&b);
	for (int i = 0; i < 2; i++) {
		close(sa[i]);
		close(sb[i]);
	}
}

struct busy_writer {
	struct wire_link *l;
	_Atomic bool stop;
	unsigned int sent;
};

static void *busy_main(void *arg)
{
	struct busy_writer *w = arg;
	static uint8_t page[WIRE_HDR_LEN + WIRE_PAGE_HDR + 4096];

	while (!w->stop) {
		size_t n = wire_put_page_hdr(page, sizeof(page), 0, 4096 * (w->sent % 256), 4096);

		if (wire_link_writev(w->l, page, n, page + n, 4096))
			break;
		w->sent++;
		usleep(50);
	}
	return NULL;
}

/*
 * A link busy with pages: the keepalive leaves it alone, and never cuts
 * into a message (every header read at a message boundary parses).
 */
TEST(busy_link_is_left_alone)
{
	struct busy_writer w = { .stop = false };
	struct wire_link a, b;
	struct wire_keepalive k;
	unsigned int pages = 0, keepalives = 0;
	uint64_t end;
	pthread_t th;
	int sa[2], sb[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sa));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sb));
	wire_link_init(&a, sa[0]);
	wire_link_init(&b, sb[0]);
	w.l = &a;
	ASSERT_EQ(0, wire_set_timeout(sa[1], 2000));
	ASSERT_EQ(0, wire_keepalive_start(&k, &a, &b));
	ASSERT_EQ(0, pthread_create(&th, NULL, busy_main, &w));
	end = ms_now() + 6 * WIRE_KEEPALIVE_MS;
	while (ms_now() < end) {
		uint8_t raw[WIRE_HDR_LEN], data[WIRE_PAGE_HDR + 4096];
		struct wire_hdr h;
		char err[256];

		ASSERT_EQ(0, wire_read_full(sa[1], raw, sizeof(raw)));
		ASSERT_EQ(0, wire_parse_hdr(raw, &h, err, sizeof(err))) TH_LOG("%s", err);
		ASSERT_EQ(0, wire_read_full(sa[1], data, h.len));
		pages += h.type == WIRE_PAGE;
		keepalives += h.type == WIRE_KEEPALIVE;
	}
	w.stop = true;
	pthread_join(th, NULL);
	wire_keepalive_stop(&k);
	EXPECT_GT(pages, 100);
	EXPECT_EQ(0, keepalives);
	wire_link_destroy(&a);
	wire_link_destroy(&b);
	for (int i = 0; i < 2; i++) {
		close(sa[i]);
		close(sb[i]);
	}
}

TEST_HARNESS_MAIN
