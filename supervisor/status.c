// SPDX-License-Identifier: Apache-2.0
/* status.c - see status.h. The reply is written straight into one text
 * (common/jsonw.h) rather than built as a jansson tree and dumped: at 200
 * servers the tree cost ringfleetd ~6 ms of CPU per `status`, during
 * which allocations waited. Key order and number formats are jansson's,
 * so the text is the same byte for byte (tests/unit/test_status.c). */
#include "supervisor/status.h"

#include <fnmatch.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonw.h"
#include "common/slot.h"
#include "common/timeutil.h"
#include "config/cfg_schema.h"
#include "supervisor/gameview.h"
#include "supervisor/roll.h"

/* The last reply's size: the next one starts with that much room. */
static size_t status_hint;

const char *status_backend_name(uint32_t backend)
{
	if (backend == RF_BACKEND_NONE || backend >= RF_BACKEND_COUNT)
		return "none";
	return rf_backend_names[backend];
}

static double secs(uint64_t ns)
{
	return (double)ns / (double)RF_NSEC_PER_SEC;
}

static void u64(struct jsonw *w, const char *key, uint64_t v)
{
	jsonw_int(w, key, (long long)v);
}

static void kv(struct jsonw *w, const char *key, const struct kv_list *l)
{
	jsonw_open_obj(w, key);
	for (unsigned i = 0; i < l->n; i++)
		jsonw_str(w, l->kv[i].key, l->kv[i].value);
	jsonw_close_obj(w);
}

static void drops(struct jsonw *w, const struct rf_slot_stats *st)
{
	jsonw_open_obj(w, "drops");
	u64(w, "truncated", RF_LOAD(st->drop_truncated));
	u64(w, "max_clients", RF_LOAD(st->drop_max_clients));
	u64(w, "no_buffer", RF_LOAD(st->drop_no_buffer));
	u64(w, "send", RF_LOAD(st->drop_send));
	u64(w, "flood", RF_LOAD(st->drop_flood));
	u64(w, "unadmitted", RF_LOAD(st->drop_unadmitted));
	jsonw_close_obj(w);
}

/* Who got into the table and who did not (worker/admission.h). */
static void admission(struct jsonw *w, const struct cfg_server *c, const struct rf_slot_stats *st)
{
	jsonw_open_obj(w, "admission");
	jsonw_str(w, "mode", cfg_admission_name(c->admission));
	jsonw_int(w, "max_clients_per_ip", (int)c->max_clients_per_ip);
	u64(w, "challenges", RF_LOAD(st->adm_challenges));
	u64(w, "admitted", RF_LOAD(st->adm_admitted));
	u64(w, "evictions", RF_LOAD(st->adm_evictions));
	u64(w, "refusals", RF_LOAD(st->adm_refusals));
	u64(w, "replies_dropped", RF_LOAD(st->drop_replies));
	jsonw_close_obj(w);
}

/* The game as its worker shows it (supervisor/gameview.h): the module's
 * name, its values and status text while a worker runs; module: the
 * config's game, which says what will be loaded even before it is. A
 * name given twice keeps its first place and its last value, as a jansson
 * object did. */
static void game(struct jsonw *w, const struct server *s, bool alive)
{
	struct gameview v;

	gameview_read(s->slot, &v);
	jsonw_open_obj(w, "game");
	jsonw_str(w, "name", v.name);
	jsonw_str(w, "module", s->cfg.game);
	jsonw_open_obj(w, "values");
	for (unsigned i = 0; alive && i < v.n_values; i++) {
		unsigned j, last = i;

		for (j = 0; j < i && strcmp(v.value_name[j], v.value_name[i]) != 0; j++)
			;
		if (j < i)
			continue; /* written at its first place */
		for (j = i + 1; j < v.n_values; j++)
			if (strcmp(v.value_name[j], v.value_name[i]) == 0)
				last = j;
		jsonw_int(w, v.value_name[i], (long long)v.value[last]);
	}
	jsonw_close_obj(w);
	jsonw_str(w, "status", alive ? v.status : "");
	jsonw_close_obj(w);
}

