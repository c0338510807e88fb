// SPDX-License-Identifier: Apache-2.0
/* daemon_verbs.c - see daemon_verbs.h. */
#include "supervisor/daemon_verbs.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "supervisor/drain.h"
#include "supervisor/notify.h"
#include "supervisor/upgrade.h"
#include "supervisor/probe.h"
#include "supervisor/roll.h"
#include "supervisor/session.h"
#include "supervisor/status_run.h"
#include "supervisor/tokens.h"

#define SETTLE_SLACK_NS (2 * RF_NSEC_PER_SEC)

static bool name_matches(const char *pattern, const char *name)
{
	return strcmp(pattern, "all") == 0 || fnmatch(pattern, name, 0) == 0;
}

static uint64_t settle_deadline(const struct daemon *d)
{
	const struct fsm_policy *p = &d->fleet.policy;

	return rf_now_ns() + p->stop_timeout_ns + p->start_timeout_ns + SETTLE_SLACK_NS;
}

static char *defer(struct daemon *d, uint64_t conn_id, const struct ctl_request *req, json_t *body)
{
	struct waiter *w;

	if (d->n_waiters == DAEMON_WAITERS_MAX) {
		json_decref(body);
		return ctl_reply_error("too many requests waiting");
	}
	w = &d->waiters[d->n_waiters++];
	memset(w, 0, sizeof(*w));
	w->conn_id = conn_id;
	w->verb = req->verb;
	if (req->argc > 0)
		snprintf(w->pattern, sizeof(w->pattern), "%s", req->argv[0]);
	w->body = body;
	w->deadline_ns = settle_deadline(d);
	return CONTROL_DEFER;
}

static char *verb_lifecycle(struct daemon *d, uint64_t conn_id, const struct ctl_request *req)
{
	static const enum fsm_event_type ev[] = {
		[CTL_START] = FSM_EV_START,
		[CTL_STOP] = FSM_EV_STOP,
		[CTL_RESTART] = FSM_EV_RESTART,
	};
	size_t matched = 0;

	if (d->shutting_down)
		return ctl_reply_error("shutting down");
	/* Drain would stop them again at once. */
	if (d->fleet.sess.draining && req->verb != CTL_STOP)
		return ctl_reply_error("host is draining: undrain first");
	for (size_t i = 0; i < d->fleet.n; i++) {
		struct server *s = d->fleet.srv[i];

		if (s->removing || !name_matches(req->argv[0], s->cfg.name))
			continue;
		log_notice("%s: %s requested over the control socket", s->cfg.name,
			   ctl_verb_name(req->verb));
		fleet_request(&d->fleet, s, ev[req->verb]);
		matched++;
	}
	if (matched == 0)
		return ctl_reply_error("no server matches \"%s\"", req->argv[0]);
	return defer(d, conn_id, req, NULL);
}

static char *verb_drain(struct daemon *d, uint64_t conn_id, const struct ucred *peer,
			const struct ctl_request *req)
{
	char why[96];
	unsigned timeout_s;
	char *reply;

	if (d->shutting_down)
		return ctl_reply_error("shutting down");
	if (drain_parse_timeout(req->argc ? req->argv[0] : NULL, &timeout_s) < 0)
		return ctl_reply_error("drain: timeout: expected 0..%d seconds, got \"%s\"",
				       DRAIN_TIMEOUT_MAX_S, req->argv[0]);
	snprintf(why, sizeof(why), "drain requested over the control socket (uid %u, pid %d)",
		 (unsigned)peer->uid, (int)peer->pid);
	drain_begin(d, why);
	if (timeout_s == 0 || drain_done(d))
		return drain_reply(d, false);
	reply = defer(d, conn_id, req, NULL);
	if (reply == CONTROL_DEFER)
		d->waiters[d->n_waiters - 1].deadline_ns =
			rf_now_ns() + (uint64_t)timeout_s * RF_NSEC_PER_SEC;
	return reply;
}

