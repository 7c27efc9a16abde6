// SPDX-License-Identifier: GPL-2.0
/*
 * PCRAM_IOC_BATCH: many userfaultfd placements in one system call.
 *
 * The work is done by the userfaultfd's own ioctls, called through its
 * file_operations: mm/userfaultfd.c exports nothing a module could call
 * instead. Those ioctls take a user pointer to their argument, and the
 * caller's ops already hold these arguments in the same layout, so each
 * call is handed a pointer into the caller's array. Where a call needs an
 * argument the caller did not write (a placement joined across ops, the
 * DONTWAKE mode, the rest of a partly placed op, a coalesced wake), the
 * module writes it into the op it is about to use; at the end every op
 * that ran is written back from the kernel's copy with its results,
 * which puts the caller's input fields back. Those writes into the
 * caller's ops are also what can fail once pages are placed (EFAULT: the
 * caller unmapped them or made them read-only meanwhile); the count of
 * ops completed is returned all the same.
 *
 * Why coalesce: what a per-page UFFDIO_COPY costs besides the copy itself
 * is the system call, taking the mm and mmap lock and finding the vma; a
 * run of contiguous pages pays that once. Waking is a scan of the fault
 * wait queue, also paid once per contiguous run.
 */
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/security.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <uapi/linux/pcram.h>

#include "pcram_internal.h"

static_assert(sizeof(struct pcram_batch_op) == 48);
static_assert(sizeof(struct pcram_batch) == 16);
static_assert(sizeof(struct pcram_attach) == 40);

/* The byte range one op places, with the mode it asked for. */
struct pcram_place {
	u64 dst;
	u64 src;	/* COPY only */
	u64 len;
	u64 mode;
};

struct pcram_batch_run {
	struct file *uffd;
	struct pcram_batch_op __user *uops;
	struct pcram_batch_op *ops;	/* the caller's ops, results added */
	u32 count;
	u32 flags;
	/* the contiguous range placed and not yet woken */
	u64 wake_start;
	u64 wake_len;
	u32 wake_op;		/* the op that began the run; carries its range */
	u32 ran;		/* ops used so far: to be written back */
	struct pcram_batch_counts tally;
};

static const unsigned int pcram_uffd_cmd[] = {
	[PCRAM_BATCH_OP_COPY] = UFFDIO_COPY,
	[PCRAM_BATCH_OP_ZEROPAGE] = UFFDIO_ZEROPAGE,
	[PCRAM_BATCH_OP_CONTINUE] = UFFDIO_CONTINUE,
	[PCRAM_BATCH_OP_WAKE] = UFFDIO_WAKE,
};

static long pcram_uffd_ioctl(struct pcram_batch_run *r, unsigned int cmd, u32 i)
{
	return r->uffd->f_op->unlocked_ioctl(r->uffd, cmd,
					     (unsigned long)&r->uops[i].copy);
}

static void pcram_op_place(const struct pcram_batch_op *op,
			   struct pcram_place *p)
{
	memset(p, 0, sizeof(*p));
	switch (op->op) {
	case PCRAM_BATCH_OP_COPY:
		p->dst = op->copy.dst;
		p->src = op->copy.src;
		p->len = op->copy.len;
		p->mode = op->copy.mode;
		break;
	case PCRAM_BATCH_OP_ZEROPAGE:
		p->dst = op->zeropage.range.start;
		p->len = op->zeropage.range.len;
		p->mode = op->zeropage.mode;
		break;
	case PCRAM_BATCH_OP_CONTINUE:
		p->dst = op->cont.range.start;
		p->len = op->cont.range.len;
		p->mode = op->cont.mode;
		break;
	}
}

/* The DONTWAKE bit of each kind; the same value today, but not by contract. */
static u64 pcram_dontwake(u32 type)
{
	switch (type) {
	case PCRAM_BATCH_OP_COPY:
		return UFFDIO_COPY_MODE_DONTWAKE;
	case PCRAM_BATCH_OP_ZEROPAGE:
		return UFFDIO_ZEROPAGE_MODE_DONTWAKE;
	default:
		return UFFDIO_CONTINUE_MODE_DONTWAKE;
	}
}

