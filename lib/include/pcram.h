/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libpcram: userfaultfd postcopy RAM.
 *
 * Every call returns 0 (or a count) on success and a negative errno on
 * failure. Nothing here prints, exits or keeps global mutable state.
 */
#ifndef PCRAM_H
#define PCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version --------------------------------------------------------- */

#define PCRAM_VERSION_MAJOR 0
#define PCRAM_VERSION_MINOR 2
#define PCRAM_VERSION_PATCH 0

/* The library's version as "MAJOR.MINOR.PATCH", of the loaded library. */
const char *pcram_version(void);

/*
 * ABI: a call that fills a struct of the caller's takes @size, the
 * caller's sizeof(*st) (of the header it was built with). A later release
 * may add fields to such a struct, at its end only: with a smaller @size
 * (an older caller) the library fills the fields that fit and writes
 * nothing past @size; with a larger one (a caller newer than the library)
 * it fills what it knows and zeroes the rest up to @size. A @size smaller
 * than the struct of pcram 0.1.0, its first release, is -EINVAL.
 * Programs built against 0.1.0, whose calls took no size, keep working:
 * they are linked to those calls' PCRAM_0.1 symbol versions.
 */

/* ---- Probe: what this host's userfaultfd can do ---------------------- */

/* How a userfaultfd was obtained, best first. */
enum pcram_opener {
	PCRAM_OPENER_NONE = 0,		/* none could be opened */
	PCRAM_OPENER_DEVICE,		/* /dev/userfaultfd, USERFAULTFD_IOC_NEW */
	PCRAM_OPENER_SYSCALL,		/* userfaultfd(2) */
	PCRAM_OPENER_SYSCALL_USER_ONLY,	/* userfaultfd(2), UFFD_USER_MODE_ONLY:
					 * faults taken in the kernel (KVM,
					 * read(2) into the range) are not
					 * caught */
};

/* Memory backings tried with a test registration. */
enum pcram_backing {
	PCRAM_BACKING_ANON = 0,		/* private anonymous, base pages */
	PCRAM_BACKING_SHMEM,		/* memfd (shmem), shared */
	PCRAM_BACKING_HUGETLB,		/* hugetlbfs, default huge page size */
	PCRAM_BACKING_MAX,
};

/* Registration modes tried on each backing. */
enum pcram_reg_mode {
	PCRAM_REG_MISSING = 0,		/* UFFDIO_REGISTER_MODE_MISSING */
	PCRAM_REG_MINOR,		/* UFFDIO_REGISTER_MODE_MINOR */
	PCRAM_REG_MAX,
};

/* Reasons in pcram_probe_result.diag; the text in .diagnosis names fixes. */
#define PCRAM_DIAG_NO_KERNEL_SUPPORT	(1u << 0) /* kernel lacks userfaultfd */
#define PCRAM_DIAG_DEVICE_ACCESS	(1u << 1) /* /dev/userfaultfd refused */
#define PCRAM_DIAG_SYSCTL		(1u << 2) /* vm.unprivileged_userfaultfd=0
						   * and no CAP_SYS_PTRACE */
#define PCRAM_DIAG_USER_MODE_ONLY	(1u << 3) /* kernel-mode faults missed */
#define PCRAM_DIAG_BLOCKED		(1u << 4) /* refused despite privilege:
						   * seccomp or an LSM */
#define PCRAM_DIAG_MISSING_IOCTLS	(1u << 5) /* COPY/ZEROPAGE/WAKE absent */
#define PCRAM_DIAG_MEMORY_LOCKED	(1u << 6) /* mlock: locked pages never
						   * fault */

#define PCRAM_MAX_HUGEPAGE_POOLS 8

struct pcram_hugepage_pool {
	uint64_t page_size;	/* bytes */
	uint64_t total;		/* pages in the pool (nr_hugepages) */
	uint64_t free;		/* pages free now (free_hugepages) */
};

struct pcram_reg_result {
	bool tried;		/* false: the feature or backing is absent */
	int error;		/* 0, or -errno from mapping or UFFDIO_REGISTER */
	uint64_t ioctls;	/* bit _UFFDIO_x: ioctls offered on the range */
};

struct pcram_probe_result {
	enum pcram_opener opener;
	int device_error;	/* -errno opening /dev/userfaultfd, or 0 */
	int syscall_error;	/* -errno of userfaultfd(2) without
				 * UFFD_USER_MODE_ONLY, or 0 */
	uint64_t api;		/* UFFD_API answered by the handshake */
	uint64_t features;	/* UFFD_FEATURE_x the kernel supports */
	uint64_t enabled;	/* ... of which pcram asks for and got */
	uint64_t ioctls;	/* bit _UFFDIO_x offered on the fd itself */
	struct pcram_reg_result reg[PCRAM_BACKING_MAX][PCRAM_REG_MAX];

	size_t page_size;	/* base page size */
	unsigned int nr_hugepage_pools;
	struct pcram_hugepage_pool hugepage_pools[PCRAM_MAX_HUGEPAGE_POOLS];
	char thp_enabled[16];	/* transparent_hugepage/enabled: "always",
				 * "madvise", "never"; "" when absent */
	char thp_shmem[16];	/* transparent_hugepage/shmem_enabled */
	uint64_t locked_bytes;	/* this process's mlocked memory (VmLck) */

	unsigned int diag;	/* PCRAM_DIAG_x */
	char diagnosis[768];	/* what is wrong and how to fix it, or "" */
};

/*
 * Probe this host's userfaultfd: open one the best way this process can,
 * hand-shake the API, try a registration on every backing and mode, and
 * read the huge page pools and THP mode. Nothing is left open or mapped.
 *
 * Returns 0 when postcopy can run here (a userfaultfd opens and a private
 * anonymous range offers COPY, ZEROPAGE and WAKE; check .diag for
 * limits), else -errno: -EPERM or -EACCES when access is refused, -ENOSYS
 * without kernel support, -EOPNOTSUPP when ioctls are missing, -EINVAL
 * for a NULL result or a @size too small (see "ABI" above: @size is
 * sizeof(*res)). In every case .diagnosis says why and names the fix.
 */
int pcram_probe(struct pcram_probe_result *res, size_t size);

/* Is a huge page of this size usable now (a pool with free pages)? */
bool pcram_probe_page_size_usable(const struct pcram_probe_result *res,
				  uint64_t page_size);

/*
 * Names. Each returns a static string, or NULL for a bit or value it does
 * not know: "MISSING_HUGETLBFS" for UFFD_FEATURE_MISSING_HUGETLBFS's bit,
 * "COPY" for _UFFDIO_COPY.
 */
