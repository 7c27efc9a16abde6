// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The destination engine: RAM blocks and the lifecycle around them,
 * incoming_init -> prepare_discard -> discard_range -> enable_notify ->
 * cleanup.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "dst.h"
#include "vma.h"

#define HUGETLBFS_MAGIC	0x958458f6
#define TMPFS_MAGIC	0x01021994

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

static int wrong_stage(struct pcram_dst *dst, const char *call)
{
	return dst_error(dst, -EBUSY, "%s: not allowed %s", call,
			 state_names[dst->state]);
}

PCRAM_EXPORT
const char *pcram_dst_strerror(const struct pcram_dst *dst)
{
	return dst ? lib_error_get(&dst->error) : "no pcram_dst";
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
	if (opts->flags & ~PCRAM_DST_F_ALL ||
	    (opts->flags & PCRAM_DST_F_REQUIRE_MODULE && opts->flags & PCRAM_DST_F_NO_MODULE) ||
	    (opts->vm_name && strlen(opts->vm_name) >= PCRAM_VM_NAME_MAX))
		return -EINVAL;
	if (opts->fault_threads > PCRAM_MAX_FAULT_THREADS)
		return -E2BIG;

	dst = calloc(1, sizeof(*dst));
	if (!dst)
		return -ENOMEM;
	dst->flags = opts->flags;
	dst->nr_fault_threads = opts->fault_threads ? opts->fault_threads : 1;
	dst->uffd = -1;
	dst->module_fd = -1;
	if (opts->vm_name && opts->vm_name[0])
		snprintf(dst->vm_name, sizeof(dst->vm_name), "%s", opts->vm_name);
	else
		snprintf(dst->vm_name, sizeof(dst->vm_name), "pcram-%d", (int)getpid());
	dst->quit_fd = -1;
	dst->pagemap_fd = -1;
	pthread_mutex_init(&dst->ready_lock, NULL);
	pthread_cond_init(&dst->ready_cond, NULL);
	pthread_mutex_init(&dst->pages_lock, NULL);
	pthread_mutex_init(&dst->track_lock, NULL);
	lib_error_init(&dst->error);
	pthread_mutex_init(&dst->own_lock, NULL);
	if (dst_track_alloc(dst)) {
		pcram_dst_free(dst);
		return -ENOMEM;
	}
	*out = dst;
	return 0;
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

PCRAM_EXPORT
void pcram_dst_free(struct pcram_dst *dst)
{
	if (!dst)
		return;
	pcram_dst_cleanup(dst);
	for (unsigned int i = 0; i < dst->nr_blocks; i++)
		block_release(&dst->blocks[i]);
	free(dst->blocks);
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

/* ---- blocks ---------------------------------------------------------- */

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

static struct dst_block *find_name(const struct pcram_dst *dst,
				   const char *name)
{
	for (unsigned int i = 0; i < dst->nr_blocks; i++)
		if (!strcmp(dst->blocks[i].name, name))
			return &dst->blocks[i];
	return NULL;
}

static bool is_shared_type(enum pcram_block_type t)
{
	return t == PCRAM_BLOCK_SHMEM || t == PCRAM_BLOCK_HUGETLB_SHARED;
}

static bool is_hugetlb_type(enum pcram_block_type t)
{
	return t == PCRAM_BLOCK_HUGETLB || t == PCRAM_BLOCK_HUGETLB_SHARED;
}

static const char *type_name(enum pcram_block_type t)
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

/* The mapping must be what the block says it is. */
/* @ret and @vi: what vma_info() said of the block's range. */
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

	switch (blk->type) {
	case PCRAM_BLOCK_ANON:
	case PCRAM_BLOCK_ANON_THP:
		if (vi->any_shared || vi->any_hugetlb || vi->any_file)
			return dst_error(dst, -EINVAL,
					 "block %s: declared %s but the mapping is not private anonymous memory",
					 blk->name, type_name(blk->type));
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

/* The file of a shared or file-backed block: the right filesystem, big enough. */
static int check_fd(struct pcram_dst *dst, const struct pcram_block *blk,
		    uint64_t page_size, const struct vma_info *vi)
{
	struct statfs sfs;
	struct stat st;
	long want = is_hugetlb_type(blk->type) ? HUGETLBFS_MAGIC : TMPFS_MAGIC;

	if (blk->fd < 0) {
		if (is_shared_type(blk->type))
			return dst_error(dst, -EINVAL,
					 "block %s: a %s block needs its file in .fd (memfd_create() gives one)",
					 blk->name, type_name(blk->type));
		return 0;
	}
	if (blk->type == PCRAM_BLOCK_ANON || blk->type == PCRAM_BLOCK_ANON_THP)
		return dst_error(dst, -EINVAL,
				 "block %s: anonymous memory has no file; set .fd to -1",
				 blk->name);
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

PCRAM_EXPORT
int pcram_dst_add_block(struct pcram_dst *dst, const struct pcram_block *blk)
{
	uint64_t base = (uint64_t)sysconf(_SC_PAGESIZE), page_size, start, nwords;
	struct dst_block *nb, *blocks;
	unsigned int pos;
	size_t name_len;
	struct vma_info vi;
	int ret, vi_ret;

	if (!dst)
		return -EINVAL;
	if (!blk)
		return dst_error(dst, -EINVAL, "add_block: no block given");
	if (dst->state != DST_NEW)
		return wrong_stage(dst, "add_block");
	if (!blk->name || !blk->name[0])
		return dst_error(dst, -EINVAL, "block name is empty");
	name_len = strnlen(blk->name, PCRAM_BLOCK_NAME_MAX + 1);
	if (name_len > PCRAM_BLOCK_NAME_MAX)
		return dst_error(dst, -EINVAL, "block name is longer than %d bytes",
				 PCRAM_BLOCK_NAME_MAX);
	if (blk->type < PCRAM_BLOCK_ANON || blk->type > PCRAM_BLOCK_HUGETLB_SHARED)
		return dst_error(dst, -EINVAL, "block %s: unknown type %d",
				 blk->name, (int)blk->type);
	if (find_name(dst, blk->name))
		return dst_error(dst, -EEXIST, "block %s: the name is taken",
				 blk->name);
	start = (uint64_t)(uintptr_t)blk->host;
	if (!blk->host || !blk->length || start + blk->length < start)
		return dst_error(dst, -EINVAL, "block %s: empty or wrapping range",
				 blk->name);

	/* One read of smaps serves every check below. */
	vi_ret = vma_info(start, blk->length, &vi);
	page_size = blk->page_size;
	if (!page_size) {
		page_size = vi_ret ? base : vi.kernel_page_size;
		if (!page_size)
			return dst_error(dst, -EINVAL,
					 "block %s: the range mixes page sizes",
					 blk->name);
	}
	if (page_size < base || (page_size & (page_size - 1)))
		return dst_error(dst, -EINVAL,
				 "block %s: page size %" PRIu64 " is not a power of two >= %" PRIu64,
				 blk->name, page_size, base);
	if (!is_hugetlb_type(blk->type) && page_size != base)
		return dst_error(dst, -EINVAL,
				 "block %s: %s memory is placed in %" PRIu64 "-byte pages, not %" PRIu64,
				 blk->name, type_name(blk->type), base, page_size);
	if (start % page_size || blk->length % page_size)
		return dst_error(dst, -EINVAL,
				 "block %s: host %#" PRIx64 " or length %#" PRIx64 " is not aligned to %" PRIu64,
				 blk->name, start, blk->length, page_size);

	/* Sorted insert position; refuse an overlap with either neighbour. */
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

	ret = check_mapping(dst, blk, page_size, vi_ret, &vi);
	if (ret)
		return ret;
	ret = check_fd(dst, blk, page_size, &vi);
	if (ret)
		return ret;

	blocks = realloc(dst->blocks, (dst->nr_blocks + 1) * sizeof(*blocks));
	if (!blocks)
		return dst_error(dst, -ENOMEM, "out of memory");
	dst->blocks = blocks;
	memmove(&blocks[pos + 1], &blocks[pos],
		(dst->nr_blocks - pos) * sizeof(*blocks));
	nb = &blocks[pos];
	memset(nb, 0, sizeof(*nb));
	dst->nr_blocks++;

	memcpy(nb->name, blk->name, name_len);
	nb->host = blk->host;
	nb->length = blk->length;
	nb->page_size = page_size;
	nb->page_shift = __builtin_ctzll(page_size);
	nb->type = blk->type;
	nb->shared = is_shared_type(blk->type);
	nb->fd_offset = blk->fd_offset;
	nb->nr_pages = blk->length / page_size;
	nb->missing = nb->unplaced = nb->nr_pages;
	nb->fd = -1;
	nwords = (nb->nr_pages + BITS_PER_WORD - 1) / BITS_PER_WORD;
	nb->received = calloc(nwords, sizeof(unsigned long));
	nb->requested = calloc(nwords, sizeof(unsigned long));
	nb->placing = calloc(nwords, sizeof(unsigned long));
	if (!nb->received || !nb->requested || !nb->placing) {
		ret = dst_error(dst, -ENOMEM, "out of memory");
		goto undo;
	}
	if (blk->fd >= 0) {
		nb->fd = fcntl(blk->fd, F_DUPFD_CLOEXEC, 3);
		if (nb->fd < 0) {
			ret = dst_error(dst, -errno, "block %s: dup: %s",
					blk->name, strerror(errno));
			goto undo;
		}
	}
	if (nb->shared) {
		/* A second mapping of the same pages, never registered. */
		nb->alias = mmap(NULL, nb->length, PROT_READ | PROT_WRITE,
				 MAP_SHARED, nb->fd, (off_t)nb->fd_offset);
		if (nb->alias == MAP_FAILED) {
			nb->alias = NULL;
			ret = dst_error(dst, -errno, "block %s: mapping its alias: %s",
					blk->name, strerror(errno));
			goto undo;
		}
	}
	return 0;
undo:
	block_release(nb);
	dst->nr_blocks--;
	memmove(&blocks[pos], &blocks[pos + 1],
		(dst->nr_blocks - pos) * sizeof(*blocks));
	return ret;
}

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

PCRAM_EXPORT
int pcram_dst_set_provider(struct pcram_dst *dst,
			   const struct pcram_provider *provider)
{
	if (!dst || !provider || !provider->request)
		return -EINVAL;
	if (dst->state >= DST_NOTIFY)
		return wrong_stage(dst, "set_provider");
	dst_image_free(dst);	/* a provider replaces the image's */
	dst->provider = *provider;
	return 0;
}

/* ---- emptying memory ----------------------------------------------------- */

/*
 * Make [off, off + len) of a block missing. Files lose the pages (so the
 * next touch is a MISSING fault, not the old page cache page); private
 * mappings drop their copies.
 */
static int empty_range(struct pcram_dst *dst, struct dst_block *b,
		       uint64_t off, uint64_t len)
{
	if (b->fd >= 0 &&
	    fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(b->fd_offset + off), (off_t)len))
		return dst_error(dst, -errno, "block %s: punching a hole at %#" PRIx64 ": %s",
				 b->name, off, strerror(errno));
	if (!b->shared && madvise(b->host + off, len, MADV_DONTNEED))
		return dst_error(dst, -errno, "block %s: MADV_DONTNEED at %#" PRIx64 ": %s",
				 b->name, off, strerror(errno));
	return 0;
}

/* Forget that pages [first, first + n) arrived; returns how many had. */
static uint64_t forget_pages(struct pcram_dst *dst, struct dst_block *b,
			     uint64_t first, uint64_t n)
{
	uint64_t was = 0;

	for (uint64_t p = first; p < first + n; p++) {
		if (bit_test_clear(b->requested, p))
			dst_track_drop(dst, (uint64_t)(uintptr_t)b->host +
				       (p << b->page_shift));
		was += bit_test_clear(b->received, p);
	}
	pages_in(b, -(int64_t)was);
	return was;
}

void dst_forget_range(struct pcram_dst *dst, uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end;) {
		struct dst_block *b = dst_find(dst, a);
		uint64_t bstart, bend, first, last;

		if (!b) {
			/* Skip to the next block start above @a. */
			uint64_t next = end;

			for (unsigned int i = 0; i < dst->nr_blocks; i++) {
				uint64_t h = (uint64_t)(uintptr_t)dst->blocks[i].host;

				if (h > a && h < next)
					next = h;
			}
			a = next;
			continue;
		}
		bstart = (uint64_t)(uintptr_t)b->host;
		bend = bstart + b->length;
		first = blk_page(b, a);
		last = blk_page(b, (end < bend ? end : bend) - 1);
		/*
		 * MADV_DONTNEED on a shared mapping only unmaps: the data stays
		 * in the file and comes back by MINOR fault and CONTINUE.
		 * Asking the source again would overwrite newer data.
		 */
		if (!b->shared)
			forget_pages(dst, b, first, last - first + 1);
		a = bend;
	}
}

PCRAM_EXPORT
int pcram_dst_incoming_init(struct pcram_dst *dst)
{
	int ret;

	if (!dst)
		return -EINVAL;
	if (dst->state != DST_NEW && dst->state != DST_INIT)
		return wrong_stage(dst, "incoming_init");
	if (!dst->nr_blocks)
		return dst_error(dst, -EINVAL, "incoming_init: no blocks added");

	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		struct dst_block *b = &dst->blocks[i];
		struct vma_info vi;

		/* Locked pages cannot be dropped and would never fault. */
		if (!vma_info((uint64_t)(uintptr_t)b->host, b->length, &vi) &&
		    vi.any_locked) {
			if (munlock(b->host, b->length))
				return dst_error(dst, -errno, "block %s: munlock: %s",
						 b->name, strerror(errno));
			b->relock = true;
		}
		ret = empty_range(dst, b, 0, b->length);
		if (ret)
			return ret;
		forget_pages(dst, b, 0, b->nr_pages);
	}
	dst->state = DST_INIT;
	return 0;
}

/* Is THP "always" on, so that it applies without MADV_HUGEPAGE? */
static bool thp_always(void)
{
	char buf[128] = "";
	int fd = open("/sys/kernel/mm/transparent_hugepage/enabled",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, "[always]") != NULL;
}

PCRAM_EXPORT
int pcram_dst_prepare_discard(struct pcram_dst *dst)
{
	bool always;

	if (!dst)
		return -EINVAL;
	if (dst->state != DST_INIT)
		return wrong_stage(dst, "prepare_discard");

	always = thp_always();
	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		struct dst_block *b = &dst->blocks[i];
		struct vma_info vi;
		bool thp;

		if (b->type != PCRAM_BLOCK_ANON && b->type != PCRAM_BLOCK_ANON_THP)
			continue;
		if (b->nohugepage_set)
			continue;
		/*
		 * Only where THP can act: the block is THP, the mapping has
		 * MADV_HUGEPAGE, or THP is "always". No madvise returns a
		 * range to "default", so cleanup gives those MADV_HUGEPAGE,
		 * which under "always" behaves as the default did.
		 */
		thp = b->type == PCRAM_BLOCK_ANON_THP || always;
		if (!vma_info((uint64_t)(uintptr_t)b->host, b->length, &vi))
			thp |= vi.any_hugepage;
		if (!thp)
			continue;
		b->thp_restore = true;
		/* EINVAL: a kernel without THP has nothing to turn off. */
		if (madvise(b->host, b->length, MADV_NOHUGEPAGE) && errno != EINVAL)
			return dst_error(dst, -errno, "block %s: MADV_NOHUGEPAGE: %s",
					 b->name, strerror(errno));
		b->nohugepage_set = true;
	}
	return 0;
}