/* Write @p, not to be woken, as the argument in op @i's place. */
static int pcram_put_place(struct pcram_batch_run *r, u32 i, u32 type,
			   const struct pcram_place *p)
{
	struct pcram_batch_op op = { .op = type };
	u64 mode = p->mode | pcram_dontwake(type);

	switch (type) {
	case PCRAM_BATCH_OP_COPY:
		op.copy = (struct uffdio_copy){ .dst = p->dst, .src = p->src,
						.len = p->len, .mode = mode };
		break;
	case PCRAM_BATCH_OP_ZEROPAGE:
		op.zeropage.range.start = p->dst;
		op.zeropage.range.len = p->len;
		op.zeropage.mode = mode;
		break;
	case PCRAM_BATCH_OP_CONTINUE:
		op.cont.range.start = p->dst;
		op.cont.range.len = p->len;
		op.cont.mode = mode;
		break;
	}
	if (copy_to_user(&r->uops[i].copy, &op.copy, sizeof(op.copy)))
		return -EFAULT;
	return 0;
}

/* The output field of op @i: bytes placed or -errno. */
static s64 *pcram_op_out(struct pcram_batch_op *op)
{
	switch (op->op) {
	case PCRAM_BATCH_OP_COPY:
		return &op->copy.copy;
	case PCRAM_BATCH_OP_ZEROPAGE:
		return &op->zeropage.zeropage;
	default:
		return &op->cont.mapped;
	}
}

static int pcram_get_out(struct pcram_batch_run *r, u32 i, u32 type, s64 *out)
{
	struct pcram_batch_op __user *u = &r->uops[i];

	switch (type) {
	case PCRAM_BATCH_OP_COPY:
		return get_user(*out, &u->copy.copy);
	case PCRAM_BATCH_OP_ZEROPAGE:
		return get_user(*out, &u->zeropage.zeropage);
	default:
		return get_user(*out, &u->cont.mapped);
	}
}

/*
 * Place @p through op @i's argument. The userfaultfd stops at the first
 * page it cannot place and reports EAGAIN with the bytes it did place;
 * going on from there until a call places nothing finds the error of the
 * page that stopped it (EEXIST, ENOENT...). Returns the bytes placed.
 */
static u64 pcram_place(struct pcram_batch_run *r, u32 i, u32 type,
		       const struct pcram_place *p, int *err)
{
	u64 done = 0;

	*err = 0;
	do {	/* at least once: an empty op gets its EINVAL */
		struct pcram_place rest = {
			.dst = p->dst + done,
			.src = type == PCRAM_BATCH_OP_COPY ? p->src + done : 0,
			.len = p->len - done,
			.mode = p->mode,
		};
		s64 out;
		long ret;

		ret = pcram_put_place(r, i, type, &rest);
		if (!ret)
			ret = pcram_uffd_ioctl(r, pcram_uffd_cmd[type], i);
		if (!ret) {
			done = p->len;
			break;
		}
		if (ret == -EAGAIN && !pcram_get_out(r, i, type, &out) &&
		    out > 0 && out < rest.len) {
			done += out;
			if (fatal_signal_pending(current)) {
				*err = -EINTR;
				break;
			}
			cond_resched();
			continue;
		}
		*err = ret;
		break;
	} while (done < p->len);
	r->tally.bytes += done;
	if (type == PCRAM_BATCH_OP_ZEROPAGE)
		r->tally.zero_bytes += done;
	return done;
}

/* Wake the pending run, with op r->wake_op carrying its range. */
static int pcram_flush_wake(struct pcram_batch_run *r)
{
	struct uffdio_range range = {
		.start = r->wake_start,
		.len = r->wake_len,
	};
	long ret;

	if (!r->wake_len)
		return 0;
	r->wake_len = 0;
	if (copy_to_user(&r->uops[r->wake_op].wake, &range, sizeof(range)))
		return -EFAULT;
	ret = pcram_uffd_ioctl(r, UFFDIO_WAKE, r->wake_op);
	r->tally.wakes++;
	return ret;
}

/*
 * Bytes [@start, +@len) of op @i are placed: add them to the wake run,
 * unless the caller wakes them itself. pcram_run() wakes a run before a
 * call that does not continue it, so a pending run is continued here.
 */
static void pcram_note_wake(struct pcram_batch_run *r, u32 i, u64 start,
			    u64 len, bool dontwake)
{
	if (dontwake || !len)
		return;
	if (r->wake_len) {
		WARN_ON_ONCE(r->wake_start + r->wake_len != start);
		r->wake_len += len;
		return;
	}
	r->wake_start = start;
	r->wake_len = len;
	r->wake_op = i;
}