/* The session beside the process (supervisor/session.h). */
static void session(struct jsonw *w, const struct server *s, uint64_t now)
{
	char since[80];

	session_format_time(s->sess.since_unix_ns, since, sizeof(since));
	jsonw_open_obj(w, "session");
	jsonw_str(w, "state", session_state_name(s->sess.state));
	jsonw_str(w, "since", since);
	kv(w, "meta", &s->sess.meta);
	u64(w, "allocation_id", s->sess.alloc_id);
	jsonw_real(w, "age_s", secs(now - s->sess.since_ns));
	jsonw_str(w, "last_end", s->sess.end_reason);
	jsonw_close_obj(w);
}

/* Servers per session state, and whether the host is draining. */
static void sessions_summary(struct jsonw *w, const struct fleet *f)
{
	size_t n[SESSION_STATE_COUNT] = { 0 };

	for (size_t i = 0; i < f->n; i++)
		n[f->srv[i]->sess.state < SESSION_STATE_COUNT ? f->srv[i]->sess.state : 0]++;
	jsonw_open_obj(w, "sessions");
	for (int st = 0; st < SESSION_STATE_COUNT; st++)
		u64(w, session_state_name((enum session_state)st), n[st]);
	jsonw_bool(w, "draining", f->sess.draining);
	u64(w, "allocations", f->sess.allocations);
	jsonw_close_obj(w);
}

static void counters(struct jsonw *w, const struct rf_slot_stats *st, uint64_t now, bool alive)
{
	uint64_t last = RF_LOAD(st->last_tick_ns);
	long long age =
		alive && last && now >= last ? (long long)((now - last) / RF_NSEC_PER_MSEC) : -1;

	u64(w, "clients", RF_LOAD(st->clients));
	u64(w, "ticks", RF_LOAD(st->ticks));
	u64(w, "tick_overruns", RF_LOAD(st->tick_overruns));
	jsonw_int(w, "last_tick_age_ms", age);
	u64(w, "pkts_in", RF_LOAD(st->pkts_in));
	u64(w, "pkts_out", RF_LOAD(st->pkts_out));
	u64(w, "bytes_in", RF_LOAD(st->bytes_in));
	u64(w, "bytes_out", RF_LOAD(st->bytes_out));
	jsonw_str(w, "backend", status_backend_name(RF_LOAD(st->backend)));
	jsonw_bool(w, "gso", RF_LOAD(st->gso) != 0);
	drops(w, st);
}

static void status_server(struct jsonw *w, const struct fleet *f, const struct server *s,
			  uint64_t now)
{
	bool alive = s->pid > 0;

	jsonw_open_obj(w, NULL);
	jsonw_str(w, "name", s->cfg.name);
	jsonw_str(w, "bind", s->cfg.bind);
	jsonw_int(w, "port", (int)s->cfg.port);
	jsonw_str(w, "state", fsm_state_name(s->fsm.state));
	jsonw_int(w, "pid", alive ? (int)s->pid : 0);
	jsonw_int(w, "cpu", s->cpu);
	jsonw_int(w, "restarts", (int)s->fsm.restarts);
	jsonw_real(w, "uptime_s", s->fsm.state == FSM_RUNNING ? secs(now - s->fsm.ready_ns) : 0.0);
	jsonw_real(w, "cpu_pct", alive ? s->cpu_pct : 0.0);
	u64(w, "rss_kb", alive ? s->rss_kb : 0);
	jsonw_real(w, "cpu_seconds", fleet_server_cpu_seconds(f, s));
	jsonw_int(w, "tick_hz", (int)s->cfg.tick_hz);
	jsonw_str(w, "reason", s->fsm.reason);
	jsonw_str(w, "last_exit", s->last_exit);
	kv(w, "labels", &s->labels);
	session(w, s, now);
	jsonw_bool(w, "roll_pending", s->roll.phase != ROLL_NONE);
	jsonw_open_obj(w, "tick_ms");
	jsonw_real(w, "p50", s->tick_p50_ms);
	jsonw_real(w, "p99", s->tick_p99_ms);
	jsonw_real(w, "max", s->tick_max_ms);
	jsonw_close_obj(w);
	admission(w, &s->cfg, &s->slot->stats);
	game(w, s, alive);
	u64(w, "drop_output", RF_LOAD(s->slot->stats.drop_output));
	u64(w, "sessions_ended", RF_LOAD(s->slot->stats.sessions_ended));
	/* The worker sleeps on its socket (no client, no match): still
	 * "running" to the supervisor, shown as idle. */
	jsonw_bool(w, "idle", alive && s->fsm.state == FSM_RUNNING && RF_LOAD(s->slot->stats.idle));
	u64(w, "idle_wakeups", RF_LOAD(s->slot->stats.idle_wakeups));
	jsonw_real(w, "idle_s", secs(RF_LOAD(s->slot->stats.idle_ns)));
	counters(w, &s->slot->stats, now, alive);
	jsonw_close_obj(w);
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
static void per_cpu(struct jsonw *w, const struct fleet *f)
{
	static size_t n[CPU_SETSIZE];
	static double pct[CPU_SETSIZE];

	memset(n, 0, sizeof(n));
	memset(pct, 0, sizeof(pct));
	for (size_t i = 0; i < f->n; i++) {
		const struct server *s = f->srv[i];

		if (s->cpu < 0 || s->cpu >= CPU_SETSIZE)
			continue;
		n[s->cpu]++;
		pct[s->cpu] += s->pid > 0 ? s->cpu_pct : 0;
	}
	jsonw_open_arr(w, "cpus");
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!n[cpu])
			continue;
		jsonw_open_obj(w, NULL);
		jsonw_int(w, "cpu", cpu);
		u64(w, "servers", n[cpu]);
		jsonw_real(w, "cpu_pct", pct[cpu]);
		jsonw_close_obj(w);
	}
	jsonw_close_arr(w);
}

