/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * pcram: userfaultfd postcopy-RAM statistics and placement controls.
 *
 * This header is the contract between pcram.ko, libpcram and the pcram
 * tool. Everything here is ABI: values are only ever appended, never
 * renumbered, and every version change is recorded in PCRAM_API_VERSION.
 *
 * The module offers two interfaces:
 *
 * 1. The misc character device /dev/pcram (mode 0600). Each open file is
 *    one VM context of kind PCRAM_VM_KIND_UFFD: it is created by open(2), gets a VM id at once, and
 *    is destroyed when its last reference is closed. A context is bound to
 *    a userfaultfd with PCRAM_IOC_ATTACH; from then on the module measures
 *    how long the threads faulting on that userfaultfd stay blocked, and
 *    PCRAM_IOC_BATCH places many pages through it in one system call. Its
 *    statistics live until the context is destroyed (a detach keeps them).
 *
 * 2. The generic netlink family PCRAM_GENL_NAME, version
 *    PCRAM_GENL_VERSION, with the multicast group PCRAM_GENL_MCGRP_EVENTS.
 *    The family exists in the initial network namespace only: from any
 *    other, the controller does not know it (resolving it fails with
 *    ENOENT) and a request sent to its id fails with ENOENT, so nothing
 *    of the VMs, not even their number, is seen across namespaces.
 *    Requests are validated strictly: an attribute a command does not
 *    take, or a reserved header field that is not zero, is refused with
 *    EINVAL and an extended ACK message naming it. Every refusal made by
 *    the module itself carries an extended ACK message too.
 *
 *    Who sees what: a caller with CAP_NET_ADMIN in the initial user
 *    namespace sees every VM, may reset statistics and may join the
 *    events group. Any other caller sees only the VMs it owns, in full
 *    (GET_VM): those whose owner, the process that attached the VM or
 *    opened it before an attach, had the effective uid that both opened
 *    the caller's netlink socket and makes the request. To it, the
 *    others do not exist (ENOENT, left out of dumps).
 *
 * A VM is either a context of the device bound to one userfaultfd
 * (PCRAM_VM_KIND_UFFD), or a process attached by its pid with
 * PCRAM_CMD_ATTACH_PID (PCRAM_VM_KIND_PROCESS): then every userfaultfd
 * fault in that process's address space is measured, whichever
 * userfaultfd it comes through, including userfaultfds created after the
 * attach. A process VM has no file and no holder process: it lives until
 * PCRAM_CMD_DETACH, the process's exit (its address space's teardown), or
 * the module's unload. A fault measured by both a uffd VM and a process
 * VM (a userfaultfd of an attached process, attached itself) is counted
 * in each.
 *
 * Limits: PCRAM_NAME_MAX, PCRAM_BATCH_MAX, PCRAM_HIST_BUCKETS,
 * PCRAM_BATCH_HIST_BUCKETS and PCRAM_THREADS_MAX below.
 *
 * Module parameters (/sys/module/pcram/parameters/):
 *
 *    probe:             bool, writable at run time, default on. Whether
 *                       the latency probe (a kretprobe on the kernel's
 *                       handle_userfault) records faults. Faults
 *                       already blocked when it is turned off are still
 *                       recorded when they end.
 *    maxactive:         uint, load time only, default 512, 1 to 4096. How
 *                       many faulting threads the latency probe can follow at
 *                       once; a fault beyond that is not measured and
 *                       counted in PCRAM_INFO_A_LATENCY_PROBE_NMISSED.
 *    event_interval_ms: uint, writable at run time, default 100. The
 *                       least time between two PCRAM_CMD_EVENT_FAULT
 *                       samples of one VM; 0 sends none.
 *
 * ------------------------------------------------------------------------
 *
 * PCRAM_IOC_ATTACH: struct pcram_attach (in)
 * ------------------------------------------
 *
 * Binds the context to the userfaultfd open as descriptor uffd in the
 * calling process. The userfaultfd need not have been created by the
 * caller: a handler that received it over a UNIX socket (SCM_RIGHTS) may
 * attach it. The context takes its own reference on the userfaultfd:
 * while attached, closing every other descriptor of it does not release
 * it (its registered ranges stay registered and their faults keep waiting
 * for pages), so a handler that wants it gone detaches first.
 *
 *    uffd:  descriptor of a userfaultfd
 *    flags: PCRAM_ATTACH_F_*, others refused:
 *             PCRAM_ATTACH_F_NO_LATENCY: do not measure this VM's faults
 *             PCRAM_ATTACH_F_NO_EVENTS:  send no fault samples for it
 *    name:  NUL-terminated within PCRAM_NAME_MAX bytes, may be empty;
 *           bytes after the NUL are ignored
 *
 * Returns the VM id (> 0), the one GET_VM reports. The context may be
 * attached again after a detach, to the same or another userfaultfd; its
 * statistics carry on. An attach is announced by PCRAM_CMD_EVENT_ATTACH.
 *
 * Errors:
 *    EBADF:   uffd is not an open descriptor.
 *    EINVAL:  it is not a userfaultfd; unknown flags; name not
 *             NUL-terminated.
 *    EBUSY:   the context is attached already, or another context is
 *             attached to this userfaultfd.
 *    EFAULT:  the argument could not be read.
 *
 * PCRAM_IOC_DETACH (no argument)
 * ------------------------------
 *
 * Unbinds the context and drops its reference on the userfaultfd. Faults
 * in progress are still accounted to the context when they end. Closing
 * the context detaches it too. Announced by PCRAM_CMD_EVENT_DETACH.
 *
 * Errors:
 *    ENOTCONN: the context is not attached.
 *
 * PCRAM_IOC_BATCH: struct pcram_batch (in), its ops (in and out)
 * ---------------------------------------------------------------
 *
 * Runs count operations (an array of struct pcram_batch_op at ops) on the
 * attached userfaultfd, in order, in one system call. Each op carries the
 * argument of the userfaultfd ioctl it stands for, in the same layout:
 *
 *    PCRAM_BATCH_OP_COPY:     struct uffdio_copy     (UFFDIO_COPY)
 *    PCRAM_BATCH_OP_ZEROPAGE: struct uffdio_zeropage (UFFDIO_ZEROPAGE)
 *    PCRAM_BATCH_OP_CONTINUE: struct uffdio_continue (UFFDIO_CONTINUE)
 *    PCRAM_BATCH_OP_WAKE:     struct uffdio_range    (UFFDIO_WAKE)
 *
 * The module runs them through the userfaultfd's own ioctls, so every
 * check, mode and error of those applies (see ioctl_userfaultfd(2)); a
 * COPY reads src from the caller's memory. Placing ops are run with
 * *_MODE_DONTWAKE and the module wakes each contiguous run of placed
 * ranges once, when it is complete: before placing an op that does not
 * continue it, before an explicit WAKE op, after the last op, and before
 * returning on an error. An op that asks for DONTWAKE itself is never
 * woken. Consecutive ops of one kind and mode
 * whose destinations (and, for COPY, sources) are contiguous are placed
 * by one userfaultfd call; when that call fails, the ops it covered are
 * run again one by one from where it stopped, so each op's result is its
 * own.
 *
 * While the batch runs the module uses the caller's ops as the arguments
 * of those calls and may change an op's input fields for a moment; when
 * the ioctl returns, every op that ran holds its input again and its
 * results:
 *
 *    result: 0, or the op's -errno
 *    the uffdio struct's output field (copy, zeropage, mapped): bytes
 *    placed by this op, or -errno when it placed none; WAKE has none
 *
 * Ops after the one that stopped the batch are not run and not written.
 *
 * Waking can fail too (EFAULT: the module writes each wake's range into
 * an op of the caller's, which failed because the caller unmapped its ops
 * or made them read-only while the batch ran). Then the batch stops: the
 * return value is the index of the first op whose placed pages were not
 * woken, and every op from it to the last op that ran holds the wake's
 * error in result, unless it failed on its own (then its own error), and
 * the bytes it placed in its output field: those pages are in place, but
 * threads blocked on them are still waiting (wake them with UFFDIO_WAKE).
 *
 *    ops:   user address of the first op
 *    count: number of ops, 0 to PCRAM_BATCH_MAX
 *    flags: PCRAM_BATCH_F_*, others refused:
 *             PCRAM_BATCH_F_IGNORE_EEXIST: an op that fails with EEXIST
 *                 (the page is there already) counts as completed and the
 *                 batch goes on; the rest of that op is not placed
 *             PCRAM_BATCH_F_NO_COALESCE: one userfaultfd call per op (the
 *                 wakes are still coalesced)
 *
 * Returns the number of ops completed (placed and woken), which is
 * count unless an op failed: then ops[return value] is the op that
 * failed. When the first op fails the ioctl fails with that op's error,
 * and ops[0].result holds it. The whole batch is refused, with no op run
 * or written, for the errors marked (batch) below; a caller that must
 * tell those from a failing first op zeroes ops[0].result beforehand.
 *
 * Once an op has completed, the count is returned even if the results
 * cannot be written back into the ops (EFAULT, as above): an error never
 * hides placed pages. The results may then be missing: a caller that
 * zeroed the result of each op beforehand finds ops[return value].result
 * still 0 (an op that failed never has result 0). The ioctl fails with
 * EFAULT when no op completed and the results could not be written back;
 * ops[0] may then have placed pages, not woken.
 *
 * Errors (besides the userfaultfd's own, per op):
 *    ENOTCONN: the context is not attached (batch).
 *    E2BIG:    count > PCRAM_BATCH_MAX (batch).
 *    EINVAL:   unknown flags; an op of unknown type; an op whose bytes
 *              after its uffdio struct are not zero (batch).
 *    EFAULT:   the ops could not be read (batch); no op completed and
 *              the results could not be written back (see above).
 *    ENOMEM:   no memory for a copy of the ops (batch).
 *
 * ------------------------------------------------------------------------
 *
 * PCRAM_CMD_GET_INFO
 * ------------------
 *
 * Describes the loaded module. May be called by any user (in the initial
 * network namespace, as every command); it reveals no per-VM data. Must
 * be called as a do (not a dump) request and takes no attributes. The
 * reply carries:
 *
 *    PCRAM_INFO_A_MODULE_VERSION:    NLA_NUL_STRING, the module's version
 *                                    (the same string as
 *                                    /sys/module/pcram/version)
 *    PCRAM_INFO_A_API_VERSION:       NLA_U32, PCRAM_API_VERSION of the
 *                                    module; a client built against
 *                                    another value must check what it
 *                                    relies on
 *    PCRAM_INFO_A_NR_VMS:            NLA_U32, VMs right now (open files
 *                                    of /dev/pcram and process VMs)
 *    PCRAM_INFO_A_LATENCY_PROBE:     NLA_U32, enum
 *                                    pcram_latency_probe_state
 *    PCRAM_INFO_A_LATENCY_PROBE_ERROR:
 *                                    NLA_U32, the errno that made the
 *                                    latency probe unavailable (only then)
 *    PCRAM_INFO_A_LATENCY_PROBE_MAXACTIVE:
 *                                    NLA_U32, the maxactive parameter
 *    PCRAM_INFO_A_LATENCY_PROBE_NMISSED:
 *                                    NLA_U64, faults the latency probe
 *                                    could not measure since the module
 *                                    was loaded (no free instance, or the
 *                                    probe was busy on that CPU): they
 *                                    are in no VM's statistics
 *    PCRAM_INFO_A_BATCH_MAX:         NLA_U32, PCRAM_BATCH_MAX
 *    PCRAM_INFO_A_EVENT_INTERVAL_MS: NLA_U32, the event_interval_ms
 *                                    parameter
 *    PCRAM_INFO_A_EVENTS_DROPPED:    NLA_U64, fault samples dropped
 *                                    because the module's queue of them
 *                                    was full
 *
 * Errors:
 *    EINVAL: the request carried attributes (with an extended ACK
 *            message from the strict validation).
 *    EOPNOTSUPP: it was a dump request.
 *    ENOMEM: no memory for the reply.
 *
 * PCRAM_CMD_GET_VM
 * ----------------
 *
 * Describes VM contexts. May be called by any user, and describes the
 * VMs the caller may see (see "Who sees what" above): every VM with
 * CAP_NET_ADMIN in the initial user namespace, else the caller's own. As
 * a do request it takes PCRAM_VM_A_ID (NLA_U32) and describes that VM; as
 * a dump request it takes no attributes and describes every open VM the
 * caller may see, one message each, in increasing id order (a dump may
 * span several reads). A message:
 *
 *    PCRAM_VM_A_ID:           NLA_U32, the VM id (> 0)
 *    PCRAM_VM_A_NAME:         NLA_NUL_STRING, the name given at attach
 *                             (empty before)
 *    PCRAM_VM_A_OWNER_PID:    NLA_U32, process id (in the initial pid
 *                             namespace) of the process that attached
 *                             it, or that opened it before it attached
 *    PCRAM_VM_A_KIND:         NLA_U32, enum pcram_vm_kind (API 3; a
 *                             message without it is PCRAM_VM_KIND_UFFD)
 *    PCRAM_VM_A_PID:          NLA_U32, of a process VM: the attached
 *                             process's id in the initial pid namespace
 *    PCRAM_VM_A_ATTACHED:     NLA_U8, 1 when attached now, else 0
 *    PCRAM_VM_A_ATTACH_TIME:  NLA_U64, CLOCK_REALTIME in ns of the latest
 *                             attach (absent if never attached)
 *    PCRAM_VM_A_ATTACH_FLAGS: NLA_U32, PCRAM_ATTACH_F_* of that attach
 *    PCRAM_VM_A_MEASURED:     NLA_U8, 1 when its faults are being
 *                             measured now (attached, probe on, and not
 *                             PCRAM_ATTACH_F_NO_LATENCY)
 *    PCRAM_VM_A_FAULTS:       NLA_NESTED, fault latency:
 *       PCRAM_FAULT_A_COUNT:         NLA_U64, faults measured
 *       PCRAM_FAULT_A_BLOCKED_NS:    NLA_U64, total time they blocked
 *       PCRAM_FAULT_A_MAX_NS:        NLA_U64, longest one
 *       PCRAM_FAULT_A_HIST:          NLA_NESTED, log2 histogram: the
 *                                    NLA_U64 attribute of type i + 1
 *                                    counts the faults that blocked
 *                                    [2^i, 2^(i+1)) ns (i = 0 also counts
 *                                    0 ns), for i below
 *                                    PCRAM_HIST_BUCKETS; buckets at 0 are
 *                                    left out. Coarse: for quantiles use
 *                                    PCRAM_FAULT_A_LHIST.
 *       PCRAM_FAULT_A_LATENCY_PROBE_NMISSED: NLA_U64, as PCRAM_INFO_A_LATENCY_PROBE_NMISSED
 *                                    (module-wide: a missed fault cannot
 *                                    be told apart by VM)
 *       PCRAM_FAULT_A_LHIST:         NLA_NESTED, API 3: the log-linear
 *                                    histogram of the same faults (see
 *                                    "Log-linear histogram" below), as
 *                                    runs of buckets: an NLA_BINARY
 *                                    attribute of type i + 1 holds the
 *                                    counts of buckets i, i + 1, ..., as
 *                                    many as its length / 8, each a __u64
 *                                    in host byte order. Runs come in
 *                                    increasing order, do not overlap and
 *                                    end at PCRAM_LHIST_BUCKETS at the
 *                                    latest; a bucket in no run is 0.
 *                                    Type 0 is padding (the payloads are
 *                                    8-byte aligned where that matters).
 *    PCRAM_VM_A_THREADS:      NLA_NESTED, the threads that blocked the
 *                             longest in total, at most PCRAM_THREADS_MAX,
 *                             longest first, each a NLA_NESTED of type
 *                             i + 1 holding:
 *       PCRAM_THREAD_A_TID:        NLA_U32, thread id (initial pid
 *                                  namespace)
 *       PCRAM_THREAD_A_COMM:       NLA_NUL_STRING, its name when it last
 *                                  faulted
 *       PCRAM_THREAD_A_FAULTS:     NLA_U64, its faults measured
 *       PCRAM_THREAD_A_BLOCKED_NS: NLA_U64, their total time
 *       PCRAM_THREAD_A_MAX_NS:     NLA_U64, its longest fault
 *                             Once the table is full, a thread not in it
 *                             takes the place of the one with the least
 *                             total only if its fault alone blocked
 *                             longer than that total, so the table is
 *                             exact for up to PCRAM_THREADS_MAX threads
 *                             (vCPUs) and approximate beyond.
 *    PCRAM_VM_A_BATCH:        NLA_NESTED, PCRAM_IOC_BATCH statistics:
 *       PCRAM_BATCH_A_BATCHES:    NLA_U64, batches run (not refused)
 *       PCRAM_BATCH_A_OPS:        NLA_U64, ops run
 *       PCRAM_BATCH_A_PAGES:      NLA_U64, bytes placed / the kernel's
 *                                 base page size (4 KiB on x86)
 *       PCRAM_BATCH_A_BYTES:      NLA_U64, bytes placed (COPY, ZEROPAGE,
 *                                 CONTINUE)
 *       PCRAM_BATCH_A_ZERO_PAGES: NLA_U64, of PAGES, those placed by
 *                                 ZEROPAGE ops
 *       PCRAM_BATCH_A_WAKES:      NLA_U64, UFFDIO_WAKE calls made (the
 *                                 coalesced ones and WAKE ops)
 *       PCRAM_BATCH_A_EEXIST:     NLA_U64, ops that failed with EEXIST
 *       PCRAM_BATCH_A_ERRORS:     NLA_U64, ops that failed otherwise
 *       PCRAM_BATCH_A_SIZE_HIST:  NLA_NESTED, log2 histogram of the
 *                                 batches' count: type i + 1 (NLA_U64)
 *                                 counts batches of [2^i, 2^(i+1)) ops
 *                                 (i = 0 also counts empty ones), i below
 *                                 PCRAM_BATCH_HIST_BUCKETS; zeros left out
 *
 * Log-linear histogram (PCRAM_FAULT_A_LHIST). Its buckets split each
 * power of two of ns into PCRAM_LHIST_SUB (2^PCRAM_LHIST_SUB_BITS) equal
 * parts, so that a bucket's width is at most 1/PCRAM_LHIST_SUB of the
 * values it holds, and values below PCRAM_LHIST_SUB ns get a bucket each.
 * With S = PCRAM_LHIST_SUB_BITS, a value v < 2^PCRAM_LHIST_MAX_SHIFT ns
 * is counted in bucket
 *
 *    shift = max(fls64(v) - (S + 1), 0)     (fls64: 1-based highest set
 *    i     = (shift << S) + (v >> shift)     bit, 0 for v = 0)
 *
 * and bucket i holds the values [lo, lo + 2^shift), where
 *
 *    shift = i < 2^S ? 0 : (i >> S) - 1
 *    lo    = (i - (shift << S)) << shift
 *
 * (buckets 0 .. 2^S - 1 hold the one value i each). The last bucket,
 * PCRAM_LHIST_BUCKETS - 1, counts every value of 2^PCRAM_LHIST_MAX_SHIFT
 * ns (68.7 s) or more. A quantile taken anywhere inside the bucket that
 * holds it is therefore within 1/PCRAM_LHIST_SUB (3.125%) of the exact
 * one, below the overflow bucket. The log2 PCRAM_FAULT_A_HIST is the
 * same counts summed per power of two.
 *
 * Statistics are summed over CPUs without stopping the faults and batches
 * that update them, so the figures of one message may be a few faults
 * apart from one another.
 *
 * Errors:
 *    EINVAL: a do request without PCRAM_VM_A_ID, a dump request with
 *            attributes, or an attribute GET_VM does not take. Every
 *            refusal comes as an NLMSG_ERROR with its extended ACK
 *            message, but one: a dump request whose only attribute is a
 *            well-formed PCRAM_VM_A_ID (of any value) is refused by the
 *            module when the dump starts, so its EINVAL comes as the
 *            error of the dump's NLMSG_DONE message, with the extended
 *            ACK message there. (An attribute the policy refuses, such
 *            as one GET_VM does not take, is refused before the dump
 *            starts, as an NLMSG_ERROR.)
 *    ERANGE: PCRAM_VM_A_ID is 0 (ids start at 1).
 *    ENOENT: no VM has this id, or none the caller may see: the two are
 *            the same error with the same message.
 *    EMSGSIZE, ENOMEM: the reply could not be built; in a dump, as the
 *            error of its NLMSG_DONE.
 *
 * PCRAM_CMD_RESET_STATS
 * ---------------------
 *
 * Zeroes the fault and batch statistics and the thread table of one VM
 * (PCRAM_VM_A_ID, NLA_U32) or, without it, of every VM. Needs
 * CAP_NET_ADMIN. Must be a do request. Faults and batches under way may
 * be counted on either side of the reset. PCRAM_INFO_A_LATENCY_PROBE_NMISSED is
 * never reset.
 *
 * The form of the request (which attributes, their sizes) is checked
 * first, then the permission, then the id's value.
 *
 * Errors:
 *    EINVAL: an attribute RESET_STATS does not take.
 *    EPERM:  the caller lacks CAP_NET_ADMIN in the initial user
 *            namespace (whatever the id).
 *    ERANGE: PCRAM_VM_A_ID is 0.
 *    ENOENT: no VM has this id.
 *
 * PCRAM_CMD_ATTACH_PID (API 3)
 * ----------------------------
 *
 * Attaches a process: creates a VM of kind PCRAM_VM_KIND_PROCESS that
 * measures every userfaultfd fault in the process's address space (the
 * faulting vma's mm), through any userfaultfd, present or future. Must be
 * a do request. Attributes:
 *
 *    PCRAM_VM_A_PID:          NLA_U32, required: a process id (a thread
 *                             group leader) in the caller's pid namespace
 *    PCRAM_VM_A_NAME:         NLA_NUL_STRING, optional, at most
 *                             PCRAM_NAME_MAX bytes with its NUL; absent:
 *                             the process's name (its comm)
 *    PCRAM_VM_A_ATTACH_FLAGS: NLA_U32, optional, PCRAM_ATTACH_F_*
 *
 * Permission: the caller must be allowed to ptrace-read the process, the
 * rule of /proc/PID/mem and process_vm_readv with PTRACE_MODE_READ and
 * the caller's filesystem credentials: it is the process itself, or its
 * fsuid and fsgid are the process's real, effective and saved ids and the
 * process is dumpable, or it has CAP_SYS_PTRACE in the process's user
 * namespace. The kernel's ptrace_may_access() is not available to
 * modules: the module applies that rule itself, without the LSM hook
 * (Yama restricts PTRACE_MODE_ATTACH only). CAP_NET_ADMIN is not needed.
 *
 * The reply is a PCRAM_CMD_GET_VM message describing the new VM (its
 * PCRAM_VM_A_ID). The attach is announced by PCRAM_CMD_EVENT_ATTACH. The
 * VM ends, with a PCRAM_CMD_EVENT_DETACH saying why, when it is detached
 * by PCRAM_CMD_DETACH, when the process exits (when its address space is
 * torn down: PCRAM_DETACH_REASON_EXITED; an execve(2) that replaces it
 * ends the VM too), or when the module is unloaded; from then on GET_VM
 * says ENOENT for it.
 *
 * Errors:
 *    EINVAL: PCRAM_VM_A_PID missing; unknown flags; a name that is too
 *            long; an attribute ATTACH_PID does not take.
 *    ERANGE: PCRAM_VM_A_PID is 0.
 *    ESRCH:  no process has this id in the caller's pid namespace (or it
 *            is a thread that does not lead its process).
 *    EPERM:  the caller may not ptrace-read the process.
 *    EINVAL: the process has no address space (a kernel thread, or it is
 *            exiting).
 *    EEXIST: the process (its address space) is attached already.
 *    ENODEV: the module is being unloaded.
 *    ENOMEM: no memory.
 *
 * PCRAM_CMD_DETACH (API 3)
 * ------------------------
 *
 * Detaches the process VM PCRAM_VM_A_ID (NLA_U32, required) and drops it:
 * a PCRAM_CMD_EVENT_DETACH with PCRAM_DETACH_REASON_REQUEST is sent, and
 * GET_VM says ENOENT for it from then on. Faults in progress are still
 * counted when they end, in the dropped VM. Must be a do request. Needs
 * CAP_NET_ADMIN, or the right to ptrace-read the process as for
 * ATTACH_PID. A uffd VM is detached through its file (PCRAM_IOC_DETACH,
 * or closing /dev/pcram), not here.
 *
 * Errors:
 *    EINVAL:     PCRAM_VM_A_ID missing, or an attribute DETACH does not
 *                take.
 *    ERANGE:     PCRAM_VM_A_ID is 0.
 *    ENOENT:     no VM has this id (or its process exited meanwhile).
 *    EOPNOTSUPP: the VM is a uffd VM.
 *    EPERM:      neither CAP_NET_ADMIN nor the right to ptrace-read it.
 *
 * Multicast group PCRAM_GENL_MCGRP_EVENTS
 * ---------------------------------------
 *
 * Joining needs CAP_NET_ADMIN: the kernel refuses the membership with
 * EPERM (the group is declared GENL_MCAST_CAP_NET_ADMIN, and the module
 * does not build against a kernel without that flag, where any user could
 * join). Events are sent in the initial network namespace only, where
 * that means CAP_NET_ADMIN in the initial user namespace; the group id
 * cannot be resolved from another namespace, and a socket there that
 * joins it by number is never sent anything. The events, as commands:
 *
 *    PCRAM_CMD_EVENT_ATTACH: a VM attached; PCRAM_VM_A_ID, _NAME,
 *                            _OWNER_PID, _KIND, _PID (process VMs),
 *                            _ATTACH_TIME, _ATTACH_FLAGS
 *    PCRAM_CMD_EVENT_DETACH: a VM detached; PCRAM_VM_A_ID, _NAME,
 *                            _OWNER_PID, _KIND, _PID (process VMs), and
 *                            PCRAM_VM_A_DETACH_REASON, NLA_U32, enum
 *                            pcram_detach_reason (API 3): REQUEST
 *                            (PCRAM_IOC_DETACH or PCRAM_CMD_DETACH),
 *                            CLOSED (its /dev/pcram file was released),
 *                            EXITED (the attached process exited), UNLOAD
 *                            (the module is being unloaded)
 *    PCRAM_CMD_EVENT_FAULT:  a sampled fault of a measured VM, at most one
 *                            per VM per event_interval_ms; PCRAM_VM_A_ID
 *                            and PCRAM_VM_A_SAMPLE, NLA_NESTED:
 *       PCRAM_SAMPLE_A_TID:        NLA_U32, the faulting thread
 *       PCRAM_SAMPLE_A_COMM:       NLA_NUL_STRING, its name
 *       PCRAM_SAMPLE_A_LATENCY_NS: NLA_U64, how long it blocked
 *       PCRAM_SAMPLE_A_ADDRESS:    NLA_U64, the faulting address, rounded
 *                                  down to its page
 *       PCRAM_SAMPLE_A_FLAGS:      NLA_U32, UFFD_PAGEFAULT_FLAG_* as a
 *                                  uffd_msg of this fault carries them
 *       PCRAM_SAMPLE_A_SKIPPED:    NLA_U64, faults of this VM that ended
 *                                  since the previous sample and were not
 *                                  sent, while someone listened: held
 *                                  back by event_interval_ms, dropped
 *                                  (queue full, no memory), or ended
 *                                  between a detach and the next attach
 *
 * These commands are only ever sent by the module; a request naming one
 * fails with EOPNOTSUPP. Samples are queued by the probe and sent by a
 * worker; when the queue is full (or there is no memory to send it) a
 * sample is dropped, counted in PCRAM_INFO_A_EVENTS_DROPPED, and it and
 * the faults it stood for are counted in the VM's next sample's
 * PCRAM_SAMPLE_A_SKIPPED. A VM's samples come after its
 * PCRAM_CMD_EVENT_ATTACH and before its PCRAM_CMD_EVENT_DETACH: the
 * detach waits for the worker to send what is queued, and faults that end
 * after it (they were blocked when it came) are counted, not sampled.
 */

