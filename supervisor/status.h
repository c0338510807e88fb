// SPDX-License-Identifier: Apache-2.0
/* status.h - the `status` reply: the JSON contract of docs/design.md, built
 * from the process table and the workers' shared-memory slots. */
#pragma once
#include <jansson.h>
#include <stdint.h>

#include "supervisor/fleet.h"

struct status_info {
	const char *config_path;
	uint64_t started_ns;
};

/* Servers whose name matches pattern (exact name or fnmatch glob; NULL =
 * all). Returns the reply body, or NULL on ENOMEM. *matched counts them. */
json_t *status_build(const struct fleet *f, const struct status_info *info, const char *pattern,
		     size_t *matched);
const char *status_backend_name(uint32_t backend);