const char *pcram_feature_name(unsigned int bit);
const char *pcram_ioctl_name(unsigned int bit);
const char *pcram_opener_name(enum pcram_opener opener);
const char *pcram_backing_name(enum pcram_backing backing);
const char *pcram_reg_mode_name(enum pcram_reg_mode mode);
/* "sysctl" for PCRAM_DIAG_SYSCTL's bit number, and so on. */
const char *pcram_diag_name(unsigned int bit);

/* ==== Destination: postcopy of named RAM blocks ====================== */

/*
 * A struct pcram_dst drives the destination half of postcopy for a set of
 * RAM blocks: it empties them, watches them with a userfaultfd, hands each
 * missing page that a thread touches to a provider, and places the pages
 * that arrive atomically. One call a step:
 *
 *   pcram_dst_new -> pcram_dst_add_block (each block)
 *     -> pcram_dst_incoming_init -> [pcram_dst_prepare_discard
 *     -> pcram_dst_discard_range ...] -> pcram_dst_enable_notify
 *     -> pcram_dst_place_* (any thread, until every page is in)
 *     -> pcram_dst_cleanup -> pcram_dst_free
 *
 * Every call returns 0 (or a count) or -errno; after a failure,
 * pcram_dst_strerror() says what was wrong in words. A call made at the
 * wrong step returns -EBUSY. Control calls (add, lifecycle, provider)
 * belong to one thread; placement and statistics calls may come from any.
 */
struct pcram_dst;

#define PCRAM_BLOCK_NAME_MAX	255	/* bytes, without the NUL */
#define PCRAM_MAX_FAULT_THREADS	64

/* What memory a block is; it decides how it is emptied and filled. */
enum pcram_block_type {
	PCRAM_BLOCK_ANON = 1,		/* private anonymous, base pages:
					 * MADV_DONTNEED, MISSING, COPY/ZEROPAGE */
	PCRAM_BLOCK_ANON_THP,		/* private anonymous where THP is on:
					 * as ANON, plus MADV_NOHUGEPAGE while
					 * pages arrive and MADV_HUGEPAGE after */
	PCRAM_BLOCK_HUGETLB,		/* private hugetlbfs (MAP_HUGETLB or a
					 * hugetlbfs file): whole huge pages,
					 * zero pages by COPY of a zeroed page */
	PCRAM_BLOCK_SHMEM,		/* shared memfd or shmem file (.fd):
					 * PUNCH_HOLE, MISSING + MINOR */
	PCRAM_BLOCK_HUGETLB_SHARED,	/* shared hugetlbfs file (.fd) */
};

struct pcram_block {
	const char *name;	/* unique, 1..PCRAM_BLOCK_NAME_MAX bytes */
	void *host;		/* start, aligned to .page_size */
	uint64_t length;	/* bytes, a multiple of .page_size */
	uint64_t page_size;	/* 0: the mapping's own (base page, or the
				 * huge page size of a hugetlbfs mapping) */
	enum pcram_block_type type;
	int fd;			/* the file behind a shared or file-backed
				 * hugetlbfs block, -1 for none; duplicated,
				 * so the caller may close its own */
	uint64_t fd_offset;	/* where .host's first byte is in .fd */
};

/* Options of pcram_dst_new(); zero-filled means the defaults. */
struct pcram_dst_options {
	unsigned int fault_threads;	/* 0 or 1: one fault thread; up to
					 * PCRAM_MAX_FAULT_THREADS read the
					 * same userfaultfd in parallel */
	unsigned int flags;		/* PCRAM_DST_F_x */
	/*
	 * The VM's name in pcram.ko's statistics ('pcram stat'): at most
	 * PCRAM_VM_NAME_MAX - 1 bytes; NULL or "": "pcram-PID".
	 */
	const char *vm_name;
};

#define PCRAM_DST_F_KERNEL_FAULTS	(1u << 0) /* refuse a userfaultfd that
						   * misses kernel-mode faults
						   * (KVM needs them) */
/*
 * pcram.ko, when /dev/pcram opens, is attached at enable_notify: the
 * kernel measures this VM's fault latency, and place_batch goes through
 * PCRAM_IOC_BATCH. Without the module everything works as before.
 * REQUIRE_MODULE: enable_notify fails instead (-ENODEV, or the error
 * that stopped the attach), naming why. NO_MODULE: never attach.
 */
#define PCRAM_DST_F_REQUIRE_MODULE	(1u << 1)
#define PCRAM_DST_F_NO_MODULE		(1u << 2)
#define PCRAM_DST_F_ALL			(PCRAM_DST_F_KERNEL_FAULTS | \
					 PCRAM_DST_F_REQUIRE_MODULE | \
					 PCRAM_DST_F_NO_MODULE)
#define PCRAM_VM_NAME_MAX		32

/* -EINVAL for unknown flags, -E2BIG for too many fault threads. */
int pcram_dst_new(struct pcram_dst **dst, const struct pcram_dst_options *opts);
/* Cleans up (if not done yet) and frees. NULL is allowed. */
void pcram_dst_free(struct pcram_dst *dst);
/*
 * What the last failed call on @dst was refused for, on any thread; "" if
 * none. Calls refused for a NULL argument, and the const queries, leave it
 * as it was. Any thread may call it: the string is this thread's copy,
 * valid until this thread asks for this object's message again (or for
 * those of four other objects).
 */
const char *pcram_dst_strerror(const struct pcram_dst *dst);

/*
 * Add a RAM block, before pcram_dst_incoming_init(). Checked against
 * /proc/self/maps: the range must be mapped, of the declared kind and page
 * size. -EINVAL for a bad name, alignment, length, type or fd (-EBADF for
 * one that is not open); -EEXIST for
 * a duplicate name; -EBUSY for an overlap or after incoming_init;
 * -ENOENT for a range that is not mapped.
 */
int pcram_dst_add_block(struct pcram_dst *dst, const struct pcram_block *blk);
/* Number of blocks, and one by index (sorted by host address; -ENOENT
 * past the end). */
int pcram_dst_nr_blocks(const struct pcram_dst *dst);
int pcram_dst_block(const struct pcram_dst *dst, unsigned int index,
		    struct pcram_block *blk);
/*
 * Host address -> block index and offset in it, O(log n). -ENOENT when
 * outside every block.
 */
int pcram_dst_lookup(const struct pcram_dst *dst, const void *addr,
		     unsigned int *index, uint64_t *offset);
/*
 * The library's own writable alias of a shared block (SHMEM,
 * HUGETLB_SHARED): data written there is in the page cache but not yet
 * mapped at .host; pcram_dst_place_continue() maps it. -EINVAL for other
 * types. Valid until pcram_dst_free().
 */
int pcram_dst_block_alias(struct pcram_dst *dst, unsigned int index,
			  void **alias);

/* ---- Destination: providers -------------------------------------------- */