#ifndef _UAPI_LINUX_PCRAM_H
#define _UAPI_LINUX_PCRAM_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>

/*
 * Version of this contract. Incremented whenever a command, attribute,
 * ioctl or flag is added.
 * 1: the misc device and PCRAM_CMD_GET_INFO.
 * 2: PCRAM_IOC_ATTACH, _DETACH, _BATCH; PCRAM_CMD_GET_VM, _RESET_STATS,
 *    the events group; probe, batch and event attributes of GET_INFO.
 * 3: process VMs: PCRAM_CMD_ATTACH_PID, PCRAM_CMD_DETACH;
 *    PCRAM_VM_A_KIND, _PID, _DETACH_REASON. PCRAM_FAULT_A_LHIST, the
 *    log-linear fault latency histogram, and PCRAM_LHIST_*.
 */
#define PCRAM_API_VERSION 3

/* Path of the misc device, relative to /dev. */
#define PCRAM_DEVICE_NAME "pcram"

#define PCRAM_GENL_NAME "pcram"
#define PCRAM_GENL_VERSION 1
#define PCRAM_GENL_MCGRP_EVENTS "events"

/* Bytes of a VM name, its terminating NUL included. */
#define PCRAM_NAME_MAX 32
/* Most ops one PCRAM_IOC_BATCH takes. */
#define PCRAM_BATCH_MAX 1024
/* Buckets of the fault latency histogram: [2^i, 2^(i+1)) ns. */
#define PCRAM_HIST_BUCKETS 64
/*
 * The log-linear fault latency histogram (PCRAM_FAULT_A_LHIST): 2^SUB_BITS
 * buckets per power of two of ns, exact below 2^SUB_BITS ns, up to
 * 2^MAX_SHIFT ns, then one overflow bucket; 1025 buckets. The formula of
 * bucket i's bounds is in "Log-linear histogram" above.
 */
