// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The destination engine's object: its making and freeing, its error
 * message, and the stages it goes through, incoming_init ->
 * prepare_discard -> discard_range -> enable_notify -> cleanup. The blocks
 * are dst_block.c's, emptying memory dst_discard.c's, and the userfaultfd
 * dst_register.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dst.h"

static const char *const state_names[] = {
	[DST_NEW] = "new",
	[DST_INIT] = "after incoming_init",
	[DST_NOTIFY] = "after enable_notify",
	[DST_CLEANED] = "after cleanup",
};

int dst_error(struct pcram_dst *dst, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lib_error_vset(&dst->error, err, fmt, ap);
	va_end(ap);
	return err;
}

int dst_wrong_stage(struct pcram_dst *dst, const char *call)
{
	return dst_error(dst, -EBUSY, "%s: not allowed %s", call,
			 state_names[dst->state]);
}

PCRAM_EXPORT
const char *pcram_dst_strerror(const struct pcram_dst *dst)
{
	return dst ? lib_error_get(&dst->error) : "no pcram_dst";
}

static bool options_valid(const struct pcram_dst_options *opts)
{
	if (opts->flags & ~PCRAM_DST_F_ALL)
		return false;
	if (opts->flags & PCRAM_DST_F_REQUIRE_MODULE && opts->flags & PCRAM_DST_F_NO_MODULE)
		return false;
	return !opts->vm_name || strlen(opts->vm_name) < PCRAM_VM_NAME_MAX;
}

static void dst_init(struct pcram_dst *dst, const struct pcram_dst_options *opts)
{
	dst->flags = opts->flags;
	dst->nr_fault_threads = opts->fault_threads ? opts->fault_threads : 1;
	dst->uffd = -1;
	dst->module_fd = -1;
	if (opts->vm_name && opts->vm_name[0])
		snprintf(dst->vm_name, sizeof(dst->vm_name), "%s", opts->vm_name);
	else
		snprintf(dst->vm_name, sizeof(dst->vm_name), "pcram-%d", (int)getpid());
	dst->pagemap_fd = -1;
	pthread_mutex_init(&dst->ready_lock, NULL);
	pthread_cond_init(&dst->ready_cond, NULL);
	pthread_mutex_init(&dst->pages_lock, NULL);
	pthread_mutex_init(&dst->track_lock, NULL);
	lib_error_init(&dst->error);
	pthread_mutex_init(&dst->own_lock, NULL);
}

PCRAM_EXPORT
int pcram_dst_new(struct pcram_dst **out, const struct pcram_dst_options *opts)
{
	struct pcram_dst_options def = { 0 };
	struct pcram_dst *dst;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!opts)
		opts = &def;
	if (!options_valid(opts))
		return -EINVAL;
	if (opts->fault_threads > PCRAM_MAX_FAULT_THREADS)
		return -E2BIG;

	dst = calloc(1, sizeof(*dst));
	if (!dst)
		return -ENOMEM;
	dst_init(dst, opts);
	if (dst_track_alloc(dst)) {
		pcram_dst_free(dst);
		return -ENOMEM;
	}
	*out = dst;
	return 0;
}

PCRAM_EXPORT
void pcram_dst_free(struct pcram_dst *dst)
{
	if (!dst)
		return;
	pcram_dst_cleanup(dst);
	dst_blocks_free(dst);
	dst_image_free(dst);
	dst_track_free(dst);
	pthread_mutex_destroy(&dst->ready_lock);
	pthread_cond_destroy(&dst->ready_cond);
	pthread_mutex_destroy(&dst->pages_lock);
	pthread_mutex_destroy(&dst->track_lock);
	lib_error_destroy(&dst->error);
	pthread_mutex_destroy(&dst->own_lock);
	free(dst);
}

PCRAM_EXPORT
int pcram_dst_set_provider(struct pcram_dst *dst,
			   const struct pcram_provider *provider)
{
	if (!dst || !provider || !provider->request)
		return -EINVAL;
	if (dst->state >= DST_NOTIFY)
		return dst_wrong_stage(dst, "set_provider");
	dst_image_free(dst);	/* a provider replaces the image's */
	dst->provider = *provider;
	return 0;
}