/*
 * Waking the run failed with @ret: the ops from the one that began it to
 * the last that ran placed pages that no thread was woken for. Each gets
 * @ret as its result, unless it failed on its own, and the batch stops at
 * the first of them. Returns its index, with its error in *err.
 */
static u32 pcram_wake_failed(struct pcram_batch_run *r, int ret, int *err)
{
	u32 k;

	for (k = r->wake_op; k < r->ran; k++)
		if (!r->ops[k].result)
			r->ops[k].result = ret;
	r->tally.errors++;
	*err = r->ops[r->wake_op].result;
	return r->wake_op;
}

/* Can op @b be placed by the same call as op @a, which it follows? */
static bool pcram_can_join(const struct pcram_batch_op *a,
			   const struct pcram_batch_op *b)
{
	struct pcram_place pa, pb;

	if (a->op != b->op)
		return false;
	pcram_op_place(a, &pa);
	pcram_op_place(b, &pb);
	/* An empty op must fail on its own (EINVAL), not vanish in a run. */
	if (pa.mode != pb.mode || !pa.len || !pb.len ||
	    pa.len > U64_MAX - pa.dst || pa.dst + pa.len != pb.dst ||
	    pb.len > U64_MAX - pb.dst)
		return false;
	if (a->op == PCRAM_BATCH_OP_COPY &&
	    (pa.len > U64_MAX - pa.src || pa.src + pa.len != pb.src))
		return false;
	return true;
}

static void pcram_op_done(struct pcram_batch_run *r, u32 k, u64 bytes,
			  int err)
{
	struct pcram_batch_op *op = &r->ops[k];

	op->result = err;
	if (op->op != PCRAM_BATCH_OP_WAKE)
		*pcram_op_out(op) = bytes || !err ? (s64)bytes : err;
	r->ran = max(r->ran, k + 1);
	r->tally.ops++;
	if (err == -EEXIST)
		r->tally.eexist++;
	else if (err)
		r->tally.errors++;
}

static u64 pcram_op_len(const struct pcram_batch_op *op)
{
	struct pcram_place p;

	pcram_op_place(op, &p);
	return p.len;
}

/*
 * Run the ops in order until one fails, and wake what they placed.
 * Returns how many completed, which is also the index of the op that
 * failed, if one did (its error in *err); a failed wake fails the ops
 * whose pages it was for (pcram_wake_failed()).
 */
static u32 pcram_run(struct pcram_batch_run *r, int *err)
{
	bool coalesce = !(r->flags & PCRAM_BATCH_F_NO_COALESCE);
	u32 i = 0, single_until = 0;
	u64 skip = 0;	/* bytes of op i placed by an earlier call */
	int ret;

	*err = 0;
	while (i < r->count) {
		const struct pcram_batch_op *op = &r->ops[i];
		struct pcram_place p, seg;
		u64 placed, off;
		bool dontwake;
		u32 j, k;

		if (op->op == PCRAM_BATCH_OP_WAKE) {
			ret = pcram_flush_wake(r);
			if (ret)
				return pcram_wake_failed(r, ret, err);
			ret = pcram_uffd_ioctl(r, UFFDIO_WAKE, i);
			r->tally.wakes++;
			pcram_op_done(r, i, 0, ret);
			if (ret) {
				*err = ret;
				return i;
			}
			i++;
			continue;
		}

		pcram_op_place(op, &p);
		p.dst += skip;
		if (op->op == PCRAM_BATCH_OP_COPY)
			p.src += skip;
		p.len -= skip;
		seg = p;
		j = i + 1;
		if (coalesce && i >= single_until && !skip)
			for (; j < r->count && pcram_can_join(&r->ops[j - 1], &r->ops[j]); j++)
				seg.len += pcram_op_len(&r->ops[j]);
		dontwake = p.mode & pcram_dontwake(op->op);

		/* A run this call does not continue is complete: wake it now. */
		if (r->wake_len &&
		    (dontwake || r->wake_start + r->wake_len != seg.dst)) {
			ret = pcram_flush_wake(r);
			if (ret)
				return pcram_wake_failed(r, ret, err);
		}
		placed = pcram_place(r, i, op->op, &seg, &ret);
		r->ran = max(r->ran, i + 1);	/* its argument was used */
		pcram_note_wake(r, i, seg.dst, placed, dontwake);

		/* Settle the ops this call placed in full. */
		for (k = i, off = 0; k < j; k++) {
			u64 len = k == i ? p.len : pcram_op_len(&r->ops[k]);

			/* empty ops run alone: ret is then their own error */
			if (placed - off < len || (!len && ret))
				break;
			off += len;
			pcram_op_done(r, k, (k == i ? skip : 0) + len, 0);
		}
		if (k == j) {
			i = j;
			skip = 0;
			continue;
		}
		/* Op k stopped the call, after this much of it was placed: */
		placed -= off;
		if (k == i)
			placed += skip;
		if (j - i > 1) {
			/* run op k alone from there, so its error is its own */
			single_until = j;
			i = k;
			skip = placed;
			continue;
		}
		pcram_op_done(r, k, placed, ret);
		if (ret == -EEXIST && (r->flags & PCRAM_BATCH_F_IGNORE_EEXIST)) {
			i = k + 1;
			skip = 0;
			continue;
		}
		*err = ret;
		i = k;
		break;
	}
	/* Last, or before returning on an error. */
	ret = pcram_flush_wake(r);
	if (ret)
		return pcram_wake_failed(r, ret, err);
	return i;
}

