/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* The pcram_kmod handle, as the rest of the library uses it. */
#ifndef PCRAM_LIB_KMOD_GENL_H
#define PCRAM_LIB_KMOD_GENL_H

#include <stddef.h>
#include <pcram.h>

/*
 * @k's last message into @buf: for a message of another object made on a
 * caller's thread, where pcram_kmod_strerror() would replace a copy the
 * caller may still hold.
 */
void kmod_error_copy(const struct pcram_kmod *k, char *buf, size_t len);

#endif /* PCRAM_LIB_KMOD_GENL_H */
