/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The selftests' own client of the pcram family (libnl-genl), written
 * apart from the tool's so that each checks the other: GET_INFO, GET_VM
 * (do and dump), RESET_STATS and the events group. Requests return the
 * kernel's -errno and its extended ACK message.
 */
#ifndef PCRAM_SELFTESTS_GENL_H
#define PCRAM_SELFTESTS_GENL_H

#include <errno.h>
#include <poll.h>
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
	unsigned int extra_value; /* its value (default 1) */
	unsigned int vm_id;	/* add PCRAM_VM_A_ID when non-zero */
	bool zero_id;		/* add PCRAM_VM_A_ID 0 */
	const char *name;	/* add PCRAM_VM_A_NAME when set */
	unsigned int attach_flags; /* add PCRAM_VM_A_ATTACH_FLAGS when non-zero */
};

struct info_answer {
	int error;		/* -errno from the kernel, or 0 */
	char extack[256];	/* its extended ACK message */
	char version[64];
	unsigned int api_version;
	unsigned int nr_vms;
	unsigned int probe;
	bool has_probe_error;
	unsigned int probe_error;
	unsigned int maxactive;
	unsigned long long nmissed;
	unsigned int batch_max;
	unsigned int event_interval_ms;
	unsigned long long events_dropped;
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
	if (tb[PCRAM_INFO_A_LATENCY_PROBE])
		a->probe = nla_get_u32(tb[PCRAM_INFO_A_LATENCY_PROBE]);
	a->has_probe_error = tb[PCRAM_INFO_A_LATENCY_PROBE_ERROR];
	if (tb[PCRAM_INFO_A_LATENCY_PROBE_ERROR])
		a->probe_error = nla_get_u32(tb[PCRAM_INFO_A_LATENCY_PROBE_ERROR]);
	if (tb[PCRAM_INFO_A_LATENCY_PROBE_MAXACTIVE])
		a->maxactive = nla_get_u32(tb[PCRAM_INFO_A_LATENCY_PROBE_MAXACTIVE]);
	if (tb[PCRAM_INFO_A_LATENCY_PROBE_NMISSED])
		a->nmissed = nla_get_u64(tb[PCRAM_INFO_A_LATENCY_PROBE_NMISSED]);
	if (tb[PCRAM_INFO_A_BATCH_MAX])
		a->batch_max = nla_get_u32(tb[PCRAM_INFO_A_BATCH_MAX]);
	if (tb[PCRAM_INFO_A_EVENT_INTERVAL_MS])
		a->event_interval_ms = nla_get_u32(tb[PCRAM_INFO_A_EVENT_INTERVAL_MS]);
	if (tb[PCRAM_INFO_A_EVENTS_DROPPED])
		a->events_dropped = nla_get_u64(tb[PCRAM_INFO_A_EVENTS_DROPPED]);
	return NL_OK;
}

/* The kernel's error for a request, and its extended ACK message. */
struct nl_status {
	int error;		/* -errno from the kernel, or 0 */
	char extack[256];
};

/* Keep the kernel's errno and NLMSGERR_ATTR_MSG from the error message. */
static int nl_status_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *hdr = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nl_status *st = arg;
	struct nlattr *attr;
	size_t off;
	int rem;

	st->error = e->error;
	if (hdr->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*e);
		if (!(hdr->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		nla_for_each_attr(attr, (struct nlattr *)((char *)e + off),
				  hdr->nlmsg_len - NLMSG_HDRLEN - off, rem)
			if (nla_type(attr) == NLMSGERR_ATTR_MSG)
				snprintf(st->extack, sizeof(st->extack), "%s",
					 (char *)nla_data(attr));
	}
	return NL_STOP;
}

/*
 * Send @q (its command if set, else @default_cmd) and hand each reply to
 * @valid(msg, @arg); the kernel's error goes to @st. Returns 0 when the
 * request could be made, or -1.
 */
