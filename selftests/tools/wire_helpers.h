/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the tests that run wire_proxy and wire_peer share: a free port,
 * those two programs on PATH (they are built next to the test binaries,
 * here and in the VM alike), and reading what the runs left in files.
 * Include after common.h.
 */
#ifndef PCRAM_SELFTESTS_WIRE_HELPERS_H
#define PCRAM_SELFTESTS_WIRE_HELPERS_H

#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

/*
 * Put the directory of this test binary first on PATH, where the build
 * puts wire_proxy and wire_peer: 0, or -1 when they are not there.
 */
static inline int wire_helpers_on_path(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 8192], p1[PATH_MAX + 32], p2[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *dir;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	dir = dirname(exe);
	snprintf(p1, sizeof(p1), "%s/wire_proxy", dir);
	snprintf(p2, sizeof(p2), "%s/wire_peer", dir);
	if (access(p1, X_OK) || access(p2, X_OK))
		return -1;
	snprintf(path, sizeof(path), "%s:%s", dir, getenv("PATH") ?: "/usr/bin:/bin");
	return setenv("PATH", path, 1);
}

/* @dir/@name whole (up to @size - 1 bytes), "" when missing. */
static inline void read_in(const char *dir, const char *name, char *buf, size_t size)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	read_whole(path, buf, size);
}

/* The number in @dir/@name (an exit status, a time), or @dflt. */
static inline double num_in(const char *dir, const char *name, double dflt)
{
	char buf[64], *end;
	double v;

	read_in(dir, name, buf, sizeof(buf));
	v = strtod(buf, &end);
	return end == buf ? dflt : v;
}

#endif /* PCRAM_SELFTESTS_WIRE_HELPERS_H */
