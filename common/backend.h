// SPDX-License-Identifier: Apache-2.0
/* backend.h - the one list of worker I/O backends and their names, used
 * by the config (backend = ...), the worker (--backend, and the backend it
 * reports in its slot), status and metrics.
 *
 * 0 means "auto" where a backend is chosen (config, --backend) and "none
 * yet" where one is reported (the slot, before the worker picked one).
 */
#pragma once
#include <stdint.h>
#include <string.h>

enum rf_backend {
	RF_BACKEND_AUTO = 0,
	RF_BACKEND_NONE = 0,
	RF_BACKEND_IO_URING = 1,
	RF_BACKEND_MMSG = 2,
	RF_BACKEND_COUNT
};

/* "auto", "io_uring", "mmsg" by enum rf_backend. */
static const char *const rf_backend_names[RF_BACKEND_COUNT] = {
	[RF_BACKEND_AUTO] = "auto",
	[RF_BACKEND_IO_URING] = "io_uring",
	[RF_BACKEND_MMSG] = "mmsg",
};

/* The backend named s, or -1. */
static inline int rf_backend_parse(const char *s)
{
	for (int b = 0; b < RF_BACKEND_COUNT; b++)
		if (strcmp(s, rf_backend_names[b]) == 0)
			return b;
	return -1;
}
