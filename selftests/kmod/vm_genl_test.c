// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pcram family's VM commands: GET_VM (do, and a dump of many VMs in
 * several parts), RESET_STATS and its permission, the refusals with their
 * extended ACK messages, and the events group; who sees what, from an
 * unprivileged user and from another user and network namespace.
 */
#include <sched.h>
#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod.h"

FIXTURE(vm_genl) {
	int fd;
	int uffd;
	int id;
	uint8_t *area;
};

FIXTURE_SETUP(vm_genl)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	self->uffd = uffd_open(0);
	if (self->uffd < 0)
		SETUP_SKIP("no userfaultfd: %s", strerror(-self->uffd));
	self->area = uffd_area(self->uffd, 64);
	ASSERT_NE(NULL, self->area);
	self->fd = pcram_open();
	ASSERT_LE(0, self->fd);
	self->id = pcram_attach(self->fd, self->uffd, "genl", 0);
	ASSERT_LT(0, self->id);
}

FIXTURE_TEARDOWN(vm_genl)
{
	set_param("event_interval_ms", "100");
	close(self->fd);
	close(self->uffd);
}

/* A do request of @cmd with @q; returns the kernel's error. */
static int request(struct info_query *q, int cmd, struct nl_status *st, int *replies)
{
	struct vm_answer v;
	struct vm_list l = { .vms = &v, .max = 1 };

	if (replies)
		*replies = 0;
	if (nl_request(q, cmd, vm_list_valid, &l, st))
		return -EIO;
	if (replies)
		*replies = l.n;
	return st->error;
}

TEST_F(vm_genl, get_info_describes_probe_and_limits)
{
	struct info_query q = { 0 };
	struct info_answer a;

	ASSERT_EQ(0, info_request(&q, &a));
	ASSERT_EQ(0, a.error);
	EXPECT_EQ(3, PCRAM_API_VERSION);
	EXPECT_EQ(PCRAM_API_VERSION, a.api_version);
	EXPECT_TRUE(a.probe == PCRAM_LATENCY_PROBE_ON || a.probe == PCRAM_LATENCY_PROBE_OFF ||
		    a.has_probe_error);
	EXPECT_EQ(a.probe == PCRAM_LATENCY_PROBE_UNAVAILABLE, a.has_probe_error);
	EXPECT_EQ(512, a.maxactive);
	EXPECT_EQ(PCRAM_BATCH_MAX, a.batch_max);
	EXPECT_EQ(100, a.event_interval_ms);
}

TEST_F(vm_genl, get_vm_refusals_say_why)
{
	struct info_query missing = { 0 }, unknown = { .vm_id = 0x7fffffff };
	struct info_query extra = { .vm_id = self->id, .extra_attr = PCRAM_VM_A_ATTACHED };
	struct info_query beyond = { .vm_id = self->id, .extra_attr = PCRAM_VM_A_MAX + 1 };
	struct nl_status st;
	int replies;

	EXPECT_EQ(-EINVAL, request(&missing, PCRAM_CMD_GET_VM, &st, &replies));
	EXPECT_NE(NULL, strstr(st.extack, "PCRAM_VM_A_ID is required")) TH_LOG("%s", st.extack);
	EXPECT_EQ(0, replies);
	EXPECT_EQ(-ENOENT, request(&unknown, PCRAM_CMD_GET_VM, &st, &replies));
	EXPECT_NE(NULL, strstr(st.extack, "no VM has this id")) TH_LOG("%s", st.extack);
	EXPECT_EQ(-EINVAL, request(&extra, PCRAM_CMD_GET_VM, &st, &replies));
	EXPECT_NE(0, st.extack[0]);
	EXPECT_EQ(-EINVAL, request(&beyond, PCRAM_CMD_GET_VM, &st, &replies));
	EXPECT_NE(0, st.extack[0]);
}

