// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "nl.h"
#include "nl_parse.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

const char *pcram_probe_state_name(uint32_t state)
{
	switch (state) {
	case PCRAM_PROBE_UNAVAILABLE:
		return "unavailable";
	case PCRAM_PROBE_OFF:
		return "off";
	case PCRAM_PROBE_ON:
		return "on";
	default:
		return "unknown";
	}
}

/* libnl's error codes are its own; map back the ones a user can act on. */
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

static void not_loaded(char *err, size_t errlen)
{
	snprintf(err, errlen, "pcram.ko is not loaded (no generic netlink family "
		 "\"%s\"): load it with 'pcram module load' as root%s",
		 PCRAM_GENL_NAME, access("/proc/modules", F_OK) ?
		 "; this kernel has no loadable module support, so run it in "
		 "a VM ('make vmcheck')" : "");
}

int pcram_nl_check_version(uint32_t family_version, uint32_t api_version,
			   uint32_t min_api, char *err, size_t errlen)
{
	if (family_version != PCRAM_GENL_VERSION) {
		snprintf(err, errlen, "pcram.ko's netlink family \"%s\" is version %u, "
			 "this pcram speaks version %u: use the pcram tool that came "
			 "with that module, or load the module of this one",
			 PCRAM_GENL_NAME, family_version, PCRAM_GENL_VERSION);
		return -EPROTO;
	}
	if (api_version < min_api) {
		snprintf(err, errlen, "pcram.ko speaks API %u, this command needs API %u "
			 "or later (this pcram was built for API %u): load the "
			 "pcram.ko of this version ('pcram module unload', then "
			 "'pcram module load')", api_version, min_api,
			 PCRAM_API_VERSION);
		return -EPROTO;
	}
	return 0;
}

/* ---- one request, its replies and the kernel's error ---------------------- */

struct request {
	int (*valid)(struct nlmsghdr *hdr, void *arg);
	void *arg;
	int ret;		/* first error: the kernel's -errno, or ours */
	char extack[256];	/* the kernel's extended ACK message */
};

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct request *r = arg;
	int ret;

	if (r->ret)
		return NL_SKIP;
	ret = r->valid(nlmsg_hdr(msg), r->arg);
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
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
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

/* Send @cmd (a dump when @dump), with PCRAM_VM_A_ID when @id != 0. */
static int request(struct pcram_nl *nl, int cmd, bool dump, uint32_t id,
		   struct request *r)
{
	struct nl_msg *msg = nlmsg_alloc();
	int ret = -ENOMEM;

	r->ret = 0;
	r->extack[0] = '\0';
	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0,
				 dump ? NLM_F_DUMP : 0, cmd, PCRAM_GENL_VERSION) ||
	    (id && nla_put_u32(msg, PCRAM_VM_A_ID, id)))
		goto out;
	nl_socket_modify_cb(nl->sock, NL_CB_VALID, NL_CB_CUSTOM, on_valid, r);
	nl_socket_modify_cb(nl->sock, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, r);
	nl_socket_modify_err_cb(nl->sock, NL_CB_CUSTOM, on_error, r);
	ret = nl_send_auto(nl->sock, msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(nl->sock);
	/* the kernel's own errno beats libnl's translation of it */
	if (r->ret)
		ret = r->ret;
	else if (ret < 0)
		ret = nlerr_to_errno(ret);
out:
	nlmsg_free(msg);
	return ret;
}

/* ---- GET_INFO ------------------------------------------------------------- */

static int info_valid(struct nlmsghdr *hdr, void *arg)
{
	return nl_parse_info(hdr, arg);
}

int pcram_nl_info(struct pcram_nl *nl, char *err, size_t errlen)
{
	struct request r = { .valid = info_valid, .arg = &nl->info };
	int ret = request(nl, PCRAM_CMD_GET_INFO, false, 0, &r);

	if (ret == -EPROTO)
		snprintf(err, errlen, "pcram.ko's GET_INFO reply is malformed");
	else if (ret)
		snprintf(err, errlen, "GET_INFO from pcram.ko failed: %s%s%s",
			 strerror(-ret), r.extack[0] ? ": " : "", r.extack);
	return ret;
}

/* ---- the socket ------------------------------------------------------------- */

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

