// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram probe: this host's userfaultfd, and pcram.ko if it is loaded.
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <pcram.h>

#include "json.h"
#include "nl.h"
#include "pcram.h"

/* Call @fn with the name of every set bit of @mask (unknown: "BIT_n"). */
static void for_each_name(uint64_t mask, const char *(*name)(unsigned int),
			  void (*fn)(const char *s, void *arg), void *arg)
{
	char unknown[16];
	unsigned int bit;

	for (bit = 0; bit < 64; bit++) {
		if (!(mask & (1ULL << bit)))
			continue;
		if (name(bit)) {
			fn(name(bit), arg);
		} else {
			snprintf(unknown, sizeof(unknown), "BIT_%u", bit);
			fn(unknown, arg);
		}
	}
}

static void print_word(const char *s, void *arg)
{
	(void)arg;
	printf(" %s", s);
}

static void json_word(const char *s, void *arg)
{
	json_string(arg, NULL, s);
}

static void json_names(struct json *j, const char *key, uint64_t mask,
		       const char *(*name)(unsigned int))
{
	char mask_key[64], hex[24];

	json_open_array(j, key);
	for_each_name(mask, name, json_word, j);
	json_close_array(j);
	/* A string: JSON numbers lose bits above 2^53 in most parsers. */
	snprintf(mask_key, sizeof(mask_key), "%s_mask", key);
	snprintf(hex, sizeof(hex), "0x%" PRIx64, mask);
	json_string(j, mask_key, hex);
}

static const char *errname(int err)
{
	return err ? strerror(-err) : NULL;
}

static void print_json(const struct pcram_probe_result *r, int ret,
		       const struct pcram_module_info *mod, int mod_ret,
		       const char *mod_err)
{
	const struct pcram_hugepage_pool *pool;
	struct json j;
	unsigned int b, m, i;

	json_init(&j, stdout);
	json_open_object(&j, NULL);
	json_string(&j, "version", pcram_version());
	json_bool(&j, "supported", ret == 0);
	json_string(&j, "error", errname(ret));

	json_open_object(&j, "uffd");
	json_string(&j, "opener", pcram_opener_name(r->opener));
	json_string(&j, "device_error", errname(r->device_error));
	json_string(&j, "syscall_error", errname(r->syscall_error));
	json_u64(&j, "api", r->api);
	json_names(&j, "features", r->features, pcram_feature_name);
	json_names(&j, "enabled", r->enabled, pcram_feature_name);
	json_names(&j, "ioctls", r->ioctls, pcram_ioctl_name);
	json_close_object(&j);

	json_open_array(&j, "ranges");
	for (b = 0; b < PCRAM_BACKING_MAX; b++) {
		for (m = 0; m < PCRAM_REG_MAX; m++) {
			const struct pcram_reg_result *reg = &r->reg[b][m];

			if (!reg->tried)
				continue;
			json_open_object(&j, NULL);
			json_string(&j, "backing", pcram_backing_name(b));
			json_string(&j, "mode", pcram_reg_mode_name(m));
			json_string(&j, "error", errname(reg->error));
			json_names(&j, "ioctls", reg->ioctls, pcram_ioctl_name);
			json_close_object(&j);
		}
	}
	json_close_array(&j);

	json_u64(&j, "page_size", r->page_size);
	json_open_array(&j, "hugepage_pools");
	for (i = 0; i < r->nr_hugepage_pools; i++) {
		pool = &r->hugepage_pools[i];
		json_open_object(&j, NULL);
		json_u64(&j, "page_size", pool->page_size);
		json_u64(&j, "total", pool->total);
		json_u64(&j, "free", pool->free);
		json_close_object(&j);
	}
	json_close_array(&j);
	json_open_array(&j, "page_sizes_usable");
	json_u64(&j, NULL, r->page_size);
	for (i = 0; i < r->nr_hugepage_pools; i++)
		if (pcram_probe_page_size_usable(r, r->hugepage_pools[i].page_size))
			json_u64(&j, NULL, r->hugepage_pools[i].page_size);
	json_close_array(&j);

	json_open_object(&j, "thp");
	json_string(&j, "enabled", r->thp_enabled[0] ? r->thp_enabled : NULL);
	json_string(&j, "shmem", r->thp_shmem[0] ? r->thp_shmem : NULL);
	json_close_object(&j);
	json_u64(&j, "locked_bytes", r->locked_bytes);

	json_open_object(&j, "diagnosis");
	json_open_array(&j, "reasons");
	for (i = 0; i < 32; i++)
		if (r->diag & (1u << i))
			json_string(&j, NULL, pcram_diag_name(i));
	json_close_array(&j);
	json_string(&j, "text", r->diagnosis);
	json_close_object(&j);

	json_open_object(&j, "module");
	json_bool(&j, "loaded", mod_ret == 0);
	if (mod_ret == 0) {
		json_string(&j, "version", mod->version);
		json_u64(&j, "api_version", mod->api_version);
		json_u64(&j, "vms", mod->nr_vms);
	} else {
		json_string(&j, "error", mod_err);
	}
	json_close_object(&j);
	json_close_object(&j);
	json_finish(&j);
}