#define PCRAM_LHIST_SUB_BITS 5
#define PCRAM_LHIST_SUB (1 << PCRAM_LHIST_SUB_BITS)
#define PCRAM_LHIST_MAX_SHIFT 36
#define PCRAM_LHIST_BUCKETS \
	(((PCRAM_LHIST_MAX_SHIFT - PCRAM_LHIST_SUB_BITS + 1) << \
	  PCRAM_LHIST_SUB_BITS) + 1)
/* Buckets of the batch size histogram: [2^i, 2^(i+1)) ops. */
#define PCRAM_BATCH_HIST_BUCKETS 11
/* Threads in a VM's table of the longest blocked. */
#define PCRAM_THREADS_MAX 16
/* Bytes of a thread's name (the kernel's TASK_COMM_LEN), its NUL included. */
#define PCRAM_COMM_MAX 16

#define PCRAM_IOC_MAGIC 0xB2

/**
 * struct pcram_attach - argument of PCRAM_IOC_ATTACH
 * @uffd: descriptor of the userfaultfd to attach
 * @flags: PCRAM_ATTACH_F_*
 * @name: the VM's name, NUL-terminated
 */
struct pcram_attach {
	__s32 uffd;
	__u32 flags;
	char name[PCRAM_NAME_MAX];
};

