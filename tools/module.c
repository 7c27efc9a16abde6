// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcram module load|unload|status: pcram.ko through libkmod.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libkmod.h>

#include "kmod_client.h"
#include "output.h"
#include "cli.h"
#include "stat.h"

#define DEFAULT_MODULE "pcram"

/* What a failed load or unload means, and what to do about it. */
static const char *explain(int err, bool loading)
{
	switch (-err) {
	case EEXIST:
		return "it is already loaded";
	case ENOENT:
		return loading ? "no such module: build it ('make') and load it with "
				 "--path kmod/pcram.ko, or install it ('make install' "
				 "or dkms)" :
				 "it is not loaded";
	case EPERM:
	case EACCES:
		return "not permitted: loading and unloading modules needs root "
		       "(CAP_SYS_MODULE)";
	case ENOSYS:
		return "this kernel has no loadable module support "
		       "(CONFIG_MODULES is off); run pcram.ko in a VM: 'make vmcheck'";
	case ENOEXEC:
		return "invalid module format: it was built for another kernel; "
		       "rebuild it against this kernel's headers (KDIR)";
	case EBUSY:
	case EAGAIN:
		return "it is in use: close every /dev/pcram user first ('pcram probe' "
		       "shows how many VMs are open)";
	case EKEYREJECTED:
		return "its signature was rejected (module signature enforcement)";
	default:
		return strerror(-err);
	}
}

static struct kmod_ctx *new_ctx(void)
{
	struct kmod_ctx *ctx = kmod_new(NULL, NULL);

	if (ctx)
		kmod_load_resources(ctx);
	return ctx;
}

/* Turn "a=1" "b=2" into "a=1 b=2" for the kernel. */
static char *join_params(int argc, char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static int do_load(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "path", required_argument, NULL, 'p' },
		{ 0 }
	};
	const char *path = NULL, *name = DEFAULT_MODULE;
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	char *params = NULL;
	int c, err;

	while ((c = getopt_long(argc, argv, "+p:", opts, NULL)) != -1) {
		if (c != 'p')
			return usage("module", stderr);
		path = optarg;
	}
	if (!path && optind < argc && !strchr(argv[optind], '='))
		name = argv[optind++];
	for (c = optind; c < argc; c++)
		if (!strchr(argv[c], '='))
			return fail("module", "'%s' is not a PARAM=VALUE module "
				    "parameter", argv[c]);
	params = join_params(argc - optind, argv + optind);
	ctx = new_ctx();
	if (!ctx || !params) {
		free(params);
		return fail("module", "load: out of memory");
	}

	if (path) {
		err = kmod_module_new_from_path(ctx, path, &mod);
		if (!err)
			err = kmod_module_insert_module(mod, 0, params);
	} else {
		err = kmod_module_new_from_name(ctx, name, &mod);
		if (!err)
			err = kmod_module_probe_insert_module(mod,
					KMOD_PROBE_FAIL_ON_LOADED, params,
					NULL, NULL, NULL);
	}
	if (err)
		fail("module", "cannot load %s: %s", path ? path : name,
		     explain(err, true));
	else
		printf("loaded %s\n", mod ? kmod_module_get_name(mod) : name);
	kmod_module_unref(mod);
	kmod_unref(ctx);
	free(params);
	return err ? 1 : 0;
}

static int do_unload(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : DEFAULT_MODULE;
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	int err;

	if (argc > 2 || name[0] == '-')
		return usage("module", stderr);
	ctx = new_ctx();
	if (!ctx)
		return fail("module", "unload: out of memory");
	err = kmod_module_new_from_name(ctx, name, &mod);
	if (!err && kmod_module_get_initstate(mod) < 0)
		err = -ENOENT;
	if (!err)
		err = kmod_module_remove_module(mod, 0);
	if (err)
		fail("module", "cannot unload %s: %s", name, explain(err, false));
	else
		printf("unloaded %s\n", name);
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return err ? 1 : 0;
}

static const char *state_name(int state)
{
	switch (state) {
	case KMOD_MODULE_LIVE:
		return "live";
	case KMOD_MODULE_COMING:
		return "coming";
	case KMOD_MODULE_GOING:
		return "going";
	case KMOD_MODULE_BUILTIN:
		return "builtin";
	default:
		return "not loaded";
	}
}

/* What 'module status' found: kmod's @state, and GET_INFO's answer. */
static void print_status(struct output *o, const char *name, int state, int refcnt,
			 const struct pcram_kmod_info *info, int nl_ret, const char *nl_err)
{
	out_open_object(o, NULL);
	out_string(o, OUT_ANY, "name", "%s: ", name);
	out_string(o, OUT_ANY, "state", "%s", state_name(state));
	/* The text's state says it: "not loaded", or how it is loaded. */
	out_bool(o, OUT_JSON, "loaded", NULL, state >= 0, NULL, NULL);
	if (state < 0) {
		out_text(o, " (load it with 'pcram module load')");
	} else {
		out_int(o, OUT_ANY, "refcount", ", refcount %" PRId64, refcnt);
		if (nl_ret) {
			out_string(o, OUT_ANY, "error", "; %s", nl_err);
		} else {
			out_string(o, OUT_ANY, "version", ", version %s", info->version);
			out_u64(o, OUT_ANY, "api_version", ", API %" PRIu64, info->api_version);
			out_u64(o, OUT_ANY, "vms", ", %" PRIu64 " VMs", info->nr_vms);
		}
		/* The probe and the events, from GET_INFO of API 2 and later. */
		if (!nl_ret && (info->api_version >= 2)) {
			out_text(o, "\n  ");
			stat_print_probe(o, info);
		}
	}
	out_nl(o);
	out_close_object(o);
}

static int do_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	struct pcram_kmod_info info = { 0 };
	const char *name = DEFAULT_MODULE;
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	struct output o;
	char nl_err[256] = "";
	int c, state, refcnt = -1, nl_ret = -ENOENT;
	bool json = false;

	while ((c = getopt_long(argc, argv, "+j", opts, NULL)) != -1) {
		if (c != 'j')
			return usage("module", stderr);
		json = true;
	}
	if (optind < argc)
		name = argv[optind++];
	if (optind < argc)
		return usage("module", stderr);

	ctx = new_ctx();
	if (!ctx)
		return fail("module", "status: out of memory");
	state = kmod_module_new_from_name(ctx, name, &mod);
	if (!state)
		state = kmod_module_get_initstate(mod);
	if (state >= 0) {
		refcnt = kmod_module_get_refcnt(mod);
		nl_ret = kmod_get_info(&info, nl_err, sizeof(nl_err));
	}

	out_init(&o, stdout, json);
	print_status(&o, name, state, refcnt, &info, nl_ret, nl_err);
	out_finish(&o);
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return state >= 0 ? 0 : 1;
}

int module_main(int argc, char **argv)
{
	if (argc < 2)
		return usage("module", stderr);
	optind = 1;
	if (!strcmp(argv[1], "load"))
		return do_load(argc - 1, argv + 1);
	if (!strcmp(argv[1], "unload"))
		return do_unload(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return do_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return usage("module", stdout);
	fail("module", "unknown action '%s': use load, unload or status", argv[1]);
	return EXIT_USAGE;
}
