/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The one error message of a libpcram object: set by any thread on a
 * failure, read by any thread through the object's strerror call. One
 * rule: the text is written and read only under its lock, and a reader
 * gets a copy of its own (per thread), so a failure on another thread
 * cannot change a string the caller is still reading.
 */
#ifndef PCRAM_LIB_ERROR_H
#define PCRAM_LIB_ERROR_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

#define LIB_ERROR_LEN 512

struct lib_error {
	pthread_mutex_t lock;
	char text[LIB_ERROR_LEN];
};

void lib_error_init(struct lib_error *e);
void lib_error_destroy(struct lib_error *e);

/* Replace the text (printf-style); returns @err, for 'return lib_error_set(...)'. */
int lib_error_set(struct lib_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int lib_error_vset(struct lib_error *e, int err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * The text as it is now, copied into a buffer of this thread's for @e:
 * valid until this thread reads @e's message again, or the messages of
 * four other objects. "" when none was set.
 */
const char *lib_error_get(const struct lib_error *e);

/*
 * The same into @buf (@len > 0): for the library's own messages built from
 * another object's, made on a caller's thread, which must not overwrite
 * the copy that thread may still hold from its last strerror call.
 */
void lib_error_copy(const struct lib_error *e, char *buf, size_t len);

#endif /* PCRAM_LIB_ERROR_H */