#define PCRAM_ATTACH_F_NO_LATENCY	(1U << 0)
#define PCRAM_ATTACH_F_NO_EVENTS	(1U << 1)
#define PCRAM_ATTACH_F_ALL		(PCRAM_ATTACH_F_NO_LATENCY | \
					 PCRAM_ATTACH_F_NO_EVENTS)

/**
 * enum pcram_batch_op_type - what a struct pcram_batch_op does
 * @PCRAM_BATCH_OP_UNSPEC: never valid
 * @PCRAM_BATCH_OP_COPY: UFFDIO_COPY with @copy
 * @PCRAM_BATCH_OP_ZEROPAGE: UFFDIO_ZEROPAGE with @zeropage
 * @PCRAM_BATCH_OP_CONTINUE: UFFDIO_CONTINUE with @cont
 * @PCRAM_BATCH_OP_WAKE: UFFDIO_WAKE with @wake
 */
enum pcram_batch_op_type {
	PCRAM_BATCH_OP_UNSPEC,
	PCRAM_BATCH_OP_COPY,
	PCRAM_BATCH_OP_ZEROPAGE,
	PCRAM_BATCH_OP_CONTINUE,
	PCRAM_BATCH_OP_WAKE,
	__PCRAM_BATCH_OP_MAX
};

