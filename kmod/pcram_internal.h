/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcram.ko internals shared by its source files.
 */
#ifndef _PCRAM_H
#define _PCRAM_H

#include <linux/build_bug.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>

/* Its sizes are used here; checkpatch frowns on naming it in this file. */
#ifndef _UAPI_LINUX_PCRAM_H
#error "include the UAPI header before this one"
#endif

#define PCRAM_MODULE_VERSION "0.2.0"

struct file;
struct genl_family;
struct pid;
struct sk_buff;

/* ---- pcram_stats.c: per-VM counters ------------------------------------ */

/* What batches did: one batch's tally, and a VM's sums. */
struct pcram_batch_counts {
	u64 ops;
	u64 bytes;
	u64 zero_bytes;
	u64 wakes;
	u64 eexist;
	u64 errors;
};

/* Log-linear buckets below 2^PCRAM_LHIST_MAX_SHIFT ns (all but the last). */
#define PCRAM_LHIST_IN_RANGE (PCRAM_LHIST_BUCKETS - 1)
/* log2 buckets at and above it, one per power of two. */
#define PCRAM_LHIST_HIGH (PCRAM_HIST_BUCKETS - PCRAM_LHIST_MAX_SHIFT)

/*
 * Counters one CPU updates; readers sum them over CPUs. A fault is
 * counted once: in fault_lhist below 2^PCRAM_LHIST_MAX_SHIFT ns, else in
 * fault_high by its power of two, so that both histograms of the UAPI
 * are sums of these (8.4 KiB per CPU per VM, most of it fault_lhist).
 */
struct pcram_stats_cpu {
	u64 faults;
	u64 blocked_ns;
	u64 fault_lhist[PCRAM_LHIST_IN_RANGE];
	u64 fault_high[PCRAM_LHIST_HIGH];
	u64 batches;
	struct pcram_batch_counts batch;
	u64 batch_hist[PCRAM_BATCH_HIST_BUCKETS];
};

/* Userspace sizes its copy of a thread name by the UAPI's constant. */
static_assert(PCRAM_COMM_MAX == TASK_COMM_LEN);

struct pcram_thread_stat {
	pid_t tid;
	char comm[TASK_COMM_LEN];
	u64 faults;
	u64 blocked_ns;
	u64 max_ns;
};

struct pcram_stats {
	struct pcram_stats_cpu __percpu *cpu;
	atomic64_t max_ns;
	spinlock_t threads_lock;	/* guards nr_threads and threads */
	unsigned int nr_threads;
	struct pcram_thread_stat threads[PCRAM_THREADS_MAX];
};

/* A consistent-enough copy for a netlink message; big: allocate it. */
struct pcram_stats_snapshot {
	struct pcram_stats_cpu sum;
	u64 fault_hist[PCRAM_HIST_BUCKETS];	/* log2, from sum */
	u64 fault_lhist_over;			/* the last log-linear bucket */
	u64 max_ns;
	unsigned int nr_threads;
	struct pcram_thread_stat threads[PCRAM_THREADS_MAX];
};

int pcram_stats_init(struct pcram_stats *stats);
void pcram_stats_free(struct pcram_stats *stats);
void pcram_stats_fault(struct pcram_stats *stats, u64 ns);
void pcram_stats_batch(struct pcram_stats *stats, u32 count,
		       const struct pcram_batch_counts *t);
void pcram_stats_read(struct pcram_stats *stats,
		      struct pcram_stats_snapshot *snap);
void pcram_stats_reset(struct pcram_stats *stats);

/* ---- pcram_vm.c: contexts and their registry --------------------------- */

struct pcram_vm {
	/* the open file (or, of a process VM, the registry), each measured
	 * fault, and a process VM's mmu notifier
	 */
	refcount_t ref;
	u32 id;
	enum pcram_vm_kind kind;	/* set at creation */
	struct list_head node;	/* in pcram_vm_all until freed */
	struct hlist_node hnode;	/* by uffd_ctx or mm, while attached */
	const void *uffd_ctx;	/* the attached uffd's private_data */
	const struct mm_struct *mm;	/* a process VM's, while attached */
	struct mmu_notifier mn;	/* a process VM's: its exit */

	/* Serializes this VM's attach and detach, and so their events. */
	struct mutex attach_mutex;

