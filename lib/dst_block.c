// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The destination's block registry: adding a block (checked against its
 * mapping in /proc/self/smaps and its file), finding one by address or
 * name, and the queries on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "dst.h"
#include "vma.h"

#define HUGETLBFS_MAGIC	0x958458f6
#define TMPFS_MAGIC	0x01021994

/* The last block starting at or below @addr, if @addr is inside it. */
struct dst_block *dst_find(const struct pcram_dst *dst, uint64_t addr)
{
	unsigned int lo = 0, hi = dst->nr_blocks;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if ((uint64_t)(uintptr_t)dst->blocks[mid].host <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	struct dst_block *b = &dst->blocks[lo - 1];

	return addr - (uint64_t)(uintptr_t)b->host < b->length ? b : NULL;
}

struct dst_block *dst_find_name(const struct pcram_dst *dst, const char *name)
{
	for (unsigned int i = 0; i < dst->nr_blocks; i++)
		if (!strcmp(dst->blocks[i].name, name))
			return &dst->blocks[i];
	return NULL;
}

const char *dst_type_name(enum pcram_block_type t)
{
	switch (t) {
	case PCRAM_BLOCK_ANON: return "anon";
	case PCRAM_BLOCK_ANON_THP: return "anon-thp";
	case PCRAM_BLOCK_HUGETLB: return "hugetlb";
	case PCRAM_BLOCK_SHMEM: return "shmem";
	case PCRAM_BLOCK_HUGETLB_SHARED: return "hugetlb-shared";
	}
	return "?";
}

static void block_release(struct dst_block *b)
{
	if (b->alias)
		munmap(b->alias, b->length);
	if (b->fd >= 0)
		close(b->fd);
	free((void *)b->received);
	free((void *)b->requested);
	free((void *)b->placing);
}

void dst_blocks_free(struct pcram_dst *dst)
{
	for (unsigned int i = 0; i < dst->nr_blocks; i++)
		block_release(&dst->blocks[i]);
	free(dst->blocks);
	dst->blocks = NULL;
	dst->nr_blocks = 0;
}

/* ---- checking a new block -------------------------------------------------- */

/* A name that is there, short enough and free, and a known type. */
static int check_name(struct pcram_dst *dst, const struct pcram_block *blk)
{
	if (!blk->name || !blk->name[0])
		return dst_error(dst, -EINVAL, "block name is empty");
	if (strnlen(blk->name, PCRAM_BLOCK_NAME_MAX + 1) > PCRAM_BLOCK_NAME_MAX)
		return dst_error(dst, -EINVAL, "block name is longer than %d bytes",
				 PCRAM_BLOCK_NAME_MAX);
	if (blk->type < PCRAM_BLOCK_ANON || blk->type > PCRAM_BLOCK_HUGETLB_SHARED)
		return dst_error(dst, -EINVAL, "block %s: unknown type %d",
				 blk->name, (int)blk->type);
	if (dst_find_name(dst, blk->name))
		return dst_error(dst, -EEXIST, "block %s: the name is taken",
				 blk->name);
	return 0;
}

static int check_range(struct pcram_dst *dst, const struct pcram_block *blk)
{
	uint64_t start = (uint64_t)(uintptr_t)blk->host;

	if (!blk->host || !blk->length || start + blk->length < start)
		return dst_error(dst, -EINVAL, "block %s: empty or wrapping range",
				 blk->name);
	return 0;
}

/*
 * The page size the block is placed in (declared, or else the mapping's:
 * @vi_ret and @vi are what vma_info() said), and the range aligned to it.
 */
static int check_page_size(struct pcram_dst *dst, const struct pcram_block *blk,
			   int vi_ret, const struct vma_info *vi, uint64_t *out)
{
	uint64_t base = (uint64_t)sysconf(_SC_PAGESIZE), page_size = blk->page_size;
	uint64_t start = (uint64_t)(uintptr_t)blk->host;

	if (!page_size) {
		page_size = vi_ret ? base : vi->kernel_page_size;
		if (!page_size)
			return dst_error(dst, -EINVAL,
					 "block %s: the range mixes page sizes",
					 blk->name);
	}
	if (page_size < base || (page_size & (page_size - 1)))
		return dst_error(dst, -EINVAL,
				 "block %s: page size %" PRIu64 " is not a power of two >= %" PRIu64,
				 blk->name, page_size, base);
	if (!dst_is_hugetlb_type(blk->type) && page_size != base)
		return dst_error(dst, -EINVAL,
				 "block %s: %s memory is placed in %" PRIu64 "-byte pages, not %" PRIu64,
				 blk->name, dst_type_name(blk->type), base, page_size);
	if (start % page_size || blk->length % page_size)
		return dst_error(dst, -EINVAL,
				 "block %s: host %#" PRIx64 " or length %#" PRIx64 " is not aligned to %" PRIu64,
				 blk->name, start, blk->length, page_size);
	*out = page_size;
	return 0;
}

/* The block's place in the array, sorted by host; -EBUSY on an overlap. */
static int find_slot(struct pcram_dst *dst, const struct pcram_block *blk,
		     unsigned int *out)
{
	uint64_t start = (uint64_t)(uintptr_t)blk->host;
	unsigned int pos;

	for (pos = 0; pos < dst->nr_blocks; pos++)
		if ((uint64_t)(uintptr_t)dst->blocks[pos].host > start)
			break;
	if (pos > 0) {
		const struct dst_block *p = &dst->blocks[pos - 1];

		if ((uint64_t)(uintptr_t)p->host + p->length > start)
			return dst_error(dst, -EBUSY, "block %s overlaps block %s",
					 blk->name, p->name);
	}
	if (pos < dst->nr_blocks &&
	    (uint64_t)(uintptr_t)dst->blocks[pos].host < start + blk->length)
		return dst_error(dst, -EBUSY, "block %s overlaps block %s",
				 blk->name, dst->blocks[pos].name);
	*out = pos;
	return 0;
}

/*
 * The mapping must be what the block says it is. @ret and @vi: what
 * vma_info() said of the block's range.
 */
static int check_mapping(struct pcram_dst *dst, const struct pcram_block *blk,
			 uint64_t page_size, int ret, const struct vma_info *vi)
{
	uint64_t start = (uint64_t)(uintptr_t)blk->host;

	if (ret == -ENOENT)
		return dst_error(dst, -ENOENT,
				 "block %s: [%#" PRIx64 ", +%#" PRIx64 ") is not all mapped",
				 blk->name, start, blk->length);
	if (ret)
		return dst_error(dst, ret, "block %s: reading /proc/self/smaps: %s",
				 blk->name, strerror(-ret));
	if (!vi->writable)
		return dst_error(dst, -EINVAL, "block %s: mapping is not writable",
				 blk->name);
	if (vi->kernel_page_size != page_size)
		return dst_error(dst, -EINVAL,
				 "block %s: mapped with %" PRIu64 "-byte pages, declared %" PRIu64,
				 blk->name, vi->kernel_page_size, page_size);
	return 0;
}

/* The kind of memory mapped there must be the block's type. */
static int check_mapping_type(struct pcram_dst *dst, const struct pcram_block *blk,
			      const struct vma_info *vi)
{
	switch (blk->type) {
	case PCRAM_BLOCK_ANON:
	case PCRAM_BLOCK_ANON_THP:
		if (vi->any_shared || vi->any_hugetlb || vi->any_file)
			return dst_error(dst, -EINVAL,
					 "block %s: declared %s but the mapping is not private anonymous memory",
					 blk->name, dst_type_name(blk->type));
		break;
	case PCRAM_BLOCK_HUGETLB:
		if (!vi->all_hugetlb || vi->any_shared)
			return dst_error(dst, -EINVAL,
					 "block %s: declared hugetlb but the mapping is not private hugetlbfs",
					 blk->name);
		break;
	case PCRAM_BLOCK_SHMEM:
		if (!vi->all_shared || vi->any_hugetlb)
			return dst_error(dst, -EINVAL,
					 "block %s: declared shmem but the mapping is not a shared shmem mapping",
					 blk->name);
		break;
	case PCRAM_BLOCK_HUGETLB_SHARED:
		if (!vi->all_shared || !vi->all_hugetlb)
			return dst_error(dst, -EINVAL,
					 "block %s: declared hugetlb-shared but the mapping is not shared hugetlbfs",
					 blk->name);
		break;
	}
	return 0;
}

/* .fd only where there is a file: required of shared blocks, refused by anon. */
static int check_fd_wanted(struct pcram_dst *dst, const struct pcram_block *blk)
{
	if (blk->fd < 0) {
		if (dst_is_shared_type(blk->type))
			return dst_error(dst, -EINVAL,
					 "block %s: a %s block needs its file in .fd (memfd_create() gives one)",
					 blk->name, dst_type_name(blk->type));
		return 0;
	}
	if (blk->type == PCRAM_BLOCK_ANON || blk->type == PCRAM_BLOCK_ANON_THP)
		return dst_error(dst, -EINVAL,
				 "block %s: anonymous memory has no file; set .fd to -1",
				 blk->name);
	return 0;
}

/* The file of a shared or file-backed block: the right filesystem, big enough. */
static int check_fd(struct pcram_dst *dst, const struct pcram_block *blk,
		    uint64_t page_size, const struct vma_info *vi)
{
	struct statfs sfs;
	struct stat st;
	long want = dst_is_hugetlb_type(blk->type) ? HUGETLBFS_MAGIC : TMPFS_MAGIC;
	int ret = check_fd_wanted(dst, blk);

	if (ret || blk->fd < 0)
		return ret;
	if (fstatfs(blk->fd, &sfs) || fstat(blk->fd, &st))
		return dst_error(dst, -errno, "block %s: .fd %d: %s", blk->name,
				 blk->fd, strerror(errno));
	if ((long)sfs.f_type != want)
		return dst_error(dst, -EINVAL, "block %s: .fd is not on %s",
				 blk->name, want == HUGETLBFS_MAGIC ? "hugetlbfs" : "shmem/tmpfs");
	if (blk->fd_offset % page_size)
		return dst_error(dst, -EINVAL,
				 "block %s: .fd_offset %#" PRIx64 " is not aligned to the page size",
				 blk->name, blk->fd_offset);
	if ((uint64_t)st.st_size < blk->fd_offset + blk->length)
		return dst_error(dst, -EINVAL,
				 "block %s: .fd is %" PRId64 " bytes, shorter than .fd_offset + .length",
				 blk->name, (int64_t)st.st_size);
	/* The alias and the holes must hit the pages mapped at .host. */
	if (vi->inode != (uint64_t)st.st_ino || vi->dev_major != major(st.st_dev) ||
	    vi->dev_minor != minor(st.st_dev) || vi->file_offset != blk->fd_offset)
		return dst_error(dst, -EINVAL,
				 "block %s: .fd at .fd_offset %#" PRIx64 " is not the file mapped at .host",
				 blk->name, blk->fd_offset);
	return 0;
}

/*
 * Every check of a new block, in the order its failures are reported, with
 * one read of smaps for all of them. The page size it is placed in: @page_size.
 */
static int check_block(struct pcram_dst *dst, const struct pcram_block *blk,
		       uint64_t *page_size, unsigned int *pos)
{
	struct vma_info vi;
	int ret, vi_ret;

	ret = check_name(dst, blk);
	if (!ret)
		ret = check_range(dst, blk);
	if (ret)
		return ret;
	vi_ret = vma_info((uint64_t)(uintptr_t)blk->host, blk->length, &vi);
	ret = check_page_size(dst, blk, vi_ret, &vi, page_size);
	if (!ret)
		ret = find_slot(dst, blk, pos);
	if (!ret)
		ret = check_mapping(dst, blk, *page_size, vi_ret, &vi);
	if (!ret)
		ret = check_mapping_type(dst, blk, &vi);
	if (!ret)
		ret = check_fd(dst, blk, *page_size, &vi);
	return ret;
}

/* ---- recording it -------------------------------------------------------- */

/* A zeroed entry at @pos, the ones after it moved up; NULL: out of memory. */
static struct dst_block *slot_insert(struct pcram_dst *dst, unsigned int pos)
{
	struct dst_block *blocks;

