// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wire_proxy: a fault-injecting TCP proxy for pcram's migration tests.
 * It sits between 'pcram recv --connect 127.0.0.1:PROXYPORT' and 'pcram
 * serve --listen 127.0.0.1:PORT', relays every byte both ways, and
 * learns which connection is bulk and which urgent from the channel byte
 * of each HELLO (Documentation/wire-protocol.rst, read independently:
 * nothing of lib/ is used). On command it resets a connection (RST to
 * both ends), freezes the connections (no byte relayed either way, the
 * sockets kept open), holds new connections too (a network gone), thaws,
 * or cuts every connection once the destination's first CHECKSUM has
 * passed to the source.
 *
 *   wire_proxy -u HOST:PORT [-l PORT] [-p PORTFILE] [-C FIFO] [-c CMD]...
 *
 *   -u  the source to relay to ('pcram serve --listen')
 *   -l  port to listen on at 127.0.0.1 (default 0: any free one)
 *   -p  write the port there (whole, once listening)
 *   -C  a FIFO (made if missing) to read commands from, one a line
 *   -c  a command to run at start (before any connection), repeatable
 *
 * Commands:
 *   reset bulk|urgent|all   RST the connection(s), on both sides
 *   freeze                  stop relaying on every open connection
 *   freeze-all              ... and hold new connections (not connected
 *                           upstream, nothing relayed) until the thaw
 *   freeze-for MS, freeze-all-for MS   the same, thawed after MS
 *   thaw                    relay again; held connections still open at
 *                           the destination are connected upstream now
 *   cut-on-checksum [MS]    once the first CHECKSUM from the destination
 *                           has passed to the source on bulk, relay
 *                           nothing more and reset every connection MS
 *                           later (default 200)
 *   at BYTES CMD            run CMD once BYTES (K, M suffixes) have gone
 *                           from the source to the destination, in total
 *   stats                   every connection's counters, on stderr (SIGUSR1 too)
 *   quit
 *
 * Everything it does is logged on stderr, "wire_proxy +SECONDS: ...".
 * SIGTERM or SIGINT: every socket closed, exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE	(256 * 1024)
#define MAX_CONNS	64
#define MAX_AT		16
#define HELLO_CHANNEL	10	/* the channel byte's offset in HELLO's payload */
#define T_HELLO		1
#define T_CHECKSUM	11

static volatile sig_atomic_t quit_signal, stats_signal;
static double t_start;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void logf_(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "wire_proxy +%.3f: %s\n", now_s() - t_start, line);
}

/* One direction of a connection: bytes read from @from, to go out on @to. */
struct dir {
	uint8_t *buf;
	size_t head, tail;
	uint64_t in, out;	/* bytes read, written */
	uint64_t limit;		/* write nothing at or past this stream offset */
	bool eof;		/* @from said EOF */
	bool shut;		/* ... and it was passed on: shutdown(@to, SHUT_WR) */
};

/* The framing of the destination's stream, parsed as it passes. */
struct framing {
	uint8_t hdr[8];
	unsigned int have;	/* header bytes so far */
	uint16_t type;
	uint32_t len, got;	/* payload length, bytes of it seen */
	uint64_t msgs;
};

struct conn {
	bool used;
	int id;
	int dfd, ufd;		/* destination side (accepted), source side */
	int channel;		/* -1 until HELLO says */
	bool frozen, held;	/* held: not yet connected upstream */
	struct dir d2u, u2d;
	struct framing f;
};

static struct conn conns[MAX_CONNS];
static int next_id = 1;
static const char *upstream;
static struct sockaddr_storage up_addr;
static socklen_t up_len;

static bool freeze_new;		/* freeze-all: hold new connections */
static double thaw_at;		/* freeze-for: 0 or when */
static int cut_armed = -1;	/* cut-on-checksum's delay, -1 when not armed */
static double cut_at;		/* 0, or when to reset every connection */
static uint64_t total_u2d;	/* bytes source -> destination, every connection */

static struct {
	uint64_t bytes;
	char cmd[128];
	bool done;
} at[MAX_AT];
static int nr_at;

