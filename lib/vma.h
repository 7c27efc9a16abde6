/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * What /proc/self/smaps says about the mappings over a range: the checks
 * pcram_dst_add_block() makes, and the THP and mlock state cleanup puts back.
 */
#ifndef PCRAM_VMA_H
#define PCRAM_VMA_H

#include <stdbool.h>
#include <stdint.h>

struct vma_info {
	uint64_t kernel_page_size;	/* 0 if the mappings disagree */
	bool all_shared;		/* every mapping is MAP_SHARED */
	bool any_shared;
	bool all_hugetlb;
	bool any_hugetlb;
	bool any_file;			/* some mapping has a file */
	bool any_hugepage;		/* VmFlags "hg": MADV_HUGEPAGE */
	bool any_locked;		/* VmFlags "lo": mlocked */
	bool writable;			/* every mapping is writable */
	/* The file at the range's start; inode 0 when the mappings are
	 * not all of one file, contiguous in it. */
	uint64_t inode;
	unsigned int dev_major, dev_minor;
	uint64_t file_offset;		/* of the range's first byte */
};

/*
 * Describe the mappings covering [start, start + len). -ENOENT when a part
 * of the range is not mapped; -errno when smaps cannot be read.
 */
int vma_info(uint64_t start, uint64_t len, struct vma_info *info);

#endif /* PCRAM_VMA_H */
