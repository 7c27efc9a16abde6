// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * struct pcram_kmod: libpcram's connection to pcram.ko's generic netlink
 * family, on libnl-genl-3. Requests, the kernel's errors and extended
 * ACK messages, dumps and the events group; every attribute is checked
 * in kmod_parse.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/pcram.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "compat.h"
#include "error.h"
#include "internal.h"
#include "kmod_genl.h"
#include "kmod_parse.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* Events arrive in bursts of samples: room for many before an overrun. */
#define EVENT_RCVBUF (1 << 20)
#define EVENT_BUF (1 << 16)

/* The first released layouts: a caller's struct is never smaller. */
#define INFO_SIZE_0_2 offsetof(struct pcram_kmod_info, reserved)
#define VM_SIZE_0_2 offsetof(struct pcram_kmod_vm, reserved)

struct pcram_kmod {
	struct nl_sock *sock;
	int family;
	uint32_t genl_version;
	struct pcram_kmod_info info;	/* as GET_INFO said */
	char *event_buf;		/* for events */
	bool subscribed;		/* in the events group: no requests now */
	struct lib_error error;
};

static int kmod_error(struct pcram_kmod *k, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int kmod_error(struct pcram_kmod *k, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lib_error_vset(&k->error, err, fmt, ap);
	va_end(ap);
	return err;
}

/* libnl's error codes are its own; map back the ones a caller can act on. */
static int nlerr_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_MSG_TRUNC:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

PCRAM_EXPORT
int pcram_kmod_new(struct pcram_kmod **out)
{
	struct pcram_kmod *k;

	if (!out)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	*out = k;
	if (!k)
		return -ENOMEM;
	lib_error_init(&k->error);
	return 0;
}

PCRAM_EXPORT
void pcram_kmod_free(struct pcram_kmod *k)
{
	if (!k)
		return;
	nl_socket_free(k->sock);
	free(k->event_buf);
	lib_error_destroy(&k->error);
	free(k);
}

void kmod_error_copy(const struct pcram_kmod *k, char *buf, size_t len)
{
	lib_error_copy(&k->error, buf, len);
}

PCRAM_EXPORT
const char *pcram_kmod_strerror(const struct pcram_kmod *k)
{
	return k ? lib_error_get(&k->error) : "no pcram_kmod";
}

PCRAM_EXPORT
int pcram_kmod_fd(const struct pcram_kmod *k)
{
	if (!k || !k->sock)
		return -EBADF;
	return nl_socket_get_fd(k->sock);
}

/* ---- one request, its replies and the kernel's error ---------------------- */

struct request {
	int (*valid)(struct nlmsghdr *hdr, void *arg);
	void *arg;
	/* the request's attributes besides PCRAM_VM_A_ID; NULL: none */
	int (*put)(struct nl_msg *msg, const void *arg);
	const void *put_arg;
	uint32_t seq;		/* of the request: its answers carry it */
	int ret;		/* first error: the kernel's -errno, or ours */
	char extack[256];	/* the kernel's extended ACK message */
};

/* An answer to another request (one abandoned part way) is not ours. */
static int on_seq_check(struct nl_msg *msg, void *arg)
{
	struct request *r = arg;

	return nlmsg_hdr(msg)->nlmsg_seq == r->seq ? NL_OK : NL_SKIP;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct request *r = arg;
	int ret;

	if (r->ret)
		return NL_SKIP;
	ret = r->valid ? r->valid(nlmsg_hdr(msg), r->arg) : 0;
	if (ret)
		r->ret = ret;
	return NL_OK;
}

/* Keep the kernel's errno and NLMSGERR_ATTR_MSG from an error message. */
static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *hdr = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct request *r = arg;
	size_t off = sizeof(*e);
	struct nlattr *a;
	int rem;

	(void)who;
	r->ret = e->error;
	if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	if (!(hdr->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
	if (off + NLMSG_HDRLEN > hdr->nlmsg_len)
		return NL_STOP;
	nla_for_each_attr(a, (struct nlattr *)((char *)e + off),
			  hdr->nlmsg_len - NLMSG_HDRLEN - off, rem)
		if (nla_type(a) == NLMSGERR_ATTR_MSG)
			snprintf(r->extack, sizeof(r->extack), "%.*s", nla_len(a),
				 (char *)nla_data(a));
	return NL_STOP;
}

/* A dump's NLMSG_DONE carries its error, if it failed part way. */
static int on_finish(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *hdr = nlmsg_hdr(msg);
	struct request *r = arg;

	if (nlmsg_datalen(hdr) >= (int)sizeof(int) && *(int *)nlmsg_data(hdr) < 0 &&
	    !r->ret)
		r->ret = *(int *)nlmsg_data(hdr);
	return NL_STOP;
}

/* An ACK ends a request that has no reply (RESET_STATS). */
static int on_ack(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_STOP;
}

/*
 * Send @cmd with NLM_F_* @flags (NLM_F_DUMP, or NLM_F_ACK for a command
 * that has no reply), with PCRAM_VM_A_ID when @id != 0, and read its
 * answers. The callbacks are this request's own, never the socket's:
 * libnl's controller lookups copy the socket's set, and would call ours
 * with @r long gone. The socket's auto-ACK stays off (a reply is the
 * answer), so libnl checks no sequence numbers: on_seq_check does.
 */
static int request(struct pcram_kmod *k, int cmd, int flags, uint32_t id,
		   struct request *r)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int ret = -ENOMEM;

	r->ret = 0;
	r->extack[0] = '\0';
	if (!msg || !cb || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, k->family, 0,
					flags, cmd, PCRAM_GENL_VERSION) ||
	    (id && nla_put_u32(msg, PCRAM_VM_A_ID, id)) ||
	    (r->put && r->put(msg, r->put_arg)))
		goto out;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, r);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, on_seq_check, r);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, r);
	ret = nl_send_auto(k->sock, msg);
	if (ret >= 0) {
		r->seq = nlmsg_hdr(msg)->nlmsg_seq;
		ret = nl_recvmsgs(k->sock, cb);
	}
	/* the kernel's own errno beats libnl's translation of it */
	if (r->ret)
		ret = r->ret;
	else if (ret < 0)
		ret = nlerr_to_errno(ret);
	else
		ret = 0;
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	return ret;
}

