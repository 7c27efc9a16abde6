// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Addresses, sizes and the source's RAM for 'pcram serve', 'recv' and
 * 'demo'.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate.h"

/* Split "HOST:PORT" / "[V6]:PORT" / ":PORT" into @host and @port. */
static int split(const char *addr, char *host, size_t hl, char *port, size_t pl,
		 char *err, size_t errlen)
{
	const char *colon = strrchr(addr, ':');
	size_t n;

	if (!colon || !colon[1]) {
		snprintf(err, errlen, "'%s': give HOST:PORT", addr);
		return -1;
	}
	n = (size_t)(colon - addr);
	if (n && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n >= hl || strlen(colon + 1) >= pl) {
		snprintf(err, errlen, "'%s': too long", addr);
		return -1;
	}
	memcpy(host, addr, n);
	host[n] = 0;
	strcpy(port, colon + 1);
	return 0;
}

static int resolve(const char *addr, bool passive, struct addrinfo **res, char *err,
		   size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = passive ? AI_PASSIVE : 0,
	};
	char host[256], port[32];
	int ret;

	if (split(addr, host, sizeof(host), port, sizeof(port), err, errlen))
		return -1;
	ret = getaddrinfo(host[0] ? host : NULL, port, &hints, res);
	if (ret) {
		snprintf(err, errlen, "'%s': %s", addr, gai_strerror(ret));
		return -1;
	}
	return 0;
}

int addr_listen(const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, one = 1, e = 0;

	if (resolve(addr, true, &res, err, errlen))
		return -1;
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 8)) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "listening on %s: %s", addr, strerror(e ? e : errno));
	return fd;
}

/* connect(), giving up after @timeout_ms: 0, or an errno. */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len,
			  unsigned int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int e = 0, flags = fcntl(fd, F_GETFL);
	socklen_t elen = sizeof(e);

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	if (connect(fd, sa, len)) {
		e = errno;
		if (e == EINPROGRESS) {
			int n = poll(&p, 1, (int)timeout_ms);

			if (n == 0)
				e = ETIMEDOUT;
			else if (n < 0)
				e = errno;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen))
				e = errno;
		}
	}
	fcntl(fd, F_SETFL, flags);
	return e;
}

int addr_connect(const char *addr, unsigned int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, one = 1, e = 0;

	if (resolve(addr, false, &res, err, errlen))
		return -1;
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		e = connect_within(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
		if (e) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "connecting to %s: %s", addr, strerror(e ? e : errno));
		return -1;
	}
	/* Requests are small and must not wait for more to come. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int addr_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || *s == '-')
		return -1;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

int parse_pattern(const char *s, enum access_pattern *p, const char **trace)
{
	static const char *const names[] = {
		[PATTERN_SEQUENTIAL] = "sequential", [PATTERN_RANDOM] = "random",
		[PATTERN_ZIPF] = "zipf",
	};

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i] && !strcmp(s, names[i])) {
			*p = (enum access_pattern)i;
			return 0;
		}
	}
	if (trace && !strncmp(s, "trace:", 6) && s[6]) {
		*p = PATTERN_TRACE;
		*trace = s + 6;
		return 0;
	}
	return -1;
}

/* A 64-bit mix: the pattern's words, the same on every run. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x | 1;
}

void ram_fill(uint8_t *p, uint64_t first_page, uint64_t npages, uint64_t page_size)
{
	for (uint64_t k = 0; k < npages; k++) {
		uint64_t *w = (uint64_t *)(p + k * page_size), pg = first_page + k;

		if (pg % 8 == 7) {
			memset(w, 0, page_size);
			continue;
		}
		/* One word in 64 varies: fast to make, never a zero page. */
		for (uint64_t i = 0; i < page_size / 8; i++)
			w[i] = i % 64 ? pg << 20 | i : mix(pg << 20 | i);
	}
}

static long read_long(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "re");
	long v = -1;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = strtol(buf, NULL, 10);
		fclose(f);
	}
	return v;
}

