/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A streaming JSON writer, in the spirit of iproute2's json_writer: the
 * caller opens and closes objects and arrays; commas and escaping are ours.
 */
#ifndef PCRAM_TOOLS_JSON_H
#define PCRAM_TOOLS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *out;
	int depth;
	bool first[JSON_MAX_DEPTH];	/* nothing written yet at this depth */
};

void json_init(struct json *j, FILE *out);
void json_open_object(struct json *j, const char *key);
void json_close_object(struct json *j);
void json_open_array(struct json *j, const char *key);
void json_close_array(struct json *j);
void json_string(struct json *j, const char *key, const char *value);
void json_u64(struct json *j, const char *key, uint64_t value);
void json_int(struct json *j, const char *key, int64_t value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);
/* A number with @decimals digits after the point; null if not finite. */
void json_double(struct json *j, const char *key, double value, int decimals);
/* End the document with a newline. */
void json_finish(struct json *j);

#endif /* PCRAM_TOOLS_JSON_H */