	spinlock_t lock;	/* guards the fields below */
	struct file *uffd;	/* attached userfaultfd, or NULL */
	bool attached;		/* a process VM's */
	struct pid *process;	/* a process VM's process (a reference) */
	pid_t pid;		/* ... its id, initial pid namespace */
	u32 attach_flags;
	pid_t owner;
	kuid_t owner_uid;	/* its effective uid: who may read the VM */
	u64 attach_time_ns;	/* CLOCK_REALTIME; 0: never attached */
	enum pcram_detach_reason detach_reason;	/* of the latest detach */
	char name[PCRAM_NAME_MAX];

	/* fault sampling for events (pcram_event.c) */
	atomic64_t last_sample_ns;
	atomic64_t unsampled;
	/* between the attach and detach events; under pcram_event_lock */
	bool sampled;

	struct pcram_stats stats;
	struct rcu_head rcu;
};

/* What netlink shows of a VM besides its statistics. */
struct pcram_vm_info {
	u32 id;
	enum pcram_vm_kind kind;
	pid_t pid;
	enum pcram_detach_reason detach_reason;
	bool attached;
	bool measured;
	u32 attach_flags;
	pid_t owner;
	kuid_t owner_uid;
	u64 attach_time_ns;
	char name[PCRAM_NAME_MAX];
};

/* What refused a process attach or detach, for the extack. */
struct pcram_vm_pid_args {
	pid_t pid;		/* in the caller's pid namespace */
	u32 flags;		/* PCRAM_ATTACH_F_* */
	const char *name;	/* NULL: the process's comm */
	const char *err;	/* out: why it was refused */
};

struct pcram_vm *pcram_vm_create(enum pcram_vm_kind kind);
void pcram_vm_release(struct pcram_vm *vm);
int pcram_vm_attach(struct pcram_vm *vm, const struct pcram_attach *arg);
int pcram_vm_detach(struct pcram_vm *vm, enum pcram_detach_reason reason);
struct pcram_vm *pcram_vm_attach_pid(struct pcram_vm_pid_args *args);
int pcram_vm_detach_pid(struct pcram_vm *vm, bool capable, const char **err);
struct file *pcram_vm_get_uffd(struct pcram_vm *vm);
struct pcram_vm *pcram_vm_get_measured(const void *uffd_ctx);
struct pcram_vm *pcram_vm_get_measured_mm(const struct mm_struct *mm);
struct pcram_vm *pcram_vm_get_by_id(u32 id);
struct pcram_vm *pcram_vm_get_next(u32 *id);
void pcram_vm_put(struct pcram_vm *vm);
void pcram_vm_get_info(struct pcram_vm *vm, struct pcram_vm_info *info);
u32 pcram_vm_count(void);
void pcram_vm_shutdown(void);
void pcram_vm_exit(void);

/* ---- pcram_batch.c ------------------------------------------------------ */

long pcram_batch(struct pcram_vm *vm, const struct pcram_batch __user *uarg);

/* ---- pcram_latency.c: the latency probe (a kretprobe) ----------------- */

int pcram_latency_init(void);
void pcram_latency_exit(void);
enum pcram_latency_probe_state pcram_latency_state(int *err);
u64 pcram_latency_nmissed(void);
unsigned int pcram_latency_maxactive(void);

/* ---- pcram_event.c: the events multicast group -------------------------- */

struct pcram_fault_sample {
	u32 vm_id;
	pid_t tid;
	u32 flags;
	char comm[TASK_COMM_LEN];
	u64 latency_ns;
	u64 address;
	u64 skipped;
};

void pcram_event_exit(void);
void pcram_event_vm(struct pcram_vm *vm, u8 cmd);
void pcram_event_fault(struct pcram_vm *vm, u64 now, u64 ns,
		       unsigned long address, u32 flags);
unsigned int pcram_event_interval_ms(void);
u64 pcram_event_dropped(void);

/* ---- pcram_genl.c ------------------------------------------------------- */

extern struct genl_family pcram_genl_family;

enum pcram_genl_mcgrp {
	PCRAM_MCGRP_EVENTS,
};

int pcram_genl_init(void);
void pcram_genl_exit(void);
int pcram_genl_put_vm_id(struct sk_buff *skb, const struct pcram_vm_info *info,
			 bool attach);

/* ---- pcram_dev.c -------------------------------------------------------- */

int pcram_dev_init(void);
void pcram_dev_exit(void);

#endif /* _PCRAM_H */