	blocks = realloc(dst->blocks, (dst->nr_blocks + 1) * sizeof(*blocks));
	if (!blocks)
		return NULL;
	dst->blocks = blocks;
	memmove(&blocks[pos + 1], &blocks[pos],
		(dst->nr_blocks - pos) * sizeof(*blocks));
	memset(&blocks[pos], 0, sizeof(*blocks));
	dst->nr_blocks++;
	return &blocks[pos];
}

static void slot_remove(struct pcram_dst *dst, unsigned int pos)
{
	dst->nr_blocks--;
	memmove(&dst->blocks[pos], &dst->blocks[pos + 1],
		(dst->nr_blocks - pos) * sizeof(*dst->blocks));
}

/* The block as checked, every page missing. */
static void block_init(struct dst_block *nb, const struct pcram_block *blk,
		       uint64_t page_size)
{
	memcpy(nb->name, blk->name, strlen(blk->name));
	nb->host = blk->host;
	nb->length = blk->length;
	nb->page_size = page_size;
	nb->page_shift = __builtin_ctzll(page_size);
	nb->type = blk->type;
	nb->shared = dst_is_shared_type(blk->type);
	nb->fd_offset = blk->fd_offset;
	nb->nr_pages = blk->length / page_size;
	nb->missing = nb->unplaced = nb->nr_pages;
	nb->fd = -1;
}

static int block_alloc_bitmaps(struct pcram_dst *dst, struct dst_block *nb)
{
	uint64_t nwords = (nb->nr_pages + BITS_PER_WORD - 1) / BITS_PER_WORD;

	nb->received = calloc(nwords, sizeof(unsigned long));
	nb->requested = calloc(nwords, sizeof(unsigned long));
	nb->placing = calloc(nwords, sizeof(unsigned long));
	if (!nb->received || !nb->requested || !nb->placing)
		return dst_error(dst, -ENOMEM, "out of memory");
	return 0;
}

/* Our own dup of the block's file, and for a shared block its alias. */
static int block_open_file(struct pcram_dst *dst, struct dst_block *nb, int fd)
{
	if (fd >= 0) {
		nb->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (nb->fd < 0)
			return dst_error(dst, -errno, "block %s: dup: %s",
					 nb->name, strerror(errno));
	}
	if (!nb->shared)
		return 0;
	/* A second mapping of the same pages, never registered. */
	nb->alias = mmap(NULL, nb->length, PROT_READ | PROT_WRITE,
			 MAP_SHARED, nb->fd, (off_t)nb->fd_offset);
	if (nb->alias == MAP_FAILED) {
		nb->alias = NULL;
		return dst_error(dst, -errno, "block %s: mapping its alias: %s",
				 nb->name, strerror(errno));
	}
	return 0;
}

/* The checked block into the array at @pos; nothing of it is left on failure. */
static int record_block(struct pcram_dst *dst, const struct pcram_block *blk,
			uint64_t page_size, unsigned int pos)
{
	struct dst_block *nb = slot_insert(dst, pos);
	int ret;

	if (!nb)
		return dst_error(dst, -ENOMEM, "out of memory");
	block_init(nb, blk, page_size);
	ret = block_alloc_bitmaps(dst, nb);
	if (!ret)
		ret = block_open_file(dst, nb, blk->fd);
	if (ret) {
		block_release(nb);
		slot_remove(dst, pos);
	}
	return ret;
}

PCRAM_EXPORT
int pcram_dst_add_block(struct pcram_dst *dst, const struct pcram_block *blk)
{
	uint64_t page_size = 0;	/* set when check_block() passes */
	unsigned int pos = 0;
	int ret;

	if (!dst)
		return -EINVAL;
	if (!blk)
		return dst_error(dst, -EINVAL, "add_block: no block given");
	if (dst->state != DST_NEW)
		return dst_wrong_stage(dst, "add_block");
	ret = check_block(dst, blk, &page_size, &pos);
	if (ret)
		return ret;
	return record_block(dst, blk, page_size, pos);
}

/* ---- queries ------------------------------------------------------------- */

PCRAM_EXPORT
int pcram_dst_nr_blocks(const struct pcram_dst *dst)
{
	return dst ? (int)dst->nr_blocks : -EINVAL;
}

PCRAM_EXPORT
int pcram_dst_block(const struct pcram_dst *dst, unsigned int index,
		    struct pcram_block *blk)
{
	const struct dst_block *b;