/* "GET_VM from pcram.ko failed: <errno>: <extack>" */
static int request_error(struct pcram_kmod *k, const char *what, int ret,
			 const struct request *r)
{
	if (ret == -EPROTO && !r->extack[0])
		return kmod_error(k, ret, "pcram.ko's %s reply is malformed", what);
	return kmod_error(k, ret, "%s from pcram.ko failed: %s%s%s", what, strerror(-ret),
			  r->extack[0] ? ": " : "", r->extack);
}

/* Requests need an open handle that is not in the events group. */
static int not_ready(struct pcram_kmod *k, const char *call)
{
	if (!k->sock)
		return kmod_error(k, -ENOTCONN, "%s: not connected to pcram.ko "
				  "(pcram_kmod_open)", call);
	if (k->subscribed)
		return kmod_error(k, -EBUSY, "%s: this handle reads events: use another "
				  "for requests", call);
	return 0;
}

/* ---- connecting -------------------------------------------------------------- */

/*
 * The family's id and version from the controller: -ENOENT when absent.
 * The lookup by name is what lets the kernel load an installed pcram.ko
 * (its genl family alias) for a caller that may load modules, as any
 * other generic netlink client would; the version comes from a dump.
 */
static int resolve_family(struct nl_sock *sock, int *id, uint32_t *version)
{
	struct nl_cache *cache = NULL;
	struct genl_family *fam;
	int ret;

	ret = genl_ctrl_resolve(sock, PCRAM_GENL_NAME);
	if (ret < 0)
		return ret == -NLE_OBJ_NOTFOUND ? -ENOENT : nlerr_to_errno(ret);
	*id = ret;
	ret = genl_ctrl_alloc_cache(sock, &cache);
	if (ret)
		return nlerr_to_errno(ret);
	fam = genl_ctrl_search(cache, *id);
	if (fam) {
		*version = genl_family_get_version(fam);
		genl_family_put(fam);
	}
	nl_cache_free(cache);
	return fam ? 0 : -ENOENT;
}

static int not_loaded(struct pcram_kmod *k)
{
	/* Loaded, but its family is only in the initial network namespace. */
	if (!access("/sys/module/pcram", F_OK))
		return kmod_error(k, -ENOENT, "pcram.ko is loaded, but its generic netlink family "
				  "\"%s\" is only in the initial network namespace: run this there",
				  PCRAM_GENL_NAME);
	return kmod_error(k, -ENOENT, "pcram.ko is not loaded (no generic netlink family "
			  "\"%s\"): load it with 'pcram module load' as root%s",
			  PCRAM_GENL_NAME, access("/proc/modules", F_OK) ?
			  "; this kernel has no loadable module support, so run it in "
			  "a VM ('make vmcheck')" : "");
}