/* One missing page a thread waits for. */
struct pcram_request {
	const char *block;	/* the block's name, or NULL when it is the
				 * same as in the previous request handed out
				 * by this fault thread (the wire elides it) */
	unsigned int block_index;
	uint64_t offset;	/* in the block, aligned to its page size */
	uint64_t length;	/* the block's page size */
	void *host;		/* where the page goes */
	uint32_t tid;		/* thread that faulted, 0 if unknown */
	unsigned int fault_thread; /* which fault thread hands it out */
};

/* Things the fault threads saw that were not an ordinary fault. */
enum pcram_event_type {
	PCRAM_EVENT_FAULT_OUTSIDE = 1,	/* a fault in no block: the thread
					 * stays blocked until cleanup */
	PCRAM_EVENT_REMOVE,		/* MADV_DONTNEED/REMOVE on a block:
					 * its pages are missing again */
	PCRAM_EVENT_UNMAP,		/* munmap of (part of) a block */
	PCRAM_EVENT_REMAP,		/* mremap of a block: refused, pages
					 * at .to are no longer served */
	PCRAM_EVENT_FORK,		/* refused: the child's userfaultfd
					 * is closed */
	PCRAM_EVENT_UNKNOWN,		/* a message type unknown here */
	PCRAM_EVENT_PROVIDER_ERROR,	/* the provider refused a request
					 * (.error); the thread still waits */
	PCRAM_EVENT_THREAD_ERROR,	/* a fault thread stopped (.error) */
};

struct pcram_event {
	enum pcram_event_type type;
	uint64_t addr;		/* fault address, or start of the range */
	uint64_t length;	/* range length, 0 for a fault */
	uint64_t to;		/* REMAP: new address */
	int error;		/* -errno for *_ERROR */
	unsigned int fault_thread;
};

/*
 * A provider gets the pages. .request runs on a fault thread: it may place
 * the page before it returns (pcram_dst_place_*, as the image provider
 * does) or queue it and have another thread place it later. It must not
 * block for long: other faults wait behind it. Returning -EAGAIN makes the
 * faulting thread fault again later; any other -errno is reported as
 * PCRAM_EVENT_PROVIDER_ERROR. .event (optional) is told every
 * PCRAM_EVENT_x, also on a fault thread.
 */
struct pcram_provider {
	int (*request)(struct pcram_dst *dst, const struct pcram_request *req,
		       void *opaque);
	void (*event)(struct pcram_dst *dst, const struct pcram_event *ev,
		      void *opaque);
	void *opaque;
};

/* Set the provider, before pcram_dst_enable_notify(). */
int pcram_dst_set_provider(struct pcram_dst *dst,
			   const struct pcram_provider *provider);

/*
 * The built-in local provider: serve every fault from a RAM image file,
 * the blocks laid out back to back in the order of pcram_dst_block()
 * (address order), or at @offsets[i] for block i when @offsets is not
 * NULL. All-zero pages are placed as zero pages. The file is mapped
 * read-only and must cover every block (-EINVAL otherwise).
 */
int pcram_dst_use_image(struct pcram_dst *dst, const char *path,
			const uint64_t *offsets);

/* ---- Destination: lifecycle -------------------------------------------- */

/*
 * Empty every block: MADV_DONTNEED or FALLOC_FL_PUNCH_HOLE; munlock what
 * was locked. -EINVAL without blocks. May be called again before
 * enable_notify, and empties them again.
 */
int pcram_dst_incoming_init(struct pcram_dst *dst);
/*
 * MADV_NOHUGEPAGE on anonymous blocks where THP can act (ANON_THP, a
 * mapping with MADV_HUGEPAGE, or THP "always"), so that THP cannot fill a
 * discarded range back in; cleanup gives those MADV_HUGEPAGE back.
 */
int pcram_dst_prepare_discard(struct pcram_dst *dst);
/*
 * Drop [start, start+len) of a block: the source says it changed; those
 * pages fault and are asked for again. -ENOENT for an unknown block,
 * -EINVAL when empty or not aligned to its page size, -ERANGE past its
 * end, -EDEADLK from a fault thread (the kernel would wait for that very
 * thread to read the REMOVE event).
 */
int pcram_dst_discard_range(struct pcram_dst *dst, const char *block,
			    uint64_t start, uint64_t length);
/*
 * Open a userfaultfd, hand-shake, start the fault threads and register
 * every block (MISSING on private ones; on shared ones MISSING and, where
 * the kernel has MINOR faults for them, MINOR too), checking the ioctls
 * each needs. From here on, touches of missing pages go to the provider.
 * -EOPNOTSUPP with a message when a block's memory cannot be watched
 * here, or UFFDIO_REGISTER's own error (-EBUSY: another userfaultfd has
 * the range); nothing stays registered or running then.
 */
int pcram_dst_enable_notify(struct pcram_dst *dst);
/*
 * Unregister, restore THP and mlock, stop the fault threads, close the
 * userfaultfd. Safe at every stage and a second time. Pages that never
 * arrived read as the empty memory they are (zeros, or a hole). No
 * placement may run on another thread meanwhile. -EDEADLK from a fault
 * thread (a provider callback): it cannot join itself;
 * pcram_dst_free() must not be called there either.
 */
int pcram_dst_cleanup(struct pcram_dst *dst);

/* ---- Destination: placing pages ---------------------------------------- */

/*
 * Place one page of @host's block from @src (the block's page size of
 * bytes), atomically, and wake its waiters. Private blocks use
 * UFFDIO_COPY; shared blocks registered MINOR write through the alias and
 * UFFDIO_CONTINUE (shared blocks without MINOR use UFFDIO_COPY).
 * Returns 0, or 1 when the page was already there (EEXIST: counted, the
 * waiters are woken), or -errno (-ENOENT outside blocks, -EINVAL
 * unaligned, -EAGAIN when the memory map is changing: try again).
 */
int pcram_dst_place_page(struct pcram_dst *dst, void *host, const void *src);
/* A page of zeros: UFFDIO_ZEROPAGE, or COPY of a zeroed huge page. */
int pcram_dst_place_zero(struct pcram_dst *dst, void *host);
/* Shared blocks: the data is already in the page cache; map it. */
int pcram_dst_place_continue(struct pcram_dst *dst, void *host);
/*
 * A page that can never arrive: UFFDIO_POISON, so a touch gets SIGBUS
 * instead of hanging. It counts as received: a later placement of it
 * returns 1 and leaves the poison. -EOPNOTSUPP where the kernel lacks it.
 */
int pcram_dst_poison(struct pcram_dst *dst, void *host);

enum pcram_op_type {
	PCRAM_OP_COPY = 1,	/* .src -> .host */
	PCRAM_OP_ZERO,		/* zeros -> .host */
	PCRAM_OP_CONTINUE,	/* page cache -> .host (shared blocks) */
};

