// SPDX-License-Identifier: Apache-2.0
/* roll_wait.h - `ringfleetctl roll [--wait [--timeout S]] [NAME|GLOB|all]`:
 * asks ringfleetd to roll the matching servers onto the worker and module
 * on disk (supervisor/roll.h), prints how many it queued and, with --wait,
 * follows the roll through status, one line per server as it leaves the
 * roll ("rolled game-3 (pid 123 -> 456)"), until it ends. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

/* Returns ringfleetctl's exit status: 0 done (or queued, without wait), 1
 * refused or a server's new worker failed, 4 unreachable, 5 not done within
 * timeout_s (0: no limit). */
int roll_command(const char *socket_path, const char *pattern, bool json, bool wait,
		 double timeout_s);
/* status: the one-line summary of a roll under way; nothing when idle. */
void roll_print_summary(json_t *status_reply);
