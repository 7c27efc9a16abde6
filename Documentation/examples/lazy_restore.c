// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * lazy_restore: bring a process's RAM back from an image file lazily, the
 * way a VMM resumes a memory snapshot. The RAM is handed to libpcram, and
 * each page is read from the image only when something first touches it.
 *
 *   lazy_restore [--queue] IMAGE
 *
 * Without --queue the built-in image provider (pcram_dst_use_image())
 * serves every fault on the fault thread. With --queue a provider of our
 * own queues each request and a receiver thread places the page: the shape
 * a network source takes, where the fault thread must never wait for the
 * wire.
 *
 * The "guest" is the main thread: it reads all its RAM, which faults every
 * page in, and checks it against the image byte for byte. Exit status 0
 * when every byte matches.
 *
 * Built by 'make userspace' as build/examples/lazy_restore; see
 * Documentation/lib.rst.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* gettid() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcram.h>

/* ---- a provider of our own: a queue and a receiver thread --------------- */

#define QUEUE_SLOTS 256

struct queued_page {
	void *host;		/* where the page goes */
	uint64_t offset;	/* where it is in the image */
	uint64_t length;	/* the block's page size */
};

struct queue_provider {
	struct pcram_dst *dst;
	int image_fd;		/* stands in for the connection to a source */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct queued_page slot[QUEUE_SLOTS];
	unsigned int head, tail;	/* head - tail pages are queued */
	bool stop;
};

/*
 * Runs on a fault thread, so it only queues: every other fault waits
 * behind it. A full queue answers -EAGAIN; the library then lets the
 * faulting thread touch the page again, which asks again.
 *
 * req->block is NULL when it names the same block as this fault thread's
 * previous request (a wire protocol sends the name only when it changes);
 * req->block_index is always there. This example has one block, laid out
 * from offset 0 of the image, so the block offset is the image offset.
 */
static int queue_request(struct pcram_dst *dst, const struct pcram_request *req,
			 void *opaque)
{
	struct queue_provider *qp = opaque;
	int ret = 0;

	(void)dst;
	pthread_mutex_lock(&qp->lock);
	if (qp->head - qp->tail == QUEUE_SLOTS) {
		ret = -EAGAIN;
	} else {
		qp->slot[qp->head++ % QUEUE_SLOTS] = (struct queued_page) {
			.host = req->host, .offset = req->offset,
			.length = req->length,
		};
		pthread_cond_signal(&qp->cond);
	}
	pthread_mutex_unlock(&qp->lock);
	return ret;
}

/* Also on a fault thread: anything that was not an ordinary fault. */
static void queue_event(struct pcram_dst *dst, const struct pcram_event *ev,
			void *opaque)
{
	(void)dst;
	(void)opaque;
	fprintf(stderr, "lazy_restore: event %d at %#" PRIx64 " +%#" PRIx64 " (%s)\n",
		(int)ev->type, ev->addr, ev->length,
		ev->error ? strerror(-ev->error) : "no error");
}

/* Takes queued pages, "receives" them into a scratch page, places them. */
static void *receiver_main(void *arg)
{
	struct queue_provider *qp = arg;

	for (;;) {
		struct queued_page p;
		void *page;
		int ret;

		pthread_mutex_lock(&qp->lock);
		while (qp->head == qp->tail && !qp->stop)
			pthread_cond_wait(&qp->cond, &qp->lock);
		if (qp->stop) {
			pthread_mutex_unlock(&qp->lock);
			return NULL;
		}
		p = qp->slot[qp->tail++ % QUEUE_SLOTS];
		pthread_mutex_unlock(&qp->lock);

		/* One scratch page per page size; only this thread uses it. */
		ret = pcram_dst_tmp_page(qp->dst, p.length, &page);
		if (!ret && pread(qp->image_fd, page, p.length, (off_t)p.offset) !=
		    (ssize_t)p.length)
			ret = -EIO;
		/* EAGAIN: the memory map is changing under us; try again. */
		while (!ret && (ret = pcram_dst_place_page(qp->dst, p.host, page)) == -EAGAIN)
			ret = 0;
		if (ret < 0) {
			/*
			 * The page will never come: poison it, so that the
			 * thread waiting for it gets SIGBUS instead of hanging
			 * (on kernels without UFFDIO_POISON it waits until
			 * pcram_dst_cleanup()).
			 */
			fprintf(stderr, "lazy_restore: page at %p: %s\n", p.host,
				pcram_dst_strerror(qp->dst));
			pcram_dst_poison(qp->dst, p.host);
		}
	}
}

/* ---- the restore -------------------------------------------------------- */

/* Read all of @ram (faulting it in) and compare it with the image. */
static uint64_t count_mismatches(const uint8_t *ram, uint64_t size, int fd)
{
	static uint8_t buf[1 << 16];
	uint64_t bad = 0;

	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		uint64_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		if (pread(fd, buf, n, (off_t)off) != (ssize_t)n)
			return size;
		for (uint64_t i = 0; i < n; i++)
			bad += ram[off + i] != buf[i];
	}
	return bad;
}

