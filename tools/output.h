/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One output path for text and JSON, in the manner of iproute2's
 * json_print: a command writes each field once, with its JSON key and
 * its text format, and the mode chosen when the output was opened decides
 * which of the two comes out. A field cannot then be in one form and
 * missing from the other, or differ in value, unless its call says so
 * (OUT_JSON, OUT_TEXT).
 *
 * In text mode, objects and arrays print nothing and out_nl() ends a
 * line; in JSON mode, text formats and out_nl() are ignored. Every text
 * format takes exactly one argument, of the type its function names.
 *
 * With PCRAM_OUTPUT_KEYS=FILE in the environment, the path of every field
 * written ("vms/[]/faults/count") is appended to FILE, in either mode:
 * the tests compare the text's with the JSON's keys, so that drift fails.
 */
#ifndef PCRAM_TOOLS_OUTPUT_H
#define PCRAM_TOOLS_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

enum out_kind {
	OUT_ANY,	/* the field, in whichever form */
	OUT_JSON,	/* JSON only: the text says it another way */
	OUT_TEXT,	/* text only */
};

struct output {
	FILE *fp;
	bool json;
	struct json j;
	FILE *keys;			/* PCRAM_OUTPUT_KEYS, or NULL */
	char path[256];			/* the open objects and arrays */
	size_t mark[JSON_MAX_DEPTH];	/* path's length at each depth */
	int depth;
};

/* Begin a document (one JSON object, or one block of text) on @fp. */
void out_init(struct output *o, FILE *fp, bool json);
/* End it: JSON's newline, and a flush either way. */
void out_finish(struct output *o);

void out_open_object(struct output *o, const char *key);
void out_close_object(struct output *o);
void out_open_array(struct output *o, const char *key);
void out_close_array(struct output *o);

/* A newline, in text only. */
void out_nl(struct output *o);
/* Words between fields, in text only. */
void out_text(struct output *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void out_u64(struct output *o, enum out_kind k, const char *key, const char *fmt, uint64_t v);
void out_int(struct output *o, enum out_kind k, const char *key, const char *fmt, int64_t v);
/* NULL is JSON's null, and no text. */
void out_string(struct output *o, enum out_kind k, const char *key, const char *fmt,
		const char *s);
/* A boolean: in text @yes or @no through @fmt (a %s). */
void out_bool(struct output *o, enum out_kind k, const char *key, const char *fmt, bool v,
	      const char *yes, const char *no);
/* @decimals digits after the point in JSON; the text has its own format (%f, %g). */
void out_double(struct output *o, enum out_kind k, const char *key, const char *fmt,
		double v, int decimals);
/* A number in JSON; in text @text, the way people read it, through @fmt's %s. */
void out_u64_as(struct output *o, enum out_kind k, const char *key, const char *fmt,
		uint64_t v, const char *text);
/* ns: the number in JSON, "41.2 us" (human_ns) through @fmt's %s in text. */
void out_ns(struct output *o, enum out_kind k, const char *key, const char *fmt, uint64_t ns);
/* Bytes: the number in JSON, "4.0 KiB" (human_bytes) through @fmt's %s in text. */
void out_bytes(struct output *o, enum out_kind k, const char *key, const char *fmt,
	       uint64_t bytes);
/*
 * A CLOCK_REALTIME time in ns: the number in JSON (null when not @valid),
 * the local time "2024-05-01 10:00:00" through @fmt's %s in text (nothing
 * when not @valid).
 */
void out_time(struct output *o, enum out_kind k, const char *key, const char *fmt,
	      uint64_t ns, bool valid);

/*
 * The set bits of @mask by name, as an array @key: in text joined by
 * @sep. @name gives a bit's name or NULL; then "@unknown" with the bit's
 * number ("bit_%u").
 */
void out_names(struct output *o, const char *key, uint64_t mask,
	       const char *(*name)(unsigned int bit), const char *unknown, const char *sep);

/*
 * The buckets of a log2 histogram that hold something, as an array @key
 * of objects {@bound_key: the bucket's bound, "count"}; @le: the bound is
 * the largest value the bucket holds (2^(i+1)-1), else the first it does
 * not (2^(i+1)). In text, bars of ns (hist_bars), @indent deep.
 */
void out_hist_ns(struct output *o, const char *key, const char *bound_key, bool le,
		 const uint64_t *bucket, int n, const char *indent);

#endif /* PCRAM_TOOLS_OUTPUT_H */