struct pcram_place_op {
	uint32_t type;		/* enum pcram_op_type */
	int32_t result;		/* out: 0 placed, 1 already there, -errno */
	void *host;		/* page start in a block */
	const void *src;	/* COPY: the page's data */
};

/*
 * Place many pages in one call: runs of contiguous pages in one block are
 * placed with one ioctl where the data is contiguous too, without waking,
 * then one UFFDIO_WAKE per run. Stops at the first failure. Returns how
 * many ops completed (== @n when all did); .result says how each went.
 * -EBUSY (nothing done) outside enable_notify..cleanup.
 */
int pcram_dst_place_batch(struct pcram_dst *dst, struct pcram_place_op *ops,
			  unsigned int n);

/*
 * A scratch buffer of @page_size bytes owned by @dst, for one receiving
 * thread to assemble a page in before placing it; freed by cleanup. The
 * same buffer for the same size; -E2BIG past four page sizes.
 */
int pcram_dst_tmp_page(struct pcram_dst *dst, uint64_t page_size, void **page);

/* Has this page arrived (placed, zeroed or poisoned)? 1/0; -ENOENT
 * outside every block. */
int pcram_dst_page_received(const struct pcram_dst *dst, const void *host);
/* Pages of all blocks not yet received. */
uint64_t pcram_dst_pages_missing(const struct pcram_dst *dst);

/* ---- Destination: statistics ------------------------------------------- */

#define PCRAM_HIST_BUCKETS 64

/* Bucket i counts values v with 2^i <= v < 2^(i+1); bucket 0 also 0..1. */
struct pcram_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t max;
	uint64_t bucket[PCRAM_HIST_BUCKETS];
};

/* The @q-quantile (0..1), interpolated inside its bucket; 0 if empty. */
uint64_t pcram_hist_quantile(const struct pcram_hist *h, double q);

struct pcram_dst_stats {
	uint64_t faults;	/* page fault messages read */
	uint64_t duplicates;	/* ... for a page already requested */
	uint64_t stale;		/* ... for a page already placed (woken) */
	uint64_t refaults;	/* ... for a shared page placed, then gone
				 * from the mapping: mapped again here
				 * (CONTINUE, or zeros if the file lost it) */
	uint64_t requests;	/* requests handed to the provider */
	uint64_t provider_errors;
	uint64_t pages_placed;	/* pages placed by COPY/CONTINUE/ZERO */
	uint64_t bytes_placed;
	uint64_t zero_pages;	/* ... of which zero pages */
	uint64_t eexist;	/* placements that found the page there */
	uint64_t eagain;	/* placements that said EAGAIN */
	uint64_t retries;	/* requests the provider answered -EAGAIN:
				 * the thread faults again */
	uint64_t wakes;		/* UFFDIO_WAKE calls */
	uint64_t poisoned;	/* pages poisoned */
	uint64_t outside;	/* faults in no block */
	uint64_t events;	/* non-fault messages (REMOVE, UNMAP, ...) */
	uint64_t untracked;	/* requests whose latency could not be kept */
	uint64_t pages_missing;	/* pages not yet received */
	uint32_t module_vm_id;	/* pcram.ko's id of this VM; 0: not attached */
	uint64_t module_batches; /* place_batch calls run by PCRAM_IOC_BATCH */
	unsigned int fault_threads;
	enum pcram_opener opener; /* how the userfaultfd was opened */
	uint64_t features;	/* UFFD_FEATURE_x enabled on it */
	/* Latency per stage, ns: fault read -> request handed out ->
	 * page arrived (place call) -> placed; and read -> placed. */
	struct pcram_hist read_to_request;
	struct pcram_hist request_to_arrival;
	struct pcram_hist arrival_to_placed;
	struct pcram_hist fault_to_placed;
};

/*
 * What pcram.ko measured for this destination's userfaultfd: the time each
 * faulting thread stayed blocked in the kernel's handle_userfault(), from
 * its kretprobe, and the PCRAM_IOC_BATCH calls place_batch made.
 */
#define PCRAM_KERNEL_THREADS_MAX 16
struct pcram_kernel_thread {
	uint32_t tid;
	uint64_t faults, blocked_ns, max_ns;
};

struct pcram_kernel_stats {
	uint32_t vm_id;			/* the module's id ('pcram stat ID') */
	char name[PCRAM_VM_NAME_MAX];	/* as the module lists it */
	uint64_t nmissed;		/* faults the probe could not measure,
					 * any VM's: they are in no histogram */
	struct pcram_hist blocked;	/* per fault, ns */
	unsigned int nr_threads;	/* longest blocked in total, first */
	struct pcram_kernel_thread threads[PCRAM_KERNEL_THREADS_MAX];
	uint64_t batches, batch_ops, batch_bytes, batch_wakes, batch_eexist, batch_errors;
};

/*
 * -ENODEV when pcram.ko is not attached (see PCRAM_DST_F_REQUIRE_MODULE);
 * a netlink error otherwise, with pcram_dst_strerror() saying which.
 * @size is sizeof(*ks), see "ABI" at the top.
 */
int pcram_dst_kernel_stats(struct pcram_dst *dst, struct pcram_kernel_stats *ks, size_t size);

/*
 * A snapshot, from any thread, without locks. Each counter is exact; they
 * are read one after another. A placement wakes its waiters inside the
 * ioctl, before it is counted: a woken thread may read the stats a moment
 * before its own page shows in them. Pages of a range that was unmapped
 * (PCRAM_EVENT_UNMAP) stay in pages_missing. @size is sizeof(*st), see
 * "ABI" at the top.
 */
int pcram_dst_stats(const struct pcram_dst *dst, struct pcram_dst_stats *st, size_t size);

struct pcram_thread_stats {
	uint32_t tid;
	int vcpu;		/* from pcram_dst_set_vcpu(), or -1 */
	uint64_t faults;	/* requests this thread's faults caused */
	uint64_t blocked_ns;	/* sum of read -> placed of those */
	uint64_t max_ns;
};

/* Name a faulting thread: @tid is vCPU number @vcpu in per-thread stats. */
int pcram_dst_set_vcpu(struct pcram_dst *dst, uint32_t tid, int vcpu);
/*
 * Copy up to @max threads' stats out; returns how many there are. @size
 * is sizeof(*out), and the stride of the array (see "ABI" at the top).
 */
int pcram_dst_thread_stats(const struct pcram_dst *dst,
			   struct pcram_thread_stats *out, unsigned int max, size_t size);

struct pcram_block_stats {
	uint64_t faults;
	uint64_t requests;
	uint64_t pages_placed;
	uint64_t bytes_placed;
	uint64_t zero_pages;
	uint64_t pages_missing;
};

