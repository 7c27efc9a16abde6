// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram probe: this host's userfaultfd, and pcram.ko if it is loaded.
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <pcram.h>

#include "kmod_client.h"
#include "output.h"
#include "cli.h"

static const char *errname(int err)
{
	return err ? strerror(-err) : NULL;
}

/* A mask by name, and in JSON also exact: "@key_mask", a hex string. */
static void names(struct output *o, const char *key, uint64_t mask,
		  const char *(*name)(unsigned int))
{
	char mask_key[64], hex[24];

	out_names(o, key, mask, name, "BIT_%u", " ");
	/* A string: JSON numbers lose bits above 2^53 in most parsers. */
	snprintf(mask_key, sizeof(mask_key), "%s_mask", key);
	snprintf(hex, sizeof(hex), "0x%" PRIx64, mask);
	out_string(o, OUT_JSON, mask_key, NULL, hex);
}

static void uffd(struct output *o, const struct pcram_probe_result *r)
{
	out_open_object(o, "uffd");
	out_string(o, OUT_ANY, "opener", "userfaultfd:  %s", pcram_opener_name(r->opener));
	/* Without a userfaultfd there was no handshake: its 0 is no API. */
	out_u64(o, r->opener != PCRAM_OPENER_NONE ? OUT_ANY : OUT_JSON, "api",
		", API 0x%" PRIx64, r->api);
	out_string(o, OUT_ANY, "device_error", " (/dev/userfaultfd: %s)",
		   errname(r->device_error));
	out_string(o, OUT_ANY, "syscall_error", " (userfaultfd(2): %s)",
		   errname(r->syscall_error));
	out_text(o, "\nfeatures:     ");
	names(o, "features", r->features, pcram_feature_name);
	out_text(o, "\nenabled:      ");
	names(o, "enabled", r->enabled, pcram_feature_name);
	out_text(o, "\nfd ioctls:    ");
	names(o, "ioctls", r->ioctls, pcram_ioctl_name);
	out_nl(o);
	out_close_object(o);
}

static void ranges(struct output *o, const struct pcram_probe_result *r)
{
	out_open_array(o, "ranges");
	for (unsigned int b = 0; b < PCRAM_BACKING_MAX; b++) {
		for (unsigned int m = 0; m < PCRAM_REG_MAX; m++) {
			const struct pcram_reg_result *reg = &r->reg[b][m];

			if (!reg->tried)
				continue;
			out_open_object(o, NULL);
			out_string(o, OUT_ANY, "backing", "range %-7s", pcram_backing_name(b));
			out_string(o, OUT_ANY, "mode", " %-7s ", pcram_reg_mode_name(m));
			out_string(o, OUT_ANY, "error", "refused: %s", errname(reg->error));
			names(o, "ioctls", reg->ioctls, pcram_ioctl_name);
			out_nl(o);
			out_close_object(o);
		}
	}
	out_close_array(o);
}

static void page_sizes(struct output *o, const struct pcram_probe_result *r)
{
	const struct pcram_hugepage_pool *pool;
	unsigned int i;

	out_u64(o, OUT_ANY, "page_size", "page sizes:   %" PRIu64, r->page_size);
	out_open_array(o, "hugepage_pools");
	for (i = 0; i < r->nr_hugepage_pools; i++) {
		pool = &r->hugepage_pools[i];
		out_open_object(o, NULL);
		out_u64(o, OUT_ANY, "page_size", ", %" PRIu64, pool->page_size);
		out_u64(o, OUT_ANY, "free", " (%" PRIu64, pool->free);
		out_u64(o, OUT_ANY, "total", " of %" PRIu64 " free)", pool->total);
		out_close_object(o);
	}
	out_close_array(o);
	out_open_array(o, "page_sizes_usable");
	out_u64(o, OUT_ANY, NULL, "\nusable now:   %" PRIu64, r->page_size);
	for (i = 0; i < r->nr_hugepage_pools; i++)
		if (pcram_probe_page_size_usable(r, r->hugepage_pools[i].page_size))
			out_u64(o, OUT_ANY, NULL, " %" PRIu64, r->hugepage_pools[i].page_size);
	out_close_array(o);
	out_nl(o);
}

static void thp(struct output *o, const struct pcram_probe_result *r)
{
	out_open_object(o, "thp");
	out_text(o, "THP:          ");
	out_string(o, OUT_ANY, "enabled", "%s", r->thp_enabled[0] ? r->thp_enabled : NULL);
	out_text(o, "%s", r->thp_enabled[0] ? "" : "absent");
	out_string(o, OUT_ANY, "shmem", " (shmem: %s)", r->thp_shmem[0] ? r->thp_shmem : NULL);
	out_text(o, "%s", r->thp_shmem[0] ? "" : " (shmem: absent)");
	out_nl(o);
	out_close_object(o);
}

static void module(struct output *o, const struct pcram_kmod_info *mod, int mod_ret,
		   const char *mod_err)
{
	out_open_object(o, "module");
	/* Not loaded: the error says so, and why. */
	out_bool(o, OUT_ANY, "loaded", "pcram.ko:     %s", mod_ret == 0, "loaded", "");
	if (mod_ret == 0) {
		out_string(o, OUT_ANY, "version", ", version %s", mod->version);
		out_u64(o, OUT_ANY, "api_version", ", API %" PRIu64, mod->api_version);
		out_u64(o, OUT_ANY, "vms", ", %" PRIu64 " VMs", mod->nr_vms);
	} else {
		out_string(o, OUT_ANY, "error", "%s", mod_err);
	}
	out_nl(o);
	out_close_object(o);
}

static void diagnosis(struct output *o, const struct pcram_probe_result *r)
{
	out_open_object(o, "diagnosis");
	out_text(o, "diagnosis:    %s", r->diag || r->diagnosis[0] ? "" : "none");
	out_names(o, "reasons", r->diag, pcram_diag_name, "bit_%u", " ");
	out_string(o, OUT_ANY, "text", r->diag && r->diagnosis[0] ? ": %s" : "%s",
		   r->diagnosis);
	out_nl(o);
	out_close_object(o);
}

static void print(struct output *o, const struct pcram_probe_result *r, int ret,
		  const struct pcram_kmod_info *mod, int mod_ret, const char *mod_err)
{
	out_open_object(o, NULL);
	out_string(o, OUT_ANY, "version", "libpcram:     %s\n", pcram_version());
	uffd(o, r);
	ranges(o, r);
	page_sizes(o, r);
	thp(o, r);
	out_bytes(o, OUT_ANY, "locked_bytes", "locked:       %s (mlocked by this process)\n",
		  r->locked_bytes);
	module(o, mod, mod_ret, mod_err);
	diagnosis(o, r);
	out_bool(o, OUT_ANY, "supported", "postcopy:     %s", ret == 0, "supported",
		 "NOT supported: ");
	out_string(o, OUT_ANY, "error", "%s", errname(ret));
	out_text(o, "%s", r->diag & PCRAM_DIAG_USER_MODE_ONLY ? " (user-mode faults only)" : "");
	out_nl(o);
	out_close_object(o);
}

int probe_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct pcram_kmod_info mod = { 0 };
	struct pcram_probe_result res;
	struct output o;
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
	mod_ret = kmod_get_info(&mod, mod_err, sizeof(mod_err));
	out_init(&o, stdout, json);
	print(&o, &res, ret, &mod, mod_ret, mod_err);
	out_finish(&o);
	return ret ? 1 : 0;
}
