// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmt.h"
#include "output.h"

void out_init(struct output *o, FILE *fp, bool json)
{
	const char *keys = getenv("PCRAM_OUTPUT_KEYS");

	memset(o, 0, sizeof(*o));
	o->fp = fp;
	o->json = json;
	json_init(&o->j, fp);
	if (keys && *keys)
		o->keys = fopen(keys, "ae");
}

void out_finish(struct output *o)
{
	if (o->json)
		json_finish(&o->j);
	fflush(o->fp);
	if (o->keys)
		fclose(o->keys);
	o->keys = NULL;
}

/* Whether a field of kind @k comes out in this mode. */
static bool shown(const struct output *o, enum out_kind k)
{
	return k == OUT_ANY || (k == OUT_JSON) == o->json;
}

/* The field's path to PCRAM_OUTPUT_KEYS: an array's elements are "[]". */
static void trace(const struct output *o, const char *key)
{
	if (o->keys)
		fprintf(o->keys, "%s%s\n", o->path, key ? key : "[]");
}

static void push(struct output *o, const char *key)
{
	size_t len = strlen(o->path);
	bool root = !o->depth && !key;	/* the document: no path of its own */

	if (!root)
		trace(o, key);
	if (o->depth < JSON_MAX_DEPTH - 1) {
		o->mark[o->depth++] = len;
		if (!root)
			snprintf(o->path + len, sizeof(o->path) - len, "%s/", key ? key : "[]");
	}
}

static void pop(struct output *o)
{
	if (o->depth > 0)
		o->path[o->mark[--o->depth]] = '\0';
}

static void open_container(struct output *o, const char *key, bool array)
{
	push(o, key);
	if (o->json && array)
		json_open_array(&o->j, key);
	else if (o->json)
		json_open_object(&o->j, key);
}

static void close_container(struct output *o, bool array)
{
	pop(o);
	if (o->json && array)
		json_close_array(&o->j);
	else if (o->json)
		json_close_object(&o->j);
}

void out_open_object(struct output *o, const char *key)
{
	open_container(o, key, false);
}

void out_close_object(struct output *o)
{
	close_container(o, false);
}

void out_open_array(struct output *o, const char *key)
{
	open_container(o, key, true);
}

void out_close_array(struct output *o)
{
	close_container(o, true);
}

void out_nl(struct output *o)
{
	if (!o->json)
		fputc('\n', o->fp);
}

void out_text(struct output *o, const char *fmt, ...)
{
	va_list ap;

	if (o->json)
		return;
	va_start(ap, fmt);
	vfprintf(o->fp, fmt, ap);
	va_end(ap);
}

/*
 * Whether the field comes out, and in text whether through @fmt; the
 * key is traced either way. The caller writes JSON itself.
 */
static bool begin(struct output *o, enum out_kind k, const char *key)
{
	if (!shown(o, k))
		return false;
	trace(o, key);
	return true;
}

/* @fmt has one conversion; the callers pass it the type it names. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

void out_u64(struct output *o, enum out_kind k, const char *key, const char *fmt, uint64_t v)
{
	if (!begin(o, k, key))
		return;
	if (o->json)
		json_u64(&o->j, key, v);
	else
		fprintf(o->fp, fmt, v);
}

void out_int(struct output *o, enum out_kind k, const char *key, const char *fmt, int64_t v)
{
	if (!begin(o, k, key))
		return;
	if (o->json)
		json_int(&o->j, key, v);
	else
		fprintf(o->fp, fmt, v);
}

void out_string(struct output *o, enum out_kind k, const char *key, const char *fmt,
		const char *s)
{
	if (!begin(o, k, key))
		return;
	if (o->json)
		json_string(&o->j, key, s);
	else if (s)
		fprintf(o->fp, fmt, s);
}

void out_bool(struct output *o, enum out_kind k, const char *key, const char *fmt, bool v,
	      const char *yes, const char *no)
{
	if (!begin(o, k, key))
		return;
	if (o->json)
		json_bool(&o->j, key, v);
	else
		fprintf(o->fp, fmt, v ? yes : no);
}

void out_double(struct output *o, enum out_kind k, const char *key, const char *fmt,
		double v, int decimals)
{
	if (!begin(o, k, key))
		return;
	if (o->json)
		json_double(&o->j, key, v, decimals);
	else
		fprintf(o->fp, fmt, v);
}

void out_u64_as(struct output *o, enum out_kind k, const char *key, const char *fmt,
		uint64_t v, const char *text)
{
	if (!begin(o, k, key))
		return;
	if (o->json)
		json_u64(&o->j, key, v);
	else
		fprintf(o->fp, fmt, text);
}

void out_ns(struct output *o, enum out_kind k, const char *key, const char *fmt, uint64_t ns)
{
	char buf[32];

	out_u64_as(o, k, key, fmt, ns, human_ns(buf, sizeof(buf), ns));
}

void out_bytes(struct output *o, enum out_kind k, const char *key, const char *fmt,
	       uint64_t bytes)
{
	char buf[32];

	out_u64_as(o, k, key, fmt, bytes, human_bytes(buf, sizeof(buf), bytes));
}

void out_time(struct output *o, enum out_kind k, const char *key, const char *fmt,
	      uint64_t ns, bool valid)
{
	time_t t = (time_t)(ns / 1000000000ULL);
	char when[64] = "";
	struct tm tm;

	if (!begin(o, k, key))
		return;
	if (o->json) {
		if (valid)
			json_u64(&o->j, key, ns);
		else
			json_null(&o->j, key);
		return;
	}
	if (!valid)
		return;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(o->fp, fmt, when);
}

#pragma GCC diagnostic pop

void out_names(struct output *o, const char *key, uint64_t mask,
	       const char *(*name)(unsigned int bit), const char *unknown, const char *sep)
{
	const char *s;
	char buf[24];
	bool first = true;

	out_open_array(o, key);
	for (unsigned int bit = 0; bit < 64; bit++) {
		if (!(mask & (1ULL << bit)))
			continue;
		s = name(bit);
		if (!s) {
			snprintf(buf, sizeof(buf), unknown, bit);
			s = buf;
		}
		out_text(o, "%s", first ? "" : sep);
		out_string(o, OUT_ANY, NULL, "%s", s);
		first = false;
	}
	out_close_array(o);
}

void out_hist_ns(struct output *o, const char *key, const char *bound_key, bool le,
		 const uint64_t *bucket, int n, const char *indent)
{
	out_open_array(o, key);
	for (int i = 0; i < n; i++) {
		uint64_t bound = i < 63 ? 2ULL << i : UINT64_MAX;

		if (!bucket[i])
			continue;
		/* No text of their own: the bars below show both, a bar a bucket. */
		out_open_object(o, NULL);
		out_u64(o, OUT_ANY, bound_key, "", le && i < 63 ? bound - 1 : bound);
		out_u64(o, OUT_ANY, "count", "", bucket[i]);
		out_close_object(o);
	}
	out_close_array(o);
	if (!o->json)
		hist_bars(o->fp, bucket, n, indent);
}