static inline int nl_request(const struct info_query *q, int default_cmd,
			     nl_recvmsg_msg_cb_t valid, void *arg,
			     struct nl_status *st)
{
	struct nl_sock *sock = nl_socket_alloc();
	struct nl_msg *msg = nlmsg_alloc();
	int family, one = 1, ret = -1;

	memset(st, 0, sizeof(*st));
	if (!sock || !msg || genl_connect(sock))
		goto out;
	setsockopt(nl_socket_get_fd(sock), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	family = genl_ctrl_resolve(sock, PCRAM_GENL_NAME);
	if (family < 0) {
		st->error = -ENOENT;
		ret = 0;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, q->flags,
			 q->set_cmd ? q->cmd : default_cmd, PCRAM_GENL_VERSION))
		goto out;
	if ((q->vm_id || q->zero_id) && nla_put_u32(msg, PCRAM_VM_A_ID, q->vm_id))
		goto out;
	if (q->extra_attr &&
	    nla_put_u32(msg, q->extra_attr, q->extra_value ? q->extra_value : 1))
		goto out;
	if (q->name && nla_put_string(msg, PCRAM_VM_A_NAME, q->name))
		goto out;
	if (q->attach_flags && nla_put_u32(msg, PCRAM_VM_A_ATTACH_FLAGS, q->attach_flags))
		goto out;
	nl_socket_modify_cb(sock, NL_CB_VALID, NL_CB_CUSTOM, valid, arg);
	nl_socket_modify_err_cb(sock, NL_CB_CUSTOM, nl_status_error, st);
	if (nl_send_auto(sock, msg) < 0)
		goto out;
	nl_recvmsgs_default(sock);
	ret = 0;
out:
	nlmsg_free(msg);
	nl_socket_free(sock);
	return ret;
}

