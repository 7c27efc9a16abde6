/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by pcram's selftests: running commands, reading small
 * files, and telling whether pcram.ko is loaded. Include after
 * kselftest_harness.h.
 */
#ifndef PCRAM_SELFTESTS_COMMON_H
#define PCRAM_SELFTESTS_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * SKIP from FIXTURE_SETUP. Linux 6.1's harness runs the test body after a
 * plain SKIP(return) in setup; ending the test's child with 255, the exit
 * code its parent reads as a skip, stops it there with the reason kept.
 */
#define SETUP_SKIP(fmt, ...) SKIP(_exit(255), fmt, ##__VA_ARGS__)

#define PCRAM_NOT_LOADED "pcram.ko is not loaded (the VM runner loads it: 'make vmcheck')"

struct cmd_result {
	int status;		/* exit code, or 128 + signal */
	char out[65536];	/* stdout */
	char err[8192];		/* stderr */
};

static inline void read_whole(const char *path, char *buf, size_t size)
{
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
}

/* A loopback port nobody listens on now. */
static inline int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Seconds on the monotonic clock, for how long a command took. */
static inline double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run a shell command line; stdout and stderr are captured apart. */
static inline int run(struct cmd_result *r, const char *fmt, ...)
{
	char cmd[4096], line[4400];
	char out_path[] = "/tmp/pcram-test-out.XXXXXX";
	char err_path[] = "/tmp/pcram-test-err.XXXXXX";
	int ofd, efd, st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ofd = mkstemp(out_path);
	efd = mkstemp(err_path);
	if (ofd < 0 || efd < 0)
		return -1;
	close(ofd);
	close(efd);
	snprintf(line, sizeof(line), "(%s) >%s 2>%s", cmd, out_path, err_path);
	st = system(line);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	read_whole(out_path, r->out, sizeof(r->out));
	read_whole(err_path, r->err, sizeof(r->err));
	unlink(out_path);
	unlink(err_path);
	return r->status;
}

/*
 * The first line of `jq -r FILTER` on @json; jq's exit status (non-zero
 * when @json is not valid JSON) is returned.
 */
static inline int jq(char *val, size_t size, const char *json, const char *filter)
{
	char path[] = "/tmp/pcram-test-json.XXXXXX";
	struct cmd_result *r = malloc(sizeof(*r));
	int fd = mkstemp(path), ret;

	if (fd < 0 || !r || write(fd, json, strlen(json)) < 0) {
		free(r);
		return -1;
	}
	close(fd);
	ret = run(r, "jq -r '%s' %s", filter, path);
	unlink(path);
	r->out[strcspn(r->out, "\n")] = '\0';
	r->out[size - 1] = '\0';
	strcpy(val, r->out);
	free(r);
	return ret;
}

/* `jq -r FILTER` on @json as a number; ~0 when jq fails. */
static inline unsigned long long jq_u64(const char *json, const char *filter)
{
	char v[64] = "";

	if (jq(v, sizeof(v), json, filter))
		return ~0ULL;
	return strtoull(v, NULL, 0);
}

static inline bool pcram_loaded(void)
{
	return access("/sys/module/pcram", F_OK) == 0;
}

static inline int count_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static inline int count_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Become the unprivileged user nobody (in a child that will exit). */
static inline int drop_to_nobody(void)
{
	gid_t none[1] = { 65534 };

	if (setgroups(1, none) || setgid(65534) || setuid(65534))
		return -errno;
	return 0;
}

#endif /* PCRAM_SELFTESTS_COMMON_H */