static const char *chan_name(const struct conn *c)
{
	return c->channel == 0 ? "bulk" : c->channel == 1 ? "urgent" : "unknown";
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Close with an RST rather than a FIN. */
static void close_rst(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void conn_free(struct conn *c)
{
	free(c->d2u.buf);
	free(c->u2d.buf);
	memset(c, 0, sizeof(*c));
}

static void conn_close(struct conn *c, bool rst, const char *why)
{
	logf_("conn %d (%s): %s%s", c->id, chan_name(c), why, rst ? " (RST both sides)" : "");
	if (rst) {
		close_rst(c->dfd);
		close_rst(c->ufd);
	} else {
		close(c->dfd);
		if (c->ufd >= 0)
			close(c->ufd);
	}
	conn_free(c);
}

static int connect_upstream(void)
{
	double end = now_s() + 5;

	for (;;) {
		int fd = socket(up_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (!connect(fd, (struct sockaddr *)&up_addr, up_len))
			return fd;
		close(fd);
		if (errno != ECONNREFUSED || now_s() > end || quit_signal)
			return -1;
		usleep(50000);
	}
}

static void run_cmd(const char *line);
static void do_stats(void);

/* Run each 'at' whose byte count has passed. */
static void check_at(void)
{
	for (int i = 0; i < nr_at; i++) {
		if (at[i].done || total_u2d < at[i].bytes)
			continue;
		at[i].done = true;
		logf_("%llu bytes went to the destination: %s",
		      (unsigned long long)total_u2d, at[i].cmd);
		run_cmd(at[i].cmd);
	}
}

/* A whole message of the destination's passed the parser, ending at @end. */
static void dest_message(struct conn *c, uint64_t end)
{
	c->f.msgs++;
	if (c->f.type != T_CHECKSUM || c->channel != 0 || cut_armed < 0)
		return;
	/* This CHECKSUM goes to the source, nothing after it does. */
	c->d2u.limit = end;
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].used && &conns[i] != c)
			conns[i].frozen = true;
	cut_at = now_s() + cut_armed / 1000.0;
	logf_("conn %d (bulk): the first CHECKSUM (%u bytes) passes to the source;"
	      " nothing more is relayed, every connection is cut in %d ms",
	      c->id, c->f.len, cut_armed);
	cut_armed = -1;
}

/* Parse @n bytes of the destination's stream, the first at offset @off. */
static void parse_dest(struct conn *c, const uint8_t *p, size_t n, uint64_t off)
{
	struct framing *f = &c->f;
	size_t i = 0;

	while (i < n) {
		if (f->have < 8) {
			f->hdr[f->have++] = p[i++];
			if (f->have < 8)
				continue;
			f->type = (uint16_t)(f->hdr[0] << 8 | f->hdr[1]);
			f->len = (uint32_t)f->hdr[4] << 24 | (uint32_t)f->hdr[5] << 16 |
				 (uint32_t)f->hdr[6] << 8 | f->hdr[7];
			f->got = 0;
		} else {
			size_t k = n - i < f->len - f->got ? n - i : f->len - f->got;

			if (f->type == T_HELLO && f->msgs == 0 && c->channel < 0 &&
			    f->got <= HELLO_CHANNEL && HELLO_CHANNEL < f->got + k) {
				c->channel = p[i + HELLO_CHANNEL - f->got];
				logf_("conn %d: HELLO says %s (channel %d)", c->id,
				      chan_name(c), c->channel);
			}
			f->got += (uint32_t)k;
			i += k;
		}
		if (f->have == 8 && f->got == f->len) {
			f->have = 0;
			dest_message(c, off + i);
		}
	}
}

/* Read what @fd has into @d; false when the connection is done for. */
static bool pump_in(struct conn *c, struct dir *d, int fd, bool from_dest)
{
	ssize_t n;

	if (d->eof)
		return true;
	if (d->head == d->tail)
		d->head = d->tail = 0;
	if (d->tail == BUF_SIZE && d->head) {
		memmove(d->buf, d->buf + d->head, d->tail - d->head);
		d->tail -= d->head;
		d->head = 0;
	}
	if (d->tail == BUF_SIZE)
		return true;
	n = read(fd, d->buf + d->tail, BUF_SIZE - d->tail);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n < 0) {
		char why[128];

		snprintf(why, sizeof(why), "the %s side: %s", from_dest ? "destination" : "source",
			 strerror(errno));
		conn_close(c, true, why);
		return false;
	}
	if (n == 0) {
		d->eof = true;
		logf_("conn %d (%s): EOF from the %s", c->id, chan_name(c),
		      from_dest ? "destination" : "source");
		return true;
	}
	if (from_dest)
		parse_dest(c, d->buf + d->tail, (size_t)n, d->in);
	d->tail += (size_t)n;
	d->in += (uint64_t)n;
	return true;
}