TEST_F(vm_genl, get_vm_id_zero_out_of_range)
{
	struct nl_sock *sock = nl_socket_alloc();
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_status st = { 0 };
	int family, one = 1;

	ASSERT_EQ(0, genl_connect(sock));
	setsockopt(nl_socket_get_fd(sock), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	family = genl_ctrl_resolve(sock, PCRAM_GENL_NAME);
	ASSERT_LT(0, family);
	ASSERT_NE(NULL, genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0,
				    PCRAM_CMD_GET_VM, PCRAM_GENL_VERSION));
	ASSERT_EQ(0, nla_put_u32(msg, PCRAM_VM_A_ID, 0));
	nl_socket_modify_err_cb(sock, NL_CB_CUSTOM, nl_status_error, &st);
	ASSERT_LE(0, nl_send_auto(sock, msg));
	nl_recvmsgs_default(sock);
	EXPECT_EQ(-ERANGE, st.error);
	EXPECT_NE(NULL, strstr(st.extack, "VM ids start at 1")) TH_LOG("%s", st.extack);
	nlmsg_free(msg);
	nl_socket_free(sock);
}

TEST_F(vm_genl, event_commands_are_not_requests)
{
	int cmds[] = { PCRAM_CMD_EVENT_ATTACH, PCRAM_CMD_EVENT_DETACH, PCRAM_CMD_EVENT_FAULT };
	struct nl_status st;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		struct info_query q = { .set_cmd = true, .cmd = cmds[i] };

		EXPECT_EQ(-EOPNOTSUPP, request(&q, 0, &st, NULL)) TH_LOG("cmd %d", cmds[i]);
	}
}

/*
 * A well-formed PCRAM_VM_A_ID, whatever its value, is refused by the
 * module in the dump's NLMSG_DONE, with its message; an attribute the
 * policy refuses is refused before the dump, as an NLMSG_ERROR.
 */
TEST_F(vm_genl, dump_refuses_attributes)
{
	struct info_query extra = { .flags = NLM_F_DUMP, .extra_attr = PCRAM_VM_A_ATTACHED };
	struct vm_answer v[4];
	struct nl_status st;
	char extack[256];
	int parts, replies;

	EXPECT_EQ(-EINVAL, dump_vms_ex(v, 4, &parts, self->id, extack));
	EXPECT_EQ(0, parts);
	EXPECT_NE(NULL, strstr(extack, "a dump takes no attributes")) TH_LOG("%s", extack);
	EXPECT_EQ(-EINVAL, dump_vms_ex(v, 4, &parts, 0x7fffffff, extack));
	EXPECT_NE(NULL, strstr(extack, "a dump takes no attributes")) TH_LOG("%s", extack);
	/* libnl reads the NLMSG_ERROR, with the core's message */
	EXPECT_EQ(-EINVAL, request(&extra, PCRAM_CMD_GET_VM, &st, &replies));
	EXPECT_NE(0, st.extack[0]);
	EXPECT_EQ(0, replies);
}

/* 200 contexts: far more than one part holds, each listed once, in order. */
TEST_F_TIMEOUT(vm_genl, dump_of_many_vms_in_parts, 120)
{
	enum { N = 200 };
	struct vm_answer *vms = calloc(N + 64, sizeof(*vms));
	int fds[N], ids[N], uffds[N], i, j, n, parts, found = 0;

	ASSERT_NE(NULL, vms);
	for (i = 0; i < N; i++) {
		char name[32];

		fds[i] = pcram_open();
		ASSERT_LE(0, fds[i]) TH_LOG("open %d: %s", i, strerror(errno));
		uffds[i] = uffd_open(0);
		ASSERT_LE(0, uffds[i]);
		snprintf(name, sizeof(name), "vm-%03d", i);
		ids[i] = pcram_attach(fds[i], uffds[i], name, 0);
		ASSERT_LT(0, ids[i]);
	}
	n = dump_vms(vms, N + 64, &parts);
	ASSERT_LE(N + 1, n);
	ASSERT_GE(N + 64, n);
	TH_LOG("%d VMs in %d parts", n, parts);
	EXPECT_LT(1, parts);
	for (j = 1; j < n; j++)
		EXPECT_LT(vms[j - 1].id, vms[j].id);
	for (i = 0; i < N; i++) {
		char name[32];

		snprintf(name, sizeof(name), "vm-%03d", i);
		for (j = 0; j < n; j++)
			if (vms[j].id == (unsigned int)ids[i])
				break;
		if (j < n && !strcmp(vms[j].name, name) && vms[j].attached == 1 && !vms[j].bad)
			found++;
	}
	EXPECT_EQ(N, found);
	for (i = 0; i < N; i++) {
		close(fds[i]);
		close(uffds[i]);
	}
	free(vms);
}