static char *verb_undrain(struct daemon *d, const struct ucred *peer)
{
	char why[96];
	size_t started;

	if (d->shutting_down)
		return ctl_reply_error("shutting down");
	snprintf(why, sizeof(why), "undrain requested over the control socket (uid %u, pid %d)",
		 (unsigned)peer->uid, (int)peer->pid);
	started = drain_end(d, why);
	/* Whoever waits on a drain learns it will not complete. */
	for (size_t i = 0; i < d->n_waiters;) {
		struct waiter *w = &d->waiters[i];

		if (w->verb != CTL_DRAIN) {
			i++;
			continue;
		}
		control_reply(&d->ctl, w->conn_id, drain_reply(d, true));
		*w = d->waiters[--d->n_waiters];
	}
	return ctl_reply_ok(json_pack("{s:b,s:I}", "draining", 0, "started", (json_int_t)started));
}

static const char *failure_code(int rc)
{
	if (rc == -ENOENT)
		return alloc_failure_name(ALLOC_FAIL_NO_MATCH);
	if (rc == -EAGAIN)
		return alloc_failure_name(ALLOC_FAIL_DRAINING);
	return alloc_failure_name(ALLOC_FAIL_INVALID);
}

/* allocate [{"selectors":{..},"meta":{..},"policy":..,"players":[..]}] */
static char *verb_allocate(struct daemon *d, const struct ctl_request *req)
{
	static struct alloc_req r; /* 9 KiB; the loop is single-threaded */
	char err[256];
	struct server *s;
	json_t *body;
	int rc;

	if (d->shutting_down)
		return ctl_reply_error_code(failure_code(-EAGAIN), "shutting down");
	alloc_req_init(&r);
	if (req->raw[0]) {
		json_error_t jerr;
		json_t *o = json_loads(req->raw, JSON_REJECT_DUPLICATES, &jerr);

		rc = o ? alloc_req_from_json(&r, o, err, sizeof(err)) : -EINVAL;
		if (!o)
			snprintf(err, sizeof(err), "options are not JSON: %s", jerr.text);
		json_decref(o);
		if (rc < 0) {
			d->fleet.sess.failures[ALLOC_FAIL_INVALID]++;
			return ctl_reply_error_code(failure_code(rc), "%s", err);
		}
	}
	/* Before anything is allocated: players need a key to seal with. */
	if (tokens_check_request(d, &r, err, sizeof(err)) < 0) {
		d->fleet.sess.failures[ALLOC_FAIL_INVALID]++;
		return ctl_reply_error_code(failure_code(-EINVAL), "%s", err);
	}
	rc = sessions_allocate(d, &r, &s, err, sizeof(err));
	if (rc < 0)
		return ctl_reply_error_code(failure_code(rc), "%s", err);
	body = sessions_server_json(s);
	/* Connect tokens for r.players (supervisor/tokens.c). */
	rc = body ? sessions_tokens(d, s, &r, body) : -ENOMEM;
	if (rc < 0) {
		json_decref(body);
		sessions_release(d, s, "tokens");
		return ctl_reply_error("connect tokens: %s", strerror(-rc));
	}
	return ctl_reply_ok(body);
}

static char *verb_release(struct daemon *d, const struct ctl_request *req)
{
	for (size_t i = 0; i < d->fleet.n; i++) {
		struct server *s = d->fleet.srv[i];

		if (s->removing || strcmp(s->cfg.name, req->argv[0]) != 0)
			continue;
		if (sessions_release(d, s, "release") < 0)
			return ctl_reply_error("%s is not allocated (session %s)", s->cfg.name,
					       session_state_name(s->sess.state));
		log_notice("%s: released over the control socket", s->cfg.name);
		return ctl_reply_ok(sessions_server_json(s));
	}
	return ctl_reply_error("no server named \"%s\"", req->argv[0]);
}

void daemon_begin_shutdown(struct daemon *d, const char *why)
{
	if (d->shutting_down)
		return;
	log_notice("shutting down (%s): stopping %zu servers", why, d->fleet.n);
	d->shutting_down = true;
	notify_stopping();
	fleet_stop_all(&d->fleet);
}