static int check_version(struct pcram_kmod *k, uint32_t api_version, uint32_t min_api)
{
	if (k->genl_version != PCRAM_GENL_VERSION)
		return kmod_error(k, -EPROTO, "pcram.ko's netlink family \"%s\" is version %u, "
				  "this libpcram speaks version %u: use the pcram tool that "
				  "came with that module, or load the module of this one",
				  PCRAM_GENL_NAME, k->genl_version, PCRAM_GENL_VERSION);
	if (api_version < min_api)
		return kmod_error(k, -EPROTO, "pcram.ko speaks API %u, this needs API %u "
				  "or later (this libpcram was built for API %u): load the "
				  "pcram.ko of this version ('pcram module unload', then "
				  "'pcram module load')", api_version, min_api,
				  PCRAM_API_VERSION);
	return 0;
}

static int info_valid(struct nlmsghdr *hdr, void *arg)
{
	return kmod_parse_info(hdr, arg);
}

static int read_info(struct pcram_kmod *k)
{
	struct request r = { .valid = info_valid, .arg = &k->info };
	int ret = request(k, PCRAM_CMD_GET_INFO, 0, 0, &r);

	if (ret)
		return request_error(k, "GET_INFO", ret, &r);
	k->info.genl_version = k->genl_version;
	return 0;
}

