// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libpcram's pcram.ko client (pcram_kmod_*) against the real module, each
 * answer checked against the selftests' own generic netlink client
 * (genl.h), which shares no code with the library: open and info, attach
 * and detach by uffd, GET_VM one and all, reset, and the events group.
 */
#include "kselftest_harness.h"
#include "common.h"
#include "genl.h"
#include "kmod.h"

#include <pcram.h>

FIXTURE(kmod_api) {
	struct pcram_kmod *k;
	int uffd;
	uint8_t *area;
};

FIXTURE_SETUP(kmod_api)
{
	if (!pcram_loaded())
		SETUP_SKIP(PCRAM_NOT_LOADED);
	self->uffd = uffd_open(0);
	if (self->uffd < 0)
		SETUP_SKIP("no userfaultfd: %s", strerror(-self->uffd));
	self->area = uffd_area(self->uffd, 16);
	ASSERT_NE(NULL, self->area);
	ASSERT_EQ(0, pcram_kmod_new(&self->k));
	ASSERT_EQ(0, pcram_kmod_open(self->k, 2)) TH_LOG("%s", pcram_kmod_strerror(self->k));
}

FIXTURE_TEARDOWN(kmod_api)
{
	pcram_kmod_free(self->k);
	if (self->uffd >= 0)
		close(self->uffd);
}

TEST_F(kmod_api, info_matches_the_module)
{
	struct pcram_kmod_info info;
	struct info_query q = { 0 };
	struct info_answer a;
	struct pcram_kmod *k2;

	ASSERT_EQ(0, pcram_kmod_info(self->k, &info, sizeof(info)));
	ASSERT_EQ(0, info_request(&q, &a));
	EXPECT_EQ(sizeof(info), info.size);
	EXPECT_STREQ(a.version, info.version);
	EXPECT_EQ(a.api_version, info.api_version);
	EXPECT_EQ(PCRAM_GENL_VERSION, info.genl_version);
	EXPECT_EQ(PCRAM_BATCH_MAX, info.batch_max);
	EXPECT_GE(PCRAM_API_VERSION, info.api_version);
	/* already open */
	EXPECT_EQ(-EBUSY, pcram_kmod_open(self->k, 0));
	/* an API this library cannot have met yet */
	ASSERT_EQ(0, pcram_kmod_new(&k2));
	EXPECT_EQ(-EPROTO, pcram_kmod_open(k2, PCRAM_API_VERSION + 1));
	EXPECT_NE(NULL, strstr(pcram_kmod_strerror(k2), "this needs API"))
		TH_LOG("%s", pcram_kmod_strerror(k2));
	pcram_kmod_free(k2);
}

static int count_vm(const struct pcram_kmod_vm *vm, void *arg)
{
	struct pcram_kmod_vm *want = arg;

	/* seen, under the name it was given */
	if (vm->id == want->id && !strcmp(vm->name, want->name))
		want->has_sample = true;
	return 0;
}

static int stop_at_first(const struct pcram_kmod_vm *vm, void *arg)
{
	(void)vm;
	++*(int *)arg;
	return -EINTR;
}

