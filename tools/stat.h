/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pcram stat: one sample of pcram.ko's statistics, and its forms: a
 * table for people and JSON, from one printer, and the Prometheus text
 * format, each as pcram(8) documents it.
 */
#ifndef PCRAM_TOOLS_STAT_H
#define PCRAM_TOOLS_STAT_H

#include <stdio.h>

#include "kmod_client.h"

/* Bumped only when a JSON key changes its meaning or goes away. */
#define STAT_JSON_SCHEMA 1

struct stat_sample {
	uint64_t time_ns;		/* CLOCK_REALTIME when it was taken */
	struct pcram_kmod_info info;
	struct vm_list vms;		/* in increasing id order */
};

/* The quantiles every form shows, from the kernel's histogram. */
#define STAT_QUANTILES 3
extern const double stat_quantiles[STAT_QUANTILES];	/* 0.50, 0.90, 0.99 */

/* Mean blocked time of a fault: 0 without faults. */
uint64_t stat_mean_ns(const struct pcram_hist *h);
/*
 * The name of a PCRAM_ATTACH_F_* bit: "no_latency", "no_events", or NULL
 * for a bit it does not know. Text, JSON and Prometheus name them here.
 */
const char *stat_attach_flag_name(unsigned int bit);

struct output;
/* "attach_flags": the names of @flags ("bit_N" when unknown), @sep apart in text. */
void stat_attach_flags(struct output *o, uint32_t flags, const char *sep);
/* The probe's and the events' fields of "module" (also 'module status'). */
void stat_print_probe(struct output *o, const struct pcram_kmod_info *m);

/* The table, or the JSON object, by @o's mode. */
void stat_print(struct output *o, const struct stat_sample *s);
void stat_prom(FILE *out, const struct stat_sample *s);

#endif /* PCRAM_TOOLS_STAT_H */
