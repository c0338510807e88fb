// SPDX-License-Identifier: Apache-2.0
/* status_ref.c - the `status` body as ringfleetd built it before
 * common/jsonw.h: a jansson tree per server. Kept only as the oracle
 * test_status.c compares the streaming writer's text against. */
#include <jansson.h>

#include "supervisor/status.h"
#include "supervisor/roll.h"
#include "supervisor/session.h"

#include <fnmatch.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "common/slot.h"
#include "common/timeutil.h"
#include "supervisor/gameview.h"

static double secs(uint64_t ns)
{
	return (double)ns / (double)RF_NSEC_PER_SEC;
}

static json_t *drops(const struct rf_slot_stats *st)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "truncated",
			 (json_int_t)RF_LOAD(st->drop_truncated), "max_clients",
			 (json_int_t)RF_LOAD(st->drop_max_clients), "no_buffer",
			 (json_int_t)RF_LOAD(st->drop_no_buffer), "send",
			 (json_int_t)RF_LOAD(st->drop_send), "flood",
			 (json_int_t)RF_LOAD(st->drop_flood), "unadmitted",
			 (json_int_t)RF_LOAD(st->drop_unadmitted));
}

/* Who got into the table and who did not (worker/admission.h). */
static json_t *admission(const struct cfg_server *c, const struct rf_slot_stats *st)
{
	return json_pack("{s:s,s:i,s:I,s:I,s:I,s:I,s:I}", "mode",
			 c->admission == RF_ADMISSION_OPEN    ? "open"
			 : c->admission == RF_ADMISSION_TOKEN ? "token"
							      : "cookie",
			 "max_clients_per_ip", (int)c->max_clients_per_ip, "challenges",
			 (json_int_t)RF_LOAD(st->adm_challenges), "admitted",
			 (json_int_t)RF_LOAD(st->adm_admitted), "evictions",
			 (json_int_t)RF_LOAD(st->adm_evictions), "refusals",
			 (json_int_t)RF_LOAD(st->adm_refusals), "replies_dropped",
			 (json_int_t)RF_LOAD(st->drop_replies));
}

/* The game as its worker shows it (supervisor/gameview.h): the module's
 * name, its values and status text while a worker runs; module: the
 * config's game, which says what will be loaded even before it is. */
static json_t *game(const struct server *s, bool alive)
{
	struct gameview v;
	json_t *values = json_object();

	gameview_read(s->slot, &v);
	for (unsigned i = 0; alive && values && i < v.n_values; i++)
		json_object_set_new(values, v.value_name[i], json_integer((json_int_t)v.value[i]));
	return json_pack("{s:s,s:s,s:o,s:s}", "name", v.name, "module", s->cfg.game, "values",
			 values, "status", alive ? v.status : "");
}

/* The session beside the process (supervisor/session.h). */
static json_t *session(const struct server *s, uint64_t now)
{
	json_t *o = sessions_server_json(s), *r = json_object();
	static const char *const keep[] = { "state", "since", "meta", "allocation_id" };

	for (size_t i = 0; o && r && i < sizeof(keep) / sizeof(keep[0]); i++)
		json_object_set(r, keep[i], json_object_get(o, keep[i]));
	json_decref(o);
	if (r) {
		json_object_set_new(r, "age_s", json_real(secs(now - s->sess.since_ns)));
		json_object_set_new(r, "last_end", json_string(s->sess.end_reason));
	}
	return r;
}

/* Servers per session state, and whether the host is draining. */
static json_t *sessions_summary(const struct fleet *f)
{
	size_t n[SESSION_STATE_COUNT] = { 0 };
	json_t *o = json_object();

	for (size_t i = 0; i < f->n; i++)
		n[f->srv[i]->sess.state < SESSION_STATE_COUNT ? f->srv[i]->sess.state : 0]++;
	for (int st = 0; o && st < SESSION_STATE_COUNT; st++)
		json_object_set_new(o, session_state_name((enum session_state)st),
				    json_integer((json_int_t)n[st]));
	if (o) {
		json_object_set_new(o, "draining", json_boolean(f->sess.draining));
		json_object_set_new(o, "allocations",
				    json_integer((json_int_t)f->sess.allocations));
	}
	return o;
}