/* Block @index's counters; @size is sizeof(*st), see "ABI" at the top. */
int pcram_dst_block_stats(const struct pcram_dst *dst, unsigned int index,
			  struct pcram_block_stats *st, size_t size);

/* ==== Migration over TCP: source ======================================= */

/*
 * The source of a live postcopy migration serves its RAM blocks over two
 * connections from the destination (Documentation/wire-protocol.rst):
 * "bulk" carries the background push in address order, "urgent" the pages
 * the destination faulted on, so that a requested page never waits
 * behind the bulk stream. Pages that are all zeros go as a flag.
 */
struct pcram_src;

struct pcram_src_block {
	const char *name;	/* unique, 1..PCRAM_BLOCK_NAME_MAX bytes */
	const void *host;	/* readable for the whole migration */
	uint64_t length;	/* a multiple of .page_size */
	uint64_t page_size;	/* 4 KiB .. 1 GiB, a power of two */
};

/* Track dirty pages with soft-dirty bits even where uffd-wp async works. */
#define PCRAM_SRC_F_SOFT_DIRTY	(1U << 0)
/*
 * Serve requests only, push nothing in the background: a lazy restore,
 * complete once the destination has asked for every page.
 */
#define PCRAM_SRC_F_NO_PUSH	(1U << 1)
/*
 * The push thread keeps the caller's priority. By default it runs at
 * nice 19, so that serving a request wins the CPU over the push: with
 * both at one priority, the p99 of a fault under a full-speed push was
 * 17-44 times its p99 with the push idle, on a 2-CPU host. (The thread
 * serving requests also asks for a short time slice, whatever this flag:
 * Documentation/lib.rst, "Keeping the urgent path fast".)
 */
#define PCRAM_SRC_F_BULK_SAME_PRIORITY (1U << 2)
/*
 * A COMPLETE must follow a CHECKSUM of every page: a destination that
 * does not verify (no PCRAM_IN_F_VERIFY) is refused with -EPROTO rather
 * than reported complete.
 */
#define PCRAM_SRC_F_REQUIRE_VERIFY (1U << 3)
#define PCRAM_SRC_F_ALL		(PCRAM_SRC_F_SOFT_DIRTY | PCRAM_SRC_F_NO_PUSH | \
				 PCRAM_SRC_F_BULK_SAME_PRIORITY | PCRAM_SRC_F_REQUIRE_VERIFY)

struct pcram_src_options {
	unsigned int flags;		/* PCRAM_SRC_F_* */
	/*
	 * Precopy: while the VM still runs, up to @precopy_rounds passes
	 * over the pages, the first sending every page, each later one the
	 * pages written since they were sent; for at most @precopy_ms in
	 * all (0: no time limit). It ends early when a pass finds nothing
	 * written. Then the switchover: the pages written since they were
	 * sent are discarded at the destination and come in postcopy.
	 * 0 rounds: straight to postcopy.
	 */
	unsigned int precopy_rounds;
	unsigned int precopy_ms;
	/*
	 * Called once, before the switchover message goes out: the VM
	 * (whatever writes the blocks) must stop now. NULL: nothing writes.
	 */
	void (*switchover)(void *opaque);
	/*
	 * Soft-dirty tracking (kernels without uffd-wp async) reads the
	 * bits, then clears them: a write in between would be missed. It
	 * calls hold(opaque, true) before, and must return with the writers
	 * stopped, and hold(opaque, false) after. Precopy on such a kernel
	 * without @hold fails with -EOPNOTSUPP.
	 */
	void (*hold)(void *opaque, int stop);
	void *opaque;
};

/* How the source finds the pages written during precopy. */
enum pcram_dirty_tracking {
	PCRAM_DIRTY_NONE,		/* no precopy (yet) */
	PCRAM_DIRTY_UFFD_WP_ASYNC,	/* userfaultfd WP_ASYNC + PAGEMAP_SCAN (6.7) */
	PCRAM_DIRTY_SOFT_DIRTY,		/* /proc/self/pagemap soft-dirty bits */
};

struct pcram_src_stats {
	uint64_t pages_pushed;		/* background pages sent (bulk) */
	uint64_t pages_requested;	/* pages sent because they were asked for */
	uint64_t zero_pages;		/* ... of all those, sent as a zero flag */
	uint64_t bytes_sent;		/* page data bytes */
	uint64_t requests;		/* REQUEST messages served */
	uint64_t precopy_rounds;	/* passes made before the switchover */
	uint64_t pages_precopy;		/* pages sent in them (again if written) */
	uint64_t pages_dirtied;		/* pages found written after being sent */
	uint64_t discard_ranges;	/* ranges discarded at switchover */
	uint64_t discard_commands;	/* DISCARD messages they took (<= 12 each) */
	enum pcram_dirty_tracking dirty_tracking;
	uint64_t stop_ns;		/* CLOCK_MONOTONIC when the VM stopped */
	uint64_t resumes;		/* connections taken after the first */
	uint64_t verified_equal;	/* pages whose checksums matched (this connection) */
	uint64_t verified_differ;
};

int pcram_src_new(struct pcram_src **src, const struct pcram_src_options *opts);
void pcram_src_free(struct pcram_src *src);
/*
 * Why the last failed call on @src failed; "" if none. Any thread may call
 * it: the string is this thread's copy, valid until this thread asks for
 * this object's message again (or for those of four other objects).
 */
const char *pcram_src_strerror(const struct pcram_src *src);
int pcram_src_add_block(struct pcram_src *src, const struct pcram_src_block *blk);

/*
 * Serve one pair of connections (either order; each says which it is)
 * until the destination has every page and says so: 0, and every page
 * it checksummed matched. A connection that breaks, or carries nothing
 * for the peer timeout, returns -ECONNRESET and keeps the state: call
 * again with a new pair to resume, and only what is missing is sent.
 * A protocol error (a malformed message, a COMPLETE before every page
 * went out, checksums that do not cover every page once) is -EPROTO,
 * told to the destination in a SHUTDOWN; the destination's own SHUTDOWN
 * returns its status; pages that differ return -EIO.
 */
int pcram_src_serve(struct pcram_src *src, int fd_a, int fd_b);
/*
 * A destination silent for @ms (no message on a connection, or none of
 * our bytes taken) has gone: at least 1000, 5000 by default. Both sides
 * send KEEPALIVE when idle, so only a dead or stuck peer is this quiet.
 */
int pcram_src_set_peer_timeout(struct pcram_src *src, unsigned int ms);
/* @size is sizeof(*st), see "ABI" at the top. */
int pcram_src_stats(const struct pcram_src *src, struct pcram_src_stats *st, size_t size);

/* ==== Migration over TCP: destination ================================== */