/* Returns 0 when the request could be made (see a->error), or -1. */
static inline int info_request(const struct info_query *q, struct info_answer *a)
{
	struct nl_status st;
	int ret;

	memset(a, 0, sizeof(*a));
	ret = nl_request(q, PCRAM_CMD_GET_INFO, info_valid, a, &st);
	a->error = st.error;
	memcpy(a->extack, st.extack, sizeof(a->extack));
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

/* ---- GET_VM ------------------------------------------------------------ */

struct vm_thread {
	unsigned int tid;
	char comm[16];
	unsigned long long faults, blocked_ns, max_ns;
};

struct vm_answer {
	unsigned int id;
	char name[PCRAM_NAME_MAX];
	unsigned int owner;
	int attached;			/* -1: attribute absent */
	int measured;
	bool has_attach_time;
	unsigned long long attach_time;
	unsigned int attach_flags;
	int kind, pid, detach_reason;	/* -1: attribute absent */
	/* faults */
	unsigned long long faults, blocked_ns, max_ns, nmissed;
	unsigned long long hist[PCRAM_HIST_BUCKETS];
	bool has_lhist;			/* PCRAM_FAULT_A_LHIST was there */
	unsigned long long lhist[PCRAM_LHIST_BUCKETS];
	int nr_threads;
	struct vm_thread threads[PCRAM_THREADS_MAX + 1];
	/* batches */
	unsigned long long batches, ops, pages, bytes, zero_pages, wakes,
			   eexist, errors;
	unsigned long long size_hist[PCRAM_BATCH_HIST_BUCKETS];
	/* events: PCRAM_VM_A_SAMPLE */
	bool has_sample;
	unsigned int s_tid, s_flags;
	char s_comm[16];
	unsigned long long s_latency_ns, s_address, s_skipped;
	bool bad;			/* something unexpected was in it */
};

static inline unsigned long long nla_u64_or0(struct nlattr *a)
{
	return a ? nla_get_u64(a) : 0;
}

/* A histogram nest: attribute i + 1 is bucket i; 0 may be padding. */
static inline bool parse_hist(struct nlattr *nest, unsigned long long *h, int n)
{
	struct nlattr *a;
	int rem;

	if (!nest)
		return false;
	nla_for_each_nested(a, nest, rem) {
		int t = nla_type(a);

		if (t == 0)
			continue;
		if (t > n || nla_len(a) != 8)
			return false;
		h[t - 1] = nla_get_u64(a);
	}
	return true;
}

/*
 * The log-linear histogram's runs: attribute i + 1 holds buckets i, ...
 * as u64s; runs ascending, apart, within PCRAM_LHIST_BUCKETS.
 */
static inline bool parse_lhist(struct nlattr *nest, unsigned long long *h)
{
	int next = 0, rem;
	struct nlattr *a;

	nla_for_each_nested(a, nest, rem) {
		int first = nla_type(a) - 1, n = nla_len(a) / 8;

		if (first < 0)
			continue;
		if (nla_len(a) % 8 || !n || first < next || first + n > PCRAM_LHIST_BUCKETS)
			return false;
		memcpy(h + first, nla_data(a), n * 8);
		next = first + n;
	}
	return rem == 0;
}

static inline void parse_vm(struct nlattr **tb, struct vm_answer *v)
{
	struct nlattr *f[PCRAM_FAULT_A_MAX + 1], *b[PCRAM_BATCH_A_MAX + 1];
	struct nlattr *smp[PCRAM_SAMPLE_A_MAX + 1], *a;
	int rem;

	memset(v, 0, sizeof(*v));
	v->attached = v->measured = -1;
	v->kind = v->pid = v->detach_reason = -1;
	if (tb[PCRAM_VM_A_KIND])
		v->kind = nla_get_u32(tb[PCRAM_VM_A_KIND]);
	if (tb[PCRAM_VM_A_PID])
		v->pid = nla_get_u32(tb[PCRAM_VM_A_PID]);
	if (tb[PCRAM_VM_A_DETACH_REASON])
		v->detach_reason = nla_get_u32(tb[PCRAM_VM_A_DETACH_REASON]);
	if (tb[PCRAM_VM_A_ID])
		v->id = nla_get_u32(tb[PCRAM_VM_A_ID]);
	if (tb[PCRAM_VM_A_NAME])
		snprintf(v->name, sizeof(v->name), "%s", nla_get_string(tb[PCRAM_VM_A_NAME]));
	if (tb[PCRAM_VM_A_OWNER_PID])
		v->owner = nla_get_u32(tb[PCRAM_VM_A_OWNER_PID]);
	if (tb[PCRAM_VM_A_ATTACHED])
		v->attached = nla_get_u8(tb[PCRAM_VM_A_ATTACHED]);
	if (tb[PCRAM_VM_A_MEASURED])
		v->measured = nla_get_u8(tb[PCRAM_VM_A_MEASURED]);
	v->has_attach_time = tb[PCRAM_VM_A_ATTACH_TIME];
	if (tb[PCRAM_VM_A_ATTACH_TIME])
		v->attach_time = nla_get_u64(tb[PCRAM_VM_A_ATTACH_TIME]);
	if (tb[PCRAM_VM_A_ATTACH_FLAGS])
		v->attach_flags = nla_get_u32(tb[PCRAM_VM_A_ATTACH_FLAGS]);
	if (tb[PCRAM_VM_A_FAULTS]) {
		if (nla_parse_nested(f, PCRAM_FAULT_A_MAX, tb[PCRAM_VM_A_FAULTS], NULL))
			v->bad = true;
		v->faults = nla_u64_or0(f[PCRAM_FAULT_A_COUNT]);
		v->blocked_ns = nla_u64_or0(f[PCRAM_FAULT_A_BLOCKED_NS]);
		v->max_ns = nla_u64_or0(f[PCRAM_FAULT_A_MAX_NS]);
		v->nmissed = nla_u64_or0(f[PCRAM_FAULT_A_LATENCY_PROBE_NMISSED]);
		if (!parse_hist(f[PCRAM_FAULT_A_HIST], v->hist, PCRAM_HIST_BUCKETS))
			v->bad = true;
		v->has_lhist = f[PCRAM_FAULT_A_LHIST];
		if (v->has_lhist && !parse_lhist(f[PCRAM_FAULT_A_LHIST], v->lhist))
			v->bad = true;
	}
	if (tb[PCRAM_VM_A_THREADS]) {
		nla_for_each_nested(a, tb[PCRAM_VM_A_THREADS], rem) {
			struct nlattr *t[PCRAM_THREAD_A_MAX + 1];
			struct vm_thread *th = &v->threads[v->nr_threads];

			if (v->nr_threads == PCRAM_THREADS_MAX + 1 ||
			    nla_type(a) != v->nr_threads + 1 ||
			    nla_parse_nested(t, PCRAM_THREAD_A_MAX, a, NULL) ||
			    !t[PCRAM_THREAD_A_TID] || !t[PCRAM_THREAD_A_COMM]) {
				v->bad = true;
				break;
			}
			th->tid = nla_get_u32(t[PCRAM_THREAD_A_TID]);
			snprintf(th->comm, sizeof(th->comm), "%s",
				 nla_get_string(t[PCRAM_THREAD_A_COMM]));
			th->faults = nla_u64_or0(t[PCRAM_THREAD_A_FAULTS]);
			th->blocked_ns = nla_u64_or0(t[PCRAM_THREAD_A_BLOCKED_NS]);
			th->max_ns = nla_u64_or0(t[PCRAM_THREAD_A_MAX_NS]);
			v->nr_threads++;
		}
	}
	if (tb[PCRAM_VM_A_BATCH]) {
		if (nla_parse_nested(b, PCRAM_BATCH_A_MAX, tb[PCRAM_VM_A_BATCH], NULL))
			v->bad = true;
		v->batches = nla_u64_or0(b[PCRAM_BATCH_A_BATCHES]);
		v->ops = nla_u64_or0(b[PCRAM_BATCH_A_OPS]);
		v->pages = nla_u64_or0(b[PCRAM_BATCH_A_PAGES]);
		v->bytes = nla_u64_or0(b[PCRAM_BATCH_A_BYTES]);
		v->zero_pages = nla_u64_or0(b[PCRAM_BATCH_A_ZERO_PAGES]);
		v->wakes = nla_u64_or0(b[PCRAM_BATCH_A_WAKES]);
		v->eexist = nla_u64_or0(b[PCRAM_BATCH_A_EEXIST]);
		v->errors = nla_u64_or0(b[PCRAM_BATCH_A_ERRORS]);
		if (!parse_hist(b[PCRAM_BATCH_A_SIZE_HIST], v->size_hist,
				PCRAM_BATCH_HIST_BUCKETS))
			v->bad = true;
	}
	if (tb[PCRAM_VM_A_SAMPLE]) {
		v->has_sample = true;
		if (nla_parse_nested(smp, PCRAM_SAMPLE_A_MAX, tb[PCRAM_VM_A_SAMPLE], NULL) ||
		    !smp[PCRAM_SAMPLE_A_TID] || !smp[PCRAM_SAMPLE_A_COMM] ||
		    !smp[PCRAM_SAMPLE_A_FLAGS]) {
			v->bad = true;
			return;
		}
		v->s_tid = nla_get_u32(smp[PCRAM_SAMPLE_A_TID]);
		v->s_flags = nla_get_u32(smp[PCRAM_SAMPLE_A_FLAGS]);
		snprintf(v->s_comm, sizeof(v->s_comm), "%s",
			 nla_get_string(smp[PCRAM_SAMPLE_A_COMM]));
		v->s_latency_ns = nla_u64_or0(smp[PCRAM_SAMPLE_A_LATENCY_NS]);
		v->s_address = nla_u64_or0(smp[PCRAM_SAMPLE_A_ADDRESS]);
		v->s_skipped = nla_u64_or0(smp[PCRAM_SAMPLE_A_SKIPPED]);
	}
}

/* Replies to a GET_VM request or dump, collected. */
struct vm_list {
	struct vm_answer *vms;
	int max, n;
	int cmd;		/* genl command of the last message */
};

static int vm_list_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[PCRAM_VM_A_MAX + 1];
	struct vm_list *l = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCRAM_VM_A_MAX, NULL))
		return NL_STOP;
	l->cmd = ((struct genlmsghdr *)nlmsg_data(nlmsg_hdr(msg)))->cmd;
	if (l->n < l->max)
		parse_vm(tb, &l->vms[l->n]);
	l->n++;
	return NL_OK;
}

