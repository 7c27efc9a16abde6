// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#include <stdio.h>
#include <string.h>

#include "error.h"

void lib_error_init(struct lib_error *e)
{
	pthread_mutex_init(&e->lock, NULL);
	e->text[0] = '\0';
}

void lib_error_destroy(struct lib_error *e)
{
	pthread_mutex_destroy(&e->lock);
}

int lib_error_vset(struct lib_error *e, int err, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&e->lock);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	pthread_mutex_unlock(&e->lock);
	return err;
}

int lib_error_set(struct lib_error *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lib_error_vset(e, err, fmt, ap);
	va_end(ap);
	return err;
}

void lib_error_copy(const struct lib_error *e, char *buf, size_t len)
{
	struct lib_error *w = (struct lib_error *)e;	/* the lock only */

	pthread_mutex_lock(&w->lock);
	snprintf(buf, len, "%s", e->text);
	pthread_mutex_unlock(&w->lock);
}

const char *lib_error_get(const struct lib_error *e)
{
	/*
	 * Per thread, not per object: the caller may read it after the
	 * object is freed, and no lock is held once we return.
	 */
	static __thread char copy[LIB_ERROR_LEN];

	lib_error_copy(e, copy, sizeof(copy));
	return copy;
}
