/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The benchmarks of 'pcram bench', one file each.
 */
#ifndef PCRAM_TOOLS_BENCH_H
#define PCRAM_TOOLS_BENCH_H

/* tools/bench_fault.c: fault round trip, libpcram against a bare handler. */
int bench_fault_main(int argc, char **argv);

#endif /* PCRAM_TOOLS_BENCH_H */