/* GET_VM of one id: 0 with *v filled, or the kernel's -errno. */
static inline int get_vm(unsigned int id, struct vm_answer *v)
{
	struct info_query q = { .vm_id = id };
	struct vm_list l = { .vms = v, .max = 1 };
	struct nl_status st;

	if (nl_request(&q, PCRAM_CMD_GET_VM, vm_list_valid, &l, &st))
		return -EIO;
	if (st.error)
		return st.error;
	return l.n == 1 ? 0 : -EPROTO;
}

/* RESET_STATS of one id (0: every VM): 0 or the kernel's -errno. */
static inline int reset_stats(unsigned int id, char *extack)
{
	struct info_query q = { .vm_id = id };
	struct vm_list l = { 0 };
	struct nl_status st;

	if (nl_request(&q, PCRAM_CMD_RESET_STATS, vm_list_valid, &l, &st))
		return -EIO;
	if (extack)
		strcpy(extack, st.extack);
	return st.error;
}

/*
 * ATTACH_PID of @pid (0: none sent) named @name (NULL: none sent), with
 * @flags sent when non-zero: the new VM's id from the reply, or the kernel's -errno with
 * its extended ACK message in @extack (when given).
 */
static inline int attach_pid_ex(unsigned int pid, const char *name, unsigned int flags,
				char *extack)
{
	struct info_query q = {
		.set_cmd = true, .cmd = PCRAM_CMD_ATTACH_PID, .name = name,
		.extra_attr = pid ? PCRAM_VM_A_PID : 0, .extra_value = pid,
		.attach_flags = flags,
	};
	struct vm_answer v;
	struct vm_list l = { .vms = &v, .max = 1 };
	struct nl_status st;

	if (nl_request(&q, 0, vm_list_valid, &l, &st))
		return -EIO;
	if (extack)
		strcpy(extack, st.extack);
	if (st.error)
		return st.error;
	return l.n == 1 && l.cmd == PCRAM_CMD_GET_VM ? (int)v.id : -EPROTO;
}

