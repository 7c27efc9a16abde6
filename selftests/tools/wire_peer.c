// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wire_peer: a fake peer of pcram's migration protocol, written from
 * Documentation/wire-protocol.rst alone (its own tiny encoder; nothing of
 * lib/ is used), that plays one scripted scenario against the real
 * 'pcram serve' (as the destination) or 'pcram recv' (as the source) and
 * reports, one line each on stdout, what came back:
 *
 *   blocks N NAME LENGTH PAGESIZE ...       (dest) the source's BLOCKS
 *   hello CHANNEL VERSION SESSION           (source) each HELLO
 *   switchover / pages N / ready / complete E D    progress
 *   checksums N EQUAL DIFFER                (source) what COMPLETE followed
 *   shutdown CONN STATUS TEXT               a SHUTDOWN the peer sent us
 *   end CONN eof|reset|error SECONDS        a connection ended, SECONDS
 *                                           after the scenario's action
 *                                           (silent: after our last byte
 *                                           on CONN)
 *
 *   wire_peer dest --connect HOST:PORT --scenario NAME [--drain SECONDS]
 *                  [--idle SECONDS]
 *   wire_peer source --listen HOST:PORT --scenario NAME [--port-file FILE]
 *                    [--pages N] [--drain SECONDS] [--idle SECONDS]
 *
 * The scenario's action is the malformed message, or the silence, or
 * the closing SHUTDOWN; then it reads on until both connections end (or
 * --drain passes, 15 s by default). While it waits it sends KEEPALIVE on
 * each connection every 250 ms, except in the silent scenarios.
 *
 * Exit: 0 the scenario ran to its action; 3 the peer ended the session
 * before it (what it said is reported); 1 anything else (on stderr).
 *
 * dest scenarios ('pcram serve' is the peer):
 *   ok                      every page, every CHECKSUM once, COMPLETE
 *                           (--idle SECONDS: first a pause of KEEPALIVEs)
 *   resume                  every page; CHECKSUMs of 200 pages; the
 *                           connections closed and made again (the session,
 *                           RECEIVED of every page, READY(switched)); after
 *                           the SWITCHOVER sent again, every CHECKSUM, COMPLETE
 *   resume-eager            ... every CHECKSUM and COMPLETE right after READY
 *                           (the switchover is behind this destination)
 *   no-checksums            every page, COMPLETE without a CHECKSUM
 *   checksum-differ         ... three of the sums wrong
 *   checksum-bad-block      CHECKSUM of block 7 (there is one)
 *   checksum-count-zero     CHECKSUM of no page
 *   checksum-partial        CHECKSUMs of half the pages, COMPLETE
 *   checksum-page-twice     page 0's CHECKSUM, then every page's, COMPLETE
 *   checksum-all-twice      every page's CHECKSUM, then again for 200 pages
 *                           (456 of a 256-page source), COMPLETE
 *   checksum-unsent         after SWITCHOVER, at once, the last page's
 *   page-on-bulk, discard-on-bulk, request-on-bulk    after SWITCHOVER
 *   unknown-type            a message of type 99, after SWITCHOVER
 *   garbage                 16 bytes that are no header, instead of HELLO
 *   dest-shutdown           SHUTDOWN(-5, "disk on fire") after SWITCHOVER
 *   complete-early          COMPLETE right after READY
 *   silent-before-hello, silent-after-hello (BLOCKS read),
 *   silent-before-complete (every page in)    nothing more, not even KEEPALIVE
 *
 * source scenarios ('pcram recv' is the peer; one block "pc.ram" of
 * --pages (256) 4 KiB pages):
 *   honest                  the whole migration, then SHUTDOWN(0,
 *                           "complete: E pages verified equal, D differ")
 *                           with the counts it found (--idle SECONDS:
 *                           a pause of KEEPALIVEs before SWITCHOVER)
 *   lie-differ              ... then (0, "complete: 256 pages verified equal, 3 differ")
 *   lie-count               ... then (0, "complete: 999 pages verified equal, 0 differ")
 *   lie-text                ... then (0, "all good, trust me")
 *   source-shutdown         half the pages, then SHUTDOWN(-5, "disk on fire")
 *                           on urgent
 *   blocks-bad-pagesize     BLOCKS of a block with 3000-byte pages
 *   page-before-blocks      a PAGE where BLOCKS should be
 *   reset-before-blocks     both connections reset (RST) after the HELLOs
 *   silent-before-blocks    nothing after the HELLOs, not even KEEPALIVE
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Documentation/wire-protocol.rst */
#define MAGIC		0x5043524d57495245ULL
#define VERSION		2
enum { HELLO = 1, BLOCKS, RECEIVED, READY, DISCARD, PAGE, ZERO, REQUEST, SWITCHOVER,
       COMPLETE, CHECKSUM, SHUTDOWN, KEEPALIVE };
#define CHECKSUM_MAX	8192
#define KEEPALIVE_S	0.25
#define MAX_PAYLOAD	(64u << 20)
#define MAX_BLOCKS	16