void status_job_begin(struct status_job *j, const struct fleet *f, const struct status_info *info,
		      const char *pattern, uint64_t now)
{
	struct jsonw *w = &j->w;

	j->next = j->matched = 0;
	j->table_gen = f->table_gen;
	j->all = !pattern;
	snprintf(j->pattern, sizeof(j->pattern), "%s", pattern ? pattern : "");
	jsonw_init(w, status_hint + 64);
	jsonw_open_obj(w, NULL);
	jsonw_bool(w, "ok", true);
	jsonw_open_obj(w, "supervisor");
	jsonw_int(w, "pid", (int)getpid());
	jsonw_str(w, "version", RF_VERSION);
	jsonw_int(w, "upgrades", info->upgrades);
	jsonw_str(w, "upgraded_from", info->upgraded_from ? info->upgraded_from : "");
	jsonw_str(w, "recovered_from", info->recovered_from ? info->recovered_from : "");
	u64(w, "adopted_workers", info->adopted);
	jsonw_bool(w, "realtime", info->realtime);
	u64(w, "realtime_cut", info->realtime_cut);
	u64(w, "realtime_throttled", info->realtime_throttled);
	jsonw_real(w, "uptime_s", secs(now - info->started_ns));
	jsonw_str(w, "config", info->config_path);
	jsonw_str(w, "backend", fleet_backend(f));
	jsonw_int(w, "servers_total", (int)f->n);
	per_cpu(w, f);
	sessions_summary(w, f);
	jsonw_close_obj(w);
	jsonw_open_arr(w, "servers");
}

bool status_job_step(struct status_job *j, const struct fleet *f, size_t max, uint64_t now)
{
	const char *pattern = j->all ? NULL : j->pattern;

	for (; j->next < f->n && max > 0; j->next++, max--) {
		if (!matches(f->srv[j->next], pattern))
			continue;
		status_server(&j->w, f, f->srv[j->next], now);
		j->matched++;
	}
	return j->next >= f->n;
}

char *status_job_finish(struct status_job *j, const struct fleet *f, const struct status_info *info,
			uint64_t now, size_t *matched)
{
	struct jsonw *w = &j->w;
	size_t len;
	char *line;

	jsonw_close_arr(w);
	jsonw_bool(w, "draining", f->sess.draining);
	u64(w, "event_subscribers", info->event_subscribers);
	roll_write_status(w, &f->roll, now);
	jsonw_close_obj(w);
	jsonw_append(w, "\n", 1);
	*matched = j->matched;
	line = jsonw_finish(w, &len);
	if (line)
		status_hint = len;
	return line;
}

void status_job_free(struct status_job *j)
{
	jsonw_free(&j->w);
}

char *status_reply_at(const struct fleet *f, const struct status_info *info, const char *pattern,
		      uint64_t now, size_t *matched)
{
	struct status_job j;

	status_job_begin(&j, f, info, pattern, now);
	status_job_step(&j, f, SIZE_MAX, now);
	return status_job_finish(&j, f, info, now, matched);
}

char *status_reply(const struct fleet *f, const struct status_info *info, const char *pattern,
		   size_t *matched)
{
	return status_reply_at(f, info, pattern, rf_now_ns(), matched);
}
