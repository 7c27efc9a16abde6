/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libpcram's ABI across releases (Documentation/lib.rst, "ABI").
 *
 * A call that fills a caller's struct takes the caller's sizeof: a struct
 * may then grow at its end without a program built against an older
 * pcram.h having its memory written past. The calls of 0.1.0 took no
 * size; their old entry points stay, as non-default symbol versions
 * (lib/compat.c), and pass the size their callers' structs had.
 */
#ifndef PCRAM_COMPAT_H
#define PCRAM_COMPAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "pcram.h"

/*
 * The definition of @api that follows is its version @node, the default
 * one: what every program links to from now on. The plain name is
 * removed, since the version script cannot tell it from the older
 * version the same name has in a released node.
 */
#define PCRAM_DEFAULT_VERSION(api, node) \
	__asm__(".symver " #api ", " #api "@@@" #node ", remove")
/*
 * @impl is exported as @api@@node, a version kept only for the programs
 * already linked to it. @impl must be PCRAM_EXPORT: the versioned name
 * takes its visibility, and the version script keeps @impl itself local.
 */
#define PCRAM_COMPAT_VERSION(impl, api, node) \
	__asm__(".symver " #impl ", " #api "@" #node)

#define PCRAM_END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/*
 * The structs as released in 0.1.0 end at these members: the least a
 * caller may pass, and what the 0.1 entry points fill. Fields added later
 * go after them, so the offsets stay true. (Tail padding is left out: a
 * caller's struct has it, and nobody reads it.)
 */
#define PCRAM_PROBE_RESULT_SIZE_0_1 PCRAM_END_OF(struct pcram_probe_result, diagnosis)
#define PCRAM_DST_STATS_SIZE_0_1 PCRAM_END_OF(struct pcram_dst_stats, fault_to_placed)
#define PCRAM_KERNEL_STATS_SIZE_0_1 PCRAM_END_OF(struct pcram_kernel_stats, batch_errors)
#define PCRAM_BLOCK_STATS_SIZE_0_1 PCRAM_END_OF(struct pcram_block_stats, pages_missing)
#define PCRAM_SRC_STATS_SIZE_0_1 PCRAM_END_OF(struct pcram_src_stats, verified_differ)
#define PCRAM_IN_STATS_SIZE_0_1 PCRAM_END_OF(struct pcram_in_stats, complete_ns)

/*
 * pcram_dst_thread_stats() fills an array, so the 0.1 callers' stride is
 * the whole struct with its tail padding: a frozen copy gives its sizeof.
 */
struct pcram_thread_stats_0_1 {
	uint32_t tid;
	int vcpu;
	uint64_t faults;
	uint64_t blocked_ns;
	uint64_t max_ns;
};
_Static_assert(offsetof(struct pcram_thread_stats, max_ns) ==
	       offsetof(struct pcram_thread_stats_0_1, max_ns),
	       "struct pcram_thread_stats: a released field moved");
#define PCRAM_THREAD_STATS_SIZE_0_1 sizeof(struct pcram_thread_stats_0_1)

/*
 * Copy the @have bytes the library filled to a caller's struct of @size
 * bytes: what both know of; and, for a caller built against a newer
 * header than this library's, zeros up to @size, so that the fields only
 * it knows read 0 instead of stack garbage. Never a byte past @size.
 */
static inline void pcram_copy_out(void *to, size_t size, const void *from, size_t have)
{
	memcpy(to, from, size < have ? size : have);
	if (size > have)
		memset((char *)to + have, 0, size - have);
}

#endif /* PCRAM_COMPAT_H */
