// SPDX-License-Identifier: Apache-2.0
/* timeutil.h - monotonic clock helpers shared by every binary. */
#pragma once
#include <stdint.h>
#include <time.h>

#define RF_NSEC_PER_SEC 1000000000ull
#define RF_NSEC_PER_MSEC 1000000ull

static inline uint64_t rf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * RF_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME, the clock of the kernel's receive timestamps. */
static inline uint64_t rf_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * RF_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline struct timespec rf_ns_to_timespec(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / RF_NSEC_PER_SEC),
			       .tv_nsec = (long)(ns % RF_NSEC_PER_SEC) };
	return ts;
}