TEST_F(kmod_api, attach_get_dump_detach)
{
	struct pcram_kmod_vm vm, want = { 0 };
	struct vm_answer v;
	uint32_t id = 0;
	int ctx, n, calls = 0;

	EXPECT_EQ(-EINVAL, pcram_kmod_attach_uffd(self->uffd, "x", 1U << 7, &id));
	EXPECT_EQ(-EINVAL, pcram_kmod_attach_uffd(self->uffd,
						  "a-name-that-is-longer-than-32-bytes", 0, &id));
	ctx = pcram_kmod_attach_uffd(self->uffd, "api-vm", PCRAM_KMOD_ATTACH_F_NO_EVENTS, &id);
	ASSERT_LE(0, ctx) TH_LOG("%s", strerror(-ctx));
	ASSERT_LT(0, id);
	/* one uffd, one VM */
	EXPECT_EQ(-EBUSY, pcram_kmod_attach_uffd(self->uffd, "again", 0, NULL));

	ASSERT_EQ(0, pcram_kmod_get_vm(self->k, id, &vm, sizeof(vm)))
		TH_LOG("%s", pcram_kmod_strerror(self->k));
	ASSERT_EQ(0, get_vm(id, &v));
	EXPECT_EQ(v.id, vm.id);
	EXPECT_STREQ(v.name, vm.name);
	EXPECT_STREQ("api-vm", vm.name);
	EXPECT_EQ(v.owner, vm.owner_pid);
	EXPECT_EQ(getpid(), vm.owner_pid);
	EXPECT_TRUE(vm.attached);
	EXPECT_EQ(PCRAM_KMOD_ATTACH_F_NO_EVENTS, vm.attach_flags);
	EXPECT_EQ(v.attach_time, vm.attach_time_ns);
	EXPECT_EQ(v.faults, vm.faults.count);

	want.id = id;
	strcpy(want.name, "api-vm");
	n = pcram_kmod_dump(self->k, count_vm, &want);
	EXPECT_LE(1, n);
	EXPECT_EQ(info_nr_vms(), n);
	EXPECT_TRUE(want.has_sample);
	/* the callback's error stops the dump and comes back */
	EXPECT_EQ(-EINTR, pcram_kmod_dump(self->k, stop_at_first, &calls));
	EXPECT_EQ(1, calls);

	EXPECT_EQ(-ESRCH, pcram_kmod_get_vm(self->k, 0x7fffffff, &vm, sizeof(vm)));
	EXPECT_NE(NULL, strstr(pcram_kmod_strerror(self->k), "no VM has id"));

	EXPECT_EQ(0, pcram_kmod_detach_uffd(ctx));
	EXPECT_EQ(-ENOTCONN, pcram_kmod_detach_uffd(ctx));
	ASSERT_EQ(0, pcram_kmod_get_vm(self->k, id, &vm, sizeof(vm)));
	EXPECT_FALSE(vm.attached);	/* detached, statistics kept */
	close(ctx);
	EXPECT_EQ(-ESRCH, pcram_kmod_get_vm(self->k, id, &vm, sizeof(vm)));
}

/* A caller built against an older, smaller struct gets only that much. */
TEST_F(kmod_api, smaller_struct_not_overrun)
{
	size_t small = offsetof(struct pcram_kmod_vm, reserved);
	unsigned char *buf = malloc(sizeof(struct pcram_kmod_vm) + 64);
	uint32_t id;
	int ctx;

	ASSERT_NE(NULL, buf);
	ctx = pcram_kmod_attach_uffd(self->uffd, "small", 0, &id);
	ASSERT_LE(0, ctx);
	memset(buf, 0xa5, sizeof(struct pcram_kmod_vm) + 64);
	ASSERT_EQ(0, pcram_kmod_get_vm(self->k, id, (void *)buf, small));
	EXPECT_EQ(small, ((struct pcram_kmod_vm *)buf)->size);
	EXPECT_EQ(id, ((struct pcram_kmod_vm *)buf)->id);
	for (size_t i = small; i < sizeof(struct pcram_kmod_vm) + 64; i++) {
		if (buf[i] != 0xa5) {
			TH_LOG("byte %zu written", i);
			ASSERT_EQ(0xa5, buf[i]);
		}
	}
	EXPECT_EQ(-EINVAL, pcram_kmod_get_vm(self->k, id, (void *)buf, 16));
	close(ctx);
	free(buf);
}

static void *touch_one(void *p)
{
	return (void *)(uintptr_t)*(volatile uint8_t *)p;
}

TEST_F(kmod_api, reset_zeroes_what_the_kernel_measured)
{
	static uint8_t page[PAGE] __attribute__((aligned(PAGE)));
	struct pcram_kmod_vm vm;
	struct vm_answer v;
	pthread_t t;
	uint32_t id;
	int ctx;

	ctx = pcram_kmod_attach_uffd(self->uffd, "reset", 0, &id);
	ASSERT_LE(0, ctx);
	ASSERT_EQ(0, pthread_create(&t, NULL, touch_one, self->area));
	ASSERT_NE(0, uffd_wait_fault(self->uffd, 5000));
	ASSERT_EQ(0, uffd_copy(self->uffd, self->area, page, PAGE));
	pthread_join(t, NULL);
	/* the probe counts the fault once handle_userfault returns */
	for (int i = 0; i < 500; i++) {
		ASSERT_EQ(0, pcram_kmod_get_vm(self->k, id, &vm, sizeof(vm)));
		if (vm.faults.count)
			break;
		usleep(10000);
	}
	ASSERT_EQ(0, get_vm(id, &v));
	if (!v.measured)
		SKIP(goto out, "the module's latency probe is not measuring");
	EXPECT_EQ(1, vm.faults.count);
	EXPECT_EQ(v.faults, vm.faults.count);
	EXPECT_EQ(v.blocked_ns, vm.faults.sum);
	EXPECT_EQ(1, vm.nr_threads);
	EXPECT_EQ(v.threads[0].tid, vm.threads[0].tid);
	EXPECT_STREQ(v.threads[0].comm, vm.threads[0].comm);

	ASSERT_EQ(0, pcram_kmod_reset(self->k, id)) TH_LOG("%s", pcram_kmod_strerror(self->k));
	ASSERT_EQ(0, pcram_kmod_get_vm(self->k, id, &vm, sizeof(vm)));
	EXPECT_EQ(0, vm.faults.count);
	EXPECT_EQ(0, vm.nr_threads);
	EXPECT_EQ(-ESRCH, pcram_kmod_reset(self->k, 0x7fffffff));
	EXPECT_EQ(0, pcram_kmod_reset(self->k, 0));
out:
	close(ctx);
}

