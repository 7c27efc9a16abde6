/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A VM for the tool's tests of stat, top and monitor: a /dev/pcram
 * context attached to a userfaultfd, vCPU threads (named vcpu0, vcpu1,
 * ...) that each fault on pages of their own, and a handler that holds
 * each fault hold_us and places its page with PCRAM_IOC_BATCH, one op a
 * batch. What the module must then report is known: vcpus * per_vcpu
 * faults, as many batches, ops and pages, and per_vcpu faults for each
 * vCPU. Include after kselftest_harness.h, common.h, genl.h and
 * kmod/kmod.h.
 */
#ifndef PCRAM_SELFTESTS_TOOLS_WORKLOAD_H
#define PCRAM_SELFTESTS_TOOLS_WORKLOAD_H

#include <sys/prctl.h>

#define WORKLOAD_MAX_VCPUS 8

struct workload_vcpu {
	pthread_t thread;
	volatile uint8_t *pages;
	int n, index;
	unsigned int sum;
};

struct workload {
	int fd, uffd, id;
	uint8_t *area;
	int vcpus, per_vcpu, done;	/* done: faults served so far */
	uint8_t src[PAGE];
};

static inline void *workload_vcpu_fn(void *arg)
{
	struct workload_vcpu *v = arg;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%d", v->index);
	prctl(PR_SET_NAME, name);
	for (int i = 0; i < v->n; i++)
		v->sum += v->pages[(size_t)i * PAGE];
	return NULL;
}

/*
 * Open and attach a VM named @name with room for @rounds rounds of
 * @vcpus x @per_vcpu faults: its id (> 0), or -errno.
 */
static inline int workload_open(struct workload *w, const char *name, int vcpus,
				int per_vcpu, int rounds)
{
	memset(w, 0, sizeof(*w));
	w->fd = w->uffd = -1;
	if (vcpus > WORKLOAD_MAX_VCPUS)
		return -EINVAL;
	w->vcpus = vcpus;
	w->per_vcpu = per_vcpu;
	memset(w->src, 0x5a, sizeof(w->src));
	w->uffd = uffd_open(0);
	if (w->uffd < 0)
		return w->uffd;
	w->area = uffd_area(w->uffd, (size_t)vcpus * per_vcpu * rounds);
	if (!w->area)
		return -ENOMEM;
	w->fd = pcram_open();
	if (w->fd < 0)
		return -errno;
	w->id = pcram_attach(w->fd, w->uffd, name, 0);
	return w->id;
}

/*
 * One round: every vCPU faults on its next @per_vcpu pages, each fault
 * held @hold_us. Returns the faults served, which is vcpus * per_vcpu
 * unless something went wrong.
 */
static inline int workload_round(struct workload *w, int hold_us)
{
	struct workload_vcpu v[WORKLOAD_MAX_VCPUS];
	int total = w->vcpus * w->per_vcpu, served = 0, i;
	uint8_t *base = w->area + (size_t)w->done * PAGE;

	for (i = 0; i < w->vcpus; i++) {
		v[i] = (struct workload_vcpu){
			.pages = base + (size_t)i * w->per_vcpu * PAGE,
			.n = w->per_vcpu, .index = i,
		};
		if (pthread_create(&v[i].thread, NULL, workload_vcpu_fn, &v[i]))
			return -1;
	}
	while (served < total) {
		uint64_t addr = uffd_wait_fault(w->uffd, 10000), until;
		struct pcram_batch_op op;

		if (!addr)
			break;
		until = now_ns() + hold_us * 1000ULL;
		while (now_ns() < until)
			;	/* spin: a sleep would add wake-up noise */
		op = op_copy((void *)(uintptr_t)(addr & ~(PAGE - 1)), w->src, PAGE, 0);
		if (pcram_batch(w->fd, &op, 1, 0) != 1)
			break;
		served++;
	}
	w->done += served;
	if (served < total)
		return served;	/* a vCPU may be blocked for good: no join */
	for (i = 0; i < w->vcpus; i++)
		pthread_join(v[i].thread, NULL);
	return served;
}

static inline void workload_close(struct workload *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->uffd >= 0)
		close(w->uffd);
	w->fd = w->uffd = -1;
}

#endif /* PCRAM_SELFTESTS_TOOLS_WORKLOAD_H */
