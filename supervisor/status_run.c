// SPDX-License-Identifier: Apache-2.0
/* status_run.c - see status_run.h. */
#include "supervisor/status_run.h"

#include <stdlib.h>
#include <string.h>

#include "common/ctlproto.h"
#include "common/timeutil.h"
#include "supervisor/daemon.h"
#include "supervisor/status.h"

struct status_pending {
	uint64_t conn_id;
	struct status_job job;
};

static struct status_info info_of(const struct daemon *d)
{
	return (struct status_info){
		.config_path = d->config_path,
		.started_ns = d->started_ns,
		.event_subscribers = control_subscribers(&d->ctl),
		.upgrades = d->upgrades,
		.upgraded_from = d->upgraded_from,
		.recovered_from = d->recovered_from,
		.adopted = d->adopted,
		.realtime = d->lat.enabled,
		.realtime_cut = d->lat.cut,
		.realtime_throttled = d->lat.throttled,
	};
}

static char *finish(struct daemon *d, struct status_job *j, uint64_t now)
{
	struct status_info info = info_of(d);
	size_t matched;
	char *line = status_job_finish(j, &d->fleet, &info, now, &matched);

	if (!line)
		return ctl_reply_error("out of memory");
	if (!j->all && matched == 0) {
		free(line);
		return ctl_reply_error("no server matches \"%s\"", j->pattern);
	}
	return line;
}

char *status_verb(struct daemon *d, uint64_t conn_id, const struct ctl_request *req)
{
	struct status_info info = info_of(d);
	const char *pattern = req->argc ? req->argv[0] : NULL;
	uint64_t now = rf_now_ns();
	struct status_pending *p;
	struct status_job j;

	if (pattern && strcmp(pattern, "all") == 0)
		pattern = NULL;
	if (d->fleet.n <= STATUS_SERVERS_PER_TURN) {
		status_job_begin(&j, &d->fleet, &info, pattern, now);
		status_job_step(&j, &d->fleet, SIZE_MAX, now);
		return finish(d, &j, now);
	}
	if (d->n_status_jobs == STATUS_JOBS_MAX)
		return ctl_reply_error_code("busy", "%d status requests are being answered: retry",
					    STATUS_JOBS_MAX);
	p = calloc(1, sizeof(*p));
	if (!p)
		return ctl_reply_error("out of memory");
	p->conn_id = conn_id;
	status_job_begin(&p->job, &d->fleet, &info, pattern, now);
	d->status_jobs[d->n_status_jobs++] = p;
	return CONTROL_DEFER;
}

void status_run_step(struct daemon *d)
{
	size_t budget = STATUS_SERVERS_PER_TURN, i = 0;
	uint64_t now = rf_now_ns();

	while (i < d->n_status_jobs && budget > 0) {
		struct status_pending *p = d->status_jobs[i];
		size_t before = p->job.next;
		struct status_info info;

		if (p->job.table_gen != d->fleet.table_gen) {
			/* A reload moved the table: indexes mean other servers. */
			char pattern[sizeof(p->job.pattern)];
			bool all = p->job.all;

			memcpy(pattern, p->job.pattern, sizeof(pattern));
			info = info_of(d);
			status_job_free(&p->job);
			status_job_begin(&p->job, &d->fleet, &info, all ? NULL : pattern, now);
			before = 0;
		}
		if (!status_job_step(&p->job, &d->fleet, budget, now))
			break; /* the budget is spent */
		budget -= p->job.next - before < budget ? p->job.next - before : budget;
		control_reply(&d->ctl, p->conn_id, finish(d, &p->job, now));
		free(p);
		for (size_t k = i + 1; k < d->n_status_jobs; k++) /* in arrival order */
			d->status_jobs[k - 1] = d->status_jobs[k];
		d->n_status_jobs--;
	}
}

bool status_run_busy(const struct daemon *d)
{
	return d->n_status_jobs > 0;
}

void status_run_free(struct daemon *d)
{
	for (size_t i = 0; i < d->n_status_jobs; i++) {
		status_job_free(&d->status_jobs[i]->job);
		free(d->status_jobs[i]);
	}
	d->n_status_jobs = 0;
}