static void print_stats(struct pcram_dst *dst)
{
	struct pcram_thread_stats threads[8];
	struct pcram_dst_stats st;
	int n;

	if (pcram_dst_stats(dst, &st, sizeof(st)))
		return;
	printf("faults %" PRIu64 ", requests %" PRIu64 ", duplicates %" PRIu64
	       ", placed %" PRIu64 " (%" PRIu64 " zero), EAGAIN %" PRIu64 "\n",
	       st.faults, st.requests, st.duplicates, st.pages_placed,
	       st.zero_pages, st.eagain);
	printf("fault read -> placed: p50 %" PRIu64 " ns, p99 %" PRIu64 " ns, max %" PRIu64 " ns\n",
	       pcram_hist_quantile(&st.fault_to_placed, 0.5),
	       pcram_hist_quantile(&st.fault_to_placed, 0.99),
	       st.fault_to_placed.max);
	/* Needs UFFD_FEATURE_THREAD_ID; without it no thread is known. */
	n = pcram_dst_thread_stats(dst, threads, 8, sizeof(*threads));
	for (int i = 0; i < n && i < 8; i++)
		printf("thread %" PRIu32 " (vCPU %d): %" PRIu64 " faults, blocked %" PRIu64 " ns in all\n",
		       threads[i].tid, threads[i].vcpu, threads[i].faults,
		       threads[i].blocked_ns);
}

static int fail(struct pcram_dst *dst, const char *call, int err)
{
	fprintf(stderr, "lazy_restore: %s: %s\n", call,
		dst && *pcram_dst_strerror(dst) ? pcram_dst_strerror(dst) :
		strerror(-err));
	return 1;
}

int main(int argc, char **argv)
{
	struct queue_provider qp = {
		.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
	};
	bool queue = argc == 3 && !strcmp(argv[1], "--queue");
	const char *path = argv[argc - 1];
	struct pcram_dst *dst = NULL;
	pthread_t receiver;
	uint64_t size, bad;
	struct stat st;
	uint8_t *ram;
	int fd, ret;

	if (argc != 2 && !queue) {
		fprintf(stderr, "usage: lazy_restore [--queue] IMAGE\n");
		return 2;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		perror(path);
		return 1;
	}
	size = (uint64_t)st.st_size;
	if (!size || size % (uint64_t)sysconf(_SC_PAGESIZE)) {
		fprintf(stderr, "lazy_restore: %s: size is not a multiple of the page size\n",
			path);
		return 1;
	}

	/* The RAM to restore, mapped as a VMM maps guest RAM. */
	ram = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	ret = pcram_dst_new(&dst, NULL);	/* defaults: one fault thread */
	if (ret)
		return fail(NULL, "pcram_dst_new", ret);
	ret = pcram_dst_add_block(dst, &(struct pcram_block) {
		.name = "ram", .host = ram, .length = size,
		.type = PCRAM_BLOCK_ANON, .fd = -1,
	});
	if (ret)
		return fail(dst, "pcram_dst_add_block", ret);

	if (queue) {
		qp.dst = dst;
		qp.image_fd = fd;
		ret = pcram_dst_set_provider(dst, &(struct pcram_provider) {
			.request = queue_request, .event = queue_event,
			.opaque = &qp,
		});
	} else {
		ret = pcram_dst_use_image(dst, path, NULL);
	}
	if (ret)
		return fail(dst, queue ? "pcram_dst_set_provider" : "pcram_dst_use_image", ret);

	/* Empty the RAM, then watch it: from here on touches fault. */
	ret = pcram_dst_incoming_init(dst);
	if (ret)
		return fail(dst, "pcram_dst_incoming_init", ret);
	ret = pcram_dst_enable_notify(dst);
	if (ret)
		return fail(dst, "pcram_dst_enable_notify", ret);
	if (queue) {
		ret = pthread_create(&receiver, NULL, receiver_main, &qp);
		if (ret)
			return fail(dst, "pthread_create", -ret);
	}

	/* The guest runs; its faults are charged to "vCPU 0". */
	pcram_dst_set_vcpu(dst, (uint32_t)gettid(), 0);
	bad = count_mismatches(ram, size, fd);

	printf("%" PRIu64 " pages restored from %s by the %s provider; %" PRIu64 " missing, %" PRIu64 " bytes differ\n",
	       size / (uint64_t)sysconf(_SC_PAGESIZE), path,
	       queue ? "queue" : "image", pcram_dst_pages_missing(dst), bad);
	print_stats(dst);

	if (queue) {
		pthread_mutex_lock(&qp.lock);
		qp.stop = true;
		pthread_cond_signal(&qp.cond);
		pthread_mutex_unlock(&qp.lock);
		pthread_join(receiver, NULL);
	}
	/* Unregister and stop the fault thread; the RAM stays as it is. */
	ret = pcram_dst_cleanup(dst);
	if (ret)
		fail(dst, "pcram_dst_cleanup", ret);
	pcram_dst_free(dst);
	munmap(ram, size);
	close(fd);
	return bad || ret ? 1 : 0;
}