TEST_F(vm_genl, reset_needs_cap_net_admin)
{
	struct info_query zero = { .zero_id = true };
	struct nl_status ns;
	char extack[256];
	int st;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int err;

		int fails = 0;

		if (drop_to_nobody())
			_exit(2);
		err = reset_stats(self->id, extack);
		if (err != -EPERM || !strstr(extack, "needs CAP_NET_ADMIN"))
			fails |= 4;
		/* the permission before the id: not ENOENT, not ERANGE */
		if (reset_stats(0x7fffffff, extack) != -EPERM)
			fails |= 8;
		if (request(&zero, PCRAM_CMD_RESET_STATS, &ns, NULL) != -EPERM ||
		    !strstr(ns.extack, "needs CAP_NET_ADMIN"))
			fails |= 16;
		_exit(fails);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
	EXPECT_EQ(-ENOENT, reset_stats(0x7fffffff, extack));
	EXPECT_NE(NULL, strstr(extack, "no VM has this id"));
	EXPECT_EQ(-ERANGE, request(&zero, PCRAM_CMD_RESET_STATS, &ns, NULL));
	EXPECT_NE(NULL, strstr(ns.extack, "VM ids start at 1")) TH_LOG("%s", ns.extack);
	EXPECT_EQ(0, reset_stats(self->id, extack));
	EXPECT_EQ(0, reset_stats(0, extack));	/* every VM */
}

/* Is VM @id among the @n of @vms? */
static bool listed(const struct vm_answer *vms, int n, int id)
{
	int i;

	for (i = 0; i < n; i++)
		if (vms[i].id == (unsigned int)id)
			return true;
	return false;
}

/*
 * An unprivileged user sees its own VMs, in full, and no other: root's
 * VM (the fixture's) does not exist for it, by do or dump. Its own is
 * one root opened and handed over, which it attached.
 */
TEST_F(vm_genl, unprivileged_sees_only_its_own)
{
	int st, fd = pcram_open(), uffd = uffd_open(0);
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, uffd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct info_query q = { .vm_id = self->id };
		struct vm_answer v, vms[64];
		struct nl_status ns;
		int id, n, parts, fails = 0;

		if (drop_to_nobody())
			_exit(2);
		id = pcram_attach(fd, uffd, "mine", 0);
		if (id <= 0)
			_exit(3);
		if (request(&q, PCRAM_CMD_GET_VM, &ns, NULL) != -ENOENT ||
		    !strstr(ns.extack, "no VM has this id"))
			fails |= 4;
		if (get_vm(id, &v) || strcmp(v.name, "mine") || v.owner != (unsigned int)getpid() ||
		    v.attached != 1 || !v.has_attach_time)
			fails |= 8;
		n = dump_vms(vms, 64, &parts);
		if (n < 1 || listed(vms, n, self->id) || !listed(vms, n, id))
			fails |= 16;
		_exit(fails);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
	close(fd);
	close(uffd);
}

/*
 * GET_VM, GET_VM's dump, RESET_STATS and the events group's join, sent
 * to the family's id and the group's number got beforehand: what comes
 * back in the first message (0: data, else its error).
 */
