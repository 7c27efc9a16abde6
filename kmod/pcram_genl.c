// SPDX-License-Identifier: GPL-2.0
/*
 * The "pcram" generic netlink family.
 */
#include <linux/module.h>
#include <net/genetlink.h>
#include <uapi/linux/pcram.h>

#include "pcram.h"

static struct genl_family pcram_genl_family;

static int pcram_genl_get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG_MOD(info->extack, "no memory for the reply");
		return -ENOMEM;
	}

	hdr = genlmsg_put_reply(msg, info, &pcram_genl_family, 0,
				PCRAM_CMD_GET_INFO);
	if (!hdr ||
	    nla_put_string(msg, PCRAM_INFO_A_MODULE_VERSION,
			   PCRAM_MODULE_VERSION) ||
	    nla_put_u32(msg, PCRAM_INFO_A_API_VERSION, PCRAM_API_VERSION) ||
	    nla_put_u32(msg, PCRAM_INFO_A_NR_VMS, pcram_dev_nr_vms())) {
		nlmsg_free(msg);
		NL_SET_ERR_MSG_MOD(info->extack, "reply does not fit");
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);

	return genlmsg_reply(msg, info);
}

/*
 * With resv_start_op left at 0, as new families should, the genetlink core
 * validates every command strictly: one without a policy gets a policy
 * that rejects every attribute, so GET_INFO needs no check of its own.
 */
static const struct genl_small_ops pcram_genl_ops[] = {
	{
		.cmd = PCRAM_CMD_GET_INFO,
		.doit = pcram_genl_get_info,
	},
};

static struct genl_family pcram_genl_family __ro_after_init = {
	.name = PCRAM_GENL_NAME,
	.version = PCRAM_GENL_VERSION,
	.module = THIS_MODULE,
	.small_ops = pcram_genl_ops,
	.n_small_ops = ARRAY_SIZE(pcram_genl_ops),
	.netnsok = true,
};

int __init pcram_genl_init(void)
{
	return genl_register_family(&pcram_genl_family);
}

void pcram_genl_exit(void)
{
	genl_unregister_family(&pcram_genl_family);
}