static json_t *counters(const struct rf_slot_stats *st, uint64_t now, bool alive)
{
	uint64_t last = RF_LOAD(st->last_tick_ns);
	json_int_t age =
		alive && last && now >= last ? (json_int_t)((now - last) / RF_NSEC_PER_MSEC) : -1;

	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b,s:o}", "clients",
			 (json_int_t)RF_LOAD(st->clients), "ticks", (json_int_t)RF_LOAD(st->ticks),
			 "tick_overruns", (json_int_t)RF_LOAD(st->tick_overruns),
			 "last_tick_age_ms", age, "pkts_in", (json_int_t)RF_LOAD(st->pkts_in),
			 "pkts_out", (json_int_t)RF_LOAD(st->pkts_out), "bytes_in",
			 (json_int_t)RF_LOAD(st->bytes_in), "bytes_out",
			 (json_int_t)RF_LOAD(st->bytes_out), "backend",
			 status_backend_name(RF_LOAD(st->backend)), "gso", RF_LOAD(st->gso) != 0,
			 "drops", drops(st));
}

static json_t *status_server(const struct fleet *f, const struct server *s, uint64_t now)
{
	bool alive = s->pid > 0;
	json_t *c,
		*o = json_pack("{s:s,s:s,s:i,s:s,s:i,s:i,s:i,s:f,s:f,s:I,s:f,s:i,s:s}", "name",
			       s->cfg.name, "bind", s->cfg.bind, "port", (int)s->cfg.port, "state",
			       fsm_state_name(s->fsm.state), "pid", alive ? (int)s->pid : 0, "cpu",
			       s->cpu, "restarts", (int)s->fsm.restarts, "uptime_s",
			       s->fsm.state == FSM_RUNNING ? secs(now - s->fsm.ready_ns) : 0.0,
			       "cpu_pct", alive ? s->cpu_pct : 0.0, "rss_kb",
			       (json_int_t)(alive ? s->rss_kb : 0), "cpu_seconds",
			       fleet_server_cpu_seconds(f, s), "tick_hz", (int)s->cfg.tick_hz,
			       "reason", s->fsm.reason);

	if (!o)
		return NULL;
	json_object_set_new(o, "last_exit", json_string(s->last_exit));
	json_object_set_new(o, "labels", kv_to_json(&s->labels));
	json_object_set_new(o, "session", session(s, now));
	json_object_set_new(o, "roll_pending", json_boolean(s->roll.phase != ROLL_NONE));
	json_object_set_new(o, "tick_ms",
			    json_pack("{s:f,s:f,s:f}", "p50", s->tick_p50_ms, "p99", s->tick_p99_ms,
				      "max", s->tick_max_ms));
	json_object_set_new(o, "admission", admission(&s->cfg, &s->slot->stats));
	json_object_set_new(o, "game", game(s, alive));
	json_object_set_new(o, "drop_output",
			    json_integer((json_int_t)RF_LOAD(s->slot->stats.drop_output)));
	json_object_set_new(o, "sessions_ended",
			    json_integer((json_int_t)RF_LOAD(s->slot->stats.sessions_ended)));
	json_object_set_new(o, "idle",
			    json_boolean(alive && s->fsm.state == FSM_RUNNING &&
					 RF_LOAD(s->slot->stats.idle)));
	json_object_set_new(o, "idle_wakeups",
			    json_integer((json_int_t)RF_LOAD(s->slot->stats.idle_wakeups)));
	json_object_set_new(o, "idle_s", json_real(secs(RF_LOAD(s->slot->stats.idle_ns))));
	c = counters(&s->slot->stats, now, alive);
	if (!c || json_object_update(o, c) < 0) {
		json_decref(c);
		json_decref(o);
		return NULL;
	}
	json_decref(c);
	return o;
}

static bool matches(const struct server *s, const char *pattern)
{
	return !pattern || fnmatch(pattern, s->cfg.name, 0) == 0;
}

