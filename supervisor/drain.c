// SPDX-License-Identifier: Apache-2.0
/* drain.c - see drain.h. */
#include "supervisor/drain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "supervisor/events.h"
#include "supervisor/session.h"

/* The server carries a match that drain must let finish. */
static bool holds_session(const struct server *s)
{
	return s->sess.state == SESSION_ALLOCATED;
}

/* States with a worker, or about to have one, that drain stops. */
static bool drainable(const struct server *s)
{
	enum fsm_state st = s->fsm.state;

	return !s->removing && !holds_session(s) &&
	       (st == FSM_STARTING || st == FSM_RUNNING || st == FSM_BACKOFF);
}

void drain_sweep(struct daemon *d)
{
	if (!d->fleet.sess.draining || d->shutting_down)
		return;
	for (size_t i = 0; i < d->fleet.n; i++) {
		struct server *s = d->fleet.srv[i];

		/* A match that ended while draining stops its server instead of
		 * recycling it (session_run.c): undrain starts it like the rest. */
		if (s->sess.state == SESSION_RECYCLING && s->fsm.state == FSM_STOPPING)
			s->drained = true;
		if (!drainable(s))
			continue;
		log_info("%s: stopping: the host is draining", s->cfg.name);
		s->drained = true;
		fleet_request(&d->fleet, s, FSM_EV_STOP);
	}
}

void drain_begin(struct daemon *d, const char *why)
{
	if (!d->fleet.sess.draining) {
		log_notice("draining (%s): no new allocations; stopping servers without a session",
			   why);
		/* The host event first: the session changes it causes follow. */
		events_emit(&d->events, EVENT_HOST, NULL, "serving", "draining", why);
		sessions_set_draining(d, true);
	}
	drain_sweep(d);
}

size_t drain_end(struct daemon *d, const char *why)
{
	size_t n = 0;

	if (d->fleet.sess.draining) {
		log_notice("undrained (%s): allocations resume", why);
		events_emit(&d->events, EVENT_HOST, NULL, "draining", "serving", why);
		sessions_set_draining(d, false);
	}
	for (size_t i = 0; i < d->fleet.n; i++) {
		struct server *s = d->fleet.srv[i];

		if (!s->drained)
			continue;
		s->drained = false;
		if (s->removing)
			continue;
		/* One still stopping starts again once it has stopped. */
		fleet_request(&d->fleet, s, FSM_EV_START);
		n++;
	}
	return n;
}

bool drain_done(const struct daemon *d)
{
	return d->fleet.sess.n_allocated == 0;
}

int drain_parse_timeout(const char *arg, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!arg) {
		*out = DRAIN_TIMEOUT_DEFAULT_S;
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v > DRAIN_TIMEOUT_MAX_S)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static json_t *server_brief(const struct server *s)
{
	return json_pack("{s:s,s:s,s:s}", "name", s->cfg.name, "state",
			 fsm_state_name(s->fsm.state), "session",
			 holds_session(s) ? "allocated" : "none");
}

char *drain_reply(struct daemon *d, bool cancelled)
{
	json_t *stopped = json_array(), *left = json_array(), *body;
	size_t n_left = 0;

	for (size_t i = 0; stopped && left && i < d->fleet.n; i++) {
		const struct server *s = d->fleet.srv[i];

		if (s->drained)
			json_array_append_new(stopped, json_string(s->cfg.name));
		if (holds_session(s)) {
			json_array_append_new(left, server_brief(s));
			n_left++;
		}
	}
	body = json_pack("{s:b,s:o,s:o}", "draining", d->fleet.sess.draining, "stopped", stopped,
			 "left", left);
	if (!body)
		return NULL;
	if (n_left == 0 && !cancelled)
		return ctl_reply_ok(body);
	/* The list of what is left goes with the error: ctl_reply_ok copies
	 * body's keys over its own, "ok" included. */
	json_object_set_new(body, "ok", json_false());
	if (cancelled)
		json_object_set_new(body, "error",
				    json_string("drain cancelled by undrain before the sessions "
						"ended"));
	else {
		char msg[128];

		snprintf(msg, sizeof(msg), "drain timed out: %zu allocated session%s left", n_left,
			 n_left == 1 ? "" : "s");
		json_object_set_new(body, "error", json_string(msg));
	}
	return ctl_reply_ok(body);
}
