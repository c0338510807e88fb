// SPDX-License-Identifier: Apache-2.0
/* status.h - the `status` reply: the JSON contract of docs/design.md, built
 * from the process table and the workers' shared-memory slots. */
#pragma once
#include <stdint.h>

#include "supervisor/fleet.h"

struct status_info {
	const char *config_path;
	uint64_t started_ns;
	size_t event_subscribers;
	/* The handover (upgrade.h): in-place upgrades so far, the version the
	 * last one came from, the version of a crashed ringfleetd this one
	 * took over from ("" = none), and the live workers taken over. */
	uint32_t upgrades;
	const char *upgraded_from;
	const char *recovered_from;
	size_t adopted;
};

/* The whole reply line ({"ok":true,...} and its newline) for the servers
 * whose name matches pattern (exact name or fnmatch glob; NULL = all);
 * *matched counts them. Returns malloc'd text, or NULL on ENOMEM. */
char *status_reply(const struct fleet *f, const struct status_info *info, const char *pattern,
		   size_t *matched);
/* The same at a given CLOCK_MONOTONIC time (for tests). */
char *status_reply_at(const struct fleet *f, const struct status_info *info, const char *pattern,
		      uint64_t now, size_t *matched);
const char *status_backend_name(uint32_t backend);