/*
 * Drives a struct pcram_dst from a remote source: requests go out on the
 * urgent connection, pages are placed as they come (in batches from the
 * bulk stream, at once from the urgent one).
 */
struct pcram_in;

struct pcram_remote_block {
	char name[PCRAM_BLOCK_NAME_MAX + 1];
	uint64_t length;
	uint64_t page_size;
};

struct pcram_in_options {
	unsigned int flags;		/* PCRAM_IN_F_* */
	/* Called when the source switches over: start the vCPUs. */
	void (*switchover)(void *opaque);
	void *opaque;
};

/* Send every page's checksum when complete; the source compares. */
#define PCRAM_IN_F_VERIFY	(1U << 0)
/*
 * The bulk receiver keeps the caller's priority. By default it runs at
 * nice 19, so that the urgent receiver and the vCPUs it wakes win the
 * CPU over background pages.
 */
#define PCRAM_IN_F_BULK_SAME_PRIORITY (1U << 1)
#define PCRAM_IN_F_ALL		(PCRAM_IN_F_VERIFY | PCRAM_IN_F_BULK_SAME_PRIORITY)

int pcram_in_new(struct pcram_in **in, const struct pcram_in_options *opts);
void pcram_in_free(struct pcram_in *in);
/*
 * Why the last failed call on @in failed; "" if none. Any thread may call
 * it: the string is this thread's copy, valid until this thread asks for
 * this object's message again (or for those of four other objects).
 */
const char *pcram_in_strerror(const struct pcram_in *in);

/*
 * Greet the source over two connected sockets and learn its blocks:
 * their count, up to @max of them copied to @blocks. From here the
 * library writes the sockets (a KEEPALIVE when idle, see
 * pcram_in_set_peer_timeout()) and sets their SO_RCVTIMEO and
 * SO_SNDTIMEO, until wait returns (but for -ETIMEDOUT), connect or
 * resume fails, or abandon or free: close them only after that.
 */
int pcram_in_connect(struct pcram_in *in, int bulk_fd, int urgent_fd,
		     struct pcram_remote_block *blocks, unsigned int max);

/*
 * Start: @dst has a block of the same name, length and page size for
 * each remote block, has had incoming_init (and prepare_discard), and no
 * provider. This sets the provider, enables notification and starts the
 * receivers.
 */
int pcram_in_start(struct pcram_in *in, struct pcram_dst *dst);

/*
 * Wait until every page is in and the source has said so (0; with
 * PCRAM_IN_F_VERIFY, every checksum matched at the source), the
 * migration fails (a protocol error either way, -EPROTO; a page that
 * cannot be placed; the source's SHUTDOWN, its status; pages that
 * differ, -EIO: each told to the source), or a connection breaks or
 * goes silent (-ECONNRESET: faults keep queueing; reconnect with
 * pcram_in_resume()). @timeout_ms < 0: forever; -ETIMEDOUT when it
 * passes.
 */
int pcram_in_wait(struct pcram_in *in, int timeout_ms);

/*
 * After -ECONNRESET: a new pair of connections. The received bitmap goes
 * to the source, the outstanding requests are sent again, and the
 * receivers start over.
 */
int pcram_in_resume(struct pcram_in *in, int bulk_fd, int urgent_fd);

/*
 * A source silent for @ms (no message on a connection, or none of our
 * bytes taken) has gone: the connection counts as broken (-ECONNRESET
 * from wait). At least 1000, 5000 by default; set before connect.
 */
int pcram_in_set_peer_timeout(struct pcram_in *in, unsigned int ms);

/*
 * Give up on the source (it did not come back): the migration has
 * failed, and wait and resume say so from now on. With
 * PCRAM_IN_ABANDON_POISON every page not yet received is poisoned, so
 * that the threads blocked on one, and any that touch one later, get
 * SIGBUS instead of waiting forever: UFFDIO_POISON (Linux 6.6), or on an
 * older kernel an empty file mapped over each run of such pages (which
 * splits the block's mapping there). Without it they stay blocked until
 * the caller ends them. Returns the pages poisoned.
 */
int pcram_in_abandon(struct pcram_in *in, unsigned int flags);
#define PCRAM_IN_ABANDON_POISON	(1U << 0)
#define PCRAM_IN_ABANDON_F_ALL	PCRAM_IN_ABANDON_POISON

struct pcram_in_stats {
	uint64_t pages_bulk;		/* pages placed from the bulk stream */
	uint64_t pages_urgent;		/* ... from the urgent one */
	uint64_t zero_pages;
	uint64_t batches;		/* place_batch calls for bulk pages */
	uint64_t discards;		/* ranges discarded */
	uint64_t pages_precopy;		/* pages that came before the switchover */
	uint64_t pages_rewritten;	/* ... again, written over the old copy */
	uint64_t resumes;
	uint64_t verified_equal;	/* from the source's closing message */
	uint64_t switchover_ns;		/* CLOCK_MONOTONIC of the switchover */
	uint64_t complete_ns;		/* ... of the last page in */
};

/* @size is sizeof(*st), see "ABI" at the top. */
int pcram_in_stats(const struct pcram_in *in, struct pcram_in_stats *st, size_t size);

/* ==== pcram.ko: the kernel's own measurements ============================ */

/*
 * libpcram is the one userspace client of pcram.ko (the out-of-tree
 * module behind /dev/pcram and the generic netlink family "pcram",
 * Documentation/uapi.rst). A struct pcram_kmod is one connection to its
 * family: the module's description, each VM's kernel-measured fault
 * latency and placement counters, and the events group. A VM is one
 * userfaultfd attached to the module (pcram_kmod_attach_uffd(), or a
 * pcram_dst without PCRAM_DST_F_NO_MODULE), or a process attached by its
 * pid (pcram_kmod_attach_pid(), API 3): then every userfaultfd fault in
 * that process is measured, until pcram_kmod_detach() or its exit.
 *
 * Every call returns 0 (or a count) or -errno; after a failure
 * pcram_kmod_strerror() says what was wrong and what to do about it. A
 * handle belongs to one thread at a time.
 */
struct pcram_kmod;

#define PCRAM_KMOD_NAME_MAX		32	/* a VM's name, its NUL included */
#define PCRAM_KMOD_COMM_MAX		16	/* a thread's name, its NUL included */
#define PCRAM_KMOD_THREADS_MAX		16	/* threads a VM lists */
#define PCRAM_KMOD_BATCH_HIST_BUCKETS	11	/* [2^i, 2^(i+1)) ops */

/* The state of the module's fault-latency probe (its kretprobe). */
enum pcram_kmod_latency_probe {
	PCRAM_KMOD_LATENCY_PROBE_UNAVAILABLE = 0, /* not registered: nothing measured */
	PCRAM_KMOD_LATENCY_PROBE_OFF,		/* registered, turned off */
	PCRAM_KMOD_LATENCY_PROBE_ON,		/* measuring attached VMs */
};

