// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <linux/pcram.h>

#include "nl.h"

static const struct nla_policy info_policy[PCRAM_INFO_A_MAX + 1] = {
	[PCRAM_INFO_A_MODULE_VERSION] = { .type = NLA_NUL_STRING },
	[PCRAM_INFO_A_API_VERSION] = { .type = NLA_U32 },
	[PCRAM_INFO_A_NR_VMS] = { .type = NLA_U32 },
};

struct info_reply {
	struct pcram_module_info *info;
	int ret;
};

static int parse_info(struct nl_msg *msg, void *arg)
{
	struct info_reply *reply = arg;
	struct nlattr *tb[PCRAM_INFO_A_MAX + 1];

	reply->ret = genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCRAM_INFO_A_MAX,
				   (struct nla_policy *)info_policy);
	if (reply->ret)
		return NL_STOP;
	if (!tb[PCRAM_INFO_A_MODULE_VERSION] || !tb[PCRAM_INFO_A_API_VERSION] ||
	    !tb[PCRAM_INFO_A_NR_VMS]) {
		reply->ret = -NLE_MISSING_ATTR;
		return NL_STOP;
	}
	snprintf(reply->info->version, sizeof(reply->info->version), "%s",
		 nla_get_string(tb[PCRAM_INFO_A_MODULE_VERSION]));
	reply->info->api_version = nla_get_u32(tb[PCRAM_INFO_A_API_VERSION]);
	reply->info->nr_vms = nla_get_u32(tb[PCRAM_INFO_A_NR_VMS]);
	return NL_OK;
}

/* libnl's error codes are its own; map the ones a user can act on. */
static int nlerr_to_errno(int nlerr)
{
	switch (-nlerr) {
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
	default:
		return -EIO;
	}
}

int pcram_nl_get_info(struct pcram_module_info *info, char *err, size_t errlen)
{
	struct info_reply reply = { .info = info, .ret = -NLE_NODEV };
	struct nl_sock *sock;
	struct nl_msg *msg = NULL;
	int family, ret;

	sock = nl_socket_alloc();
	if (!sock) {
		snprintf(err, errlen, "no memory for a netlink socket");
		return -ENOMEM;
	}
	ret = genl_connect(sock);
	if (ret) {
		snprintf(err, errlen, "cannot open a generic netlink socket: %s",
			 nl_geterror(ret));
		goto out;
	}
	family = genl_ctrl_resolve(sock, PCRAM_GENL_NAME);
	if (family < 0) {
		ret = family;
		snprintf(err, errlen, "pcram.ko is not loaded (no generic netlink "
			 "family \"%s\"): load it with 'pcram module load'",
			 PCRAM_GENL_NAME);
		goto out;
	}
	msg = nlmsg_alloc();
	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0,
				 PCRAM_CMD_GET_INFO, PCRAM_GENL_VERSION)) {
		ret = -NLE_NOMEM;
		snprintf(err, errlen, "no memory for a netlink message");
		goto out;
	}
	ret = nl_socket_modify_cb(sock, NL_CB_VALID, NL_CB_CUSTOM, parse_info,
				  &reply);
	if (!ret)
		ret = nl_send_auto(sock, msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(sock);
	if (!ret)
		ret = reply.ret;
	if (ret)
		snprintf(err, errlen, "GET_INFO from pcram.ko failed: %s",
			 nl_geterror(ret));
out:
	nlmsg_free(msg);
	nl_socket_free(sock);
	return ret ? nlerr_to_errno(ret) : 0;
}