/* The backend the running workers use: one name, or "mixed". */
static const char *fleet_backend(const struct fleet *f)
{
	uint32_t seen = RF_BACKEND_NONE;

	for (size_t i = 0; i < f->n; i++) {
		uint32_t b;

		if (f->srv[i]->pid <= 0)
			continue;
		b = RF_LOAD(f->srv[i]->slot->stats.backend);
		if (b == RF_BACKEND_NONE)
			continue;
		if (seen != RF_BACKEND_NONE && seen != b)
			return "mixed";
		seen = b;
	}
	return status_backend_name(seen);
}

/* Host totals: how many workers and how much CPU each CPU carries. */
static json_t *per_cpu(const struct fleet *f)
{
	static size_t n[CPU_SETSIZE];
	static double pct[CPU_SETSIZE];
	json_t *a = json_array();

	memset(n, 0, sizeof(n));
	memset(pct, 0, sizeof(pct));
	for (size_t i = 0; i < f->n; i++) {
		const struct server *s = f->srv[i];

		if (s->cpu < 0 || s->cpu >= CPU_SETSIZE)
			continue;
		n[s->cpu]++;
		pct[s->cpu] += s->pid > 0 ? s->cpu_pct : 0;
	}
	for (int cpu = 0; a && cpu < CPU_SETSIZE; cpu++)
		if (n[cpu])
			json_array_append_new(a,
					      json_pack("{s:i,s:I,s:f}", "cpu", cpu, "servers",
							(json_int_t)n[cpu], "cpu_pct", pct[cpu]));
	return a;
}

json_t *status_ref_build(const struct fleet *f, const struct status_info *info, const char *pattern,
			 uint64_t now, size_t *matched);

json_t *status_ref_build(const struct fleet *f, const struct status_info *info, const char *pattern,
			 uint64_t now, size_t *matched)
{
	json_t *servers = json_array(), *body;

	*matched = 0;
	if (!servers)
		return NULL;
	for (size_t i = 0; i < f->n; i++) {
		if (!matches(f->srv[i], pattern))
			continue;
		json_array_append_new(servers, status_server(f, f->srv[i], now));
		(*matched)++;
	}
	body = json_pack("{s:{s:i,s:s,s:i,s:s,s:s,s:I,s:b,s:I,s:I,s:f,s:s,s:s,s:i,s:o,s:o},s:o}",
			 "supervisor", "pid", (int)getpid(), "version", RF_VERSION, "upgrades",
			 (int)info->upgrades, "upgraded_from",
			 info->upgraded_from ? info->upgraded_from : "", "recovered_from",
			 info->recovered_from ? info->recovered_from : "", "adopted_workers",
			 (json_int_t)info->adopted, "realtime", info->realtime, "realtime_cut",
			 (json_int_t)info->realtime_cut, "realtime_throttled",
			 (json_int_t)info->realtime_throttled, "uptime_s",
			 secs(now - info->started_ns), "config", info->config_path, "backend",
			 fleet_backend(f), "servers_total", (int)f->n, "cpus", per_cpu(f),
			 "sessions", sessions_summary(f), "servers", servers);
	return body;
}

/* The "roll" object (supervisor/roll.h), added after the writer took over. */
json_t *status_ref_roll(const struct roll *r, uint64_t now)
{
	char started[80], finished[80];

	session_format_time(r->started_unix_ns, started, sizeof(started));
	session_format_time(r->ended_unix_ns, finished, sizeof(finished));
	return json_pack("{s:s,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:s,s:s,s:f}", "state",
			 r->active ? "rolling" : "idle", "id", (json_int_t)r->id, "pattern",
			 r->pattern, "total", (json_int_t)r->total, "done",
			 (json_int_t)r->n[ROLL_ROLLED], "failed", (json_int_t)r->n[ROLL_FAILED],
			 "skipped", (json_int_t)r->n[ROLL_SKIPPED], "dropped",
			 (json_int_t)r->n[ROLL_DROPPED], "pending",
			 (json_int_t)(r->active ? r->pending : 0), "waiting_for_match",
			 (json_int_t)(r->active ? r->waiting_for_match : 0), "current",
			 r->active && r->current[0] ? json_string(r->current) : json_null(),
			 "started_at", started, "finished_at", finished, "elapsed_s",
			 r->active ? (double)(now - r->started_ns) / (double)RF_NSEC_PER_SEC : 0.0);
}