static int raw_request(int family, int cmd, int flags)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
	} req = {
		.n = { .nlmsg_len = sizeof(req), .nlmsg_type = family,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags, .nlmsg_seq = 1 },
		.g = { .cmd = cmd, .version = PCRAM_GENL_VERSION },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	static char buf[1 << 16];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	int ret = -EIO;

	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) == sizeof(req) &&
	    recv(fd, buf, sizeof(buf), 0) >= (ssize_t)NLMSG_HDRLEN) {
		if (h->nlmsg_type == NLMSG_ERROR)
			ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		else if (h->nlmsg_type == NLMSG_DONE)
			ret = *(int *)NLMSG_DATA(h);
		else
			ret = 0;
	}
	close(fd);
	return ret;
}

/*
 * From an unprivileged user and network namespace the family does not
 * exist: not by name, not by number; and a socket there that joins the
 * events group by number is sent nothing while events are sent.
 */
TEST_F(vm_genl, other_netns_sees_nothing)
{
	struct nl_sock *res = nl_socket_alloc(), *admin;
	int family, grp, err, st, joined[2], go[2], fd, uffd;
	struct vm_answer ev[8];
	struct event_list e;
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, genl_connect(res));
	family = genl_ctrl_resolve(res, PCRAM_GENL_NAME);
	grp = genl_ctrl_resolve_grp(res, PCRAM_GENL_NAME, PCRAM_GENL_MCGRP_EVENTS);
	nl_socket_free(res);
	ASSERT_LT(0, family);
	ASSERT_LT(0, grp);
	ASSERT_EQ(0, pipe(joined));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct pollfd p = { .events = POLLIN };
		struct info_query q = { 0 };
		struct info_answer a;
		struct vm_answer v[4];
		int parts, fails = 0;

		if (drop_to_nobody())
			_exit(2);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
			_exit(3);	/* no unprivileged user namespaces */
		if (info_request(&q, &a) || a.error != -ENOENT)
			fails |= 1 << 2;
		if (get_vm(self->id, v) != -ENOENT)
			fails |= 1 << 3;
		if (dump_vms(v, 4, &parts) != -ENOENT)
			fails |= 1 << 4;
		if (reset_stats(0, NULL) != -ENOENT)
			fails |= 1 << 5;
		if (events_join(&err) || err != -ENOENT)
			fails |= 1 << 6;
		if (raw_request(family, PCRAM_CMD_GET_VM, NLM_F_DUMP) != -ENOENT)
			fails |= 1 << 7;
		if (raw_request(family, PCRAM_CMD_GET_INFO, 0) != -ENOENT)
			fails |= 1 << 8;
		if (raw_request(family, PCRAM_CMD_RESET_STATS, 0) != -ENOENT)
			fails |= 1 << 9;
		/* joining by number may be allowed here, but brings nothing */
		p.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
		if (p.fd < 0)
			fails |= 1 << 10;
		else
			setsockopt(p.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp));
		if (write(joined[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			fails |= 1 << 11;
		if (p.fd >= 0 && poll(&p, 1, 300) != 0)
			fails |= 1 << 12;
		_exit(fails);
	}
	close(joined[1]);
	close(go[0]);
	admin = events_join(&err);
	ASSERT_NE(NULL, admin) TH_LOG("join: %d", err);
	if (read(joined[0], &c, 1) == 1) {
		/* events while the other namespace listens */
		fd = pcram_open();
		uffd = uffd_open(0);
		ASSERT_LE(0, fd);
		ASSERT_LE(0, uffd);
		ASSERT_LT(0, pcram_attach(fd, uffd, "seen-here", 0));
		close(fd);
		close(uffd);
		EXPECT_EQ(2, events_read(admin, &e, ev, 8, 1000));
		EXPECT_EQ(1, write(go[1], &c, 1));
	}
	close(go[1]);
	close(joined[0]);
	nl_socket_free(admin);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	if (WEXITSTATUS(st) == 3)
		SKIP(return, "no unprivileged user namespaces");
	EXPECT_EQ(0, WEXITSTATUS(st)) TH_LOG("failed checks: %#x", WEXITSTATUS(st));
}

TEST_F(vm_genl, events_need_cap_net_admin)
{
	int st;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct nl_sock *sock;
		int err;

		if (drop_to_nobody())
			_exit(2);
		sock = events_join(&err);
		_exit(!sock && err == -EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

TEST_F(vm_genl, attach_and_detach_events)
{
	struct vm_answer ev[8];
	struct event_list e;
	struct nl_sock *sock;
	int err, fd = pcram_open(), uffd = uffd_open(0), id;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, uffd);
	sock = events_join(&err);
	ASSERT_NE(NULL, sock) TH_LOG("join: %d", err);
	id = pcram_attach(fd, uffd, "evented", 0);
	ASSERT_LT(0, id);
	ASSERT_EQ(0, ioctl(fd, PCRAM_IOC_DETACH));
	ASSERT_LT(0, pcram_attach(fd, uffd, "again", 0));
	close(fd);	/* detaches */
	ASSERT_EQ(4, events_read(sock, &e, ev, 8, 2000));
	EXPECT_EQ(PCRAM_CMD_EVENT_ATTACH, e.cmds[0]);
	EXPECT_EQ(id, ev[0].id);
	EXPECT_STREQ("evented", ev[0].name);
	EXPECT_EQ(getpid(), ev[0].owner);
	EXPECT_TRUE(ev[0].has_attach_time);
	EXPECT_EQ(PCRAM_CMD_EVENT_DETACH, e.cmds[1]);
	EXPECT_EQ(id, ev[1].id);
	EXPECT_STREQ("evented", ev[1].name);
	EXPECT_EQ(PCRAM_CMD_EVENT_ATTACH, e.cmds[2]);
	EXPECT_STREQ("again", ev[2].name);
	EXPECT_EQ(PCRAM_CMD_EVENT_DETACH, e.cmds[3]);
	EXPECT_EQ(id, ev[3].id);
	nl_socket_free(sock);
	close(uffd);
}

/* Placing through the context, by hand, @n faults. */
static int serve_n(int fd, int uffd, int n)
{
	static uint8_t src[PAGE];
	int i;

	for (i = 0; i < n; i++) {
		uint64_t addr = uffd_wait_fault(uffd, 10000);
		struct pcram_batch_op op = op_copy((void *)(uintptr_t)addr, src, PAGE, 0);

		if (!addr || pcram_batch(fd, &op, 1, 0) != 1)
			return i;
	}
	return n;
}

TEST_F(vm_genl, sampled_fault_events_rate_limited)
{
	struct info_query q = { 0 };
	struct vm_answer ev[64];
	struct info_answer a;
	struct toucher t = { .stride = PAGE };
	struct event_list e;
	struct nl_sock *sock;
	int err, i, faults = 0;

	ASSERT_EQ(0, info_request(&q, &a));
	if (a.probe != PCRAM_LATENCY_PROBE_ON)
		SKIP(return, "the fault-latency probe is not on");
	ASSERT_EQ(0, set_param("event_interval_ms", "1000000"));
	sock = events_join(&err);
	ASSERT_NE(NULL, sock) TH_LOG("join: %d", err);

	/* 20 faults in well under the interval: the first is sampled */
	memset(&t.tid, 0, sizeof(t) - offsetof(struct toucher, tid));
	t.pages = self->area;
	t.n = 20;
	ASSERT_EQ(0, pthread_create(&t.thread, NULL, toucher_fn, &t));
	EXPECT_EQ(20, serve_n(self->fd, self->uffd, 20));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	ASSERT_EQ(1, events_read(sock, &e, ev, 64, 1000));
	EXPECT_EQ(PCRAM_CMD_EVENT_FAULT, e.cmds[0]);
	EXPECT_EQ(self->id, ev[0].id);
	ASSERT_TRUE(ev[0].has_sample);
	EXPECT_FALSE(ev[0].bad);
	EXPECT_EQ(t.tid, ev[0].s_tid);
	EXPECT_STREQ("vm_genl_test", ev[0].s_comm);
	EXPECT_EQ((uintptr_t)self->area, ev[0].s_address);
	EXPECT_EQ(0, ev[0].s_flags);	/* a read fault */
	EXPECT_LT(0, ev[0].s_latency_ns);
	EXPECT_EQ(0, ev[0].s_skipped);

	/* no limit to speak of: each further fault is sampled */
	ASSERT_EQ(0, set_param("event_interval_ms", "1"));
	memset(&t.tid, 0, sizeof(t) - offsetof(struct toucher, tid));
	t.pages = self->area + 20 * PAGE;
	t.n = 5;
	ASSERT_EQ(0, pthread_create(&t.thread, NULL, toucher_fn, &t));
	for (i = 0; i < 5; i++) {
		faults += serve_n(self->fd, self->uffd, 1);
		usleep(5000);	/* more than the interval between faults */
	}
	EXPECT_EQ(5, faults);
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	ASSERT_EQ(5, events_read(sock, &e, ev, 64, 1000));
	/* the first says how many went unsampled before it */
	EXPECT_EQ(19, ev[0].s_skipped);
	EXPECT_EQ((uintptr_t)self->area + 24 * PAGE, ev[4].s_address);

	/* and 0 sends none */
	ASSERT_EQ(0, set_param("event_interval_ms", "0"));
	t.pages = self->area + 30 * PAGE;
	t.n = 3;
	ASSERT_EQ(0, pthread_create(&t.thread, NULL, toucher_fn, &t));
	EXPECT_EQ(3, serve_n(self->fd, self->uffd, 3));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	EXPECT_EQ(0, events_read(sock, &e, ev, 64, 300));
	nl_socket_free(sock);
}

TEST_F(vm_genl, no_events_flag_silences_a_vm)
{
	struct vm_answer ev[8];
	struct toucher t = { .stride = PAGE };
	struct event_list e;
	struct nl_sock *sock;
	int err, fd = pcram_open(), uffd = uffd_open(0);
	uint8_t *area;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, uffd);
	area = uffd_area(uffd, 4);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, set_param("event_interval_ms", "1"));
	ASSERT_LT(0, pcram_attach(fd, uffd, "silent", PCRAM_ATTACH_F_NO_EVENTS));
	sock = events_join(&err);
	ASSERT_NE(NULL, sock);
	ASSERT_EQ(0, toucher_start(&t, area, 4));
	EXPECT_EQ(4, serve_n(fd, uffd, 4));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	EXPECT_EQ(0, events_read(sock, &e, ev, 8, 300));
	nl_socket_free(sock);
	close(fd);
	close(uffd);
}

