// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Reading /proc/self/smaps for the mappings over a range.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vma.h"

/* Does the VmFlags line list the two-letter flag @f? */
static bool has_flag(const char *flags, const char *f)
{
	for (const char *p = flags; (p = strstr(p, f)); p += 2)
		if ((p == flags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\n' ||
						     p[2] == '\0'))
			return true;
	return false;
}

int vma_info(uint64_t start, uint64_t len, struct vma_info *info)
{
	uint64_t end = start + len, covered = start;
	bool in_range = false, first = true, first_map = true;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int ret = 0;

	memset(info, 0, sizeof(*info));
	info->all_shared = info->all_hugetlb = info->writable = true;
	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -errno;

	while (getline(&line, &cap, f) > 0) {
		uint64_t lo, hi, kps, off, ino;
		unsigned int maj, min;
		char perms[8];
		int path_at = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &lo, &hi, perms, &off, &maj, &min, &ino, &path_at) >= 7 &&
		    path_at > 0 && strchr(line, '-') < strchr(line, ' ')) {
			if (lo >= end)
				break;		/* smaps is sorted by address */
			in_range = hi > covered;
			if (!in_range)
				continue;
			if (lo > covered) {	/* a hole before this mapping */
				ret = -ENOENT;
				break;
			}
			/* One file, each mapping continuing the last. */
			if (first_map) {
				info->inode = ino;
				info->dev_major = maj;
				info->dev_minor = min;
				info->file_offset = off + (start > lo ? start - lo : 0);
				first_map = false;
			} else if (ino != info->inode || maj != info->dev_major ||
				   min != info->dev_minor ||
				   off != info->file_offset + (lo - start)) {
				info->inode = 0;
			}
			covered = hi;
			info->writable &= perms[1] == 'w';
			info->all_shared &= perms[3] == 's';
			info->any_shared |= perms[3] == 's';
			info->any_file |= line[path_at] == '/';
			continue;
		}
		if (!in_range)
			continue;
		if (sscanf(line, "KernelPageSize: %" SCNu64 " kB", &kps) == 1) {
			kps <<= 10;
			if (first)
				info->kernel_page_size = kps;
			else if (info->kernel_page_size != kps)
				info->kernel_page_size = 0;
			first = false;
		} else if (!strncmp(line, "VmFlags:", 8)) {
			bool ht = has_flag(line + 8, "ht");

			info->all_hugetlb &= ht;
			info->any_hugetlb |= ht;
			info->any_hugepage |= has_flag(line + 8, "hg");
			info->any_locked |= has_flag(line + 8, "lo");
		}
	}
	if (!ret && covered < end)
		ret = -ENOENT;
	free(line);
	fclose(f);
	return ret;
}