TEST_F(kmod_api, batch_places_through_the_context)
{
	static uint8_t src[4 * PAGE] __attribute__((aligned(PAGE)));
	struct pcram_batch_op ops[4];
	uint32_t id;
	int ctx, i;

	ctx = pcram_kmod_attach_uffd(self->uffd, "batch", PCRAM_KMOD_ATTACH_F_NO_EVENTS, &id);
	ASSERT_LE(0, ctx);
	for (i = 0; i < 4; i++) {
		memset(src + i * PAGE, 'a' + i, PAGE);
		ops[i] = op_copy(self->area + i * PAGE, src + i * PAGE, PAGE, 0);
	}
	EXPECT_EQ(4, pcram_kmod_batch(ctx, ops, 4, 0));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, ops[i].result);
		EXPECT_EQ('a' + i, self->area[i * PAGE + 7]);
	}
	/* the same pages again: EEXIST, as the first op's error */
	EXPECT_EQ(-EEXIST, pcram_kmod_batch(ctx, ops, 4, 0));
	EXPECT_EQ(-EEXIST, ops[0].result);
	EXPECT_EQ(4, pcram_kmod_batch(ctx, ops, 4, PCRAM_BATCH_F_IGNORE_EEXIST));
	EXPECT_EQ(-E2BIG, pcram_kmod_batch(ctx, ops, PCRAM_BATCH_MAX + 1, 0));
	ASSERT_EQ(0, pcram_kmod_detach_uffd(ctx));
	EXPECT_EQ(-ENOTCONN, pcram_kmod_batch(ctx, ops, 1, 0));
	close(ctx);
}

struct seen {
	int attach, detach;
	uint32_t id;
	char name[PCRAM_KMOD_NAME_MAX];
};

static void on_event(enum pcram_kmod_event ev, const struct pcram_kmod_vm *vm, void *arg)
{
	struct seen *s = arg;

	if (vm->id != s->id)
		return;
	if (ev == PCRAM_KMOD_EVENT_ATTACH)
		s->attach++;
	if (ev == PCRAM_KMOD_EVENT_DETACH)
		s->detach++;
	strcpy(s->name, vm->name);
}

TEST_F(kmod_api, events_attach_then_detach)
{
	struct pollfd p = { .events = POLLIN };
	struct pcram_kmod_info info;
	struct seen s = { 0 };
	int ctx, i;

	EXPECT_EQ(-EINVAL, pcram_kmod_read_events(self->k, on_event, &s));
	ASSERT_EQ(0, pcram_kmod_subscribe(self->k)) TH_LOG("%s", pcram_kmod_strerror(self->k));
	p.fd = pcram_kmod_fd(self->k);
	ASSERT_LE(0, p.fd);
	/* again: nothing changes; and the handle is for events only now */
	EXPECT_EQ(0, pcram_kmod_subscribe(self->k));
	EXPECT_EQ(-EBUSY, pcram_kmod_info(self->k, &info, sizeof(info)));
	ctx = pcram_kmod_attach_uffd(self->uffd, "events", 0, &s.id);
	ASSERT_LE(0, ctx);
	close(ctx);
	for (i = 0; i < 50 && !s.detach; i++) {
		if (poll(&p, 1, 100) == 1)
			ASSERT_EQ(0, pcram_kmod_read_events(self->k, on_event, &s));
	}
	EXPECT_EQ(1, s.attach);
	EXPECT_EQ(1, s.detach);
	EXPECT_STREQ("events", s.name);
}

TEST_HARNESS_MAIN