#define PCRAM_BATCH_OP_MAX (__PCRAM_BATCH_OP_MAX - 1)

/**
 * struct pcram_batch_op - one operation of PCRAM_IOC_BATCH (48 bytes)
 * @op: enum pcram_batch_op_type
 * @result: out: 0, or the op's -errno; written when the op ran
 * @copy: argument for PCRAM_BATCH_OP_COPY
 * @zeropage: argument for PCRAM_BATCH_OP_ZEROPAGE
 * @cont: argument for PCRAM_BATCH_OP_CONTINUE
 * @wake: argument for PCRAM_BATCH_OP_WAKE
 * @__reserved: the union's size; bytes an op's struct leaves unused must
 *	be zero
 */
struct pcram_batch_op {
	__u32 op;
	__s32 result;
	union {
		struct uffdio_copy copy;
		struct uffdio_zeropage zeropage;
		struct uffdio_continue cont;
		struct uffdio_range wake;
		__u64 __reserved[5];
	};
};

/**
 * struct pcram_batch - argument of PCRAM_IOC_BATCH
 * @ops: user address of an array of @count struct pcram_batch_op
 * @count: number of ops, at most PCRAM_BATCH_MAX
 * @flags: PCRAM_BATCH_F_*
 */
struct pcram_batch {
	__u64 ops;
	__u32 count;
	__u32 flags;
};