/* Write what @d holds to @fd; false when the connection is done for. */
static bool pump_out(struct conn *c, struct dir *d, int fd, bool to_dest)
{
	size_t len = d->tail - d->head;
	ssize_t n;

	if (d->out + len > d->limit)
		len = (size_t)(d->limit - d->out);
	if (len) {
		n = send(fd, d->buf + d->head, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n < 0) {
			char why[128];

			snprintf(why, sizeof(why), "the %s side: %s",
				 to_dest ? "destination" : "source", strerror(errno));
			conn_close(c, true, why);
			return false;
		}
		d->head += (size_t)n;
		d->out += (uint64_t)n;
		if (d->head == d->tail)
			d->head = d->tail = 0;
		if (to_dest) {
			total_u2d += (uint64_t)n;
			check_at();
			if (!c->used)	/* the command closed it */
				return false;
		}
	}
	if (d->eof && !d->shut && d->head == d->tail) {
		shutdown(fd, SHUT_WR);
		d->shut = true;
	}
	return true;
}

static void dir_init(struct dir *d)
{
	d->buf = malloc(BUF_SIZE);
	if (!d->buf) {
		perror("wire_proxy: malloc");
		exit(1);
	}
	d->limit = UINT64_MAX;
}

static void take_new(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), i;
	struct conn *c;

	if (fd < 0)
		return;
	for (i = 0; i < MAX_CONNS && conns[i].used; i++)
		;
	if (i == MAX_CONNS) {
		logf_("too many connections: one refused");
		close_rst(fd);
		return;
	}
	c = &conns[i];
	c->used = true;
	c->id = next_id++;
	c->dfd = fd;
	c->ufd = -1;
	c->channel = -1;
	dir_init(&c->d2u);
	dir_init(&c->u2d);
	if (freeze_new) {
		c->frozen = c->held = true;
		logf_("conn %d: accepted and held (frozen: not connected upstream)", c->id);
		return;
	}
	c->ufd = connect_upstream();
	if (c->ufd < 0) {
		logf_("conn %d: connecting to %s: %s", c->id, upstream, strerror(errno));
		conn_close(c, true, "no upstream");
		return;
	}
	set_nonblock(c->dfd);
	set_nonblock(c->ufd);
	logf_("conn %d: accepted, connected upstream", c->id);
}

static void do_reset(const char *which)
{
	int ch = !strcmp(which, "bulk") ? 0 : !strcmp(which, "urgent") ? 1 : -1;
	int n = 0;

	if (ch < 0 && strcmp(which, "all")) {
		logf_("reset %s: bulk, urgent or all", which);
		return;
	}
	for (int i = 0; i < MAX_CONNS; i++) {
		if (!conns[i].used || (ch >= 0 && conns[i].channel != ch))
			continue;
		conn_close(&conns[i], true, "reset");
		n++;
	}
	logf_("reset %s: %d connection(s) reset", which, n);
}

static void do_freeze(bool all, long ms)
{
	int n = 0;

	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].used) {
			conns[i].frozen = true;
			n++;
		}
	freeze_new = all;
	thaw_at = ms > 0 ? now_s() + ms / 1000.0 : 0;
	if (ms > 0)
		logf_("froze %d connection(s)%s for %ld ms", n,
		      all ? " and new ones" : " (new ones flow)", ms);
	else
		logf_("froze %d connection(s)%s", n, all ? " and new ones" : " (new ones flow)");
}

static void do_thaw(void)
{
	int n = 0, held = 0;

	freeze_new = false;
	thaw_at = 0;
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &conns[i];
		struct pollfd p = { .fd = c->dfd, .events = POLLRDHUP };

		if (!c->used || !c->frozen)
			continue;
		c->frozen = false;
		n++;
		if (!c->held)
			continue;
		c->held = false;
		/* One the destination gave up on meanwhile stays unknown upstream. */
		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			conn_close(c, false, "held, closed by the destination meanwhile: dropped");
			continue;
		}
		c->ufd = connect_upstream();
		if (c->ufd < 0) {
			conn_close(c, true, "held, connecting upstream failed");
			continue;
		}
		set_nonblock(c->dfd);
		set_nonblock(c->ufd);
		logf_("conn %d: held, now connected upstream", c->id);
		held++;
	}
	logf_("thawed %d connection(s), %d of them held until now", n, held);
}

static uint64_t parse_bytes(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (*end == 'k' || *end == 'K')
		v <<= 10;
	else if (*end == 'm' || *end == 'M')
		v <<= 20;
	return v;
}