char *daemon_handle_request(void *ctx, uint64_t conn_id, const struct ucred *peer,
			    const struct ctl_request *req)
{
	struct daemon *d = ctx;

	switch (req->verb) {
	case CTL_PING:
		return ctl_reply_ok(json_pack("{s:b}", "pong", 1));
	case CTL_VERSION:
		return ctl_reply_ok(json_pack("{s:s}", "version", RF_VERSION));
	case CTL_STATUS:
		return status_verb(d, conn_id, req);
	case CTL_START:
	case CTL_STOP:
	case CTL_RESTART:
		return verb_lifecycle(d, conn_id, req);
	case CTL_RELOAD:
		if (d->shutting_down)
			return ctl_reply_error("shutting down");
		return daemon_reload(d, conn_id);
	case CTL_SHUTDOWN:
		daemon_begin_shutdown(d, "shutdown requested");
		return ctl_reply_ok(NULL);
	case CTL_EVENTS:
		return CONTROL_SUBSCRIBE;
	case CTL_DRAIN:
		return verb_drain(d, conn_id, peer, req);
	case CTL_UNDRAIN:
		return verb_undrain(d, peer);
	case CTL_ALLOCATE:
		return verb_allocate(d, req);
	case CTL_RELEASE:
		return verb_release(d, req);
	case CTL_UPGRADE:
		return upgrade_start(d, conn_id);
	case CTL_ROLL:
		return roll_verb(d, peer, req);
	default:
		return ctl_reply_error("unknown verb");
	}
}

static json_t *names_array(const struct fleet_names *list)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < list->n; i++)
		json_array_append_new(a, json_string(list->name[i]));
	return a;
}

static json_t *diff_body(const struct fleet_diff *diff)
{
	return json_pack("{s:o,s:o,s:o,s:I}", "added", names_array(&diff->added), "removed",
			 names_array(&diff->removed), "changed", names_array(&diff->changed),
			 "unchanged", (json_int_t)diff->n_unchanged);
}

static char *reload_failed(struct daemon *d, const char *err)
{
	log_err("reload failed, keeping the running configuration: %s", err);
	if (d->ready_sent)
		notify_ready(d->last_status);
	return ctl_reply_error("reload failed: %s", err);
}

/* The control socket is the channel the reload itself came in on, so it
 * only changes with a restart; say so rather than ignore the edit. */
static void warn_restart_only(const struct cfg_supervisor *cur, const struct cfg_supervisor *next)
{
	if (strcmp(cur->control_socket, next->control_socket) != 0 ||
	    strcmp(cur->control_group, next->control_group) != 0 ||
	    cur->control_mode != next->control_mode)
		log_warn("reload: control_socket, control_group and control_mode take effect "
			 "when ringfleetd restarts; still serving %s",
			 cur->control_socket);
}

/* The servers' change is already committed; a metrics address that cannot
 * be taken is reported and metrics stay off until the next reload. The
 * old listener goes first since the new one may want its port. */
static void reopen_metrics(struct daemon *d, const char *listen)
{
	char err[128];

	if (strcmp(listen, d->cfg.sup.metrics_listen) == 0)
		return;
	if (!listen[0]) {
		metrics_close(&d->metrics);
		return;
	}
	metrics_close(&d->metrics);
	/* In place: MHD keeps a pointer to the struct as its callback data. */
	if (metrics_open(&d->metrics, d->epfd, listen, &d->fleet, d->started_ns, err, sizeof(err)) <
	    0) {
		log_err("reload: %s; metrics are off", err);
		return;
	}
	log_notice("metrics on http://%s/metrics", listen);
}

char *daemon_reload(struct daemon *d, uint64_t conn_id)
{
	struct ctl_request req = { .verb = CTL_RELOAD };
	struct fleet_diff diff;
	struct cfg next;
	char err[CFG_ERR_MAX];
	char *reply = NULL;
	bool realtime_changed;

	log_notice("reloading %s", d->config_path);
	notify_reloading();
	d->reloading = true;
	/* The module probe blocks the loop (probe.h bounds it): a reload is
	 * all-or-nothing, so it must know every module loads before applying. */
	if (cfg_load_host(d->config_path, &next, err, sizeof(err)) < 0 ||
	    probe_modules(&next, d->fleet.worker_path, err, sizeof(err)) < 0 ||
	    tokens_key_setup(&d->fleet, &next.sup, err, sizeof(err)) < 0 ||
	    fleet_apply(&d->fleet, &next, &diff, err, sizeof(err)) < 0) {
		cfg_free(&next);
		d->reloading = false;
		return reload_failed(d, err);
	}
	log_notice("reload: %zu added, %zu removed, %zu changed, %zu unchanged", diff.n_added,
		   diff.n_removed, diff.n_changed, diff.n_unchanged);
	log_set_level(next.sup.log_level);
	reopen_metrics(d, next.sup.metrics_listen);
	api_reload(&d->api, d, &next);
	warn_restart_only(&d->cfg.sup, &next.sup);
	realtime_changed = next.sup.realtime != d->cfg.sup.realtime;
	cfg_free(&d->cfg);
	d->cfg = next;
	if (realtime_changed)
		daemon_realtime(d);
	if (conn_id)
		reply = defer(d, conn_id, &req, diff_body(&diff));
	fleet_diff_free(&diff);
	return reply;
}