#define PCRAM_BATCH_F_IGNORE_EEXIST	(1U << 0)
#define PCRAM_BATCH_F_NO_COALESCE	(1U << 1)
#define PCRAM_BATCH_F_ALL		(PCRAM_BATCH_F_IGNORE_EEXIST | \
					 PCRAM_BATCH_F_NO_COALESCE)

/* The size in each number is checked: another size fails with ENOTTY. */
#define PCRAM_IOC_ATTACH	_IOW(PCRAM_IOC_MAGIC, 1, struct pcram_attach)
#define PCRAM_IOC_DETACH	_IO(PCRAM_IOC_MAGIC, 2)
#define PCRAM_IOC_BATCH		_IOW(PCRAM_IOC_MAGIC, 3, struct pcram_batch)

/**
 * enum pcram_cmd - generic netlink commands of the pcram family
 * @PCRAM_CMD_UNSPEC: never valid
 * @PCRAM_CMD_GET_INFO: describe the module
 * @PCRAM_CMD_GET_VM: describe one VM, or dump all
 * @PCRAM_CMD_RESET_STATS: zero one VM's statistics or every VM's
 * @PCRAM_CMD_EVENT_ATTACH: event: a context attached
 * @PCRAM_CMD_EVENT_DETACH: event: a context detached
 * @PCRAM_CMD_EVENT_FAULT: event: a sampled fault
 * @PCRAM_CMD_ATTACH_PID: attach a process by its pid (API 3)
 * @PCRAM_CMD_DETACH: detach and drop a process VM (API 3)
 */
enum pcram_cmd {
	PCRAM_CMD_UNSPEC,
	PCRAM_CMD_GET_INFO,
	PCRAM_CMD_GET_VM,
	PCRAM_CMD_RESET_STATS,
	PCRAM_CMD_EVENT_ATTACH,
	PCRAM_CMD_EVENT_DETACH,
	PCRAM_CMD_EVENT_FAULT,
	PCRAM_CMD_ATTACH_PID,
	PCRAM_CMD_DETACH,
	__PCRAM_CMD_MAX
};

#define PCRAM_CMD_MAX (__PCRAM_CMD_MAX - 1)

/**
 * enum pcram_latency_probe_state - value of PCRAM_INFO_A_LATENCY_PROBE
 * @PCRAM_LATENCY_PROBE_UNAVAILABLE: the probe could not be registered (see
 *	PCRAM_INFO_A_LATENCY_PROBE_ERROR); no fault is measured
 * @PCRAM_LATENCY_PROBE_OFF: registered, turned off by the probe parameter
 * @PCRAM_LATENCY_PROBE_ON: measuring the faults of attached VMs
 */
enum pcram_latency_probe_state {
	PCRAM_LATENCY_PROBE_UNAVAILABLE,
	PCRAM_LATENCY_PROBE_OFF,
	PCRAM_LATENCY_PROBE_ON,
};

/**
 * enum pcram_info_attr - attributes of the PCRAM_CMD_GET_INFO reply
 * @PCRAM_INFO_A_UNSPEC: never sent
 * @PCRAM_INFO_A_MODULE_VERSION: NLA_NUL_STRING, module version
 * @PCRAM_INFO_A_API_VERSION: NLA_U32, PCRAM_API_VERSION of the module
 * @PCRAM_INFO_A_NR_VMS: NLA_U32, number of open VM contexts
 * @PCRAM_INFO_A_LATENCY_PROBE: NLA_U32, enum pcram_latency_probe_state
 * @PCRAM_INFO_A_LATENCY_PROBE_ERROR: NLA_U32, errno of an unavailable probe
 * @PCRAM_INFO_A_LATENCY_PROBE_MAXACTIVE: NLA_U32, the maxactive parameter
 * @PCRAM_INFO_A_LATENCY_PROBE_NMISSED: NLA_U64, faults the probe missed
 * @PCRAM_INFO_A_BATCH_MAX: NLA_U32, PCRAM_BATCH_MAX
 * @PCRAM_INFO_A_EVENT_INTERVAL_MS: NLA_U32, the event_interval_ms parameter
 * @PCRAM_INFO_A_EVENTS_DROPPED: NLA_U64, fault samples dropped
 * @PCRAM_INFO_A_PAD: padding of 64-bit attributes
 */