long huge_pages_available(uint64_t page_size, long *total)
{
	char path[128];
	long free_pages, resv;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/",
		 (unsigned long long)(page_size >> 10));
	strcat(path, "nr_hugepages");
	*total = read_long(path);
	strcpy(strrchr(path, '/') + 1, "free_hugepages");
	free_pages = read_long(path);
	strcpy(strrchr(path, '/') + 1, "resv_hugepages");
	resv = read_long(path);
	if (free_pages < 0)
		return -1;
	/* Free pages promised to mappings already are not ours to take. */
	if (resv > 0)
		free_pages = free_pages > resv ? free_pages - resv : 0;
	return free_pages;
}

int huge_pool_check(uint64_t bytes, uint64_t page_size, const char *what,
		    char *err, size_t errlen)
{
	uint64_t need = bytes / page_size;
	long total, avail = huge_pages_available(page_size, &total);

	if (avail < 0) {
		snprintf(err, errlen, "%s: this kernel has no %llu KiB huge page pool",
			 what, (unsigned long long)(page_size >> 10));
		return -1;
	}
	if ((uint64_t)avail >= need)
		return 0;
	snprintf(err, errlen, "%s: %llu MiB of %llu KiB huge pages needs %llu free in the pool,"
		 " which has %ld (of %ld); reserve them first: sysctl vm.nr_hugepages=%llu",
		 what, (unsigned long long)(bytes >> 20), (unsigned long long)(page_size >> 10),
		 (unsigned long long)need, avail, total,
		 (unsigned long long)((uint64_t)total + need - (uint64_t)avail));
	return -1;
}

int ram_open(struct ram *r, const char *image, uint64_t size, uint64_t page_size,
	     char *err, size_t errlen)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, fd = -1;
	bool created = image && size;

	memset(r, 0, sizeof(*r));
	r->page_size = page_size;
	if (page_size != 4096 && page_size != (2 << 20)) {
		snprintf(err, errlen, "page size %llu: 4k or 2m",
			 (unsigned long long)page_size);
		return -1;
	}
	if (image) {
		struct stat st;

		fd = open(image, O_RDWR | O_CLOEXEC | (size ? O_CREAT | O_TRUNC : 0), 0600);
		if (fd < 0 || fstat(fd, &st)) {
			snprintf(err, errlen, "%s: %s", image, strerror(errno));
			goto fail;
		}
		if (size && ftruncate(fd, (off_t)size)) {
			snprintf(err, errlen, "%s: %s", image, strerror(errno));
			goto fail;
		}
		if (!size)
			size = (uint64_t)st.st_size;
		if (!size || size % page_size) {
			snprintf(err, errlen, "%s: %llu bytes, not a whole number of %llu-byte pages",
				 image, (unsigned long long)size, (unsigned long long)page_size);
			goto fail;
		}
		flags = MAP_SHARED;
	} else if (!size || size % page_size) {
		snprintf(err, errlen, "size %llu: a whole number of %llu-byte pages",
			 (unsigned long long)size, (unsigned long long)page_size);
		return -1;
	} else if (page_size != 4096) {
		/*
		 * Reserved at mmap, not MAP_NORESERVE: an empty pool is this
		 * error now, not a SIGBUS when the pattern is written.
		 */
		if (huge_pool_check(size, page_size, "the RAM", err, errlen))
			return -1;
		flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT);
	}
	r->host = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (r->host == MAP_FAILED) {
		snprintf(err, errlen, "mapping %llu bytes%s: %s", (unsigned long long)size,
			 flags & MAP_HUGETLB ? " of 2 MiB pages (free huge pages: "
			 "sysctl vm.nr_hugepages)" : "", strerror(errno));
		r->host = NULL;
		goto fail;
	}
	r->length = size;
	/* Anonymous memory, or a new image: the pattern. */
	if (!image || created)
		ram_fill(r->host, 0, size / page_size, page_size);
	if (fd >= 0)
		close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

void ram_close(struct ram *r)
{
	if (r->host)
		munmap(r->host, r->length);
	r->host = NULL;
}