/* PCRAM_CMD_GET_INFO: the loaded module. */
struct pcram_kmod_info {
	uint32_t size;			/* out: bytes of this struct filled */
	char version[64];		/* the module's version */
	uint32_t api_version;		/* its PCRAM_API_VERSION */
	uint32_t genl_version;		/* its family's version */
	uint32_t nr_vms;		/* VMs open now */
	/* API 2 and later (0 from an API 1 module): */
	uint32_t latency_probe;		/* enum pcram_kmod_latency_probe */
	int32_t latency_probe_error;	/* errno that made it unavailable, or 0 */
	uint32_t maxactive;		/* faulting threads it can follow at once */
	uint32_t batch_max;		/* most ops a PCRAM_IOC_BATCH takes */
	uint32_t event_interval_ms;	/* least time between two samples of a VM */
	uint64_t nmissed;		/* faults the probe could not measure */
	uint64_t events_dropped;	/* samples dropped: the module's queue was full */
	uint64_t reserved[6];
};

struct pcram_kmod_thread {
	uint32_t tid;			/* initial pid namespace */
	char comm[PCRAM_KMOD_COMM_MAX];	/* its name when it last faulted */
	uint64_t faults;
	uint64_t blocked_ns;		/* total */
	uint64_t max_ns;
};

/* What PCRAM_IOC_BATCH did for a VM. */
struct pcram_kmod_batch {
	uint64_t batches, ops, pages, bytes, zero_pages, wakes, eexist, errors;
	uint64_t size_hist[PCRAM_KMOD_BATCH_HIST_BUCKETS];
};

/* One sampled fault (PCRAM_KMOD_EVENT_FAULT). */
struct pcram_kmod_sample {
	uint32_t tid;
	char comm[PCRAM_KMOD_COMM_MAX];
	uint64_t latency_ns;		/* how long it blocked */
	uint64_t address;		/* page of the faulting address */
	uint32_t flags;			/* UFFD_PAGEFAULT_FLAG_* */
	uint64_t skipped;		/* faults since the previous sample, unsent */
};

/*
 * The module's log-linear fault latency histogram (API 3 and later):
 * each power of two of ns is split into 2^PCRAM_KMOD_LHIST_SUB_BITS (32)
 * equal buckets, values below 32 ns get one bucket each, and the last
 * bucket counts every value of 2^PCRAM_KMOD_LHIST_MAX_SHIFT ns (68.7 s)
 * or more. A bucket is never wider than 1/32 of the values it holds, so
 * a quantile is within 3.125% of the exact one (below the last bucket).
 * pcram_kmod_lhist_bounds() gives a bucket's values.
 */
#define PCRAM_KMOD_LHIST_SUB_BITS	5
#define PCRAM_KMOD_LHIST_MAX_SHIFT	36
#define PCRAM_KMOD_LHIST_BUCKETS	1025

struct pcram_kmod_lhist {
	uint64_t count;
	uint64_t sum;
	uint64_t max;
	uint64_t bucket[PCRAM_KMOD_LHIST_BUCKETS];
};

/*
 * The values bucket @i of a struct pcram_kmod_lhist holds: *@lo to *@hi,
 * both included (*@hi is UINT64_MAX for the last bucket). Either pointer
 * may be NULL. 0; -EINVAL when @i is not a bucket.
 */
int pcram_kmod_lhist_bounds(unsigned int i, uint64_t *lo, uint64_t *hi);
/*
 * The @q-quantile (0..1) of @h: the value of rank max(1, round(@q *
 * total)) in increasing order, interpolated inside its bucket and never
 * above ->max; 0 if empty.
 */
uint64_t pcram_kmod_lhist_quantile(const struct pcram_kmod_lhist *h, double q);

/* Of struct pcram_kmod_vm.attach_flags, as given to the attach. */
#define PCRAM_KMOD_ATTACH_F_NO_LATENCY	(1U << 0) /* do not measure its faults */
#define PCRAM_KMOD_ATTACH_F_NO_EVENTS	(1U << 1) /* send no samples of it */
#define PCRAM_KMOD_ATTACH_F_ALL		(PCRAM_KMOD_ATTACH_F_NO_LATENCY | \
					 PCRAM_KMOD_ATTACH_F_NO_EVENTS)

/* Of struct pcram_kmod_vm.kind. */
enum pcram_kmod_vm_kind {
	PCRAM_KMOD_VM_UFFD = 0,		/* one userfaultfd, through /dev/pcram */
	PCRAM_KMOD_VM_PROCESS,		/* a process, by pid: all its userfaultfds */
};

/* Of struct pcram_kmod_vm.detach_reason, in PCRAM_KMOD_EVENT_DETACH. */
enum pcram_kmod_detach_reason {
	PCRAM_KMOD_DETACH_REQUEST = 0,	/* detached by a call (ioctl or pcram_kmod_detach) */
	PCRAM_KMOD_DETACH_CLOSED,	/* its /dev/pcram file was closed */
	PCRAM_KMOD_DETACH_EXITED,	/* its process exited */
	PCRAM_KMOD_DETACH_UNLOAD,	/* the module was unloaded */
};

/* One VM as the module describes it (PCRAM_CMD_GET_VM, or an event). */
struct pcram_kmod_vm {
	uint32_t size;			/* out: bytes of this struct filled */
	uint32_t id;			/* > 0 */
	char name[PCRAM_KMOD_NAME_MAX];
	uint32_t owner_pid;		/* the process that attached (or opened) it */
	bool attached;			/* attached now */
	bool measured;			/* its faults are measured now */
	bool has_attach_time;
	bool has_sample;		/* .sample is set (fault events) */
	uint64_t attach_time_ns;	/* CLOCK_REALTIME of the latest attach */
	uint32_t attach_flags;		/* PCRAM_KMOD_ATTACH_F_* */
	uint64_t nmissed;		/* module-wide: faults in no histogram */
	struct pcram_hist faults;	/* blocked time per fault, ns; bucket i
					 * is [2^i, 2^(i+1)) as pcram_hist is */
	unsigned int nr_threads;	/* longest blocked in total first */
	struct pcram_kmod_thread threads[PCRAM_KMOD_THREADS_MAX];
	struct pcram_kmod_batch batch;
	struct pcram_kmod_sample sample;
	bool has_lhist;			/* .lhist is set: a module of API 3 or
					 * later; else use .faults */
	struct pcram_kmod_lhist lhist;	/* the same faults, log-linear: for
					 * quantiles within 3.125% */
	/* API 3 and later (0 from an older module): */
	uint32_t kind;			/* enum pcram_kmod_vm_kind */
	uint32_t pid;			/* a process VM's process (initial pid namespace) */
	uint32_t detach_reason;		/* PCRAM_KMOD_EVENT_DETACH: enum pcram_kmod_detach_reason */
	uint64_t reserved[8];
};