enum pcram_info_attr {
	PCRAM_INFO_A_UNSPEC,
	PCRAM_INFO_A_MODULE_VERSION,
	PCRAM_INFO_A_API_VERSION,
	PCRAM_INFO_A_NR_VMS,
	PCRAM_INFO_A_LATENCY_PROBE,
	PCRAM_INFO_A_LATENCY_PROBE_ERROR,
	PCRAM_INFO_A_LATENCY_PROBE_MAXACTIVE,
	PCRAM_INFO_A_LATENCY_PROBE_NMISSED,
	PCRAM_INFO_A_BATCH_MAX,
	PCRAM_INFO_A_EVENT_INTERVAL_MS,
	PCRAM_INFO_A_EVENTS_DROPPED,
	PCRAM_INFO_A_PAD,
	__PCRAM_INFO_A_MAX
};

#define PCRAM_INFO_A_MAX (__PCRAM_INFO_A_MAX - 1)

/**
 * enum pcram_vm_attr - attributes of a VM (GET_VM, RESET_STATS, events)
 * @PCRAM_VM_A_UNSPEC: never sent
 * @PCRAM_VM_A_ID: NLA_U32, the VM id
 * @PCRAM_VM_A_NAME: NLA_NUL_STRING, its name
 * @PCRAM_VM_A_OWNER_PID: NLA_U32, the attaching (or opening) process
 * @PCRAM_VM_A_ATTACHED: NLA_U8, attached now
 * @PCRAM_VM_A_ATTACH_TIME: NLA_U64, CLOCK_REALTIME ns of the latest attach
 * @PCRAM_VM_A_ATTACH_FLAGS: NLA_U32, PCRAM_ATTACH_F_*
 * @PCRAM_VM_A_MEASURED: NLA_U8, its faults are measured now
 * @PCRAM_VM_A_FAULTS: NLA_NESTED, enum pcram_fault_attr
 * @PCRAM_VM_A_THREADS: NLA_NESTED, of NLA_NESTED enum pcram_thread_attr
 * @PCRAM_VM_A_BATCH: NLA_NESTED, enum pcram_batch_attr
 * @PCRAM_VM_A_SAMPLE: NLA_NESTED, enum pcram_sample_attr (events only)
 * @PCRAM_VM_A_PAD: padding of 64-bit attributes
 * @PCRAM_VM_A_KIND: NLA_U32, enum pcram_vm_kind (API 3)
 * @PCRAM_VM_A_PID: NLA_U32, the attached process (API 3)
 * @PCRAM_VM_A_DETACH_REASON: NLA_U32, enum pcram_detach_reason (API 3)
 */
enum pcram_vm_attr {
	PCRAM_VM_A_UNSPEC,
	PCRAM_VM_A_ID,
	PCRAM_VM_A_NAME,
	PCRAM_VM_A_OWNER_PID,
	PCRAM_VM_A_ATTACHED,
	PCRAM_VM_A_ATTACH_TIME,
	PCRAM_VM_A_ATTACH_FLAGS,
	PCRAM_VM_A_MEASURED,
	PCRAM_VM_A_FAULTS,
	PCRAM_VM_A_THREADS,
	PCRAM_VM_A_BATCH,
	PCRAM_VM_A_SAMPLE,
	PCRAM_VM_A_PAD,
	PCRAM_VM_A_KIND,
	PCRAM_VM_A_PID,
	PCRAM_VM_A_DETACH_REASON,
	__PCRAM_VM_A_MAX
};

#define PCRAM_VM_A_MAX (__PCRAM_VM_A_MAX - 1)

/**
 * enum pcram_vm_kind - value of PCRAM_VM_A_KIND
 * @PCRAM_VM_KIND_UFFD: a /dev/pcram context, bound to one userfaultfd
 * @PCRAM_VM_KIND_PROCESS: a process attached by PCRAM_CMD_ATTACH_PID
 */
enum pcram_vm_kind {
	PCRAM_VM_KIND_UFFD,
	PCRAM_VM_KIND_PROCESS,
};

/**
 * enum pcram_detach_reason - value of PCRAM_VM_A_DETACH_REASON
 * @PCRAM_DETACH_REASON_REQUEST: PCRAM_IOC_DETACH or PCRAM_CMD_DETACH
 * @PCRAM_DETACH_REASON_CLOSED: the context's /dev/pcram file was released
 * @PCRAM_DETACH_REASON_EXITED: the attached process exited
 * @PCRAM_DETACH_REASON_UNLOAD: the module is being unloaded
 */
enum pcram_detach_reason {
	PCRAM_DETACH_REASON_REQUEST,
	PCRAM_DETACH_REASON_CLOSED,
	PCRAM_DETACH_REASON_EXITED,
	PCRAM_DETACH_REASON_UNLOAD,
};

/**
 * enum pcram_fault_attr - attributes nested in PCRAM_VM_A_FAULTS
 * @PCRAM_FAULT_A_UNSPEC: never sent
 * @PCRAM_FAULT_A_COUNT: NLA_U64, faults measured
 * @PCRAM_FAULT_A_BLOCKED_NS: NLA_U64, their total blocked time
 * @PCRAM_FAULT_A_MAX_NS: NLA_U64, the longest
 * @PCRAM_FAULT_A_HIST: NLA_NESTED, log2 histogram (type i + 1: bucket i)
 * @PCRAM_FAULT_A_LATENCY_PROBE_NMISSED: NLA_U64, module-wide missed faults
 * @PCRAM_FAULT_A_PAD: padding of 64-bit attributes
 * @PCRAM_FAULT_A_LHIST: NLA_NESTED, log-linear histogram as runs (API 3)
 */