static void print_text(const struct pcram_probe_result *r, int ret,
		       const struct pcram_module_info *mod, int mod_ret,
		       const char *mod_err)
{
	const struct pcram_hugepage_pool *pool;
	unsigned int b, m, i;

	printf("userfaultfd:  %s", pcram_opener_name(r->opener));
	if (r->opener != PCRAM_OPENER_NONE)
		printf(", API 0x%" PRIx64, r->api);
	printf("\nfeatures:    ");
	for_each_name(r->features, pcram_feature_name, print_word, NULL);
	printf("\nenabled:     ");
	for_each_name(r->enabled, pcram_feature_name, print_word, NULL);
	printf("\nfd ioctls:   ");
	for_each_name(r->ioctls, pcram_ioctl_name, print_word, NULL);
	printf("\n");
	for (b = 0; b < PCRAM_BACKING_MAX; b++) {
		for (m = 0; m < PCRAM_REG_MAX; m++) {
			const struct pcram_reg_result *reg = &r->reg[b][m];

			if (!reg->tried)
				continue;
			printf("range %-7s %-7s", pcram_backing_name(b),
			       pcram_reg_mode_name(m));
			if (reg->error)
				printf(" refused: %s", strerror(-reg->error));
			else
				for_each_name(reg->ioctls, pcram_ioctl_name,
					      print_word, NULL);
			printf("\n");
		}
	}
	printf("page sizes:   %zu", r->page_size);
	for (i = 0; i < r->nr_hugepage_pools; i++) {
		pool = &r->hugepage_pools[i];
		printf(", %" PRIu64 " (%" PRIu64 " of %" PRIu64 " free%s)",
		       pool->page_size, pool->free, pool->total,
		       pcram_probe_page_size_usable(r, pool->page_size) ?
		       "" : ", not usable now");
	}
	printf("\nTHP:          %s (shmem: %s)\n",
	       r->thp_enabled[0] ? r->thp_enabled : "absent",
	       r->thp_shmem[0] ? r->thp_shmem : "absent");
	if (mod_ret == 0)
		printf("pcram.ko:     loaded, version %s, API %u, %u VMs\n",
		       mod->version, mod->api_version, mod->nr_vms);
	else
		printf("pcram.ko:     %s\n", mod_err);
	if (r->diagnosis[0])
		printf("diagnosis:    %s\n", r->diagnosis);
	printf("postcopy:     %s%s%s\n", ret ? "NOT supported: " : "supported",
	       ret ? strerror(-ret) : "",
	       r->diag & PCRAM_DIAG_USER_MODE_ONLY ? " (user-mode faults only)" : "");
}

int probe_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct pcram_module_info mod = { 0 };
	struct pcram_probe_result res;
	char mod_err[256] = "";
	bool json = false;
	int c, ret, mod_ret;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			return usage("probe", stdout);
		default:
			return usage("probe", stderr);
		}
	}
	if (optind != argc)
		return usage("probe", stderr);

	ret = pcram_probe(&res, sizeof(res));
	mod_ret = pcram_nl_get_info(&mod, mod_err, sizeof(mod_err));
	if (json)
		print_json(&res, ret, &mod, mod_ret, mod_err);
	else
		print_text(&res, ret, &mod, mod_ret, mod_err);
	return ret ? 1 : 0;
}