static inline int attach_pid(unsigned int pid, const char *name, char *extack)
{
	return attach_pid_ex(pid, name, 0, extack);
}

/* DETACH of VM @id: 0 or the kernel's -errno, its message in @extack. */
static inline int detach_vm(unsigned int id, char *extack)
{
	struct info_query q = { .set_cmd = true, .cmd = PCRAM_CMD_DETACH, .vm_id = id };
	struct vm_list l = { 0 };
	struct nl_status st;

	if (nl_request(&q, 0, vm_list_valid, &l, &st))
		return -EIO;
	if (extack)
		strcpy(extack, st.extack);
	return st.error;
}

/*
 * A GET_VM dump read with plain recv(2), so that the parts it came in
 * can be counted: at most @max VMs into @vms. Returns the number of VMs,
 * or -errno (from an error message or NLMSG_DONE, with its extended ACK
 * message in @extack when given); *parts is the number of datagrams with
 * VMs in them. A non-zero @id is sent as PCRAM_VM_A_ID, to be refused.
 */
static inline int dump_vms_ex(struct vm_answer *vms, int max, int *parts,
			      unsigned int id, char *extack)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		struct nlattr a;
		uint32_t id;
	} req = {
		.n = { .nlmsg_len = id ? sizeof(req) : NLMSG_LENGTH(GENL_HDRLEN),
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.g = { .cmd = PCRAM_CMD_GET_VM, .version = PCRAM_GENL_VERSION },
		.a = { .nla_len = NLA_HDRLEN + 4, .nla_type = PCRAM_VM_A_ID },
		.id = id,
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct nl_sock *resolver = nl_socket_alloc();
	static char buf[1 << 16];
	int fd, family, n = 0, ret = -EIO, one = 1;
	bool done = false;

	*parts = 0;
	if (extack)
		extack[0] = '\0';
	if (!resolver || genl_connect(resolver)) {
		nl_socket_free(resolver);
		return -EIO;
	}
	family = genl_ctrl_resolve(resolver, PCRAM_GENL_NAME);
	nl_socket_free(resolver);
	if (family < 0)
		return -ENOENT;
	req.n.nlmsg_type = family;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) != (ssize_t)req.n.nlmsg_len)
		goto out;
	while (!done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;
		int got = 0;

		if (len <= 0)
			goto out;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			struct nlattr *tb[PCRAM_VM_A_MAX + 1];

			if (h->nlmsg_type == NLMSG_DONE) {
				int err = *(int *)NLMSG_DATA(h);

				if (err < 0) {
					struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(h) + 4);

					if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && extack &&
					    a->nla_type == NLMSGERR_ATTR_MSG)
						snprintf(extack, 256, "%s", (char *)nla_data(a));
					ret = err;
					goto out;
				}
				done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				goto out;
			}
			if (genlmsg_parse(h, 0, tb, PCRAM_VM_A_MAX, NULL))
				goto out;
			if (n < max)
				parse_vm(tb, &vms[n]);
			n++;
			got = 1;
		}
		*parts += got;	/* datagrams with VMs in them */
	}
	ret = n;