/*
 * Our own MADV_DONTNEED raises a REMOVE event, and the kernel lets the
 * madvise return once a fault thread has read it, maybe before that
 * thread has handled it. By then discard_range has forgotten the pages
 * itself and a placement may have brought them again: forgetting them
 * once more would lose that placement's bits for good. So the range is
 * noted here first, and its events are taken as already handled.
 */
static void own_remove_add(struct pcram_dst *dst, uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&dst->own_lock);
	/* Full: only if events never came; the oldest goes. */
	if (dst->nr_own == DST_MAX_OWN_REMOVES) {
		memmove(&dst->own[0], &dst->own[1], sizeof(dst->own[0]) * (DST_MAX_OWN_REMOVES - 1));
		dst->nr_own--;
	}
	dst->own[dst->nr_own].start = start;
	dst->own[dst->nr_own].end = end;
	dst->own[dst->nr_own].left = end - start;
	dst->nr_own++;
	pthread_mutex_unlock(&dst->own_lock);
}

/* A REMOVE event can cover part of the madvise: one per VMA. */
bool dst_own_remove(struct pcram_dst *dst, uint64_t start, uint64_t end)
{
	bool own = false;

	pthread_mutex_lock(&dst->own_lock);
	for (unsigned int i = 0; i < dst->nr_own; i++) {
		if (start < dst->own[i].start || end > dst->own[i].end ||
		    end - start > dst->own[i].left)
			continue;
		own = true;
		dst->own[i].left -= end - start;
		if (!dst->own[i].left) {
			dst->nr_own--;
			memmove(&dst->own[i], &dst->own[i + 1],
				sizeof(dst->own[0]) * (dst->nr_own - i));
		}
		break;
	}
	pthread_mutex_unlock(&dst->own_lock);
	return own;
}