/*
 * A fault blocked across its VM's detach ends after it: counted in the
 * VM's statistics, but no sample follows the detach event. Then one
 * placed before the detach: its sample comes before the detach.
 */
TEST_F(vm_genl, no_fault_event_after_detach)
{
	struct info_query q = { 0 };
	struct vm_answer ev[8], v;
	struct toucher t = { .stride = PAGE };
	struct info_answer a;
	struct event_list e;
	struct nl_sock *sock;
	static uint8_t src[PAGE];
	int err, fd = pcram_open(), uffd = uffd_open(0), id;
	uint8_t *area;

	ASSERT_EQ(0, info_request(&q, &a));
	if (a.probe != PCRAM_LATENCY_PROBE_ON)
		SKIP(return, "the fault-latency probe is not on");
	ASSERT_LE(0, fd);
	ASSERT_LE(0, uffd);
	area = uffd_area(uffd, 2);
	ASSERT_NE(NULL, area);
	ASSERT_EQ(0, set_param("event_interval_ms", "1"));
	id = pcram_attach(fd, uffd, "leaving", 0);
	ASSERT_LT(0, id);
	sock = events_join(&err);
	ASSERT_NE(NULL, sock) TH_LOG("join: %d", err);

	/* blocked at the detach, placed after it */
	ASSERT_EQ(0, toucher_start(&t, area, 1));
	ASSERT_TRUE(uffd_wait_blocked(uffd, 1));
	ASSERT_EQ(0, ioctl(fd, PCRAM_IOC_DETACH));
	ASSERT_EQ(0, uffd_copy(uffd, area, src, PAGE));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	ASSERT_EQ(0, get_vm(id, &v));
	EXPECT_EQ(1, v.faults) TH_LOG("the late fault is the VM's all the same");
	ASSERT_EQ(1, events_read(sock, &e, ev, 8, 300));
	EXPECT_EQ(PCRAM_CMD_EVENT_DETACH, e.cmds[0]);

	/* placed while attached: its sample, then the detach */
	ASSERT_LT(0, pcram_attach(fd, uffd, "leaving", 0));
	ASSERT_EQ(0, toucher_start(&t, area + PAGE, 1));
	ASSERT_TRUE(uffd_wait_blocked(uffd, 1));
	ASSERT_EQ(0, uffd_copy(uffd, area + PAGE, src, PAGE));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	close(fd);	/* detaches */
	ASSERT_EQ(3, events_read(sock, &e, ev, 8, 1000));
	EXPECT_EQ(PCRAM_CMD_EVENT_ATTACH, e.cmds[0]);
	EXPECT_EQ(PCRAM_CMD_EVENT_FAULT, e.cmds[1]);
	EXPECT_EQ((uintptr_t)area + PAGE, ev[1].s_address);
	EXPECT_EQ(1, ev[1].s_skipped) TH_LOG("the late fault was not sent: it is skipped");
	EXPECT_EQ(PCRAM_CMD_EVENT_DETACH, e.cmds[2]);
	nl_socket_free(sock);
	close(uffd);
}

