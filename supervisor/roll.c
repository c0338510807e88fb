// SPDX-License-Identifier: Apache-2.0
/* roll.c - the pure decisions of a roll; see roll.h. */
#include "supervisor/roll.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "supervisor/server.h"

const char *roll_result_name(enum roll_result r)
{
	static const char *const names[ROLL_RESULT_COUNT] = {
		[ROLL_ROLLED] = "rolled",
		[ROLL_FAILED] = "failed",
		[ROLL_SKIPPED] = "skipped",
		[ROLL_DROPPED] = "dropped",
	};

	return r < ROLL_RESULT_COUNT ? names[r] : "?";
}

static enum roll_verdict settled(enum roll_result *res, enum roll_result r)
{
	*res = r;
	return ROLL_V_SETTLED;
}

enum roll_verdict roll_judge(const struct roll_mark *m, const struct roll_view *v,
			     enum roll_result *res)
{
	enum fsm_state ps = v->ps;
	enum session_state ss = v->ss;

	if (m->phase == ROLL_NONE)
		return ROLL_V_OUT;
	if (v->removing)
		return settled(res, ROLL_DROPPED);
	/* A worker that became ready after the mark, other than the one it
	 * had then (which may have been forked before the files changed and
	 * report ready after), was spawned from what is on disk now: the
	 * roll's restart, a recycle, a crash restart. */
	if (ps == FSM_RUNNING && v->ready_ns > m->since_ns && v->pid != m->old_pid)
		return settled(res, ROLL_ROLLED);
	if (ps == FSM_FATAL)
		return settled(res, m->phase == ROLL_RESTARTING ? ROLL_FAILED : ROLL_SKIPPED);
	if (ps == FSM_STOPPED)
		return settled(res, ROLL_SKIPPED);
	if (m->phase == ROLL_RESTARTING)
		return ROLL_V_BUSY;
	if (ss == SESSION_ALLOCATED)
		return ROLL_V_WAIT_MATCH;
	/* Its match ended and a fresh worker is on the way: that is this
	 * server's roll, and the next must wait for it like for our own. */
	if (ss == SESSION_RECYCLING)
		return ROLL_V_BUSY;
	if (ps == FSM_RUNNING && !v->draining && (ss == SESSION_READY || ss == SESSION_NONE))
		return ROLL_V_NOW;
	return ROLL_V_WAIT;
}

bool roll_matches(const char *pattern, const char *name)
{
	return strcmp(pattern, "all") == 0 || fnmatch(pattern, name, 0) == 0;
}

int roll_begin(struct roll *r, struct server *const *srv, size_t n, const char *pattern,
	       uint64_t now, uint64_t now_unix)
{
	size_t matched = 0, skipped = 0;

	if (r->active)
		return -EBUSY;
	for (size_t i = 0; i < n; i++) {
		struct server *s = srv[i];

		if (s->removing || !roll_matches(pattern, s->cfg.name))
			continue;
		matched++;
		if (s->fsm.state == FSM_STOPPED || s->fsm.state == FSM_FATAL) {
			skipped++;
			continue;
		}
		s->roll = (struct roll_mark){ ROLL_PENDING, now, s->pid };
	}
	if (matched == 0)
		return 0;
	r->id++;
	r->active = true;
	r->started_ns = now;
	r->started_unix_ns = now_unix;
	r->ended_unix_ns = 0;
	r->total = matched;
	memset(r->n, 0, sizeof(r->n));
	r->n[ROLL_SKIPPED] = skipped;
	r->pending = matched - skipped;
	r->waiting_for_match = 0;
	r->current[0] = '\0';
	snprintf(r->pattern, sizeof(r->pattern), "%s", pattern);
	return (int)matched;
}

struct server *roll_step(struct roll *r, struct server *const *srv, size_t n, bool draining,
			 uint64_t now, roll_note_fn *note, void *ctx)
{
	struct server *next = NULL, *busy = NULL;
	size_t pending = 0, waiting = 0, settled_total = 0;

	if (!r->active)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct server *s = srv[i];
		struct roll_view view = {
			.ps = s->fsm.state,
			.ss = s->sess.state,
			.ready_ns = s->fsm.ready_ns,
			.pid = s->pid,
			.removing = s->removing,
			.draining = draining,
		};
		enum roll_result res = ROLL_ROLLED;
		enum roll_verdict v = roll_judge(&s->roll, &view, &res);

		switch (v) {
		case ROLL_V_OUT:
			continue;
		case ROLL_V_SETTLED:
			if (note)
				note(ctx, s, res);
			r->n[res]++;
			s->roll = (struct roll_mark){ 0 };
			continue;
		case ROLL_V_BUSY:
			if (!busy || s->roll.phase == ROLL_RESTARTING)
				busy = s;
			break;
		case ROLL_V_NOW:
			if (!next)
				next = s;
			break;
		case ROLL_V_WAIT_MATCH:
			waiting++;
			break;
		case ROLL_V_WAIT:
			break;
		}
		pending++;
	}
	/* A marked server forgotten by the table (a reload removed it while
	 * it had no process) was never seen settling. */
	for (int k = 0; k < ROLL_RESULT_COUNT; k++)
		settled_total += r->n[k];
	if (settled_total + pending < r->total)
		r->n[ROLL_DROPPED] += r->total - settled_total - pending;
	r->pending = pending;
	r->waiting_for_match = waiting;
	r->current[0] = '\0';
	if (busy && busy->roll.phase == ROLL_RESTARTING)
		snprintf(r->current, sizeof(r->current), "%s", busy->cfg.name);
	if (pending == 0) {
		r->active = false;
		return NULL;
	}
	if (busy || !next)
		return NULL;
	next->roll.phase = ROLL_RESTARTING;
	next->roll.since_ns = now;
	snprintf(r->current, sizeof(r->current), "%s", next->cfg.name);
	return next;
}
