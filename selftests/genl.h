/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The selftests' own GET_INFO client (libnl-genl), written apart from the
 * tool's so that each checks the other. Returns the kernel's -errno and
 * its extended ACK message.
 */
#ifndef PCRAM_SELFTESTS_GENL_H
#define PCRAM_SELFTESTS_GENL_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <linux/pcram.h>

struct info_query {
	bool set_cmd;		/* send .cmd instead of PCRAM_CMD_GET_INFO */
	int cmd;
	int flags;		/* e.g. NLM_F_DUMP */
	int extra_attr;		/* add this u32 attribute when non-zero */
};

struct info_answer {
	int error;		/* -errno from the kernel, or 0 */
	char extack[256];	/* its extended ACK message */
	char version[64];
	unsigned int api_version;
	unsigned int nr_vms;
	int replies;
};

static int info_valid(struct nl_msg *msg, void *arg)
{
	struct info_answer *a = arg;
	struct nlattr *tb[PCRAM_INFO_A_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCRAM_INFO_A_MAX, NULL))
		return NL_STOP;
	a->replies++;
	if (tb[PCRAM_INFO_A_MODULE_VERSION])
		snprintf(a->version, sizeof(a->version), "%s",
			 nla_get_string(tb[PCRAM_INFO_A_MODULE_VERSION]));
	if (tb[PCRAM_INFO_A_API_VERSION])
		a->api_version = nla_get_u32(tb[PCRAM_INFO_A_API_VERSION]);
	if (tb[PCRAM_INFO_A_NR_VMS])
		a->nr_vms = nla_get_u32(tb[PCRAM_INFO_A_NR_VMS]);
	return NL_OK;
}

/* Keep the kernel's errno and NLMSGERR_ATTR_MSG from the error message. */
static int info_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *hdr = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct info_answer *a = arg;
	struct nlattr *attr;
	size_t off;
	int rem;

	a->error = e->error;
	if (hdr->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*e);
		if (!(hdr->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		nla_for_each_attr(attr, (struct nlattr *)((char *)e + off),
				  hdr->nlmsg_len - NLMSG_HDRLEN - off, rem)
			if (nla_type(attr) == NLMSGERR_ATTR_MSG)
				snprintf(a->extack, sizeof(a->extack), "%s",
					 (char *)nla_data(attr));
	}
	return NL_STOP;
}

/* Returns 0 when the request could be made (see a->error), or -1. */
static inline int info_request(const struct info_query *q, struct info_answer *a)
{
	struct nl_sock *sock = nl_socket_alloc();
	struct nl_msg *msg = nlmsg_alloc();
	int family, one = 1, ret = -1;

	memset(a, 0, sizeof(*a));
	if (!sock || !msg || genl_connect(sock))
		goto out;
	setsockopt(nl_socket_get_fd(sock), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	family = genl_ctrl_resolve(sock, PCRAM_GENL_NAME);
	if (family < 0) {
		a->error = -ENOENT;
		ret = 0;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, q->flags,
			 q->set_cmd ? q->cmd : PCRAM_CMD_GET_INFO, PCRAM_GENL_VERSION))
		goto out;
	if (q->extra_attr && nla_put_u32(msg, q->extra_attr, 1))
		goto out;
	nl_socket_modify_cb(sock, NL_CB_VALID, NL_CB_CUSTOM, info_valid, a);
	nl_socket_modify_err_cb(sock, NL_CB_CUSTOM, info_error, a);
	if (nl_send_auto(sock, msg) < 0)
		goto out;
	nl_recvmsgs_default(sock);
	ret = 0;
out:
	nlmsg_free(msg);
	nl_socket_free(sock);
	return ret;
}

static inline int info_nr_vms(void)
{
	struct info_query q = { 0 };
	struct info_answer a;

	if (info_request(&q, &a) || a.error || a.replies != 1)
		return -1;
	return a.nr_vms;
}

#endif /* PCRAM_SELFTESTS_GENL_H */
