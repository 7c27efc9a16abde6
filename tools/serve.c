// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram serve: the source of a migration. RAM from an image file or a
 * synthetic pattern, a workload that writes it during precopy, and
 * libpcram's source serving each destination that connects, again after
 * a broken connection, until one has every page.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "migrate.h"
#include "cli.h"
#include "clock.h"

/* The VM: writes pages at a rate until the switchover stops it. */
struct workload {
	struct ram *ram;
	unsigned long rate;
	pthread_mutex_t lock;	/* held by each write, and by hold() */
	pthread_t thread;
	bool running, stop;
	uint64_t writes;
};

static void *workload_main(void *arg)
{
	struct workload *w = arg;
	uint64_t pages = w->ram->length / w->ram->page_size, x = mono_ns() | 1;
	uint64_t gap = 1000000000ULL / w->rate, next = mono_ns();

	for (;;) {
		uint64_t t;

		pthread_mutex_lock(&w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		((uint64_t *)(w->ram->host + (x % pages) * w->ram->page_size))
			[(x >> 40) % (w->ram->page_size / 8)] = x | 1;
		w->writes++;
		pthread_mutex_unlock(&w->lock);
		next += gap;
		t = mono_ns();
		if (next > t) {
			struct timespec ts = { (time_t)((next - t) / 1000000000ULL),
					       (long)((next - t) % 1000000000ULL) };

			nanosleep(&ts, NULL);
		}
	}
}

static void workload_hold(void *opaque, int stop)
{
	struct workload *w = opaque;

	if (stop)
		pthread_mutex_lock(&w->lock);
	else
		pthread_mutex_unlock(&w->lock);
}

static void workload_stop(void *opaque)
{
	struct workload *w = opaque;

	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_mutex_unlock(&w->lock);
}

/* Two connections, or 0 when none came within @wait_s. */
static int accept_pair(int lfd, unsigned int wait_s, uint64_t rate, int fds[2])
{
	for (int i = 0; i < 2; i++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int ret = poll(&p, 1, wait_s ? (int)wait_s * 1000 : -1);

		if (ret <= 0) {
			if (i)
				close(fds[0]);
			return ret < 0 ? -errno : -ETIMEDOUT;
		}
		fds[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fds[i] < 0) {
			ret = -errno;
			if (i)
				close(fds[0]);
			return ret;
		}
		/* Pacing, to play a slower link on loopback (TCP's own pacing). */
		if (rate)
			setsockopt(fds[i], SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof(rate));
	}
	return 0;
}

int serve_run(const struct serve_conf *c, struct serve_report *rep)
{
	struct ram ram;
	struct workload w = { .lock = PTHREAD_MUTEX_INITIALIZER, .rate = c->dirty_rate };
	struct pcram_src_options so = {
		.precopy_rounds = c->precopy_rounds, .precopy_ms = c->precopy_ms,
		.switchover = workload_stop, .hold = workload_hold, .opaque = &w,
	};
	struct pcram_src *src = NULL;
	bool served = false;
	int ret;

	memset(rep, 0, sizeof(*rep));
	if (c->verify)
		so.flags |= PCRAM_SRC_F_REQUIRE_VERIFY;
	if (ram_open(&ram, c->image, c->size, c->page_size, rep->error, sizeof(rep->error)))
		return rep->ret = -EINVAL;
	w.ram = &ram;
	rep->pages = ram.length / ram.page_size;
	ret = pcram_src_new(&src, &so);
	if (!ret && c->peer_timeout_s)
		ret = pcram_src_set_peer_timeout(src, c->peer_timeout_s * 1000);
	if (!ret) {
		struct pcram_src_block b = {
			.name = "pc.ram", .host = ram.host, .length = ram.length,
			.page_size = ram.page_size,
		};

		ret = pcram_src_add_block(src, &b);
	}
	if (ret) {
		snprintf(rep->error, sizeof(rep->error), "%s", pcram_src_strerror(src));
		goto out;
	}
	if (w.rate) {
		ret = -pthread_create(&w.thread, NULL, workload_main, &w);
		if (ret)
			goto out;
		w.running = true;
	}
	rep->start_ns = mono_ns();
	for (;;) {
		int fds[2];

		ret = accept_pair(c->listen_fd, c->wait_s, c->rate_limit, fds);
		if (ret == -ETIMEDOUT && !served)
			snprintf(rep->error, sizeof(rep->error), "no destination came within %u s",
				 c->wait_s);
		else if (ret == -ETIMEDOUT)
			snprintf(rep->error, sizeof(rep->error),
				 "the destination did not come back within %u s (last: %s)",
				 c->wait_s, pcram_src_strerror(src));
		else if (ret)
			snprintf(rep->error, sizeof(rep->error), "accepting: %s", strerror(-ret));
		if (ret)
			break;
		ret = pcram_src_serve(src, fds[0], fds[1]);
		served = true;
		close(fds[0]);
		close(fds[1]);
		if (ret != -ECONNRESET)
			break;
		if (!c->quiet)
			fprintf(stderr, "pcram serve: %s; waiting for it to come back\n",
				pcram_src_strerror(src));
	}
	rep->end_ns = mono_ns();
	if (ret && !rep->error[0])
		snprintf(rep->error, sizeof(rep->error), "%s", pcram_src_strerror(src));
out:
	if (w.running) {
		workload_stop(&w);
		pthread_join(w.thread, NULL);
	}
	rep->writes = w.writes;
	if (src)
		pcram_src_stats(src, &rep->st, sizeof(rep->st));
	pcram_src_free(src);
	ram_close(&ram);
	return rep->ret = ret;
}

int serve_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "listen", required_argument, NULL, 'l' },
		{ "image", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "precopy-rounds", required_argument, NULL, 'R' },
		{ "precopy-ms", required_argument, NULL, 'P' },
		{ "dirty-rate", required_argument, NULL, 'd' },
		{ "wait", required_argument, NULL, 'w' },
		{ "rate-limit", required_argument, NULL, 'r' },
		{ "peer-timeout", required_argument, NULL, 'T' },
		{ "no-verify", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct serve_conf c = {
		.listen_fd = -1, .page_size = 4096, .precopy_rounds = 5, .precopy_ms = 500,
		.wait_s = 30, .peer_timeout_s = 5, .verify = true,
	};
	static struct serve_report rep;
	const char *listen_addr = NULL;
	char err[256];
	bool json = false;
	unsigned long v;
	int opt;

	while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'i':
			c.image = optarg;
			break;
		case 's':
			if (parse_size(optarg, &c.size) || !c.size)
				return fail("serve", "--size '%s': a size like 512M or 1G", optarg),
				       EXIT_USAGE;
			break;
		case 'p':
			if (parse_size(optarg, &c.page_size) ||
			    (c.page_size != 4096 && c.page_size != (2 << 20)))
				return fail("serve", "--page-size '%s': 4k or 2m", optarg), EXIT_USAGE;
			break;
		case 'R':
			if (parse_uint(optarg, 1000, &v))
				return fail("serve", "--precopy-rounds '%s': 0..1000", optarg), EXIT_USAGE;
			c.precopy_rounds = (unsigned int)v;
			break;
		case 'P':
			if (parse_uint(optarg, 3600000, &v))
				return fail("serve", "--precopy-ms '%s': 0..3600000", optarg), EXIT_USAGE;
			c.precopy_ms = (unsigned int)v;
			break;
		case 'd':
			if (parse_uint(optarg, 10000000, &v))
				return fail("serve", "--dirty-rate '%s': pages/s, 0..10000000", optarg),
				       EXIT_USAGE;
			c.dirty_rate = v;
			break;
		case 'w':
			if (parse_uint(optarg, 86400, &v))
				return fail("serve", "--wait '%s': seconds, 0..86400", optarg), EXIT_USAGE;
			c.wait_s = (unsigned int)v;
			break;
		case 'r':
			if (parse_uint(optarg, 1000000, &v) || !v)
				return fail("serve", "--rate-limit '%s': MB/s, 1..1000000", optarg),
				       EXIT_USAGE;
			c.rate_limit = v * 1000000ULL;
			break;
		case 'T':
			if (parse_uint(optarg, 3600, &v) || !v)
				return fail("serve", "--peer-timeout '%s': seconds, 1..3600", optarg),
				       EXIT_USAGE;
			c.peer_timeout_s = (unsigned int)v;
			break;
		case 'V':
			c.verify = false;
			break;
		case 'h':
			return usage("serve", stdout);
		default:
			return usage("serve", stderr);
		}
	}
	if (optind != argc || !listen_addr)
		return fail("serve", "%s", optind != argc ? "unexpected arguments" :
			    "--listen ADDR is needed"), usage("serve", stderr);
	if (!c.image && !c.size)
		return fail("serve", "give --image FILE or --size SIZE (or both, to make the image)"),
		       EXIT_USAGE;
	if (c.image && c.page_size != 4096)
		return fail("serve", "--page-size 2m takes anonymous huge pages: no --image"),
		       EXIT_USAGE;
	c.listen_fd = addr_listen(listen_addr, err, sizeof(err));
	if (c.listen_fd < 0)
		return fail("serve", "%s", err);
	signal(SIGPIPE, SIG_IGN);
	if (!json)
		fprintf(stderr, "pcram serve: listening on %s (port %d)\n", listen_addr,
			addr_port(c.listen_fd));
	serve_run(&c, &rep);
	close(c.listen_fd);
	report_print(stdout, json, &rep, NULL);
	if (rep.ret)
		return fail("serve", "%s", rep.error);
	return 0;
}
