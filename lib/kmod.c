// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * pcram.ko from the destination engine: attach its /dev/pcram context to
 * our userfaultfd at enable_notify, detach at cleanup, and read what the
 * kernel measured for it over generic netlink. A plain netlink socket, no
 * libnl: the library's users should not need one for three messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/pcram.h>

#include "compat.h"
#include "dst.h"

_Static_assert(PCRAM_VM_NAME_MAX == PCRAM_NAME_MAX, "pcram.h and the module agree on names");

int dst_module_attach(struct pcram_dst *dst)
{
	struct pcram_attach at = { .uffd = dst->uffd };
	int fd, ret;

	if (dst->flags & PCRAM_DST_F_NO_MODULE)
		return 0;
	fd = open("/dev/" PCRAM_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (!(dst->flags & PCRAM_DST_F_REQUIRE_MODULE))
			return 0;
		if (ret == -ENOENT)
			return dst_error(dst, -ENODEV,
					 "enable_notify: pcram.ko is required but not loaded (no /dev/pcram): 'pcram module load'");
		return dst_error(dst, ret, "enable_notify: pcram.ko is required: /dev/pcram: %s",
				 strerror(-ret));
	}
	memcpy(at.name, dst->vm_name, sizeof(at.name));
	ret = ioctl(fd, PCRAM_IOC_ATTACH, &at);
	if (ret <= 0) {
		ret = ret < 0 ? -errno : -EPROTO;
		close(fd);
		if (!(dst->flags & PCRAM_DST_F_REQUIRE_MODULE))
			return 0;
		/* ENOTTY: a module older than PCRAM_IOC_ATTACH. */
		return dst_error(dst, ret, "enable_notify: pcram.ko is required: PCRAM_IOC_ATTACH: %s",
				 strerror(-ret));
	}
	dst->module_fd = fd;
	dst->module_vm_id = (uint32_t)ret;
	return 0;
}

void dst_module_detach(struct pcram_dst *dst)
{
	/* Closing the context detaches it; the statistics go with it. */
	if (dst->module_fd >= 0)
		close(dst->module_fd);
	dst->module_fd = -1;
	dst->module_vm_id = 0;
}

/* ---- generic netlink ------------------------------------------------------------ */

#define NL_BUF 16384

struct nl_req {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char attrs[64];
};

static void put_attr(struct nl_req *r, uint16_t type, const void *data, uint16_t len)
{
	struct nlattr *a = (struct nlattr *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy((char *)a + NLA_HDRLEN, data, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/*
 * One request, its one answer into @buf: the genetlink payload's length
 * and *@payload, or -errno (the kernel's, for an error answer).
 */
static int nl_call(int sock, struct nl_req *r, char *buf, const char **payload)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	ssize_t n;

	if (sendto(sock, r, r->n.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	n = recv(sock, buf, NL_BUF, 0);
	if (n < 0)
		return -errno;
	if (!NLMSG_OK(h, (size_t)n))
		return -EPROTO;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);

		return e->error ? e->error : -EPROTO;
	}
	if (h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return -EPROTO;
	*payload = (const char *)NLMSG_DATA(h) + GENL_HDRLEN;
	return (int)(h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN));
}

typedef void (*attr_fn)(const struct nlattr *a, void *arg);

/* Each well-formed attribute in [p, p + len) to @fn. */
static void for_each_attr(const char *p, int len, attr_fn fn, void *arg)
{
	while (len >= NLA_HDRLEN) {
		const struct nlattr *a = (const struct nlattr *)p;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len)
			return;
		fn(a, arg);
		len -= NLA_ALIGN(a->nla_len);
		p += NLA_ALIGN(a->nla_len);
	}
}

static const char *attr_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static int attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static uint64_t attr_uint(const struct nlattr *a)
{
	uint64_t v = 0;
	uint32_t w = 0;

	if (attr_len(a) >= 8) {
		memcpy(&v, attr_data(a), 8);
		return v;
	}
	if (attr_len(a) >= 4)
		memcpy(&w, attr_data(a), 4);
	return w;
}

static void family_attr(const struct nlattr *a, void *arg)
{
	if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID && attr_len(a) >= 2)
		memcpy(arg, attr_data(a), 2);
}

static void hist_attr(const struct nlattr *a, void *arg)
{
	struct pcram_hist *h = arg;
	unsigned int i = (a->nla_type & NLA_TYPE_MASK) - 1u;

	if (i < PCRAM_HIST_BUCKETS)
		h->bucket[i] = attr_uint(a);
}

static void fault_attr(const struct nlattr *a, void *arg)
{
	struct pcram_kernel_stats *ks = arg;

	switch (a->nla_type & NLA_TYPE_MASK) {
	case PCRAM_FAULT_A_COUNT:
		ks->blocked.count = attr_uint(a);
		break;
	case PCRAM_FAULT_A_BLOCKED_NS:
		ks->blocked.sum = attr_uint(a);
		break;
	case PCRAM_FAULT_A_MAX_NS:
		ks->blocked.max = attr_uint(a);
		break;
	case PCRAM_FAULT_A_HIST:
		for_each_attr(attr_data(a), attr_len(a), hist_attr, &ks->blocked);
		break;
	case PCRAM_FAULT_A_PROBE_NMISSED:
		ks->nmissed = attr_uint(a);
		break;
	}
}

