// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The entry points of pcram 0.1.0 whose calls changed since: programs
 * linked to that release call these (symbol version PCRAM_0.1), with the
 * structs of its header, so each passes the size those structs had.
 * Nothing else links to them: the header declares the current calls.
 */
#include "compat.h"
#include "internal.h"

/*
 * The current calls, under other names in C: libabigail would take a
 * declaration of the public name here for the function itself, and lose
 * its definition, and version PCRAM_0.3, from the ABI it reads.
 */
extern __typeof__(pcram_probe) probe_sized __asm__("pcram_probe");
extern __typeof__(pcram_dst_stats) dst_stats_sized __asm__("pcram_dst_stats");
extern __typeof__(pcram_dst_kernel_stats) dst_kernel_stats_sized __asm__("pcram_dst_kernel_stats");
extern __typeof__(pcram_dst_thread_stats) dst_thread_stats_sized __asm__("pcram_dst_thread_stats");
extern __typeof__(pcram_dst_block_stats) dst_block_stats_sized __asm__("pcram_dst_block_stats");
extern __typeof__(pcram_src_stats) src_stats_sized __asm__("pcram_src_stats");
extern __typeof__(pcram_in_stats) in_stats_sized __asm__("pcram_in_stats");

int pcram_probe_v0_1(struct pcram_probe_result *res);
int pcram_dst_stats_v0_1(const struct pcram_dst *dst, struct pcram_dst_stats *st);
int pcram_dst_kernel_stats_v0_1(struct pcram_dst *dst, struct pcram_kernel_stats *ks);
int pcram_dst_thread_stats_v0_1(const struct pcram_dst *dst,
				struct pcram_thread_stats *out, unsigned int max);
int pcram_dst_block_stats_v0_1(const struct pcram_dst *dst, unsigned int index,
			       struct pcram_block_stats *st);
int pcram_src_stats_v0_1(const struct pcram_src *src, struct pcram_src_stats *st);
int pcram_in_stats_v0_1(const struct pcram_in *in, struct pcram_in_stats *st);

PCRAM_COMPAT_VERSION(pcram_probe_v0_1, pcram_probe, PCRAM_0.1);
PCRAM_EXPORT int pcram_probe_v0_1(struct pcram_probe_result *res)
{
	return probe_sized(res, PCRAM_PROBE_RESULT_SIZE_0_1);
}

PCRAM_COMPAT_VERSION(pcram_dst_stats_v0_1, pcram_dst_stats, PCRAM_0.1);
PCRAM_EXPORT
int pcram_dst_stats_v0_1(const struct pcram_dst *dst, struct pcram_dst_stats *st)
{
	return dst_stats_sized(dst, st, PCRAM_DST_STATS_SIZE_0_1);
}

PCRAM_COMPAT_VERSION(pcram_dst_kernel_stats_v0_1, pcram_dst_kernel_stats, PCRAM_0.1);
PCRAM_EXPORT
int pcram_dst_kernel_stats_v0_1(struct pcram_dst *dst, struct pcram_kernel_stats *ks)
{
	return dst_kernel_stats_sized(dst, ks, PCRAM_KERNEL_STATS_SIZE_0_1);
}

PCRAM_COMPAT_VERSION(pcram_dst_thread_stats_v0_1, pcram_dst_thread_stats, PCRAM_0.1);
PCRAM_EXPORT
int pcram_dst_thread_stats_v0_1(const struct pcram_dst *dst,
				struct pcram_thread_stats *out, unsigned int max)
{
	return dst_thread_stats_sized(dst, out, max, PCRAM_THREAD_STATS_SIZE_0_1);
}

PCRAM_COMPAT_VERSION(pcram_dst_block_stats_v0_1, pcram_dst_block_stats, PCRAM_0.1);
PCRAM_EXPORT
int pcram_dst_block_stats_v0_1(const struct pcram_dst *dst, unsigned int index,
			       struct pcram_block_stats *st)
{
	return dst_block_stats_sized(dst, index, st, PCRAM_BLOCK_STATS_SIZE_0_1);
}

PCRAM_COMPAT_VERSION(pcram_src_stats_v0_1, pcram_src_stats, PCRAM_0.1);
PCRAM_EXPORT
int pcram_src_stats_v0_1(const struct pcram_src *src, struct pcram_src_stats *st)
{
	return src_stats_sized(src, st, PCRAM_SRC_STATS_SIZE_0_1);
}

PCRAM_COMPAT_VERSION(pcram_in_stats_v0_1, pcram_in_stats, PCRAM_0.1);
PCRAM_EXPORT
int pcram_in_stats_v0_1(const struct pcram_in *in, struct pcram_in_stats *st)
{
	return in_stats_sized(in, st, PCRAM_IN_STATS_SIZE_0_1);
}