enum pcram_fault_attr {
	PCRAM_FAULT_A_UNSPEC,
	PCRAM_FAULT_A_COUNT,
	PCRAM_FAULT_A_BLOCKED_NS,
	PCRAM_FAULT_A_MAX_NS,
	PCRAM_FAULT_A_HIST,
	PCRAM_FAULT_A_LATENCY_PROBE_NMISSED,
	PCRAM_FAULT_A_PAD,
	PCRAM_FAULT_A_LHIST,
	__PCRAM_FAULT_A_MAX
};

#define PCRAM_FAULT_A_MAX (__PCRAM_FAULT_A_MAX - 1)

/**
 * enum pcram_thread_attr - attributes of one thread in PCRAM_VM_A_THREADS
 * @PCRAM_THREAD_A_UNSPEC: never sent
 * @PCRAM_THREAD_A_TID: NLA_U32, thread id
 * @PCRAM_THREAD_A_COMM: NLA_NUL_STRING, thread name
 * @PCRAM_THREAD_A_FAULTS: NLA_U64, its faults measured
 * @PCRAM_THREAD_A_BLOCKED_NS: NLA_U64, their total blocked time
 * @PCRAM_THREAD_A_MAX_NS: NLA_U64, the longest
 * @PCRAM_THREAD_A_PAD: padding of 64-bit attributes
 */
enum pcram_thread_attr {
	PCRAM_THREAD_A_UNSPEC,
	PCRAM_THREAD_A_TID,
	PCRAM_THREAD_A_COMM,
	PCRAM_THREAD_A_FAULTS,
	PCRAM_THREAD_A_BLOCKED_NS,
	PCRAM_THREAD_A_MAX_NS,
	PCRAM_THREAD_A_PAD,
	__PCRAM_THREAD_A_MAX
};

#define PCRAM_THREAD_A_MAX (__PCRAM_THREAD_A_MAX - 1)

/**
 * enum pcram_batch_attr - attributes nested in PCRAM_VM_A_BATCH
 * @PCRAM_BATCH_A_UNSPEC: never sent
 * @PCRAM_BATCH_A_BATCHES: NLA_U64, batches run
 * @PCRAM_BATCH_A_OPS: NLA_U64, ops run
 * @PCRAM_BATCH_A_PAGES: NLA_U64, base pages placed
 * @PCRAM_BATCH_A_BYTES: NLA_U64, bytes placed
 * @PCRAM_BATCH_A_ZERO_PAGES: NLA_U64, base pages placed by ZEROPAGE
 * @PCRAM_BATCH_A_WAKES: NLA_U64, UFFDIO_WAKE calls
 * @PCRAM_BATCH_A_EEXIST: NLA_U64, ops failed with EEXIST
 * @PCRAM_BATCH_A_ERRORS: NLA_U64, ops failed otherwise
 * @PCRAM_BATCH_A_SIZE_HIST: NLA_NESTED, log2 histogram of batch sizes
 * @PCRAM_BATCH_A_PAD: padding of 64-bit attributes
 */
enum pcram_batch_attr {
	PCRAM_BATCH_A_UNSPEC,
	PCRAM_BATCH_A_BATCHES,
	PCRAM_BATCH_A_OPS,
	PCRAM_BATCH_A_PAGES,
	PCRAM_BATCH_A_BYTES,
	PCRAM_BATCH_A_ZERO_PAGES,
	PCRAM_BATCH_A_WAKES,
	PCRAM_BATCH_A_EEXIST,
	PCRAM_BATCH_A_ERRORS,
	PCRAM_BATCH_A_SIZE_HIST,
	PCRAM_BATCH_A_PAD,
	__PCRAM_BATCH_A_MAX
};

#define PCRAM_BATCH_A_MAX (__PCRAM_BATCH_A_MAX - 1)

/**
 * enum pcram_sample_attr - attributes nested in PCRAM_VM_A_SAMPLE
 * @PCRAM_SAMPLE_A_UNSPEC: never sent
 * @PCRAM_SAMPLE_A_TID: NLA_U32, the faulting thread
 * @PCRAM_SAMPLE_A_COMM: NLA_NUL_STRING, its name
 * @PCRAM_SAMPLE_A_LATENCY_NS: NLA_U64, how long it blocked
 * @PCRAM_SAMPLE_A_ADDRESS: NLA_U64, faulting address (page)
 * @PCRAM_SAMPLE_A_FLAGS: NLA_U32, UFFD_PAGEFAULT_FLAG_*
 * @PCRAM_SAMPLE_A_SKIPPED: NLA_U64, faults not sampled since the last
 * @PCRAM_SAMPLE_A_PAD: padding of 64-bit attributes
 */
enum pcram_sample_attr {
	PCRAM_SAMPLE_A_UNSPEC,
	PCRAM_SAMPLE_A_TID,
	PCRAM_SAMPLE_A_COMM,
	PCRAM_SAMPLE_A_LATENCY_NS,
	PCRAM_SAMPLE_A_ADDRESS,
	PCRAM_SAMPLE_A_FLAGS,
	PCRAM_SAMPLE_A_SKIPPED,
	PCRAM_SAMPLE_A_PAD,
	__PCRAM_SAMPLE_A_MAX
};

#define PCRAM_SAMPLE_A_MAX (__PCRAM_SAMPLE_A_MAX - 1)

/*
 * The names API 2 was released with, before "probe" was kept for
 * libpcram's userfaultfd capability probe and the module's kretprobe
 * became the latency probe. Same values; for programs written then.
 */
#define pcram_probe_state		pcram_latency_probe_state
#define PCRAM_PROBE_UNAVAILABLE		PCRAM_LATENCY_PROBE_UNAVAILABLE
#define PCRAM_PROBE_OFF			PCRAM_LATENCY_PROBE_OFF
#define PCRAM_PROBE_ON			PCRAM_LATENCY_PROBE_ON
#define PCRAM_INFO_A_PROBE		PCRAM_INFO_A_LATENCY_PROBE
#define PCRAM_INFO_A_PROBE_ERROR	PCRAM_INFO_A_LATENCY_PROBE_ERROR
#define PCRAM_INFO_A_PROBE_MAXACTIVE	PCRAM_INFO_A_LATENCY_PROBE_MAXACTIVE
#define PCRAM_INFO_A_PROBE_NMISSED	PCRAM_INFO_A_LATENCY_PROBE_NMISSED
#define PCRAM_FAULT_A_PROBE_NMISSED	PCRAM_FAULT_A_LATENCY_PROBE_NMISSED

#endif /* _UAPI_LINUX_PCRAM_H */