static void thread_field(const struct nlattr *a, void *arg)
{
	struct pcram_kernel_thread *t = arg;

	switch (a->nla_type & NLA_TYPE_MASK) {
	case PCRAM_THREAD_A_TID:
		t->tid = (uint32_t)attr_uint(a);
		break;
	case PCRAM_THREAD_A_FAULTS:
		t->faults = attr_uint(a);
		break;
	case PCRAM_THREAD_A_BLOCKED_NS:
		t->blocked_ns = attr_uint(a);
		break;
	case PCRAM_THREAD_A_MAX_NS:
		t->max_ns = attr_uint(a);
		break;
	}
}

static void thread_attr(const struct nlattr *a, void *arg)
{
	struct pcram_kernel_stats *ks = arg;

	if (ks->nr_threads < PCRAM_KERNEL_THREADS_MAX)
		for_each_attr(attr_data(a), attr_len(a), thread_field,
			      &ks->threads[ks->nr_threads++]);
}

static void batch_attr(const struct nlattr *a, void *arg)
{
	struct pcram_kernel_stats *ks = arg;

	switch (a->nla_type & NLA_TYPE_MASK) {
	case PCRAM_BATCH_A_BATCHES:
		ks->batches = attr_uint(a);
		break;
	case PCRAM_BATCH_A_OPS:
		ks->batch_ops = attr_uint(a);
		break;
	case PCRAM_BATCH_A_BYTES:
		ks->batch_bytes = attr_uint(a);
		break;
	case PCRAM_BATCH_A_WAKES:
		ks->batch_wakes = attr_uint(a);
		break;
	case PCRAM_BATCH_A_EEXIST:
		ks->batch_eexist = attr_uint(a);
		break;
	case PCRAM_BATCH_A_ERRORS:
		ks->batch_errors = attr_uint(a);
		break;
	}
}

static void vm_attr(const struct nlattr *a, void *arg)
{
	struct pcram_kernel_stats *ks = arg;

	switch (a->nla_type & NLA_TYPE_MASK) {
	case PCRAM_VM_A_NAME:
		snprintf(ks->name, sizeof(ks->name), "%.*s", attr_len(a), attr_data(a));
		break;
	case PCRAM_VM_A_FAULTS:
		for_each_attr(attr_data(a), attr_len(a), fault_attr, ks);
		break;
	case PCRAM_VM_A_THREADS:
		for_each_attr(attr_data(a), attr_len(a), thread_attr, ks);
		break;
	case PCRAM_VM_A_BATCH:
		for_each_attr(attr_data(a), attr_len(a), batch_attr, ks);
		break;
	}
}

PCRAM_DEFAULT_VERSION(pcram_dst_kernel_stats, PCRAM_0.3);
PCRAM_EXPORT
int pcram_dst_kernel_stats(struct pcram_dst *dst, struct pcram_kernel_stats *out, size_t size)
{
	struct pcram_kernel_stats full, *ks = &full;	/* copied out to @size */
	struct sockaddr_nl me = { .nl_family = AF_NETLINK };
	struct nl_req r = {
		.n = { .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN), .nlmsg_type = GENL_ID_CTRL,
		       .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		.g = { .cmd = CTRL_CMD_GETFAMILY, .version = 1 },
	};
	const char *payload;
	uint16_t family = 0;
	char *buf = NULL;
	int sock, len;

	if (!dst || !out || size < PCRAM_KERNEL_STATS_SIZE_0_1)
		return -EINVAL;
	if (dst->module_fd < 0)
		return dst_error(dst, -ENODEV, "kernel_stats: pcram.ko is not attached");
	sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (sock < 0 || bind(sock, (struct sockaddr *)&me, sizeof(me))) {
		len = -errno;
		goto out;
	}
	buf = malloc(NL_BUF);
	if (!buf) {
		len = -ENOMEM;
		goto out;
	}
	put_attr(&r, CTRL_ATTR_FAMILY_NAME, PCRAM_GENL_NAME, sizeof(PCRAM_GENL_NAME));
	len = nl_call(sock, &r, buf, &payload);
	if (len < 0)
		goto out;
	for_each_attr(payload, len, family_attr, &family);
	if (!family) {
		len = -EPROTO;
		goto out;
	}

	r.n = (struct nlmsghdr) { .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN), .nlmsg_type = family,
				  .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 2 };
	r.g = (struct genlmsghdr) { .cmd = PCRAM_CMD_GET_VM, .version = PCRAM_GENL_VERSION };
	put_attr(&r, PCRAM_VM_A_ID, &dst->module_vm_id, sizeof(dst->module_vm_id));
	len = nl_call(sock, &r, buf, &payload);
	if (len < 0)
		goto out;
	memset(ks, 0, sizeof(*ks));
	ks->vm_id = dst->module_vm_id;
	for_each_attr(payload, len, vm_attr, ks);
	len = 0;
out:
	free(buf);
	if (sock >= 0)
		close(sock);
	if (len < 0)
		return dst_error(dst, len, "kernel_stats: pcram generic netlink: %s", strerror(-len));
	pcram_copy_out(out, size, ks, sizeof(*ks));
	return 0;
}
