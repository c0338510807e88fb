// SPDX-License-Identifier: Apache-2.0
/* adopt.h - taking over the servers an earlier ringfleetd left (issue 14),
 * from its state (state.h), before the configuration is applied:
 *
 *  - after an upgrade (ADOPT_UPGRADE) this process is the same one, so
 *    every fd the state names is already ours and every worker is still
 *    our child: the servers are rebuilt as they were, fds and all;
 *  - after a crash (ADOPT_CRASH) each live worker is first verified to be
 *    the process the state names (its pid's start time, so a reused pid is
 *    never adopted), then its socket and slot are taken back from it with
 *    pidfd_getfd. A worker that cannot be verified or whose fds cannot be
 *    taken is killed, and its server starts afresh; a worker that was
 *    starting or stopping is replaced the same way (its readiness pipe
 *    died with the old ringfleetd).
 *
 * Adopted servers carry the configuration they were started with, so the
 * fleet_apply() of the configuration on disk that follows treats them as
 * a reload would: the same server untouched, a changed one restarted
 * through the zero-loss path, a removed one stopped.
 */
#pragma once
#include <stddef.h>

#include "supervisor/fleet.h"
#include "supervisor/state.h"

enum adopt_mode { ADOPT_UPGRADE, ADOPT_CRASH };

struct adopt_result {
	size_t adopted;  /* servers whose live worker was taken over */
	size_t replaced; /* live workers killed: could not be taken over */
	size_t gone;     /* workers the state names that no longer exist */
	size_t stopped;  /* servers with no worker, their state kept */
};

/* Adds st's servers to the (empty) fleet f. Returns 0 or -ENOMEM. */
int adopt_fleet(struct fleet *f, const struct state *st, enum adopt_mode mode,
		struct adopt_result *res);

/* 0 when pid still names the process that had start_time, -ESRCH when
 * not (gone, or the pid was reused). */
int adopt_verify_pid(pid_t pid, uint64_t start_time);
