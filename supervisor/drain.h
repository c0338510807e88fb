// SPDX-License-Identifier: Apache-2.0
/* drain.h - taking a host out of service without cutting a match short.
 *
 * Draining refuses new allocations, stops every server that holds no
 * allocated session (now, and each one whose session ends later), and
 * lets the allocated ones run until their sessions end. `drain` answers
 * once no allocated session is left, or at its timeout with what is left;
 * `undrain` clears the state and starts again what drain stopped. The
 * state shows in status (top-level "draining") and as host events.
 */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "supervisor/daemon.h"

#define DRAIN_TIMEOUT_DEFAULT_S 300
#define DRAIN_TIMEOUT_MAX_S 86400

/* Sets the host draining (idempotent) and stops what it may. why names
 * the requester for the log and the host event. */
void drain_begin(struct daemon *d, const char *why);
/* Clears draining and starts the servers drain stopped. Returns how many. */
size_t drain_end(struct daemon *d, const char *why);
/* While draining: stops servers that lost their session since. Cheap
 * when not draining; the loop calls it every turn. */
void drain_sweep(struct daemon *d);
/* No allocated session is left. */
bool drain_done(const struct daemon *d);
/* The reply to a drain request: ok with what drain stopped, or (at the
 * timeout, or cancelled by undrain) an error that lists the servers still
 * allocated. */
char *drain_reply(struct daemon *d, bool cancelled);
/* Parses drain's optional SECONDS argument (0..DRAIN_TIMEOUT_MAX_S). */
int drain_parse_timeout(const char *arg, unsigned *out);