PCRAM_EXPORT
int pcram_dst_discard_range(struct pcram_dst *dst, const char *block,
			    uint64_t start, uint64_t length)
{
	struct dst_block *b;
	int ret;

	if (!dst)
		return -EINVAL;
	if (dst->state != DST_INIT && dst->state != DST_NOTIFY)
		return wrong_stage(dst, "discard_range");
	if (!block)
		return dst_error(dst, -EINVAL, "discard_range: no block name");
	b = find_name(dst, block);
	if (!b)
		return dst_error(dst, -ENOENT, "discard_range: no block %.255s",
				 block);
	if (!length || start % b->page_size || length % b->page_size)
		return dst_error(dst, -EINVAL,
				 "discard_range: block %s: [%#" PRIx64 ", +%#" PRIx64 ") is empty or not aligned to %" PRIu64,
				 b->name, start, length, b->page_size);
	if (start >= b->length || length > b->length - start)
		return dst_error(dst, -ERANGE,
				 "discard_range: block %s: [%#" PRIx64 ", +%#" PRIx64 ") is outside its %#" PRIx64 " bytes",
				 b->name, start, length, b->length);
	/*
	 * MADV_DONTNEED on a registered range waits until a fault thread has
	 * read the REMOVE event: from a fault thread it would wait forever.
	 */
	if (dst->state == DST_NOTIFY && dst_current_fault_thread(dst))
		return dst_error(dst, -EDEADLK,
				 "discard_range: called from a fault thread");

	/*
	 * Before and after: a hole punched in a file sends no event, so a
	 * touch right after it must already find the page not received; a
	 * placement racing the discard may set a bit again in between.
	 */
	forget_pages(dst, b, start >> b->page_shift, length >> b->page_shift);
	if (dst->state == DST_NOTIFY && !b->shared &&
	    (dst->features & UFFD_FEATURE_EVENT_REMOVE))
		own_remove_add(dst, (uint64_t)(uintptr_t)b->host + start,
			       (uint64_t)(uintptr_t)b->host + start + length);
	ret = empty_range(dst, b, start, length);
	if (ret)
		return ret;
	forget_pages(dst, b, start >> b->page_shift, length >> b->page_shift);
	return 0;
}

