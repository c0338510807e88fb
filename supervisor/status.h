// SPDX-License-Identifier: Apache-2.0
/* status.h - the `status` reply: the JSON contract of docs/design.md, built
 * from the process table and the workers' shared-memory slots. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/jsonw.h"

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
	bool realtime;               /* waiting as SCHED_FIFO (latency.h) */
	uint64_t realtime_cut;       /* turns cut to normal priority */
	uint64_t realtime_throttled; /* windows its CPU budget ran out */
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

/* The same reply built a few servers at a time, so that a status of a
 * thousand servers does not hold up the requests behind it (an
 * allocation waited up to 8 ms behind status at 200 servers): begin
 * writes the supervisor part, each step up to max servers, finish the
 * rest. A job whose fleet table changed meanwhile (f->table_gen) must be
 * begun again. status_reply_at() is begin, one step of all, finish. */
struct status_job {
	struct jsonw w;
	size_t next, matched;
	uint64_t table_gen;
	bool all;
	char pattern[128];
};

void status_job_begin(struct status_job *j, const struct fleet *f, const struct status_info *info,
		      const char *pattern, uint64_t now);
/* True once every server is written. */
bool status_job_step(struct status_job *j, const struct fleet *f, size_t max, uint64_t now);
/* The reply line (malloc'd, or NULL on ENOMEM); frees the writer. */
char *status_job_finish(struct status_job *j, const struct fleet *f, const struct status_info *info,
			uint64_t now, size_t *matched);
void status_job_free(struct status_job *j);
