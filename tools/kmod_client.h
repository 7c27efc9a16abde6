/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the commands need of libpcram's pcram.ko client (pcram_kmod_*): a
 * connection with the failure said in a sentence, and the VMs of a dump
 * as an array.
 */
#ifndef PCRAM_TOOLS_KMOD_CLIENT_H
#define PCRAM_TOOLS_KMOD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <pcram.h>

/* The module API that GET_VM and the events came with. */
#define KMOD_API_VM 2

/*
 * A connection to pcram.ko of API @min_api or later, in *@k: 0, or
 * -errno with the library's sentence in @err (*@k is then NULL).
 */
int kmod_connect(struct pcram_kmod **k, uint32_t min_api, char *err, size_t errlen);

/*
 * The module's description on a connection of its own, for 'probe' and
 * 'module status': 0, or -errno (-ENOENT: not loaded) with the sentence.
 */
int kmod_get_info(struct pcram_kmod_info *info, char *err, size_t errlen);

struct vm_list {
	struct pcram_kmod_vm *vms;
	size_t n, max;
};

/* Every VM, in increasing id order, into @list (grown): 0 or -errno. */
int vm_list_dump(struct pcram_kmod *k, struct vm_list *list);
/* VM @id alone into @list: 0, -ESRCH when there is none, or -errno. */
int vm_list_get(struct pcram_kmod *k, uint32_t id, struct vm_list *list);
/*
 * The VMs @vm names, all when NULL: a VM id (all digits), or a name,
 * every VM of that name. 0; -ENOENT when no VM has that name; another
 * -errno with pcram_kmod_strerror() set (-ESRCH: no VM has that id).
 */
int vm_list_select(struct pcram_kmod *k, const char *vm, struct vm_list *list);
void vm_list_free(struct vm_list *list);

/*
 * The @q-quantile of fault latency, ns: from the module's log-linear
 * histogram @lh (within 3.125% of the exact one) or, when @lh is NULL (a
 * module older than API 3), from its log2 one @h.
 */
uint64_t kmod_fault_quantile(const struct pcram_hist *h, const struct pcram_kmod_lhist *lh,
			     double q);
/* Of a VM's faults since attach (or the last reset), either way. */
uint64_t vm_fault_quantile(const struct pcram_kmod_vm *vm, double q);

/* "unavailable", "off", "on": enum pcram_kmod_latency_probe. */
const char *latency_probe_name(uint32_t state);
/* "uffd", "process": enum pcram_kmod_vm_kind. */
const char *vm_kind_name(uint32_t kind);
/* "request", "closed", "exited", "unload": enum pcram_kmod_detach_reason. */
const char *detach_reason_name(uint32_t reason);

#endif /* PCRAM_TOOLS_KMOD_CLIENT_H */
