/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pcram stat: one sample of pcram.ko's statistics, and its three forms:
 * a table for people, JSON and the Prometheus text format, each as
 * pcram(8) documents it.
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
/* "no_latency", "no_events", or NULL for a bit it does not know. */
const char *stat_attach_flag_name(unsigned int bit);

struct json;
/* The probe's and the events' keys of "module" (also 'module status -j'). */
void stat_json_probe(struct json *j, const struct pcram_kmod_info *m);

void stat_text(FILE *out, const struct stat_sample *s);
void stat_json(FILE *out, const struct stat_sample *s);
void stat_prom(FILE *out, const struct stat_sample *s);

#endif /* PCRAM_TOOLS_STAT_H */