static void run_cmd(const char *line)
{
	char cmd[160], arg[160] = "";
	int n;

	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#')
		return;
	n = sscanf(line, "%159s %159[^\n]", cmd, arg);
	if (n < 1)
		return;
	if (!strcmp(cmd, "reset")) {
		do_reset(n > 1 ? arg : "all");
	} else if (!strcmp(cmd, "freeze") || !strcmp(cmd, "freeze-all")) {
		do_freeze(!strcmp(cmd, "freeze-all"), 0);
	} else if (!strcmp(cmd, "freeze-for") || !strcmp(cmd, "freeze-all-for")) {
		do_freeze(!strcmp(cmd, "freeze-all-for"), n > 1 ? atol(arg) : 1000);
	} else if (!strcmp(cmd, "thaw")) {
		do_thaw();
	} else if (!strcmp(cmd, "cut-on-checksum")) {
		cut_armed = n > 1 ? atoi(arg) : 200;
		logf_("armed: cut every connection %d ms after the first CHECKSUM", cut_armed);
	} else if (!strcmp(cmd, "at")) {
		char b[64], rest[128];

		if (nr_at == MAX_AT || sscanf(arg, "%63s %127[^\n]", b, rest) != 2) {
			logf_("at: 'at BYTES COMMAND' (at most %d)", MAX_AT);
			return;
		}
		at[nr_at].bytes = parse_bytes(b);
		snprintf(at[nr_at].cmd, sizeof(at[nr_at].cmd), "%s", rest);
		logf_("armed: at %llu bytes to the destination: %s",
		      (unsigned long long)at[nr_at].bytes, rest);
		nr_at++;
		check_at();
	} else if (!strcmp(cmd, "stats")) {
		do_stats();
	} else if (!strcmp(cmd, "quit")) {
		quit_signal = 1;
	} else {
		logf_("unknown command '%s'", line);
	}
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		stats_signal = 1;
	else
		quit_signal = sig;
}

/* Every connection's counters and state, on stderr. */
static void do_stats(void)
{
	logf_("stats: %llu bytes to the destination in all; new connections %s",
	      (unsigned long long)total_u2d, freeze_new ? "held" : "relayed");
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &conns[i];

		if (!c->used)
			continue;
		logf_("stats: conn %d (%s)%s%s: to the source %llu in, %llu out, %zu buffered%s%s;"
		      " to the destination %llu in, %llu out, %zu buffered%s%s; %llu messages",
		      c->id, chan_name(c), c->frozen ? " frozen" : "", c->held ? " held" : "",
		      (unsigned long long)c->d2u.in, (unsigned long long)c->d2u.out,
		      c->d2u.tail - c->d2u.head, c->d2u.eof ? " eof" : "",
		      c->d2u.limit != UINT64_MAX ? " (limited)" : "",
		      (unsigned long long)c->u2d.in, (unsigned long long)c->u2d.out,
		      c->u2d.tail - c->u2d.head, c->u2d.eof ? " eof" : "",
		      c->u2d.shut ? " shut" : "", (unsigned long long)c->f.msgs);
	}
}

