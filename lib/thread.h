/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * How libpcram's own threads ask for the CPU: the background ones (the
 * push, the bulk receiver) yield it, the urgent ones (the fault threads,
 * the urgent receiver, the source's request server) get it back at once.
 */
#ifndef PCRAM_LIB_THREAD_H
#define PCRAM_LIB_THREAD_H

/* The calling thread to nice 19: background pages yield the CPU. */
void thread_background(void);

/*
 * The calling thread asks for a short time slice (EEVDF, Linux 6.12 and
 * later), so that waking up it preempts a thread in the middle of its
 * slice rather than waiting for the next tick. Only for a thread of the
 * normal or batch policy; its nice value stays the caller's. Older
 * kernels ignore the slice.
 */
void thread_urgent(void);

#endif /* PCRAM_LIB_THREAD_H */
