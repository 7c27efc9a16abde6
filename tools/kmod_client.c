// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmod_client.h"

int kmod_connect(struct pcram_kmod **k, uint32_t min_api, char *err, size_t errlen)
{
	int ret = pcram_kmod_new(k);

	if (!ret)
		ret = pcram_kmod_open(*k, min_api);
	if (!ret)
		return 0;
	snprintf(err, errlen, "%s", *k ? pcram_kmod_strerror(*k) : strerror(-ret));
	pcram_kmod_free(*k);
	*k = NULL;
	return ret;
}

int kmod_get_info(struct pcram_kmod_info *info, char *err, size_t errlen)
{
	struct pcram_kmod *k;
	int ret = kmod_connect(&k, 0, err, errlen);

	if (ret)
		return ret;
	ret = pcram_kmod_info(k, info, sizeof(*info));
	if (ret)
		snprintf(err, errlen, "%s", pcram_kmod_strerror(k));
	pcram_kmod_free(k);
	return ret;
}

static int grow(struct vm_list *l)
{
	size_t max = l->max ? l->max * 2 : 16;
	struct pcram_kmod_vm *vms;

	if (l->n < l->max)
		return 0;
	vms = realloc(l->vms, max * sizeof(*vms));
	if (!vms)
		return -ENOMEM;
	l->vms = vms;
	l->max = max;
	return 0;
}

static int add_vm(const struct pcram_kmod_vm *vm, void *arg)
{
	struct vm_list *l = arg;

	if (grow(l))
		return -ENOMEM;
	/* the library's struct is at least ours: this tool is linked with it */
	memcpy(&l->vms[l->n++], vm, sizeof(*vm));
	return 0;
}

int vm_list_dump(struct pcram_kmod *k, struct vm_list *list)
{
	int ret;

	list->n = 0;
	ret = pcram_kmod_dump(k, add_vm, list);
	return ret < 0 ? ret : 0;
}

int vm_list_get(struct pcram_kmod *k, uint32_t id, struct vm_list *list)
{
	int ret;

	list->n = 0;
	if (grow(list))
		return -ENOMEM;
	ret = pcram_kmod_get_vm(k, id, &list->vms[0], sizeof(list->vms[0]));
	if (!ret)
		list->n = 1;
	return ret;
}

/* A VM argument that is all digits is an id; anything else a name. */
static bool parse_id(const char *s, uint32_t *id)
{
	char *end;
	unsigned long v;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	*id = (uint32_t)v;
	return !errno && v <= UINT32_MAX;
}

int vm_list_select(struct pcram_kmod *k, const char *vm, struct vm_list *list)
{
	uint32_t id;
	size_t i, n;
	int ret;

	if (vm && parse_id(vm, &id))
		return vm_list_get(k, id, list);
	ret = vm_list_dump(k, list);
	if (ret || !vm)
		return ret;
	for (i = n = 0; i < list->n; i++)
		if (!strcmp(list->vms[i].name, vm))
			list->vms[n++] = list->vms[i];
	list->n = n;
	return n ? 0 : -ENOENT;
}

void vm_list_free(struct vm_list *list)
{
	free(list->vms);
	memset(list, 0, sizeof(*list));
}

const char *latency_probe_name(uint32_t state)
{
	switch (state) {
	case PCRAM_KMOD_LATENCY_PROBE_UNAVAILABLE:
		return "unavailable";
	case PCRAM_KMOD_LATENCY_PROBE_OFF:
		return "off";
	case PCRAM_KMOD_LATENCY_PROBE_ON:
		return "on";
	default:
		return "unknown";
	}
}

uint64_t kmod_fault_quantile(const struct pcram_hist *h, const struct pcram_kmod_lhist *lh,
			     double q)
{
	return lh ? pcram_kmod_lhist_quantile(lh, q) : pcram_hist_quantile(h, q);
}

uint64_t vm_fault_quantile(const struct pcram_kmod_vm *vm, double q)
{
	return kmod_fault_quantile(&vm->faults, vm->has_lhist ? &vm->lhist : NULL, q);
}

const char *vm_kind_name(uint32_t kind)
{
	switch (kind) {
	case PCRAM_KMOD_VM_UFFD:
		return "uffd";
	case PCRAM_KMOD_VM_PROCESS:
		return "process";
	default:
		return "unknown";
	}
}

const char *detach_reason_name(uint32_t reason)
{
	switch (reason) {
	case PCRAM_KMOD_DETACH_REQUEST:
		return "request";
	case PCRAM_KMOD_DETACH_CLOSED:
		return "closed";
	case PCRAM_KMOD_DETACH_EXITED:
		return "exited";
	case PCRAM_KMOD_DETACH_UNLOAD:
		return "unload";
	default:
		return "unknown";
	}
}
