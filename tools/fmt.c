// SPDX-License-Identifier: GPL-2.0-or-later
#include <inttypes.h>
#include <string.h>

#include "fmt.h"

const char *human_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", (double)ns / 1e9);
	return buf;
}

const char *human_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

bool hist_span(const uint64_t *bucket, int n, int *lo, int *hi, uint64_t *most)
{
	*lo = *hi = -1;
	*most = 0;
	for (int i = 0; i < n; i++) {
		if (!bucket[i])
			continue;
		if (*lo < 0)
			*lo = i;
		*hi = i;
		if (bucket[i] > *most)
			*most = bucket[i];
	}
	return *lo >= 0;
}

void hist_row(char *buf, size_t len, uint64_t count, int i, uint64_t most,
	      int width, const char *glyph)
{
	int w = most ? (int)(count * (uint64_t)width / most) : 0;
	size_t glen = strlen(glyph), off;
	char label[32];

	/* The upper bound: the bucket holds [2^i, 2^(i+1)) ns. */
	off = (size_t)snprintf(buf, len, "< %-9s |",
			       human_ns(label, sizeof(label), i < 63 ? 2ULL << i : UINT64_MAX));
	for (int c = 0; c < width && off + glen < len; c++) {
		const char *cell = c < w ? glyph : (c == 0 && count ? "." : " ");

		memcpy(buf + off, cell, strlen(cell));
		off += strlen(cell);
	}
	if (off < len)
		snprintf(buf + off, len - off, " %" PRIu64, count);
	else if (len)
		buf[len - 1] = '\0';
}

void hist_bars(FILE *out, const uint64_t *bucket, int n, const char *indent)
{
	uint64_t most;
	char line[512];
	int lo, hi;

	if (!hist_span(bucket, n, &lo, &hi, &most))
		return;
	for (int i = lo; i <= hi; i++) {
		hist_row(line, sizeof(line), bucket[i], i, most, 40, "#");
		fprintf(out, "%s%s\n", indent, line);
	}
}