/* ---- enable_notify --------------------------------------------------------- */

static uint64_t needed_features(const struct pcram_dst *dst)
{
	uint64_t need = 0;

	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		const struct dst_block *b = &dst->blocks[i];

		if (is_hugetlb_type(b->type))
			need |= UFFD_FEATURE_MISSING_HUGETLBFS;
		else if (b->type == PCRAM_BLOCK_SHMEM)
			need |= UFFD_FEATURE_MISSING_SHMEM;
	}
	return need;
}

static int open_uffd(struct pcram_dst *dst)
{
	struct pcram_open_report rep;
	struct uffdio_api api;
	uint64_t supported, need = needed_features(dst);
	int fd, ret;

	/* One handshake per fd: the first learns what the kernel offers. */
	fd = pcram_uffd_open(O_CLOEXEC | O_NONBLOCK, &rep);
	if (fd < 0)
		return dst_error(dst, fd,
				 "enable_notify: no userfaultfd (/dev/userfaultfd: %s; userfaultfd(2): %s); pcram probe says why",
				 strerror(-rep.device_error), strerror(-fd));
	ret = pcram_uffd_api(fd, 0, &api);
	close(fd);
	if (ret)
		return dst_error(dst, ret, "enable_notify: UFFDIO_API: %s",
				 strerror(-ret));
	supported = api.features;
	if ((supported & need) != need)
		return dst_error(dst, -EOPNOTSUPP,
				 "enable_notify: the kernel lacks %s, which a %s block needs",
				 (need & ~supported) & UFFD_FEATURE_MISSING_HUGETLBFS ?
				 "UFFD_FEATURE_MISSING_HUGETLBFS" : "UFFD_FEATURE_MISSING_SHMEM",
				 (need & ~supported) & UFFD_FEATURE_MISSING_HUGETLBFS ?
				 "hugetlbfs" : "shmem");
	if (rep.opener == PCRAM_OPENER_SYSCALL_USER_ONLY &&
	    (dst->flags & PCRAM_DST_F_KERNEL_FAULTS))
		return dst_error(dst, -EPERM,
				 "enable_notify: only a user-mode-only userfaultfd is allowed here, which misses kernel faults; set vm.unprivileged_userfaultfd=1, grant /dev/userfaultfd or CAP_SYS_PTRACE");

	fd = pcram_uffd_open(O_CLOEXEC | O_NONBLOCK, &rep);
	if (fd < 0)
		return dst_error(dst, fd, "enable_notify: userfaultfd: %s",
				 strerror(-fd));
	ret = pcram_uffd_api(fd, PCRAM_WANTED_FEATURES & supported, &api);
	if (ret) {
		close(fd);
		return dst_error(dst, ret, "enable_notify: UFFDIO_API on the new fd: %s",
				 strerror(-ret));
	}
	dst->uffd = fd;
	dst->opener = rep.opener;
	dst->features = PCRAM_WANTED_FEATURES & supported;
	return 0;
}