static json_t *states_of(const struct daemon *d, const char *pattern, bool *all_ok,
			 enum fsm_state want)
{
	json_t *a = json_array();

	*all_ok = true;
	for (size_t i = 0; a && i < d->fleet.n; i++) {
		const struct server *s = d->fleet.srv[i];

		if (!name_matches(pattern, s->cfg.name))
			continue;
		if (s->fsm.state != want)
			*all_ok = false;
		json_array_append_new(a, json_pack("{s:s,s:s,s:i,s:s}", "name", s->cfg.name,
						   "state", fsm_state_name(s->fsm.state), "pid",
						   (int)s->pid, "reason", s->fsm.reason));
	}
	return a;
}

static char *settled_reply(struct daemon *d, struct waiter *w, bool timed_out)
{
	enum fsm_state want = w->verb == CTL_STOP ? FSM_STOPPED : FSM_RUNNING;
	json_t *servers;
	bool ok;

	if (w->verb == CTL_RELOAD) {
		json_t *b = w->body;

		w->body = NULL;
		return ctl_reply_ok(b);
	}
	servers = states_of(d, w->pattern, &ok, want);
	if (ok && !timed_out)
		return ctl_reply_ok(json_pack("{s:o}", "servers", servers));
	json_decref(servers);
	return ctl_reply_error("%s %s: not every server reached %s%s", ctl_verb_name(w->verb),
			       w->pattern, fsm_state_name(want),
			       timed_out ? " in time" : " (see status)");
}

static void answer_waiters(struct daemon *d, uint64_t now)
{
	bool settled = fleet_settled(&d->fleet);

	bool drained = drain_done(d);
	size_t i = 0;

	while (i < d->n_waiters) {
		struct waiter *w = &d->waiters[i];
		bool late = now >= w->deadline_ns;
		bool done = w->verb == CTL_DRAIN ? drained : settled;

		if (!done && !late) {
			i++;
			continue;
		}
		control_reply(&d->ctl, w->conn_id,
			      w->verb == CTL_DRAIN ? drain_reply(d, false)
						   : settled_reply(d, w, !settled));
		json_decref(w->body);
		*w = d->waiters[--d->n_waiters];
	}
}

static void summarise(const struct daemon *d, char *buf, size_t len)
{
	size_t c[FSM_FATAL + 1];

	fleet_count_states(&d->fleet, c);
	snprintf(buf, len,
		 "%zu servers: %zu running, %zu starting, %zu backoff, %zu stopping, "
		 "%zu stopped, %zu fatal",
		 d->fleet.n, c[FSM_RUNNING], c[FSM_STARTING], c[FSM_BACKOFF], c[FSM_STOPPING],
		 c[FSM_STOPPED], c[FSM_FATAL]);
}

void daemon_after_events(struct daemon *d)
{
	char status[sizeof(d->last_status)];
	bool settled = fleet_settled(&d->fleet);

	drain_sweep(d);
	roll_sweep(d);
	answer_waiters(d, rf_now_ns());
	summarise(d, status, sizeof(status));
	if (settled && !d->shutting_down && (!d->ready_sent || d->reloading)) {
		notify_ready(status);
		if (!d->ready_sent)
			log_notice("ready: %s", status);
		d->ready_sent = true;
		d->reloading = false;
	} else if (strcmp(status, d->last_status) != 0) {
		notify_status(status);
	}
	snprintf(d->last_status, sizeof(d->last_status), "%s", status);
}