static const char *type_names[] = {
	"?", "HELLO", "BLOCKS", "RECEIVED", "READY", "DISCARD", "PAGE", "ZERO", "REQUEST",
	"SWITCHOVER", "COMPLETE", "CHECKSUM", "SHUTDOWN", "KEEPALIVE",
};

static const char *tname(unsigned int t)
{
	return t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "unknown";
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wire_peer: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- the encoder ---------------------------------------------------------- */

static uint8_t *ob;		/* the message being built */
static size_t on;

static void put8(uint8_t v)
{
	ob[on++] = v;
}

static void put16(uint16_t v)
{
	put8((uint8_t)(v >> 8));
	put8((uint8_t)v);
}

static void put32(uint32_t v)
{
	put16((uint16_t)(v >> 16));
	put16((uint16_t)v);
}

static void put64(uint64_t v)
{
	put32((uint32_t)(v >> 32));
	put32((uint32_t)v);
}

static void putn(const void *p, size_t n)
{
	memcpy(ob + on, p, n);
	on += n;
}

/* A header whose length msg_end() fills in. */
static void msg_begin(uint16_t type)
{
	on = 0;
	put16(type);
	put16(0);
	put32(0);
}

static void msg_end(void)
{
	uint32_t len = (uint32_t)(on - 8);

	ob[4] = (uint8_t)(len >> 24);
	ob[5] = (uint8_t)(len >> 16);
	ob[6] = (uint8_t)(len >> 8);
	ob[7] = (uint8_t)len;
}

static uint64_t get16(const uint8_t *p)
{
	return (uint64_t)p[0] << 8 | p[1];
}

static uint64_t get32(const uint8_t *p)
{
	return get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) << 32 | get32(p + 4);
}