int pcram_nl_open(struct pcram_nl *nl, uint32_t min_api, char *err, size_t errlen)
{
	uint32_t family_version = 0;
	int ret, one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->sock = nl_socket_alloc();
	if (!nl->sock) {
		snprintf(err, errlen, "no memory for a netlink socket");
		return -ENOMEM;
	}
	ret = genl_connect(nl->sock);
	if (ret) {
		snprintf(err, errlen, "cannot open a generic netlink socket: %s",
			 nl_geterror(ret));
		ret = nlerr_to_errno(ret);
		goto fail;
	}
	/* Replies and errors only: no ACK after a reply to skip over. */
	nl_socket_disable_auto_ack(nl->sock);
	setsockopt(nl_socket_get_fd(nl->sock), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	ret = resolve_family(nl->sock, &nl->family, &family_version);
	if (ret == -ENOENT) {
		not_loaded(err, errlen);
		goto fail;
	}
	if (ret) {
		snprintf(err, errlen, "cannot ask the generic netlink controller "
			 "for \"%s\": %s", PCRAM_GENL_NAME, strerror(-ret));
		goto fail;
	}
	ret = pcram_nl_check_version(family_version, PCRAM_API_VERSION, 0, err, errlen);
	if (!ret)
		ret = pcram_nl_info(nl, err, errlen);
	if (!ret)
		ret = pcram_nl_check_version(family_version, nl->info.api_version,
					     min_api, err, errlen);
	if (!ret)
		return 0;
fail:
	pcram_nl_close(nl);
	return ret;
}

void pcram_nl_close(struct pcram_nl *nl)
{
	nl_socket_free(nl->sock);
	nl->sock = NULL;
}

int pcram_nl_fd(const struct pcram_nl *nl)
{
	return nl_socket_get_fd(nl->sock);
}

int pcram_nl_get_info(struct pcram_module_info *info, char *err, size_t errlen)
{
	struct pcram_nl nl;
	int ret = pcram_nl_open(&nl, 0, err, errlen);

	if (ret)
		return ret;
	*info = nl.info;
	pcram_nl_close(&nl);
	return 0;
}

/* ---- GET_VM --------------------------------------------------------------------- */

static int one_vm_valid(struct nlmsghdr *hdr, void *arg)
{
	int cmd;

	return nl_parse_vm(hdr, arg, &cmd);
}

static void vm_error(int ret, const char *extack, char *err, size_t errlen)
{
	if (ret == -EPROTO)
		snprintf(err, errlen, "pcram.ko's GET_VM reply is malformed");
	else
		snprintf(err, errlen, "GET_VM from pcram.ko failed: %s%s%s",
			 strerror(-ret), extack[0] ? ": " : "", extack);
}

int pcram_nl_get_vm(struct pcram_nl *nl, uint32_t id, struct vm_stats *vm,
		    char *err, size_t errlen)
{
	struct request r = { .valid = one_vm_valid, .arg = vm };
	int ret;

	vm->id = 0;
	ret = request(nl, PCRAM_CMD_GET_VM, false, id, &r);
	if (ret == -ENOENT || ret == -ERANGE) {
		snprintf(err, errlen, "no VM has id %u ('pcram stat' lists them)", id);
		return -ESRCH;
	}
	if (!ret && vm->id != id)
		ret = -EPROTO;
	if (ret)
		vm_error(ret, r.extack, err, errlen);
	return ret;
}

static int list_valid(struct nlmsghdr *hdr, void *arg)
{
	struct vm_list *l = arg;
	int cmd;

	if (l->n == l->max) {
		size_t max = l->max ? l->max * 2 : 16;
		struct vm_stats *vms = realloc(l->vms, max * sizeof(*vms));

		if (!vms)
			return -ENOMEM;
		l->vms = vms;
		l->max = max;
	}
	if (nl_parse_vm(hdr, &l->vms[l->n], &cmd))
		return -EPROTO;
	l->n++;
	return 0;
}

int pcram_nl_dump_vms(struct pcram_nl *nl, struct vm_list *list,
		      char *err, size_t errlen)
{
	struct request r = { .valid = list_valid, .arg = list };
	int ret;

	list->n = 0;
	ret = request(nl, PCRAM_CMD_GET_VM, true, 0, &r);
	if (ret)
		vm_error(ret, r.extack, err, errlen);
	return ret;
}

void vm_list_free(struct vm_list *list)
{
	free(list->vms);
	memset(list, 0, sizeof(*list));
}

/* ---- events ------------------------------------------------------------------- */

int pcram_nl_join_events(struct pcram_nl *nl, char *err, size_t errlen)
{
	int grp, ret, size = 1 << 20;

	grp = genl_ctrl_resolve_grp(nl->sock, PCRAM_GENL_NAME, PCRAM_GENL_MCGRP_EVENTS);
	if (grp < 0) {
		snprintf(err, errlen, "pcram.ko has no multicast group \"%s\": "
			 "it is older than API %u", PCRAM_GENL_MCGRP_EVENTS,
			 PCRAM_NL_API_VM);
		return -ENOENT;
	}
	ret = nl_socket_add_membership(nl->sock, grp);
	if (ret) {
		ret = nlerr_to_errno(ret);
		if (ret == -EPERM)
			snprintf(err, errlen, "not permitted: joining pcram.ko's "
				 "events group needs CAP_NET_ADMIN (run it as root)");
		else
			snprintf(err, errlen, "cannot join pcram.ko's events group: %s",
				 strerror(-ret));
		return ret;
	}
	/* Bursts of samples: room for many before the socket overruns. */
	setsockopt(pcram_nl_fd(nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	nl_socket_set_nonblocking(nl->sock);
	return 0;
}

/*
 * Read with recv(2), not libnl: libnl reports an overrun (ENOBUFS) as
 * out of memory, and a monitor must tell the two apart.
 */
int pcram_nl_read_events(struct pcram_nl *nl, pcram_event_fn fn, void *arg,
			 char *err, size_t errlen)
{
	static char buf[1 << 16];
	int lost = 0;

	for (;;) {
		ssize_t len = recv(pcram_nl_fd(nl), buf, sizeof(buf), MSG_DONTWAIT);
		struct nlmsghdr *hdr;
		int rem;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return lost;
		if (len < 0 && errno == ENOBUFS) {
			lost = -ENOBUFS;
			continue;
		}
		if (len <= 0) {
			snprintf(err, errlen, "reading pcram.ko's events: %s",
				 len ? strerror(errno) : "the socket was closed");
			return len ? -errno : -EPIPE;
		}
		rem = (int)len;
		for (hdr = (struct nlmsghdr *)buf; nlmsg_ok(hdr, rem);
		     hdr = nlmsg_next(hdr, &rem)) {
			struct vm_stats vm;
			int cmd;

			if (hdr->nlmsg_type != nl->family)
				continue;
			if (nl_parse_vm(hdr, &vm, &cmd)) {
				snprintf(err, errlen, "a malformed event from pcram.ko");
				return -EPROTO;
			}
			fn(cmd, &vm, arg);
		}
	}
}
