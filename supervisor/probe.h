// SPDX-License-Identifier: Apache-2.0
/* probe.h - does each game module of a configuration load? The supervisor
 * never loads game code itself: for each distinct module it runs
 * `WORKER --check-game PATH` in a short-lived child (dlopen, entry point,
 * ABI version; init is not called), as the user the first server using
 * it runs as, and reads the child's one-line verdict. Used by
 * `ringfleetd --check` and, before anything is applied, by a reload.
 *
 * Bounded: at most PROBE_PARALLEL children at once, each killed after
 * PROBE_TIMEOUT_MS ("timed out loading"), at most PROBE_OUTPUT_MAX bytes
 * of their output kept. The call blocks until every child is reaped: a
 * reload waits for it (at most PROBE_TIMEOUT_MS per PROBE_PARALLEL
 * distinct modules; loading a module takes milliseconds).
 */
#pragma once
#include <stddef.h>

#include "config/config.h"

#define PROBE_PARALLEL 8
#define PROBE_TIMEOUT_MS 5000
#define PROBE_OUTPUT_MAX 512

/* Probes every module (game other than "relay") of cfg with worker.
 * Returns 0 when all load, -EINVAL with err set to
 * "CONFIG:LINE: game: REASON" for the first server, in file order, whose
 * module failed (LINE: where its game was set), or another -errno with
 * err set when a child could not be run at all. */
int probe_modules(const struct cfg *cfg, const char *worker, char *err, size_t errlen);
