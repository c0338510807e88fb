// SPDX-License-Identifier: Apache-2.0
/* status_run.h - the `status` verb in the daemon: a small fleet's reply is
 * built at once; a larger one a few servers per loop turn (status.h's
 * jobs), answered when done, so that allocations and other requests are
 * served in between instead of waiting behind a thousand servers' JSON.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct ctl_request;

/* Servers written per loop turn, over all jobs (~8 us each). */
#define STATUS_SERVERS_PER_TURN 32
/* status requests being built at once; more are refused as busy. */
#define STATUS_JOBS_MAX 64

/* The verb: the reply, or CONTROL_DEFER when it is built over turns. */
char *status_verb(struct daemon *d, uint64_t conn_id, const struct ctl_request *req);
/* Writes the next servers of pending replies; sends the finished ones. */
void status_run_step(struct daemon *d);
/* Replies are being built: the loop must not block. */
bool status_run_busy(const struct daemon *d);
void status_run_free(struct daemon *d);