static int connect_family(struct pcram_kmod *k)
{
	int ret, one = 1;

	k->sock = nl_socket_alloc();
	if (!k->sock)
		return kmod_error(k, -ENOMEM, "no memory for a netlink socket");
	ret = genl_connect(k->sock);
	if (ret)
		return kmod_error(k, nlerr_to_errno(ret),
				  "cannot open a generic netlink socket: %s", nl_geterror(ret));
	/* Replies and errors only: no ACK after a reply to skip over. */
	nl_socket_disable_auto_ack(k->sock);
	setsockopt(nl_socket_get_fd(k->sock), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	ret = resolve_family(k->sock, &k->family, &k->genl_version);
	if (ret == -ENOENT)
		return not_loaded(k);
	if (ret)
		return kmod_error(k, ret, "cannot ask the generic netlink controller for \"%s\": %s",
				  PCRAM_GENL_NAME, strerror(-ret));
	return 0;
}

PCRAM_EXPORT
int pcram_kmod_open(struct pcram_kmod *k, uint32_t min_api)
{
	int ret;

	if (!k)
		return -EINVAL;
	if (k->sock)
		return kmod_error(k, -EBUSY, "pcram_kmod_open: already open");
	ret = connect_family(k);
	if (!ret)
		ret = check_version(k, PCRAM_API_VERSION, 0);
	if (!ret)
		ret = read_info(k);
	if (!ret)
		ret = check_version(k, k->info.api_version, min_api);
	if (ret) {
		nl_socket_free(k->sock);
		k->sock = NULL;
	}
	return ret;
}

/* The library's @len-byte struct @from to a caller's of @size bytes (->size first). */
static void copy_out(void *to, size_t size, void *from, size_t len)
{
	uint32_t filled = (uint32_t)(size < len ? size : len);

	memcpy(from, &filled, sizeof(filled));
	pcram_copy_out(to, size, from, len);
}

PCRAM_EXPORT
int pcram_kmod_info(struct pcram_kmod *k, struct pcram_kmod_info *info, size_t size)
{
	int ret;

	if (!k || !info)
		return -EINVAL;
	if (size < INFO_SIZE_0_2)
		return kmod_error(k, -EINVAL, "pcram_kmod_info: size %zu is below the "
				  "smallest struct pcram_kmod_info (%zu)", size,
				  (size_t)INFO_SIZE_0_2);
	ret = not_ready(k, "pcram_kmod_info");
	if (ret)
		return ret;
	ret = read_info(k);
	if (!ret)
		copy_out(info, size, &k->info, sizeof(k->info));
	return ret;
}

/* ---- VMs ----------------------------------------------------------------------- */

static int one_vm_valid(struct nlmsghdr *hdr, void *arg)
{
	int cmd;

	return kmod_parse_vm(hdr, arg, &cmd);
}

PCRAM_EXPORT
int pcram_kmod_get_vm(struct pcram_kmod *k, uint32_t id, struct pcram_kmod_vm *vm, size_t size)
{
	struct pcram_kmod_vm *mine;
	struct request r;
	int ret;

	if (!k || !vm)
		return -EINVAL;
	if (size < VM_SIZE_0_2)
		return kmod_error(k, -EINVAL, "pcram_kmod_get_vm: size %zu is below the "
				  "smallest struct pcram_kmod_vm (%zu)", size, (size_t)VM_SIZE_0_2);
	if (!id)
		return kmod_error(k, -EINVAL, "pcram_kmod_get_vm: VM ids start at 1");
	ret = not_ready(k, "pcram_kmod_get_vm");
	if (ret)
		return ret;
	mine = calloc(1, sizeof(*mine));
	if (!mine)
		return kmod_error(k, -ENOMEM, "GET_VM: out of memory");
	r = (struct request){ .valid = one_vm_valid, .arg = mine };
	ret = request(k, PCRAM_CMD_GET_VM, 0, id, &r);
	if (ret == -ENOENT || ret == -ERANGE)
		ret = kmod_error(k, -ESRCH, "no VM has id %u that you may see "
				 "('pcram stat' lists them)", id);
	else if (!ret && mine->id != id)
		ret = request_error(k, "GET_VM", -EPROTO, &r);
	else if (ret)
		request_error(k, "GET_VM", ret, &r);
	if (!ret)
		copy_out(vm, size, mine, sizeof(*mine));
	free(mine);
	return ret;
}

struct dump {
	pcram_kmod_vm_fn fn;
	void *arg;
	struct pcram_kmod_vm vm;
	int count;
	int stopped;		/* the caller's -errno */
};

static int dump_valid(struct nlmsghdr *hdr, void *arg)
{
	struct dump *d = arg;
	int cmd, ret;

	if (kmod_parse_vm(hdr, &d->vm, &cmd))
		return -EPROTO;
	d->count++;
	ret = d->fn(&d->vm, d->arg);
	if (ret)
		d->stopped = ret < 0 ? ret : -ECANCELED;
	return d->stopped;
}

PCRAM_EXPORT
int pcram_kmod_dump(struct pcram_kmod *k, pcram_kmod_vm_fn fn, void *arg)
{
	struct request r;
	struct dump *d;
	int ret;

	if (!k || !fn)
		return -EINVAL;
	ret = not_ready(k, "pcram_kmod_dump");
	if (ret)
		return ret;
	d = calloc(1, sizeof(*d));
	if (!d)
		return kmod_error(k, -ENOMEM, "GET_VM dump: out of memory");
	d->fn = fn;
	d->arg = arg;
	r = (struct request){ .valid = dump_valid, .arg = d };
	ret = request(k, PCRAM_CMD_GET_VM, NLM_F_DUMP, 0, &r);
	if (d->stopped)
		ret = kmod_error(k, d->stopped, "GET_VM dump: stopped by the caller: %s",
				 strerror(-d->stopped));
	else if (ret)
		request_error(k, "GET_VM", ret, &r);
	else
		ret = d->count;
	free(d);
	return ret;
}

PCRAM_EXPORT
int pcram_kmod_reset(struct pcram_kmod *k, uint32_t id)
{
	struct request r = { 0 };
	int ret;

	if (!k)
		return -EINVAL;
	ret = not_ready(k, "pcram_kmod_reset");
	if (ret)
		return ret;
	/* RESET_STATS has no reply: ask for the ACK that says it was done. */
	ret = request(k, PCRAM_CMD_RESET_STATS, NLM_F_ACK, id, &r);
	if (ret == -ENOENT && id)
		return kmod_error(k, -ESRCH, "no VM has id %u ('pcram stat' lists them)", id);
	if (ret == -EPERM)
		return kmod_error(k, ret, "not permitted: RESET_STATS needs CAP_NET_ADMIN");
	if (ret)
		return request_error(k, "RESET_STATS", ret, &r);
	return 0;
}

/* ---- process VMs (API 3) --------------------------------------------------------- */

struct attach_pid {
	uint32_t pid;
	const char *name;
	uint32_t flags;
};

static int put_attach_pid(struct nl_msg *msg, const void *arg)
{
	const struct attach_pid *a = arg;

	if (nla_put_u32(msg, PCRAM_VM_A_PID, a->pid) ||
	    (a->name && nla_put_string(msg, PCRAM_VM_A_NAME, a->name)) ||
	    (a->flags && nla_put_u32(msg, PCRAM_VM_A_ATTACH_FLAGS, a->flags)))
		return -ENOMEM;
	return 0;
}

/* A module of API 2 has no such command: the kernel says EOPNOTSUPP. */
static int older_than_3(struct pcram_kmod *k, const char *what)
{
	return kmod_error(k, -EOPNOTSUPP, "%s: pcram.ko speaks API %u, this needs API 3: "
			  "load the pcram.ko of this version", what, k->info.api_version);
}

PCRAM_EXPORT
int pcram_kmod_attach_pid(struct pcram_kmod *k, pid_t pid, const char *name,
			  unsigned int flags, uint32_t *vm_id)
{
	struct attach_pid a = { .pid = (uint32_t)pid, .name = name, .flags = flags };
	struct pcram_kmod_vm *mine;
	struct request r;
	int ret;

	if (!k)
		return -EINVAL;
	if (pid <= 0)
		return kmod_error(k, -ESRCH, "no process has id %d", (int)pid);
	if (flags & ~PCRAM_KMOD_ATTACH_F_ALL)
		return kmod_error(k, -EINVAL, "pcram_kmod_attach_pid: unknown flags 0x%x",
				  flags & ~PCRAM_KMOD_ATTACH_F_ALL);
	if (name && strlen(name) >= PCRAM_KMOD_NAME_MAX)
		return kmod_error(k, -EINVAL, "VM name \"%s\" is too long: at most %d bytes",
				  name, PCRAM_KMOD_NAME_MAX - 1);
	ret = not_ready(k, "pcram_kmod_attach_pid");
	if (ret)
		return ret;
	if (k->info.api_version < 3)
		return older_than_3(k, "attach by pid");
	mine = calloc(1, sizeof(*mine));
	if (!mine)
		return kmod_error(k, -ENOMEM, "ATTACH_PID: out of memory");
	r = (struct request){ .valid = one_vm_valid, .arg = mine, .put = put_attach_pid,
			      .put_arg = &a };
	ret = request(k, PCRAM_CMD_ATTACH_PID, 0, 0, &r);
	if (ret == -ESRCH)
		ret = kmod_error(k, ret, "no such process: %d", (int)pid);
	else if (ret == -EPERM)
		ret = kmod_error(k, ret, "not permitted to attach process %d: it takes the "
				 "right to ptrace-read it (the same user, or CAP_SYS_PTRACE)",
				 (int)pid);
	else if (ret == -EEXIST)
		ret = kmod_error(k, ret, "process %d is attached already ('pcram vm list')",
				 (int)pid);
	else if (ret == -EOPNOTSUPP)
		ret = older_than_3(k, "attach by pid");
	else if (!ret && !mine->id)
		ret = request_error(k, "ATTACH_PID", -EPROTO, &r);
	else if (ret)
		request_error(k, "ATTACH_PID", ret, &r);
	if (!ret && vm_id)
		*vm_id = mine->id;
	free(mine);
	return ret;
}

PCRAM_EXPORT
int pcram_kmod_detach(struct pcram_kmod *k, uint32_t vm_id)
{
	struct request r = { 0 };
	int ret;

	if (!k)
		return -EINVAL;
	if (!vm_id)
		return kmod_error(k, -ESRCH, "no VM has id 0 (ids start at 1)");
	ret = not_ready(k, "pcram_kmod_detach");
	if (ret)
		return ret;
	if (k->info.api_version < 3)
		return older_than_3(k, "detach");
	/* DETACH has no reply: ask for the ACK that says it was done. */
	ret = request(k, PCRAM_CMD_DETACH, NLM_F_ACK, vm_id, &r);
	if (ret == -ENOENT)
		return kmod_error(k, -ESRCH, "no VM has id %u ('pcram vm list' lists them)",
				  vm_id);
	if (ret == -EOPNOTSUPP)
		return kmod_error(k, ret, "VM %u is a userfaultfd's, not a process's: its "
				  "owner detaches it by closing its /dev/pcram context", vm_id);
	if (ret == -EPERM)
		return kmod_error(k, ret, "not permitted to detach VM %u: it takes "
				  "CAP_NET_ADMIN or the right to ptrace-read its process", vm_id);
	if (ret)
		return request_error(k, "DETACH", ret, &r);
	return 0;
}

/* ---- events --------------------------------------------------------------------- */

PCRAM_EXPORT
int pcram_kmod_subscribe(struct pcram_kmod *k)
{
	int grp, ret, size = EVENT_RCVBUF;

	if (!k)
		return -EINVAL;
	if (k->subscribed)
		return 0;
	ret = not_ready(k, "pcram_kmod_subscribe");
	if (ret)
		return ret;
	if (!k->event_buf) {
		k->event_buf = malloc(EVENT_BUF);
		if (!k->event_buf)
			return kmod_error(k, -ENOMEM, "events: out of memory");
	}
	grp = genl_ctrl_resolve_grp(k->sock, PCRAM_GENL_NAME, PCRAM_GENL_MCGRP_EVENTS);
	if (grp == -NLE_OBJ_NOTFOUND)
		return kmod_error(k, -ENOENT, "pcram.ko has no multicast group \"%s\": "
				  "it is older than API 2, or was unloaded",
				  PCRAM_GENL_MCGRP_EVENTS);
	if (grp < 0)
		return kmod_error(k, nlerr_to_errno(grp), "cannot look up pcram.ko's events "
				  "group: %s", nl_geterror(grp));
	ret = nl_socket_add_membership(k->sock, grp);
	if (ret) {
		ret = nlerr_to_errno(ret);
		if (ret == -EPERM)
			return kmod_error(k, ret, "not permitted: joining pcram.ko's events "
					  "group needs CAP_NET_ADMIN (run it as root)");
		return kmod_error(k, ret, "cannot join pcram.ko's events group: %s",
				  strerror(-ret));
	}
	setsockopt(nl_socket_get_fd(k->sock), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	nl_socket_set_nonblocking(k->sock);
	k->subscribed = true;
	return 0;
}

static int event_of(int cmd)
{
	switch (cmd) {
	case PCRAM_CMD_EVENT_ATTACH:
		return PCRAM_KMOD_EVENT_ATTACH;
	case PCRAM_CMD_EVENT_DETACH:
		return PCRAM_KMOD_EVENT_DETACH;
	case PCRAM_CMD_EVENT_FAULT:
		return PCRAM_KMOD_EVENT_FAULT;
	default:
		return 0;
	}
}

/* The messages of one datagram, each to @fn: 0 or -EPROTO. */
static int deliver(struct pcram_kmod *k, int len, pcram_kmod_event_fn fn, void *arg)
{
	struct nlmsghdr *hdr;
	struct pcram_kmod_vm vm;

	for (hdr = (struct nlmsghdr *)k->event_buf; nlmsg_ok(hdr, len);
	     hdr = nlmsg_next(hdr, &len)) {
		int cmd, event;

		if (hdr->nlmsg_type != k->family)
			continue;
		if (kmod_parse_vm(hdr, &vm, &cmd))
			return kmod_error(k, -EPROTO, "a malformed event from pcram.ko");
		event = event_of(cmd);
		if (event)
			fn((enum pcram_kmod_event)event, &vm, arg);
	}
	return 0;
}

/*
 * Read with recv(2), not libnl: libnl reports an overrun (ENOBUFS) as
 * out of memory, and a monitor must tell the two apart.
 */
PCRAM_EXPORT
int pcram_kmod_read_events(struct pcram_kmod *k, pcram_kmod_event_fn fn, void *arg)
{
	int lost = 0;

	if (!k || !fn)
		return -EINVAL;
	if (!k->subscribed)
		return kmod_error(k, -EINVAL, "pcram_kmod_read_events: not subscribed "
				  "(pcram_kmod_subscribe)");
	for (;;) {
		ssize_t len = recv(nl_socket_get_fd(k->sock), k->event_buf, EVENT_BUF,
				   MSG_DONTWAIT);
		int ret;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (lost)
				kmod_error(k, lost, "pcram.ko's events overran the socket: "
					   "some were lost");
			return lost;
		}
		if (len < 0 && errno == ENOBUFS) {
			lost = -ENOBUFS;
			continue;
		}
		if (len < 0)
			return kmod_error(k, -errno, "reading pcram.ko's events: %s",
					  strerror(errno));
		if (len == 0)
			return kmod_error(k, -EPIPE, "reading pcram.ko's events: the socket "
					  "was closed");
		ret = deliver(k, (int)len, fn, arg);
		if (ret)
			return ret;
	}
}