	if (!dst || !blk)
		return -EINVAL;
	if (index >= dst->nr_blocks)
		return -ENOENT;
	b = &dst->blocks[index];
	*blk = (struct pcram_block) {
		.name = b->name, .host = b->host, .length = b->length,
		.page_size = b->page_size, .type = b->type, .fd = b->fd,
		.fd_offset = b->fd_offset,
	};
	return 0;
}

PCRAM_EXPORT
int pcram_dst_lookup(const struct pcram_dst *dst, const void *addr,
		     unsigned int *index, uint64_t *offset)
{
	const struct dst_block *b;

	if (!dst)
		return -EINVAL;
	b = dst_find(dst, (uint64_t)(uintptr_t)addr);
	if (!b)
		return -ENOENT;
	if (index)
		*index = b - dst->blocks;
	if (offset)
		*offset = (const uint8_t *)addr - b->host;
	return 0;
}

PCRAM_EXPORT
int pcram_dst_block_alias(struct pcram_dst *dst, unsigned int index,
			  void **alias)
{
	if (!dst || !alias)
		return -EINVAL;
	if (index >= dst->nr_blocks)
		return -ENOENT;
	if (!dst->blocks[index].alias)
		return dst_error(dst, -EINVAL, "block %s is not shared: no alias",
				 dst->blocks[index].name);
	*alias = dst->blocks[index].alias;
	return 0;
}