/* A handle, not yet connected. -ENOMEM. */
int pcram_kmod_new(struct pcram_kmod **kmod);
/* Closes the connection (if open) and frees. NULL is allowed. */
void pcram_kmod_free(struct pcram_kmod *kmod);
/* What the last failed call was refused for ("" if none); as pcram_dst_strerror(). */
const char *pcram_kmod_strerror(const struct pcram_kmod *kmod);

/*
 * Connect to pcram.ko's family, read its description and check that it
 * speaks what this library does: the family's version and, unless
 * @min_api is 0, PCRAM_API_VERSION @min_api or later. -ENOENT: the
 * module is not loaded; -EPROTO: a version mismatch (the message names
 * both); -EBUSY: already open; another -errno.
 */
int pcram_kmod_open(struct pcram_kmod *kmod, uint32_t min_api);

/*
 * The module's description, read again, into @info: @size is the
 * caller's sizeof(*info), as for the stats calls (see "ABI" above):
 * never a byte past it, zeros where this library's struct ends first.
 * -EINVAL when @size is smaller than the first released layout.
 */
int pcram_kmod_info(struct pcram_kmod *kmod, struct pcram_kmod_info *info, size_t size);

/* VM @id into @vm (@size as for info): -ESRCH when there is no such VM. */
int pcram_kmod_get_vm(struct pcram_kmod *kmod, uint32_t id, struct pcram_kmod_vm *vm,
		      size_t size);

/*
 * Each VM, in increasing id order, to @fn; @fn returns 0 to go on or a
 * -errno that stops the dump and is returned. @vm is the library's
 * (its ->size tells how much of it there is) and lives only during the
 * call. Returns how many VMs were passed, or -errno.
 */
typedef int (*pcram_kmod_vm_fn)(const struct pcram_kmod_vm *vm, void *arg);
int pcram_kmod_dump(struct pcram_kmod *kmod, pcram_kmod_vm_fn fn, void *arg);

/* Zero the statistics of VM @id, or of every VM when @id is 0: -EPERM
 * without CAP_NET_ADMIN, -ESRCH when there is no such VM. */
int pcram_kmod_reset(struct pcram_kmod *kmod, uint32_t id);

/*
 * Join the events group: from then on use this handle for events only.
 * -EPERM without CAP_NET_ADMIN; -ENOENT from a module without events.
 */
int pcram_kmod_subscribe(struct pcram_kmod *kmod);
/* The connection's descriptor, to poll(2) for events. */
int pcram_kmod_fd(const struct pcram_kmod *kmod);

enum pcram_kmod_event {
	PCRAM_KMOD_EVENT_ATTACH = 1,	/* a VM attached: id, name, owner, time, flags */
	PCRAM_KMOD_EVENT_DETACH,	/* a VM detached: id, name, owner, detach_reason */
	PCRAM_KMOD_EVENT_FAULT,		/* a sampled fault: id and .sample */
};

typedef void (*pcram_kmod_event_fn)(enum pcram_kmod_event event,
				    const struct pcram_kmod_vm *vm, void *arg);
/*
 * The events waiting, each to @fn, without blocking. Returns 0;
 * -ENOBUFS when events were lost because the socket's buffer overran
 * (those that came after were still read); -EPROTO for a malformed one;
 * another -errno.
 */
int pcram_kmod_read_events(struct pcram_kmod *kmod, pcram_kmod_event_fn fn, void *arg);

/*
 * Attach userfaultfd @uffd to a new VM context of pcram.ko, named @name
 * (at most PCRAM_KMOD_NAME_MAX - 1 bytes; NULL: ""), with
 * PCRAM_KMOD_ATTACH_F_* @flags; no netlink connection is needed. Returns
 * the context's descriptor, and its VM id in *@vm_id (may be NULL):
 * close(2) it to detach and drop the VM, or call pcram_kmod_detach_uffd()
 * to detach and keep its statistics until the close. -ENODEV: no
 * /dev/pcram (the module is not loaded); -EINVAL: bad flags, name or
 * uffd; -ENOTTY: a module older than API 2; another -errno from
 * PCRAM_IOC_ATTACH.
 */
int pcram_kmod_attach_uffd(int uffd, const char *name, unsigned int flags, uint32_t *vm_id);
/* Detach the context @ctx_fd from its userfaultfd: 0, -ENOTCONN if not attached. */
int pcram_kmod_detach_uffd(int ctx_fd);

/*
 * Attach process @pid (of the caller's pid namespace) as a new VM named
 * @name (at most PCRAM_KMOD_NAME_MAX - 1 bytes; NULL: the process's own
 * name), with PCRAM_KMOD_ATTACH_F_* @flags: every userfaultfd fault in
 * its address space is measured, through any userfaultfd, including those
 * it creates later. The VM needs no process of the caller's to live on:
 * it ends with pcram_kmod_detach() or the process's exit. Its id in
 * *@vm_id (may be NULL). Needs the right to ptrace-read the process.
 * -ESRCH: no such process; -EPERM: not permitted; -EEXIST: attached
 * already; -EINVAL: bad name or flags, or a process without an address
 * space; -EOPNOTSUPP: a module older than API 3; another -errno.
 */
int pcram_kmod_attach_pid(struct pcram_kmod *kmod, pid_t pid, const char *name,
			  unsigned int flags, uint32_t *vm_id);
/*
 * Detach the process VM @vm_id and drop it. -ESRCH: no such VM;
 * -EOPNOTSUPP: a userfaultfd's VM (close its context instead) or a module
 * older than API 3; -EPERM: neither CAP_NET_ADMIN nor the right to
 * ptrace-read the process.
 */
int pcram_kmod_detach(struct pcram_kmod *kmod, uint32_t vm_id);

/*
 * PCRAM_IOC_BATCH: run @count ops (struct pcram_batch_op and the
 * PCRAM_BATCH_F_* @flags of <linux/pcram.h>, installed beside this
 * header) through the userfaultfd attached to @ctx_fd, in one system
 * call; contiguous ops are placed together and each run is woken once.
 * Returns how many ops completed (@count when all did; else the op at
 * that index failed, its .result says how), or -errno: the first op's
 * error (ops[0].result holds it too), or the refusal of the whole batch
 * (-ENOTCONN not attached, -E2BIG past PCRAM_BATCH_MAX, -EINVAL).
 */
struct pcram_batch_op;
int pcram_kmod_batch(int ctx_fd, struct pcram_batch_op *ops, unsigned int count,
		     unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* PCRAM_H */
