// SPDX-License-Identifier: Apache-2.0
/* hist.h - fixed-size log-linear latency histogram.
 *
 * Values (nanoseconds) below HIST_SUB are counted exactly; above, each power
 * of two is split into HIST_SUB linear sub-buckets, so a quantile is off by
 * at most 1/HIST_SUB/2 (0.4%) relative. No allocation, O(1) insert: the
 * load generator records every received packet without storing samples.
 */
#pragma once
#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 40 /* values >= 2^40 ns (~18 min) share the last bucket */
#define HIST_BUCKETS ((HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t n;
	uint64_t sum;
	uint64_t max;
	uint64_t b[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t v);
/* Value at quantile q (0..1): midpoint of the bucket holding the q-th
 * sample, never above the exact maximum. 0 when the histogram is empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/* Exact mean, 0 when empty. */
double hist_mean(const struct hist *h);