/*
 * Every fault that ends while someone listens is sent or counted in the
 * SKIPPED of the VM's next sample, whatever kept it back: the rate limit,
 * or a full queue (the events dropped are logged). 40 faults as fast as
 * they can be served, then one after the interval: the samples account
 * for all 41.
 */
TEST_F(vm_genl, skipped_accounts_for_every_fault)
{
	struct info_query q = { 0 };
	struct toucher t = { .stride = PAGE };
	unsigned long long sum = 0, dropped;
	struct vm_answer ev[64];
	struct info_answer a;
	struct event_list e;
	struct nl_sock *sock;
	int err, i, n;

	ASSERT_EQ(0, info_request(&q, &a));
	if (a.probe != PCRAM_LATENCY_PROBE_ON)
		SKIP(return, "the fault-latency probe is not on");
	dropped = a.events_dropped;
	ASSERT_EQ(0, set_param("event_interval_ms", "2"));
	sock = events_join(&err);
	ASSERT_NE(NULL, sock) TH_LOG("join: %d", err);
	ASSERT_EQ(0, toucher_start(&t, self->area, 40));
	EXPECT_EQ(40, serve_n(self->fd, self->uffd, 40));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	usleep(20000);
	ASSERT_EQ(0, toucher_start(&t, self->area + 40 * PAGE, 1));
	EXPECT_EQ(1, serve_n(self->fd, self->uffd, 1));
	ASSERT_EQ(0, pthread_join(t.thread, NULL));
	n = events_read(sock, &e, ev, 64, 1000);
	ASSERT_LE(1, n);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(PCRAM_CMD_EVENT_FAULT, e.cmds[i]);
		sum += 1 + ev[i].s_skipped;
	}
	ASSERT_EQ(0, info_request(&q, &a));
	TH_LOG("%d samples, %llu dropped", n, a.events_dropped - dropped);
	EXPECT_EQ(41, sum);
	nl_socket_free(sock);
}

TEST_HARNESS_MAIN
