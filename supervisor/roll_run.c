// SPDX-License-Identifier: Apache-2.0
/* roll_run.c - the daemon's half of roll.h: the `roll` verb, the sweep
 * that carries roll_step() out on the fleet every loop turn, the log
 * lines and the status object. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/ctlproto.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "supervisor/daemon.h"
#include "supervisor/roll.h"
#include "supervisor/session.h"

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * RF_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* What the reply says of each matched server: queued with its pid (so
 * that `roll --wait` can print "pid A -> B"), or skipped with its state. */
static json_t *roll_lists(const struct fleet *f, const char *pattern)
{
	json_t *queued = json_array(), *skipped = json_array();

	for (size_t i = 0; queued && skipped && i < f->n; i++) {
		const struct server *s = f->srv[i];

		if (s->roll.phase != ROLL_NONE)
			json_array_append_new(queued, json_pack("{s:s,s:i}", "name", s->cfg.name,
								"pid", (int)s->pid));
		else if (!s->removing &&
			 (s->fsm.state == FSM_STOPPED || s->fsm.state == FSM_FATAL) &&
			 roll_matches(pattern, s->cfg.name))
			json_array_append_new(skipped,
					      json_pack("{s:s,s:s}", "name", s->cfg.name, "state",
							fsm_state_name(s->fsm.state)));
	}
	return json_pack("{s:o,s:o}", "queued", queued, "skipped", skipped);
}

char *roll_verb(struct daemon *d, const struct ucred *peer, const struct ctl_request *req)
{
	struct roll *r = &d->fleet.roll;
	const char *pattern = req->argc ? req->argv[0] : "all";
	json_t *body;
	int rc;

	if (d->shutting_down)
		return ctl_reply_error("shutting down");
	/* Refused rather than merged: one roll has one set, one count and one
	 * end that `roll --wait` and status can report. */
	if (r->active)
		return ctl_reply_error_code("busy",
					    "a roll is already under way (roll %llu of \"%s\": %zu "
					    "of %zu servers left); see ringfleetctl status",
					    (unsigned long long)r->id, r->pattern, r->pending,
					    r->total);
	rc = roll_begin(r, d->fleet.srv, d->fleet.n, pattern, rf_now_ns(), realtime_ns());
	if (rc == 0)
		return ctl_reply_error("no server matches \"%s\"", pattern);
	if (rc < 0)
		return ctl_reply_error("roll: %s", strerror(-rc));
	log_notice("roll %llu of \"%s\" started (uid %u, pid %d): %zu servers queued, %zu skipped "
		   "(stopped or fatal)",
		   (unsigned long long)r->id, pattern, (unsigned)peer->uid, (int)peer->pid,
		   r->pending, r->n[ROLL_SKIPPED]);
	body = roll_lists(&d->fleet, pattern);
	if (body) {
		json_object_set_new(body, "roll", json_integer((json_int_t)r->id));
		json_object_set_new(body, "total", json_integer((json_int_t)r->total));
	}
	/* The first restart goes now, not at the end of the loop turn. */
	roll_sweep(d);
	return ctl_reply_ok(body);
}

static void note(void *ctx, struct server *s, enum roll_result res)
{
	const struct roll *r = ctx;

	if (res == ROLL_ROLLED)
		log_notice("roll %llu: %s rolled (pid %d -> %d)", (unsigned long long)r->id,
			   s->cfg.name, (int)s->roll.old_pid, (int)s->pid);
	else
		log_msg(res == ROLL_FAILED ? RF_LOG_ERR : RF_LOG_NOTICE,
			"roll %llu: %s %s (%s: %s)", (unsigned long long)r->id, s->cfg.name,
			roll_result_name(res),
			s->removing ? "removed" : fsm_state_name(s->fsm.state), s->fsm.reason);
}

void roll_sweep(struct daemon *d)
{
	struct roll *r = &d->fleet.roll;
	struct server *s;

	if (!r->active)
		return;
	/* Draining or shutting down: what the roll would restart is being
	 * stopped; those servers leave the roll as skipped. */
	s = roll_step(r, d->fleet.srv, d->fleet.n, d->fleet.sess.draining || d->shutting_down,
		      rf_now_ns(), note, r);
	if (s) {
		log_notice("roll %llu: restarting %s (pid %d, session %s), %zu left",
			   (unsigned long long)r->id, s->cfg.name, (int)s->pid,
			   session_state_name(s->sess.state), r->pending);
		fleet_request(&d->fleet, s, FSM_EV_RESTART);
		return;
	}
	if (r->active)
		return;
	r->ended_unix_ns = realtime_ns();
	log_notice("roll %llu done in %.1f s: %zu rolled, %zu failed, %zu skipped, %zu dropped of "
		   "%zu",
		   (unsigned long long)r->id, (double)(rf_now_ns() - r->started_ns) / 1e9,
		   r->n[ROLL_ROLLED], r->n[ROLL_FAILED], r->n[ROLL_SKIPPED], r->n[ROLL_DROPPED],
		   r->total);
}

void roll_write_status(struct jsonw *w, const struct roll *r, uint64_t now)
{
	char at[80];

	jsonw_open_obj(w, "roll");
	jsonw_str(w, "state", r->active ? "rolling" : "idle");
	jsonw_int(w, "id", (long long)r->id);
	jsonw_str(w, "pattern", r->pattern);
	jsonw_int(w, "total", (long long)r->total);
	jsonw_int(w, "done", (long long)r->n[ROLL_ROLLED]);
	jsonw_int(w, "failed", (long long)r->n[ROLL_FAILED]);
	jsonw_int(w, "skipped", (long long)r->n[ROLL_SKIPPED]);
	jsonw_int(w, "dropped", (long long)r->n[ROLL_DROPPED]);
	jsonw_int(w, "pending", (long long)(r->active ? r->pending : 0));
	jsonw_int(w, "waiting_for_match", (long long)(r->active ? r->waiting_for_match : 0));
	if (r->active && r->current[0])
		jsonw_str(w, "current", r->current);
	else
		jsonw_null(w, "current");
	session_format_time(r->started_unix_ns, at, sizeof(at));
	jsonw_str(w, "started_at", at);
	session_format_time(r->ended_unix_ns, at, sizeof(at));
	jsonw_str(w, "finished_at", at);
	jsonw_real(w, "elapsed_s",
		   r->active ? (double)(now - r->started_ns) / (double)RF_NSEC_PER_SEC : 0.0);
	jsonw_close_obj(w);
}