static int register_block(struct pcram_dst *dst, struct dst_block *b)
{
	struct uffdio_register reg = {
		.range = { .start = (uint64_t)(uintptr_t)b->host, .len = b->length },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	uint64_t minor_feat = is_hugetlb_type(b->type) ?
		UFFD_FEATURE_MINOR_HUGETLBFS : UFFD_FEATURE_MINOR_SHMEM;
	uint64_t need = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_WAKE);

	/*
	 * Shared blocks: MISSING catches pages absent from the file, MINOR
	 * pages in the file but not yet mapped here; both are placed by
	 * writing the alias and UFFDIO_CONTINUE.
	 */
	if (b->shared && (dst->features & minor_feat))
		reg.mode |= UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(dst->uffd, UFFDIO_REGISTER, &reg))
		return dst_error(dst, -errno, "enable_notify: block %s (%s): UFFDIO_REGISTER: %s",
				 b->name, type_name(b->type), strerror(errno));
	b->registered = true;
	b->minor = reg.mode & UFFDIO_REGISTER_MODE_MINOR;

	if (b->minor)
		need |= 1ULL << _UFFDIO_CONTINUE;
	if (b->type == PCRAM_BLOCK_ANON || b->type == PCRAM_BLOCK_ANON_THP)
		need |= 1ULL << _UFFDIO_ZEROPAGE;
	if ((reg.ioctls & need) != need) {
		uint64_t lack = need & ~reg.ioctls;

		return dst_error(dst, -EOPNOTSUPP,
				 "enable_notify: block %s (%s): the kernel offers no UFFDIO_%s on it",
				 b->name, type_name(b->type),
				 pcram_ioctl_name(__builtin_ctzll(lack)));
	}
	return 0;
}