out:
	close(fd);
	return ret;
}

static inline int dump_vms(struct vm_answer *vms, int max, int *parts)
{
	return dump_vms_ex(vms, max, parts, 0, NULL);
}

/* ---- the events group ---------------------------------------------------- */

/* A socket in the events group: NULL with *err = -errno when refused. */
static inline struct nl_sock *events_join(int *err)
{
	struct nl_sock *sock = nl_socket_alloc();
	int grp;

	*err = -EIO;
	if (!sock || genl_connect(sock))
		goto fail;
	grp = genl_ctrl_resolve_grp(sock, PCRAM_GENL_NAME, PCRAM_GENL_MCGRP_EVENTS);
	if (grp < 0) {
		*err = -ENOENT;
		goto fail;
	}
	*err = nl_socket_add_membership(sock, grp);
	if (*err) {
		*err = *err == -NLE_PERM ? -EPERM : -EIO;
		goto fail;
	}
	nl_socket_disable_seq_check(sock);
	nl_socket_set_nonblocking(sock);
	return sock;
fail:
	nl_socket_free(sock);
	return NULL;
}

/* Events received: vms[i] is event i, cmds[i] its command. */
struct event_list {
	struct vm_list l;
	int cmds[256];
};

static int event_valid(struct nl_msg *msg, void *arg)
{
	struct event_list *e = arg;
	int n = e->l.n;

	vm_list_valid(msg, &e->l);
	if (n < 256)
		e->cmds[n] = e->l.cmd;
	return NL_OK;
}

/* Read events until @max arrived or none came for @ms: how many. */
static inline int events_read(struct nl_sock *sock, struct event_list *e,
			      struct vm_answer *vms, int max, int ms)
{
	struct pollfd p = { .fd = nl_socket_get_fd(sock), .events = POLLIN };

	memset(e, 0, sizeof(*e));
	e->l.vms = vms;
	e->l.max = max;
	nl_socket_modify_cb(sock, NL_CB_VALID, NL_CB_CUSTOM, event_valid, e);
	while (e->l.n < max && poll(&p, 1, ms) == 1)
		nl_recvmsgs_default(sock);
	return e->l.n;
}

#endif /* PCRAM_SELFTESTS_GENL_H */