/*
 * Refuse the whole batch before running any op that could not run. The
 * results are the module's to set (pcram_wake_failed() looks at them).
 */
static int pcram_check_ops(struct pcram_batch_op *ops, u32 count,
			   unsigned long *types)
{
	u32 i;

	*types = 0;
	for (i = 0; i < count; i++) {
		struct pcram_batch_op *op = &ops[i];

		op->result = 0;

		switch (op->op) {
		case PCRAM_BATCH_OP_COPY:
			break;
		case PCRAM_BATCH_OP_ZEROPAGE:
		case PCRAM_BATCH_OP_CONTINUE:
			if (op->__reserved[4])
				return -EINVAL;
			break;
		case PCRAM_BATCH_OP_WAKE:
			if (op->__reserved[2] || op->__reserved[3] ||
			    op->__reserved[4])
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
		*types |= BIT(op->op);
	}
	return 0;
}

/* Each kind of call is one the caller could make itself: ask the LSMs. */
static int pcram_check_security(struct pcram_batch_run *r, unsigned long types)
{
	unsigned int t;
	int ret;

	for_each_set_bit(t, &types, __PCRAM_BATCH_OP_MAX) {
		ret = security_file_ioctl(r->uffd, pcram_uffd_cmd[t],
					  (unsigned long)r->uops);
		if (ret)
			return ret;
	}
	return 0;
}

long pcram_batch(struct pcram_vm *vm, const struct pcram_batch __user *uarg)
{
	struct pcram_batch_run r = { };
	struct pcram_batch arg;
	unsigned long types;
	size_t len;
	u32 done;
	long ret;
	int err;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~PCRAM_BATCH_F_ALL)
		return -EINVAL;
	if (arg.count > PCRAM_BATCH_MAX)
		return -E2BIG;
	r.uffd = pcram_vm_get_uffd(vm);
	if (!r.uffd)
		return -ENOTCONN;
	r.uops = u64_to_user_ptr(arg.ops);
	r.count = arg.count;
	r.flags = arg.flags;

	if (arg.count) {
		r.ops = vmemdup_user(r.uops, array_size(arg.count, sizeof(*r.ops)));
		if (IS_ERR(r.ops)) {
			ret = PTR_ERR(r.ops);
			goto out_fput;
		}
	}
	ret = pcram_check_ops(r.ops, r.count, &types);
	if (!ret)
		ret = pcram_check_security(&r, types);
	if (ret)
		goto out_free;

	done = pcram_run(&r, &err);
	pcram_stats_batch(&vm->stats, r.count, &r.tally);
	/*
	 * Placed pages are never hidden behind an error: once an op
	 * completed, its count is returned even if the results cannot be
	 * written back, and the caller learns that from a result it zeroed.
	 */
	len = r.ran * sizeof(*r.ops);
	if (len && copy_to_user(r.uops, r.ops, len) && !done)
		err = -EFAULT;
	ret = done ? done : err;
out_free:
	kvfree(r.ops);
out_fput:
	fput(r.uffd);
	return ret;
}
