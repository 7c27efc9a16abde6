// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram vm: process VMs, in the manner of 'ip link add/del': attach a
 * process by its pid (pcram.ko then measures every userfaultfd fault in
 * it, whichever userfaultfd, until it exits), detach one, list them all.
 * No process of the tool's stays behind: the module holds the VM.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmod_client.h"
#include "output.h"

/* The module API that process VMs came with. */
#define KMOD_API_PROCESS 3

static void row_head(struct output *o)
{
	out_text(o, "%5s %-8s %8s %-32s %-10s %12s\n", "ID", "KIND", "PID", "NAME", "STATE",
		 "FAULTS");
}

/* One VM as a row of 'vm list', and as 'vm add' shows the new one. */
static void row(struct output *o, const struct pcram_kmod_vm *vm)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%" PRIu32, vm->pid);
	out_open_object(o, NULL);
	out_u64(o, OUT_ANY, "id", "%5" PRIu64, vm->id);
	out_string(o, OUT_ANY, "kind", " %-8s", vm_kind_name(vm->kind));
	out_u64_as(o, OUT_ANY, "pid", " %8s", vm->pid, vm->kind == PCRAM_KMOD_VM_PROCESS ? pid : "-");
	out_string(o, OUT_ANY, "name", " %-32s", vm->name);
	out_u64(o, OUT_JSON, "owner_pid", NULL, vm->owner_pid);
	out_bool(o, OUT_ANY, "attached", " %-10s", vm->attached, "attached", "detached");
	out_bool(o, OUT_JSON, "measured", NULL, vm->measured, NULL, NULL);
	out_u64(o, OUT_ANY, "faults", " %12" PRIu64, vm->faults.count);
	out_nl(o);
	out_close_object(o);
}

static int connect(struct pcram_kmod **k)
{
	char err[512];

	if (kmod_connect(k, KMOD_API_PROCESS, err, sizeof(err)))
		return fail("vm", "%s", err);
	return 0;
}

static int vm_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *name = NULL;
	struct pcram_kmod_vm vm;
	struct pcram_kmod *k;
	long pid = 0;
	bool json = false;
	struct output o;
	uint32_t id;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "p:N:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			pid = strtol(optarg, &end, 10);
			if (errno || *end || pid <= 0 || pid > INT32_MAX)
				return fail_usage("vm", "--pid: '%s' is not a process id", optarg);
			break;
		case 'N':
			name = optarg;
			if (strlen(name) >= PCRAM_KMOD_NAME_MAX)
				return fail_usage("vm", "--name: '%s' is too long: at most %d bytes",
						  name, PCRAM_KMOD_NAME_MAX - 1);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return usage("vm", stdout);
		default:
			return usage("vm", stderr);
		}
	}
	if (!pid)
		return fail_usage("vm", "add: --pid PID is required");
	if (optind < argc)
		return usage("vm", stderr);
	if (connect(&k))
		return 1;
	if (pcram_kmod_attach_pid(k, (pid_t)pid, name, 0, &id) ||
	    pcram_kmod_get_vm(k, id, &vm, sizeof(vm))) {
		fail("vm", "add: %s", pcram_kmod_strerror(k));
		pcram_kmod_free(k);
		return 1;
	}
	pcram_kmod_free(k);
	out_init(&o, stdout, json);
	row(&o, &vm);
	out_finish(&o);
	return 0;
}

static int vm_del(int argc, char **argv)
{
	struct vm_list list = { 0 };
	struct pcram_kmod *k;
	int ret;

	if (argc != 2 || argv[1][0] == '-')
		return usage("vm", argv[1] && !strcmp(argv[1], "-h") ? stdout : stderr);
	if (connect(&k))
		return 1;
	ret = vm_list_select(k, argv[1], &list);
	if (ret == -ENOENT)
		ret = fail("vm", "del: no VM is named '%s' ('pcram vm list' lists them)",
			   argv[1]);
	else if (ret)
		ret = fail("vm", "del: %s", pcram_kmod_strerror(k));
	else if (list.n > 1)
		ret = fail("vm", "del: %zu VMs are named '%s': give an id ('pcram vm list')",
			   list.n, argv[1]);
	else if (pcram_kmod_detach(k, list.vms[0].id))
		ret = fail("vm", "del: %s", pcram_kmod_strerror(k));
	vm_list_free(&list);
	pcram_kmod_free(k);
	return ret;
}

static int vm_list(int argc, char **argv)
{
	struct vm_list list = { 0 };
	struct pcram_kmod *k;
	bool json = false;
	struct output o;

	if (argc == 2 && (!strcmp(argv[1], "-j") || !strcmp(argv[1], "--json")))
		json = true;
	else if (argc != 1)
		return usage("vm", stderr);
	if (connect(&k))
		return 1;
	if (vm_list_dump(k, &list)) {
		fail("vm", "list: %s", pcram_kmod_strerror(k));
		pcram_kmod_free(k);
		return 1;
	}
	pcram_kmod_free(k);
	out_init(&o, stdout, json);
	out_open_object(&o, NULL);
	out_text(&o, "%s", list.n ? "" : "no VMs: 'pcram vm add --pid PID' attaches one\n");
	if (list.n)
		row_head(&o);
	out_open_array(&o, "vms");
	for (size_t i = 0; i < list.n; i++)
		row(&o, &list.vms[i]);
	out_close_array(&o);
	out_close_object(&o);
	out_finish(&o);
	vm_list_free(&list);
	return 0;
}

int vm_main(int argc, char **argv)
{
	if (argc < 2)
		return usage("vm", stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return usage("vm", stdout);
	if (!strcmp(argv[1], "add"))
		return vm_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "del"))
		return vm_del(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return vm_list(argc - 1, argv + 1);
	return fail_usage("vm", "unknown subcommand '%s': add, del or list", argv[1]);
}
