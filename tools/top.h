/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pcram top: what it knows between two refreshes, and how it is drawn.
 */
#ifndef PCRAM_TOOLS_TOP_H
#define PCRAM_TOOLS_TOP_H

#include <stdbool.h>

#include "kmod_client.h"

enum top_sort { SORT_P99, SORT_RATE, SORT_ID, NR_SORTS };

struct top_vm {
	struct pcram_kmod_vm now;
	/* since the previous refresh; known once a VM was seen twice */
	bool has_rate;
	double rate;			/* faults/s */
	double blocked_rate;		/* blocked ns per second */
	struct pcram_hist interval;	/* faults of the last interval */
	bool has_interval_l;		/* both samples had the log-linear one */
	struct pcram_kmod_lhist interval_l; /* ... and so, log-linear */
};

struct top_state {
	struct pcram_kmod_info info;
	struct top_vm *vms;		/* sorted as the view shows them */
	size_t n, max;
	uint32_t selected;		/* the selected VM's id, 0: none */
	enum top_sort sort;
	bool interval;			/* percentiles of the last interval only */
	double delay;			/* seconds between refreshes */
	uint64_t sampled_ns;		/* CLOCK_MONOTONIC of the latest sample */
};

extern const char *const top_sort_names[NR_SORTS];

/* The histogram the view shows for @vm: since attach, or the last interval. */
const struct pcram_hist *top_hist(const struct top_state *s, const struct top_vm *vm);
/* The @q-quantile of that, ns: from the log-linear histogram when there is one. */
uint64_t top_quantile(const struct top_state *s, const struct top_vm *vm, double q);

/*
 * The lines of one frame, at most @rows; each is cut to @cols cells when
 * written out. reverse[i] marks line i for reverse video (the column
 * heads and the selected VM).
 */
struct frame {
	int rows, cols, n;
	char (*line)[1024];
	bool *reverse;
};

/* The whole view (full screen) or, for plain output, header and table. */
void top_draw(const struct top_state *s, struct frame *f, bool full, bool utf8);

#endif /* PCRAM_TOOLS_TOP_H */