/* FNV-1a over the page's 64-bit words, as the protocol says. */
static uint64_t page_sum(const uint8_t *page, uint64_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < len / 8; i++) {
		uint64_t w;

		memcpy(&w, page + 8 * i, 8);
		h ^= w;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- connections ------------------------------------------------------------ */

struct conn {
	int fd;
	const char *name;
	uint8_t *buf;
	size_t len, cap;
	bool ended;
	char closing[96];	/* how it ended, once read to the end */
	double last_tx;
	uint64_t keepalives;
};

struct msg {
	int conn;
	uint16_t type, flags;
	uint32_t len;
	uint8_t *p;		/* the payload, valid until the next event */
};

static struct conn C[2] = { { .fd = -1, .name = "bulk" }, { .fd = -1, .name = "urgent" } };
static bool keepalive = true;	/* off: the silent scenarios */
static double mark;		/* the scenario's action: times are from here */
static uint8_t *cur;		/* the message handed out last */
static int saw_shutdown;
static double idle_s;		/* ok, honest: a pause, KEEPALIVEs only, first */

enum { EV_MSG, EV_END, EV_TIMEOUT, EV_DONE };

static int send_raw(int c, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(C[c].fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	C[c].last_tx = now_s();
	return 0;
}

/* The message built: on @c (a failed write is left to the reads to tell). */
static void msg_send(int c)
{
	int ret;

	msg_end();
	ret = send_raw(c, ob, on);
	if (ret)
		fprintf(stderr, "wire_peer: sending %s on %s: %s\n", tname(get16(ob)),
			C[c].name, strerror(-ret));
}

static void send_empty(int c, uint16_t type)
{
	msg_begin(type);
	msg_send(c);
}

static void send_shutdown(int c, int32_t status, const char *text)
{
	msg_begin(SHUTDOWN);
	put32((uint32_t)status);
	put16((uint16_t)strlen(text));
	putn(text, strlen(text));
	msg_send(c);
}

/*
 * @c ended: how, and when, from the scenario's action (or, silent, from
 * the last byte we wrote on it: what the peer's timeout counts from).
 */
static void end_conn(int c, const char *how)
{
	double from = keepalive ? mark : C[c].last_tx > mark ? C[c].last_tx : mark;

	C[c].ended = true;
	printf("end %s %s %.2f\n", C[c].name, how, now_s() - from);
}

/* A KEEPALIVE on each connection quiet for 250 ms (unless silent). */
static void keepalives_due(void)
{
	double t = now_s();

	for (int c = 0; c < 2 && keepalive; c++)
		if (!C[c].ended && t - C[c].last_tx >= KEEPALIVE_S)
			send_empty(c, KEEPALIVE);
}

/* A whole message buffered on @c: handed out (0), or none (-1). */
static int pop(int c, struct msg *m)
{
	struct conn *k = &C[c];
	uint32_t len;

	if (k->len < 8)
		return -1;
	len = (uint32_t)get32(k->buf + 4);
	if (len > MAX_PAYLOAD)
		die("%s: a header of type %u with %u bytes", k->name, (unsigned)get16(k->buf), len);
	if (k->len < 8 + (size_t)len)
		return -1;
	free(cur);
	cur = malloc(8 + (size_t)len + 1);
	if (!cur)
		die("out of memory");
	memcpy(cur, k->buf, 8 + (size_t)len);
	cur[8 + len] = 0;
	memmove(k->buf, k->buf + 8 + len, k->len - 8 - len);
	k->len -= 8 + (size_t)len;
	*m = (struct msg){ .conn = c, .type = (uint16_t)get16(cur),
			   .flags = (uint16_t)get16(cur + 2), .len = len, .p = cur + 8 };
	return 0;
}

/*
 * The next message from either connection (KEEPALIVE read past), a
 * connection's end, or nothing within @timeout_s. KEEPALIVE goes out
 * meanwhile unless silent.
 */
static int next_event(double timeout_s, struct msg *m)
{
	double deadline = now_s() + timeout_s;

	for (;;) {
		struct pollfd p[2];
		double t, wait;

		/* Due even while messages keep coming (a long push). */
		keepalives_due();
		for (int c = 0; c < 2; c++) {
			while (!C[c].ended && !pop(c, m)) {
				if (m->type == KEEPALIVE) {
					C[c].keepalives++;
					continue;
				}
				return EV_MSG;
			}
			/* Its end, once what came whole before it is handed out. */
			if (!C[c].ended && C[c].closing[0]) {
				end_conn(c, C[c].closing);
				m->conn = c;
				return EV_END;
			}
		}
		if (C[0].ended && C[1].ended)
			return EV_DONE;
		t = now_s();
		if (t >= deadline)
			return EV_TIMEOUT;
		wait = deadline - t;
		for (int c = 0; c < 2; c++) {
			if (C[c].ended || !keepalive)
				continue;
			if (C[c].last_tx + KEEPALIVE_S - t < wait)
				wait = C[c].last_tx + KEEPALIVE_S - t;
		}
		if (wait < 0)
			wait = 0;
		for (int c = 0; c < 2; c++)
			p[c] = (struct pollfd){ .fd = C[c].ended || C[c].closing[0] ? -1 : C[c].fd,
						.events = POLLIN };
		if (poll(p, 2, (int)(wait * 1000) + 1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (int c = 0; c < 2; c++) {
			struct conn *k = &C[c];
			ssize_t n;

			if (k->ended || k->closing[0] || !p[c].revents)
				continue;
			if (k->cap - k->len < 65536) {
				k->cap = k->cap ? 2 * k->cap : 1 << 20;
				k->buf = realloc(k->buf, k->cap);
				if (!k->buf)
					die("out of memory");
			}
			n = recv(k->fd, k->buf + k->len, k->cap - k->len, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n == 0)
				snprintf(k->closing, sizeof(k->closing), "eof");
			else if (n < 0 && errno == ECONNRESET)
				snprintf(k->closing, sizeof(k->closing), "reset");
			else if (n < 0)
				snprintf(k->closing, sizeof(k->closing), "error:%s", strerror(errno));
			if (n <= 0)
				continue;
			k->len += (size_t)n;
		}
	}
}

/* A SHUTDOWN's status and text, reported. */
static void report_shutdown(const struct msg *m)
{
	int32_t status = m->len >= 6 ? (int32_t)get32(m->p) : 0;
	unsigned int tl = m->len >= 6 ? (unsigned int)get16(m->p + 4) : 0;

	if (tl > m->len - 6)
		tl = m->len - 6;
	printf("shutdown %s %d %.*s\n", C[m->conn].name, status, (int)tl, (const char *)m->p + 6);
	saw_shutdown++;
}

/* Read on until both connections end, reporting SHUTDOWNs. */
static void drain(double seconds)
{
	double end = now_s() + seconds;
	uint64_t other = 0;
	struct msg m;

	for (;;) {
		double left = end - now_s();
		int ev;

		if (left <= 0) {
			printf("drain: timed out after %.0f s, %s%s still open\n", seconds,
			       C[0].ended ? "" : "bulk ", C[1].ended ? "" : "urgent");
			break;
		}
		ev = next_event(left, &m);
		if (ev == EV_DONE)
			break;
		if (ev != EV_MSG)
			continue;
		if (m.type == SHUTDOWN)
			report_shutdown(&m);
		else
			other++;
	}
	printf("drained: %llu other messages; keepalives bulk %llu urgent %llu\n",
	       (unsigned long long)other, (unsigned long long)C[0].keepalives,
	       (unsigned long long)C[1].keepalives);
}

/* A message in a setup stage that is not the one wanted: 3, after the rest. */
static void unexpected(const struct msg *m, const char *wanted, double drain_s)
{
	if (m->type == SHUTDOWN) {
		report_shutdown(m);
	} else {
		printf("unexpected %s on %s (waiting for %s)\n", tname(m->type),
		       C[m->conn].name, wanted);
	}
	mark = now_s();
	drain(drain_s);
	exit(3);
}

/*
 * The next message on @c of @type (-1: any on @c), others of @skip read
 * past; anything else ends the scenario (exit 3).
 */
static void expect(int c, int type, int skip, struct msg *m, double drain_s)
{
	for (;;) {
		int ev = next_event(20, m);

		if (ev == EV_TIMEOUT || ev == EV_DONE || ev == EV_END) {
			printf("no %s (%s)\n", type < 0 ? "message" : tname((unsigned int)type),
			       ev == EV_TIMEOUT ? "timed out" : "ended");
			mark = now_s();
			drain(drain_s);
			exit(3);
		}
		if (m->conn == c && (type < 0 || m->type == type))
			return;
		if (m->type == skip)
			continue;
		unexpected(m, type < 0 ? "a message" : tname((unsigned int)type), drain_s);
	}
}

/* @idle_s of KEEPALIVEs both ways and nothing else. */
static void idle(double drain_s)
{
	double end = now_s() + idle_s;
	struct msg m;

	if (idle_s <= 0)
		return;
	while (now_s() < end) {
		int ev = next_event(end - now_s(), &m);

		if (ev == EV_TIMEOUT)
			break;
		if (ev != EV_MSG) {
			printf("idle: the connections ended\n");
			mark = now_s();
			drain(drain_s);
			exit(3);
		}
		unexpected(&m, "nothing (idle)", drain_s);
	}
	printf("idle %.1f s: keepalives bulk %llu urgent %llu\n", idle_s,
	       (unsigned long long)C[0].keepalives, (unsigned long long)C[1].keepalives);
}

static bool one_of(const char *sc, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(sc, *list))
			return true;
	return false;
}

static int tcp_connect(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char host[256];
	const char *colon = strrchr(addr, ':');
	double end = now_s() + 10;
	int fd, one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		die("'%s': HOST:PORT", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &res))
		die("cannot resolve '%s'", addr);
	for (;;) {
		fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket: %s", strerror(errno));
		if (!connect(fd, res->ai_addr, res->ai_addrlen))
			break;
		close(fd);
		/* The peer may still be starting. */
		if (errno != ECONNREFUSED || now_s() > end)
			die("connecting to %s: %s", addr, strerror(errno));
		usleep(50000);
	}
	freeaddrinfo(res);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void close_rst(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* ---- the fake destination ----------------------------------------------------- */

struct block {
	char name[256];
	uint64_t length, page_size, pages, have;
	uint8_t *data, *got;
};

static struct block blk[MAX_BLOCKS];
static unsigned int nr_blk;
static uint64_t total_pages, have_pages;

static uint64_t session;	/* 0: new; then the one BLOCKS said */

static void send_hello(int c, uint8_t channel)
{
	msg_begin(HELLO);
	put64(MAGIC);
	put16(VERSION);
	put8(channel);
	put8(0);
	put32(4096);
	put64(session);
	msg_send(c);
}

static void take_blocks(const struct msg *m)
{
	const uint8_t *p = m->p, *end = m->p + m->len;

	if (m->len < 12)
		die("BLOCKS of %u bytes", m->len);
	session = get64(p);
	if (nr_blk) {
		/* Again, on connections that resume: the same blocks, kept. */
		if (get32(p + 8) != nr_blk)
			die("BLOCKS again, with %u blocks, not %u", (unsigned)get32(p + 8), nr_blk);
		printf("blocks again\n");
		return;
	}
	nr_blk = (unsigned int)get32(p + 8);
	p += 12;
	if (nr_blk > MAX_BLOCKS)
		die("BLOCKS: %u blocks, more than this fake peer takes", nr_blk);
	printf("blocks %u", nr_blk);
	for (unsigned int i = 0; i < nr_blk; i++) {
		struct block *b = &blk[i];
		unsigned int nl;

		if (p >= end || p + 1 + *p + 16 > end)
			die("BLOCKS: truncated");
		nl = *p++;
		memcpy(b->name, p, nl);
		b->name[nl] = 0;
		p += nl;
		b->length = get64(p);
		b->page_size = get64(p + 8);
		p += 16;
		if (!b->page_size || b->length % b->page_size || b->length > (1ULL << 32))
			die("BLOCKS: block %s: %llu bytes of %llu-byte pages", b->name,
			    (unsigned long long)b->length, (unsigned long long)b->page_size);
		b->pages = b->length / b->page_size;
		b->data = calloc(1, b->length);
		b->got = calloc(1, b->pages);
		if (!b->data || !b->got)
			die("out of memory");
		total_pages += b->pages;
		printf(" %s %llu %llu", b->name, (unsigned long long)b->length,
		       (unsigned long long)b->page_size);
	}
	printf("\n");
}

static void got_page(uint32_t bi, uint64_t page, const uint8_t *data)
{
	struct block *b;

	if (bi >= nr_blk || page >= blk[bi].pages)
		die("a page out of range: block %u page %llu", bi, (unsigned long long)page);
	b = &blk[bi];
	if (data)
		memcpy(b->data + page * b->page_size, data, b->page_size);
	else
		memset(b->data + page * b->page_size, 0, b->page_size);
	if (!b->got[page]) {
		b->got[page] = 1;
		b->have++;
		have_pages++;
	}
}

/* PAGE, ZERO, DISCARD on bulk: into memory. */
static void take_data(const struct msg *m)
{
	if (m->type == PAGE && m->len >= 16) {
		uint32_t bi = (uint32_t)get32(m->p);
		uint64_t off = get64(m->p + 8);

		if (bi >= nr_blk || m->len != 16 + blk[bi].page_size)
			die("PAGE: block %u, %u bytes", bi, m->len);
		got_page(bi, off / blk[bi].page_size, m->p + 16);
	} else if (m->type == ZERO && m->len >= 16) {
		uint32_t bi = (uint32_t)get32(m->p), n = (uint32_t)get32(m->p + 4);
		uint64_t off = get64(m->p + 8);

		if (bi >= nr_blk)
			die("ZERO: block %u", bi);
		for (uint32_t k = 0; k < n; k++)
			got_page(bi, off / blk[bi].page_size + k, NULL);
	} else if (m->type == DISCARD) {
		/* No precopy in these scenarios; a discard drops nothing here. */
	}
}

/* Every page in (bulk read until then, urgent's KEEPALIVEs past). */
static void receive_all(double drain_s)
{
	struct msg m;

	while (have_pages < total_pages) {
		int ev = next_event(20, &m);

		if (ev != EV_MSG) {
			printf("pages %llu of %llu, then %s\n", (unsigned long long)have_pages,
			       (unsigned long long)total_pages,
			       ev == EV_TIMEOUT ? "nothing for 20 s" : "the end");
			mark = now_s();
			drain(drain_s);
			exit(3);
		}
		if (m.type == PAGE || m.type == ZERO || m.type == DISCARD)
			take_data(&m);
		else if (m.type != SWITCHOVER)
			unexpected(&m, "pages", drain_s);
	}
	printf("pages %llu\n", (unsigned long long)have_pages);
}

/* CHECKSUMs of pages [first, first + count) of block @bi; @wrong sums are off. */
static void send_checksums(uint32_t bi, uint64_t first, uint64_t count, unsigned int wrong)
{
	struct block *b = &blk[bi];

	while (count) {
		uint32_t n = count < CHECKSUM_MAX ? (uint32_t)count : CHECKSUM_MAX;

		msg_begin(CHECKSUM);
		put32(bi);
		put64(first);
		put32(n);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t s = page_sum(b->data + (first + i) * b->page_size, b->page_size);

			if (wrong) {
				s ^= 0x5a5a;
				wrong--;
			}
			put64(s);
		}
		msg_send(0);
		first += n;
		count -= n;
	}
}

static void checksum_every_page(unsigned int wrong)
{
	for (unsigned int i = 0; i < nr_blk; i++)
		send_checksums(i, 0, blk[i].pages, i ? 0 : wrong);
}

/*
 * The connections break (closed, as when a network fails), and come
 * again with the session: HELLO, BLOCKS, a RECEIVED bitmap of every page
 * in, READY(switched).
 */
static void resume_switched(const char *addr, double drain_s)
{
	struct msg m;

	for (int c = 0; c < 2; c++) {
		close(C[c].fd);
		C[c].len = 0;
		C[c].ended = false;
		C[c].closing[0] = 0;
	}
	printf("connections closed\n");
	C[0].fd = tcp_connect(addr);
	C[1].fd = tcp_connect(addr);
	send_hello(0, 0);
	send_hello(1, 1);
	expect(0, BLOCKS, 0, &m, drain_s);
	take_blocks(&m);
	for (unsigned int i = 0; i < nr_blk; i++) {
		for (uint64_t first = 0; first < blk[i].pages; first += 1u << 20) {
			uint32_t bits = blk[i].pages - first < (1u << 20) ?
					(uint32_t)(blk[i].pages - first) : 1u << 20;

			msg_begin(RECEIVED);
			put32(i);
			put64(first);
			put32(bits);
			for (uint32_t k = 0; k < (bits + 7) / 8; k++) {
				uint8_t b = 0;

				for (uint32_t j = 0; j < 8 && 8 * k + j < bits; j++)
					if (blk[i].got[first + 8 * k + j])
						b |= (uint8_t)(1u << j);
				put8(b);
			}
			msg_send(0);
		}
	}
	msg_begin(READY);
	put32(1);	/* switched over already */
	msg_send(0);
	printf("resumed\n");
}

/* @s seconds with nothing to say: KEEPALIVEs, anything else unexpected. */
static void pause_s(double s, double drain_s)
{
	double end = now_s() + s;
	struct msg m;

	while (now_s() < end)
		if (next_event(end - now_s(), &m) != EV_TIMEOUT)
			unexpected(&m, "nothing (a pause)", drain_s);
}

static const char *const after_switchover[] = {
	"page-on-bulk", "discard-on-bulk", "request-on-bulk", "unknown-type", "dest-shutdown", NULL
};

static const char *const dest_scenarios[] = {
	"ok", "resume", "resume-eager", "no-checksums", "checksum-differ", "checksum-bad-block", "checksum-count-zero", "checksum-partial",
	"checksum-page-twice", "checksum-all-twice", "checksum-unsent", "page-on-bulk",
	"discard-on-bulk", "request-on-bulk", "unknown-type", "garbage", "dest-shutdown",
	"complete-early", "silent-before-hello", "silent-after-hello", "silent-before-complete",
	NULL
};

static int run_dest(const char *addr, const char *sc, double drain_s)
{
	struct msg m;

	if (!one_of(sc, dest_scenarios))
		die("no dest scenario '%s'", sc);

	C[0].fd = tcp_connect(addr);
	C[1].fd = tcp_connect(addr);
	C[0].last_tx = C[1].last_tx = mark = now_s();

	if (!strcmp(sc, "silent-before-hello")) {
		keepalive = false;
		drain(drain_s);
		return 0;
	}
	if (!strcmp(sc, "garbage")) {
		static const char junk[16] = "\xde\xad\xbe\xef garbage!!\xff";

		send_raw(0, junk, sizeof(junk));
		send_hello(1, 1);
		mark = now_s();
		drain(drain_s);
		return 0;
	}
	send_hello(0, 0);
	send_hello(1, 1);
	expect(0, BLOCKS, 0, &m, drain_s);
	take_blocks(&m);
	if (!strcmp(sc, "silent-after-hello")) {
		keepalive = false;
		mark = now_s();
		drain(drain_s);
		return 0;
	}
	msg_begin(READY);
	put32(0);
	msg_send(0);
	if (!strcmp(sc, "complete-early")) {
		send_empty(0, COMPLETE);
		mark = now_s();
		drain(drain_s);
		return 0;
	}
	/* Precopy's pages (if any) and its DISCARDs, until SWITCHOVER. */
	for (;;) {
		expect(0, -1, 0, &m, drain_s);
		if (m.type == SWITCHOVER)
			break;
		if (m.type != PAGE && m.type != ZERO && m.type != DISCARD)
			unexpected(&m, "SWITCHOVER", drain_s);
		take_data(&m);
	}
	printf("switchover\n");
	mark = now_s();
	if (!strcmp(sc, "checksum-unsent")) {
		/* At once: the last page is the push's last, far from sent yet. */
		send_checksums(0, blk[0].pages - 1, 1, 0);
		usleep(50000);
		drain(drain_s);
		return 0;
	}
	if (!strcmp(sc, "page-on-bulk")) {
		msg_begin(PAGE);
		put32(0);
		put32(0);
		put64(0);
		memset(ob + on, 0x41, blk[0].page_size);
		on += blk[0].page_size;
		msg_send(0);
	} else if (!strcmp(sc, "discard-on-bulk")) {
		msg_begin(DISCARD);
		put32(0);
		put32(1);
		put64(0);
		put64(blk[0].page_size);
		msg_send(0);
	} else if (!strcmp(sc, "request-on-bulk")) {
		msg_begin(REQUEST);
		put64(0);
		put64(blk[0].page_size);
		put8((uint8_t)strlen(blk[0].name));
		putn(blk[0].name, strlen(blk[0].name));
		msg_send(0);
	} else if (!strcmp(sc, "unknown-type")) {
		msg_begin(99);
		msg_send(0);
	} else if (!strcmp(sc, "dest-shutdown")) {
		send_shutdown(0, -5, "disk on fire");
	}
	if (one_of(sc, after_switchover)) {
		mark = now_s();
		drain(drain_s);
		return 0;
	}

	receive_all(drain_s);
	if (!strcmp(sc, "ok"))
		idle(drain_s);
	mark = now_s();
	if (!strcmp(sc, "silent-before-complete")) {
		keepalive = false;
		drain(drain_s);
		return 0;
	}
	if (!strcmp(sc, "ok")) {
		checksum_every_page(0);
	} else if (!strcmp(sc, "resume") || !strcmp(sc, "resume-eager")) {
		/* Sums of 200 pages, a break, then of every page again. */
		send_checksums(0, 0, blk[0].pages < 200 ? blk[0].pages : 200, 0);
		pause_s(0.3, drain_s);
		resume_switched(addr, drain_s);
		if (!strcmp(sc, "resume")) {
			expect(0, SWITCHOVER, 0, &m, drain_s);
			printf("switchover\n");
		}
		checksum_every_page(0);
	} else if (!strcmp(sc, "no-checksums")) {
		/* COMPLETE alone: a destination that does not verify. */
	} else if (!strcmp(sc, "checksum-differ")) {
		checksum_every_page(3);
	} else if (!strcmp(sc, "checksum-bad-block")) {
		msg_begin(CHECKSUM);
		put32(7);
		put64(0);
		put32(1);
		put64(page_sum(blk[0].data, blk[0].page_size));
		msg_send(0);
	} else if (!strcmp(sc, "checksum-count-zero")) {
		msg_begin(CHECKSUM);
		put32(0);
		put64(0);
		put32(0);
		msg_send(0);
	} else if (!strcmp(sc, "checksum-partial")) {
		send_checksums(0, 0, blk[0].pages / 2, 0);
	} else if (!strcmp(sc, "checksum-page-twice")) {
		send_checksums(0, 0, 1, 0);
		checksum_every_page(0);
	} else if (!strcmp(sc, "checksum-all-twice")) {
		checksum_every_page(0);
		send_checksums(0, 0, blk[0].pages < 200 ? blk[0].pages : 200, 0);
	}
	/* Those that pass a first look go on to claim completion. */
	if (strcmp(sc, "checksum-bad-block") && strcmp(sc, "checksum-count-zero"))
		send_empty(0, COMPLETE);
	mark = now_s();
	drain(drain_s);
	return 0;
}

/* ---- the fake source -------------------------------------------------------------- */

#define SRC_SESSION	0x5eed5eedULL
#define SRC_PAGE	4096

static uint8_t *src_ram;
static uint64_t src_pages = 256;

/* Page @p: every 8th zeros (sent as ZERO), the others from the index. */
static void fill_ram(void)
{
	src_ram = calloc(src_pages, SRC_PAGE);
	if (!src_ram)
		die("out of memory");
	for (uint64_t p = 0; p < src_pages; p++) {
		if (p % 8 == 0)
			continue;
		for (uint64_t w = 0; w < SRC_PAGE / 8; w++) {
			uint64_t v = (p + 1) * 0x9e3779b97f4a7c15ULL ^ w * 0x100000001b3ULL;

			memcpy(src_ram + p * SRC_PAGE + 8 * w, &v, 8);
		}
	}
}

static void send_blocks(uint64_t length, uint64_t page_size)
{
	msg_begin(BLOCKS);
	put64(SRC_SESSION);
	put32(1);
	put8(6);
	putn("pc.ram", 6);
	put64(length);
	put64(page_size);
	msg_send(0);
}

static void push_pages(uint64_t first, uint64_t n)
{
	for (uint64_t p = first; p < first + n; p++) {
		if (p % 8 == 0) {
			msg_begin(ZERO);
			put32(0);
			put32(1);
			put64(p * SRC_PAGE);
		} else {
			msg_begin(PAGE);
			put32(0);
			put32(0);
			put64(p * SRC_PAGE);
			putn(src_ram + p * SRC_PAGE, SRC_PAGE);
		}
		msg_send(0);
	}
}

/* Read one HELLO off @fd, whole: its channel. */
static int read_hello(int fd)
{
	uint8_t b[32];
	size_t got = 0;
	double end = now_s() + 10;

	while (got < sizeof(b)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, (int)((end - now_s()) * 1000) + 1) <= 0)
			die("no HELLO within 10 s");
		n = recv(fd, b + got, sizeof(b) - got, 0);
		if (n <= 0)
			die("reading HELLO: %s", n ? strerror(errno) : "EOF");
		got += (size_t)n;
	}
	if (get16(b) != HELLO || get32(b + 4) != 24 || get64(b + 8) != MAGIC)
		die("not a HELLO: type %u, %u bytes", (unsigned)get16(b), (unsigned)get32(b + 4));
	printf("hello %s %u %llu\n", b[18] ? "urgent" : "bulk", (unsigned)get16(b + 16),
	       (unsigned long long)get64(b + 24));
	return b[18];
}

static int run_source(const char *addr, const char *port_file, const char *sc, double drain_s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	const char *colon = strrchr(addr, ':');
	char host[64] = "127.0.0.1";
	int lfd, fds[2], one = 1;
	uint64_t equal = 0, differ = 0, sums = 0, requests = 0;
	struct msg m;

	if (!colon)
		die("--listen HOST:PORT");
	if (colon != addr)
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	a.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		die("--listen %s: an IPv4 address", addr);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen))
		die("listening on %s: %s", addr, strerror(errno));
	if (port_file) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) ||
		    rename(tmp, port_file))
			die("%s: %s", port_file, strerror(errno));
	}
	for (int i = 0; i < 2; i++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (poll(&p, 1, 30000) <= 0)
			die("no destination connected within 30 s");
		fds[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fds[i] < 0)
			die("accept: %s", strerror(errno));
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	/* One pair: a destination that comes again finds no one. */
	close(lfd);
	for (int i = 0; i < 2; i++) {
		int ch = read_hello(fds[i]);

		C[ch ? 1 : 0].fd = fds[i];
	}
	if (C[0].fd < 0 || C[1].fd < 0)
		die("the HELLOs name one channel twice");
	C[0].last_tx = C[1].last_tx = mark = now_s();

	if (!strcmp(sc, "reset-before-blocks")) {
		close_rst(C[0].fd);
		close_rst(C[1].fd);
		printf("reset both\n");
		return 0;
	}
	if (!strcmp(sc, "silent-before-blocks")) {
		keepalive = false;
		drain(drain_s);
		return 0;
	}
	if (!strcmp(sc, "page-before-blocks")) {
		msg_begin(PAGE);
		put32(0);
		put32(0);
		put64(0);
		memset(ob + on, 0x41, SRC_PAGE);
		on += SRC_PAGE;
		msg_send(0);
		mark = now_s();
		drain(drain_s);
		return 0;
	}
	if (!strcmp(sc, "blocks-bad-pagesize")) {
		send_blocks(3000 * 256, 3000);
		mark = now_s();
		drain(drain_s);
		return 0;
	}
	if (strcmp(sc, "honest") && strcmp(sc, "lie-differ") && strcmp(sc, "lie-count") &&
	    strcmp(sc, "lie-text") && strcmp(sc, "source-shutdown"))
		die("no source scenario '%s'", sc);

	fill_ram();
	send_blocks(src_pages * SRC_PAGE, SRC_PAGE);
	expect(0, READY, RECEIVED, &m, drain_s);
	printf("ready\n");
	if (!strcmp(sc, "honest"))
		idle(drain_s);
	send_empty(0, SWITCHOVER);
	if (!strcmp(sc, "source-shutdown")) {
		push_pages(0, src_pages / 2);
		send_shutdown(1, -5, "disk on fire");
		mark = now_s();
		drain(drain_s);
		return 0;
	}
	push_pages(0, src_pages);
	/* CHECKSUMs on bulk, REQUESTs on urgent (all answered by the push), COMPLETE. */
	for (;;) {
		int ev = next_event(20, &m);

		if (ev != EV_MSG) {
			printf("no COMPLETE (%s)\n", ev == EV_TIMEOUT ? "timed out" : "ended");
			mark = now_s();
			drain(drain_s);
			return 3;
		}
		if (m.conn == 1 && m.type == REQUEST) {
			requests++;
			continue;
		}
		if (m.conn == 0 && m.type == COMPLETE)
			break;
		if (m.conn != 0 || m.type != CHECKSUM || m.len < 16)
			unexpected(&m, "CHECKSUM or COMPLETE", drain_s);
		{
			uint64_t first = get64(m.p + 4);
			uint32_t n = (uint32_t)get32(m.p + 12);

			if (get32(m.p) != 0 || m.len != 16 + 8ULL * n || first + n > src_pages)
				die("CHECKSUM: block %u, first %llu, %u sums, %u bytes",
				    (unsigned)get32(m.p), (unsigned long long)first, n, m.len);
			for (uint32_t i = 0; i < n; i++) {
				if (get64(m.p + 16 + 8 * i) ==
				    page_sum(src_ram + (first + i) * SRC_PAGE, SRC_PAGE))
					equal++;
				else
					differ++;
			}
			sums += n;
		}
	}
	printf("checksums %llu %llu %llu (requests %llu)\n", (unsigned long long)sums,
	       (unsigned long long)equal, (unsigned long long)differ,
	       (unsigned long long)requests);
	if (!strcmp(sc, "honest")) {
		char text[128];

		snprintf(text, sizeof(text), "complete: %llu pages verified equal, %llu differ",
			 (unsigned long long)equal, (unsigned long long)differ);
		send_shutdown(0, differ ? -5 : 0, text);
	} else if (!strcmp(sc, "lie-differ")) {
		send_shutdown(0, 0, "complete: 256 pages verified equal, 3 differ");
	} else if (!strcmp(sc, "lie-count")) {
		send_shutdown(0, 0, "complete: 999 pages verified equal, 0 differ");
	} else {
		send_shutdown(0, 0, "all good, trust me");
	}
	/* The session is over: nothing more from us, the destination closes. */
	keepalive = false;
	mark = now_s();
	drain(drain_s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "scenario", required_argument, NULL, 's' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "pages", required_argument, NULL, 'n' },
		{ "drain", required_argument, NULL, 'd' },
		{ "idle", required_argument, NULL, 'i' },
		{ 0 }
	};
	const char *addr = NULL, *sc = NULL, *port_file = NULL, *role;
	double drain_s = 15;
	int opt;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		die("usage: wire_peer dest|source ... --scenario NAME");
	role = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
		case 'l':
			addr = optarg;
			break;
		case 's':
			sc = optarg;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'n':
			src_pages = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			drain_s = atof(optarg);
			break;
		case 'i':
			idle_s = atof(optarg);
			break;
		default:
			die("usage: wire_peer dest|source ... --scenario NAME");
		}
	}
	if (!addr || !sc || !src_pages)
		die("usage: wire_peer dest --connect ADDR | source --listen ADDR, --scenario NAME");
	ob = malloc((2u << 20) + 64);
	if (!ob)
		die("out of memory");
	if (!strcmp(role, "dest"))
		return run_dest(addr, sc, drain_s);
	if (!strcmp(role, "source"))
		return run_source(addr, port_file, sc, drain_s);
	die("role '%s': dest or source", role);
	return 1;
}