static void unregister_blocks(struct pcram_dst *dst, int *first_err)
{
	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		struct dst_block *b = &dst->blocks[i];
		struct uffdio_range r = {
			.start = (uint64_t)(uintptr_t)b->host, .len = b->length,
		};

		if (!b->registered)
			continue;
		/* ENOMEM/EINVAL: unmapped meanwhile; the registration went with it. */
		if (ioctl(dst->uffd, UFFDIO_UNREGISTER, &r) && errno != ENOMEM &&
		    errno != EINVAL && first_err && !*first_err)
			*first_err = dst_error(dst, -errno, "cleanup: block %s: UFFDIO_UNREGISTER: %s",
					       b->name, strerror(errno));
		b->registered = false;
		b->minor = false;
	}
}

static void close_notify(struct pcram_dst *dst, int *first_err)
{
	unregister_blocks(dst, first_err);
	dst_stop_fault_threads(dst);
	/*
	 * After the fault threads, whose providers may still place through
	 * the module; before the userfaultfd, which the module holds too.
	 */
	dst_module_detach(dst);
	if (dst->uffd >= 0)
		close(dst->uffd);
	if (dst->quit_fd >= 0)
		close(dst->quit_fd);
	if (dst->pagemap_fd >= 0)
		close(dst->pagemap_fd);
	dst->uffd = dst->quit_fd = dst->pagemap_fd = -1;
}

