/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Talking to pcram.ko over its generic netlink family: GET_INFO, GET_VM
 * (one VM, or a dump of all) and the events group. Every failure leaves
 * a sentence for the user in @err, which says what to do about it.
 */
#ifndef PCRAM_TOOLS_NL_H
#define PCRAM_TOOLS_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/pcram.h>
#include <pcram.h>

/* The API that stat, top and monitor need: GET_VM and the events. */
#define PCRAM_NL_API_VM 2

struct pcram_module_info {
	char version[64];
	uint32_t api_version;
	uint32_t nr_vms;
	/* API 2 and later; has_api2 says whether they came */
	bool has_api2;
	uint32_t probe;			/* enum pcram_probe_state */
	bool has_probe_error;
	uint32_t probe_error;		/* errno */
	uint32_t maxactive;
	uint64_t nmissed;
	uint32_t batch_max;
	uint32_t event_interval_ms;
	uint64_t events_dropped;
};

struct vm_thread {
	uint32_t tid;
	char comm[16];
	uint64_t faults;
	uint64_t blocked_ns;
	uint64_t max_ns;
};

struct vm_batch {
	uint64_t batches, ops, pages, bytes, zero_pages, wakes, eexist, errors;
	uint64_t size_hist[PCRAM_BATCH_HIST_BUCKETS];
};

/* PCRAM_VM_A_SAMPLE of a fault event. */
struct vm_sample {
	uint32_t tid;
	char comm[16];
	uint64_t latency_ns;
	uint64_t address;
	uint32_t flags;			/* UFFD_PAGEFAULT_FLAG_* */
	uint64_t skipped;
};

/*
 * One VM as GET_VM (or an event) describes it. The kernel's fault
 * histogram has the layout of libpcram's struct pcram_hist (bucket i
 * counts [2^i, 2^(i+1)) ns, bucket 0 also 0), so pcram_hist_quantile(3)
 * reads it: faults.count, .sum (blocked time) and .max are the kernel's.
 */
struct vm_stats {
	uint32_t id;
	char name[PCRAM_NAME_MAX];
	uint32_t owner_pid;
	bool attached;
	bool measured;
	bool has_attach_time;
	uint64_t attach_time_ns;	/* CLOCK_REALTIME */
	uint32_t attach_flags;
	struct pcram_hist faults;
	uint64_t nmissed;
	unsigned int nr_threads;
	struct vm_thread threads[PCRAM_THREADS_MAX];
	struct vm_batch batch;
	bool has_sample;
	struct vm_sample sample;
};

struct vm_list {
	struct vm_stats *vms;
	size_t n, max;
};

struct pcram_nl {
	struct nl_sock *sock;
	int family;
	struct pcram_module_info info;	/* as GET_INFO said when opened */
};

/*
 * Connect to pcram.ko and check that it speaks what this tool does: its
 * family's version and, unless @min_api is 0, API @min_api or later.
 * Returns 0; -ENOENT when the module is not loaded (no family); -EPROTO
 * on a version mismatch; another -errno.
 */
int pcram_nl_open(struct pcram_nl *nl, uint32_t min_api, char *err, size_t errlen);
void pcram_nl_close(struct pcram_nl *nl);

/* GET_INFO again, into nl->info. */
int pcram_nl_info(struct pcram_nl *nl, char *err, size_t errlen);

/* GET_VM of @id: 0, -ESRCH when there is no such VM, or another -errno. */
int pcram_nl_get_vm(struct pcram_nl *nl, uint32_t id, struct vm_stats *vm,
		    char *err, size_t errlen);

/* GET_VM dump: every VM, in increasing id order, into @list (grown). */
int pcram_nl_dump_vms(struct pcram_nl *nl, struct vm_list *list,
		      char *err, size_t errlen);
void vm_list_free(struct vm_list *list);

/*
 * Join the events group on this socket (then use it for events only):
 * 0, or -EPERM without CAP_NET_ADMIN, or another -errno.
 */
int pcram_nl_join_events(struct pcram_nl *nl, char *err, size_t errlen);
/* The socket's descriptor, for poll(2). */
int pcram_nl_fd(const struct pcram_nl *nl);

typedef void (*pcram_event_fn)(int cmd, const struct vm_stats *vm, void *arg);
/*
 * Read the events waiting (the socket does not block): each one to @fn.
 * Returns 0, -ENOBUFS when the socket's buffer overran and events were
 * lost (reading goes on), or another -errno.
 */
int pcram_nl_read_events(struct pcram_nl *nl, pcram_event_fn fn, void *arg,
			 char *err, size_t errlen);

/*
 * GET_INFO on a socket of its own, for 'probe' and 'module status'.
 * Returns 0, -ENOENT when the family is not registered (the module is
 * not loaded), or another -errno.
 */
int pcram_nl_get_info(struct pcram_module_info *info, char *err, size_t errlen);

/*
 * The sentence for a version mismatch, or none (0): the family's version
 * must be PCRAM_GENL_VERSION, the module's API at least @min_api.
 */
int pcram_nl_check_version(uint32_t family_version, uint32_t api_version,
			   uint32_t min_api, char *err, size_t errlen);

/* Names of enum pcram_probe_state: "unavailable", "off", "on". */
const char *pcram_probe_state_name(uint32_t state);

#endif /* PCRAM_TOOLS_NL_H */
