/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Numbers for people: durations, and log2 histograms drawn as bars.
 */
#ifndef PCRAM_TOOLS_FMT_H
#define PCRAM_TOOLS_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "812 ns", "41.2 us", "3.10 ms", "1.24 s" */
const char *human_ns(char *buf, size_t len, uint64_t ns);

/* "512 B", "4.0 KiB", "1.5 GiB" */
const char *human_bytes(char *buf, size_t len, uint64_t bytes);

/*
 * The buckets of a log2 histogram that hold something: the first (*lo),
 * the last (*hi) and the largest count (*most). False when it is empty.
 */
bool hist_span(const uint64_t *bucket, int n, int *lo, int *hi, uint64_t *most);

/*
 * Bucket @i of a log2 histogram of nanoseconds as one line, without a
 * newline: "< 4.1 us    |#####          1234", its bar @width cells at
 * @most; a bucket too small for one cell shows a '.'. @glyph is one
 * cell of the bar (such as "#", or a UTF-8 block).
 */
void hist_row(char *buf, size_t len, uint64_t count, int i, uint64_t most,
	      int width, const char *glyph);

/* Every bucket from the first to the last that holds something, indented. */
void hist_bars(FILE *out, const uint64_t *bucket, int n, const char *indent);

#endif /* PCRAM_TOOLS_FMT_H */