PCRAM_EXPORT
int pcram_dst_enable_notify(struct pcram_dst *dst)
{
	int ret;

	if (!dst)
		return -EINVAL;
	if (dst->state != DST_INIT)
		return wrong_stage(dst, "enable_notify");
	if (!dst->provider.request)
		return dst_error(dst, -EINVAL,
				 "enable_notify: no provider; set one with pcram_dst_set_provider() or pcram_dst_use_image()");
	if (dst->image && dst->image->nr_blocks != dst->nr_blocks)
		return dst_error(dst, -EINVAL,
				 "enable_notify: blocks were added after pcram_dst_use_image()");

	ret = open_uffd(dst);
	if (ret)
		return ret;
	ret = dst_module_attach(dst);
	if (ret)
		goto fail;
	dst->quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dst->quit_fd < 0) {
		ret = dst_error(dst, -errno, "enable_notify: eventfd: %s",
				strerror(errno));
		goto fail;
	}
	/* Tells a refault of a page that is gone from a stale message. */
	dst->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (dst->pagemap_fd < 0) {
		ret = dst_error(dst, -errno, "enable_notify: /proc/self/pagemap: %s",
				strerror(errno));
		goto fail;
	}
	ret = dst_pages_setup(dst);
	if (ret) {
		dst_error(dst, ret, "enable_notify: out of memory");
		goto fail;
	}
	ret = dst_start_fault_threads(dst);
	if (ret)
		goto fail;
	/* A page faults as soon as its block is registered: serve it. */
	dst->state = DST_NOTIFY;
	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		ret = register_block(dst, &dst->blocks[i]);
		if (ret)
			goto fail;
	}
	return 0;
fail:
	dst->state = DST_INIT;
	close_notify(dst, NULL);
	dst_zero_pages_free(dst);
	return ret;
}

PCRAM_EXPORT
int pcram_dst_cleanup(struct pcram_dst *dst)
{
	int err = 0;

	if (!dst)
		return -EINVAL;
	if (dst->state == DST_CLEANED)
		return 0;
	/* A fault thread cannot join itself. */
	if (dst->state == DST_NOTIFY && dst_current_fault_thread(dst))
		return dst_error(dst, -EDEADLK, "cleanup: called from a fault thread");
	if (dst->state == DST_NOTIFY)
		close_notify(dst, &err);

	for (unsigned int i = 0; i < dst->nr_blocks; i++) {
		struct dst_block *b = &dst->blocks[i];

		if (b->nohugepage_set && b->thp_restore &&
		    madvise(b->host, b->length, MADV_HUGEPAGE) && !err)
			err = dst_error(dst, -errno, "cleanup: block %s: MADV_HUGEPAGE: %s",
					b->name, strerror(errno));
		b->nohugepage_set = false;
		/* The pages are in; a failure here leaves a working VM. */
		if (b->relock && mlock(b->host, b->length) && !err)
			err = dst_error(dst, -errno, "cleanup: block %s: mlock: %s",
					b->name, strerror(errno));
		b->relock = false;
	}
	dst_pages_free(dst);
	dst->state = DST_CLEANED;
	return err;
}
