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

/*
 * Copies kept per thread, one per object for the last few objects read:
 * no lock is held once we return, another thread's failure cannot change
 * a string this thread reads, and one printf may quote several objects'
 * messages, as it could when each object handed out its own buffer.
 */
#define LIB_ERROR_COPIES 4

struct error_copy {
	const struct lib_error *owner;
	char text[LIB_ERROR_LEN];
};

const char *lib_error_get(const struct lib_error *e)
{
	static __thread struct error_copy copies[LIB_ERROR_COPIES];
	static __thread unsigned int next;
	struct error_copy *c = NULL;

	for (unsigned int i = 0; i < LIB_ERROR_COPIES && !c; i++)
		if (copies[i].owner == e)
			c = &copies[i];
	if (!c) {
		c = &copies[next++ % LIB_ERROR_COPIES];
		c->owner = e;
	}
	lib_error_copy(e, c->text, sizeof(c->text));
	return c->text;
}