static int resolve(const char *addr)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;

	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -1;
	memcpy(&up_addr, res->ai_addr, res->ai_addrlen);
	up_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: wire_proxy -u HOST:PORT [-l PORT] [-p PORTFILE] [-C FIFO] "
		"[-c CMD]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(la);
	const char *port_file = NULL, *fifo = NULL, *cmds[32];
	struct sigaction sa = { .sa_handler = on_signal };
	int lfd, ctl = -1, ctl_w = -1, nr_cmds = 0, opt, one = 1;
	char ctl_buf[1024];
	size_t ctl_len = 0;

	t_start = now_s();
	setvbuf(stderr, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "u:l:p:C:c:")) != -1) {
		switch (opt) {
		case 'u':
			upstream = optarg;
			break;
		case 'l':
			la.sin_port = htons((uint16_t)atoi(optarg));
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'C':
			fifo = optarg;
			break;
		case 'c':
			if (nr_cmds < 32)
				cmds[nr_cmds++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (!upstream || optind != argc)
		usage();
	if (resolve(upstream)) {
		fprintf(stderr, "wire_proxy: cannot resolve '%s'\n", upstream);
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof(la)) || listen(lfd, 16) ||
	    getsockname(lfd, (struct sockaddr *)&la, &alen)) {
		perror("wire_proxy: listening");
		return 1;
	}
	if (fifo) {
		if (mkfifo(fifo, 0600) && errno != EEXIST) {
			perror("wire_proxy: mkfifo");
			return 1;
		}
		/* Our own writer: the FIFO never reads as EOF between commands. */
		ctl = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		ctl_w = open(fifo, O_WRONLY | O_CLOEXEC);
		if (ctl < 0 || ctl_w < 0) {
			perror("wire_proxy: opening the FIFO");
			return 1;
		}
	}
	for (int i = 0; i < nr_cmds; i++)
		run_cmd(cmds[i]);
	logf_("listening on 127.0.0.1:%d, relaying to %s", ntohs(la.sin_port), upstream);
	if (port_file) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", ntohs(la.sin_port)) < 0 || fclose(f) ||
		    rename(tmp, port_file)) {
			perror("wire_proxy: the port file");
			return 1;
		}
	}

	while (!quit_signal) {
		struct pollfd p[2 + 2 * MAX_CONNS];
		struct conn *owner[2 + 2 * MAX_CONNS];
		int np = 0, timeout = 1000;
		double t = now_s();

		if (stats_signal) {
			stats_signal = 0;
			do_stats();
		}
		if (thaw_at && t >= thaw_at)
			do_thaw();
		if (cut_at && t >= cut_at) {
			cut_at = 0;
			logf_("cutting every connection after the first CHECKSUM");
			do_reset("all");
		}
		if (thaw_at)
			timeout = (int)((thaw_at - t) * 1000) + 1;
		if (cut_at && (int)((cut_at - t) * 1000) + 1 < timeout)
			timeout = (int)((cut_at - t) * 1000) + 1;
		if (timeout < 0)
			timeout = 0;

		p[np] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		owner[np++] = NULL;
		if (ctl >= 0) {
			p[np] = (struct pollfd){ .fd = ctl, .events = POLLIN };
			owner[np++] = NULL;
		}
		for (int i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &conns[i];
			short de = 0, ue = 0;

			if (!c->used || c->frozen)
				continue;
			/* Room to read into (pump_in() moves what is left down). */
			if (!c->d2u.eof && c->d2u.tail - c->d2u.head < BUF_SIZE)
				de |= POLLIN;
			if (!c->u2d.eof && c->u2d.tail - c->u2d.head < BUF_SIZE)
				ue |= POLLIN;
			if (c->u2d.head < c->u2d.tail && c->u2d.out < c->u2d.limit)
				de |= POLLOUT;
			if (c->d2u.head < c->d2u.tail && c->d2u.out < c->d2u.limit)
				ue |= POLLOUT;
			/* Nothing wanted: not polled (a hung-up socket would spin). */
			p[np] = (struct pollfd){ .fd = de ? c->dfd : -1, .events = de };
			owner[np++] = c;
			p[np] = (struct pollfd){ .fd = ue ? c->ufd : -1, .events = ue };
			owner[np++] = c;
		}
		if (poll(p, (nfds_t)np, timeout) < 0) {
			if (errno == EINTR)
				continue;
			perror("wire_proxy: poll");
			break;
		}
		if (p[0].revents & POLLIN)
			take_new(lfd);
		if (ctl >= 0 && (p[1].revents & POLLIN)) {
			ssize_t n = read(ctl, ctl_buf + ctl_len, sizeof(ctl_buf) - 1 - ctl_len);
			char *nl;

			if (n > 0)
				ctl_len += (size_t)n;
			ctl_buf[ctl_len] = '\0';
			while ((nl = strchr(ctl_buf, '\n'))) {
				*nl = '\0';
				run_cmd(ctl_buf);
				ctl_len -= (size_t)(nl + 1 - ctl_buf);
				memmove(ctl_buf, nl + 1, ctl_len + 1);
			}
			if (ctl_len == sizeof(ctl_buf) - 1)
				ctl_len = 0;	/* a line too long: dropped */
		}
		for (int k = 0; k < np; k++) {
			struct conn *c = owner[k];
			bool dest;

			if (!c || !c->used || c->frozen || !p[k].revents)
				continue;
			dest = p[k].fd == c->dfd;
			if (p[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				if (!pump_in(c, dest ? &c->d2u : &c->u2d, p[k].fd, dest))
					continue;
			}
			if (!c->used || c->frozen)
				continue;
			/* Whatever is buffered goes on, both ways. */
			if (!pump_out(c, &c->u2d, c->dfd, true) || !c->used || c->frozen)
				continue;
			if (!pump_out(c, &c->d2u, c->ufd, false) || !c->used)
				continue;
			if (c->d2u.shut && c->u2d.shut)
				conn_close(c, false, "closed by both ends");
		}
	}
	logf_("exiting (%s)", quit_signal == 1 ? "quit" : strsignal(quit_signal));
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].used)
			conn_close(&conns[i], false, "the proxy exits");
	close(lfd);
	if (ctl >= 0) {
		close(ctl);
		close(ctl_w);
	}
	return 0;
}
