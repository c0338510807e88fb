// SPDX-License-Identifier: Apache-2.0
/* state.c - see state.h. Written with the streaming writer (the state file
 * is rewritten whenever the fleet changes, a thousand servers at a time),
 * read with jansson (once per ringfleetd life). */
#include "supervisor/state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/jsonw.h"
#include "config/cfg_schema.h"
#include "supervisor/daemon.h"

/* ---- writing ---- */

static void put_config(struct jsonw *w, const struct cfg_server *c)
{
	char val[CFG_GAME_ARGS_MAX + CFG_GAME_MAX];

	jsonw_open_obj(w, "config");
	for (int f = 0; f < cfg_srv_nkeys; f++) {
		const struct cfg_key *k = &cfg_srv_keys[f];

		if (!(k->in & (1u << SK_SERVER)) || (f == F_CPU && c->cpu < 0))
			continue;
		if (k->fmt(k, c, val, sizeof(val)) == 0)
			jsonw_str(w, k->name, val);
	}
	jsonw_close_obj(w);
}

static void put_fsm(struct jsonw *w, const struct fsm *m)
{
	jsonw_open_obj(w, "fsm");
	jsonw_str(w, "state", fsm_state_name(m->state));
	jsonw_int(w, "deadline_ns", (long long)m->deadline_ns);
	jsonw_int(w, "since_ns", (long long)m->since_ns);
	jsonw_int(w, "ready_ns", (long long)m->ready_ns);
	jsonw_int(w, "consecutive", m->consecutive);
	jsonw_int(w, "n_crashes", m->n_crashes);
	jsonw_int(w, "crash_head", m->crash_head);
	jsonw_open_arr(w, "crashes");
	for (uint32_t i = 0; i < m->n_crashes && i < FSM_CRASH_HISTORY; i++)
		jsonw_int(w, NULL,
			  (long long)m->crashes[(m->crash_head + FSM_CRASH_HISTORY - 1 - i) %
						FSM_CRASH_HISTORY]);
	jsonw_close_arr(w);
	jsonw_int(w, "restarts", m->restarts);
	jsonw_int(w, "spawn_failures", m->spawn_failures);
	jsonw_bool(w, "spawned_once", m->spawned_once);
	jsonw_bool(w, "restart_pending", m->restart_pending);
	jsonw_bool(w, "hung", m->hung);
	jsonw_str(w, "reason", m->reason);
	jsonw_close_obj(w);
}

static void put_session(struct jsonw *w, const struct session *ss)
{
	jsonw_open_obj(w, "session");
	jsonw_str(w, "state", session_state_name(ss->state));
	jsonw_int(w, "since_ns", (long long)ss->since_ns);
	jsonw_int(w, "since_unix_ns", (long long)ss->since_unix_ns);
	jsonw_int(w, "alloc_id", (long long)ss->alloc_id);
	jsonw_int(w, "ended_base", (long long)ss->ended_base);
	jsonw_int(w, "recycle_ns", (long long)ss->recycle_ns);
	jsonw_bool(w, "fresh_slot", ss->fresh_slot);
	jsonw_str(w, "end_reason", ss->end_reason);
	jsonw_open_obj(w, "meta");
	for (unsigned i = 0; i < ss->meta.n; i++)
		jsonw_str(w, ss->meta.kv[i].key, ss->meta.kv[i].value);
	jsonw_close_obj(w);
	jsonw_close_obj(w);
}

static void put_server(struct jsonw *w, const struct server *s)
{
	jsonw_open_obj(w, NULL);
	jsonw_str(w, "name", s->cfg.name);
	jsonw_str(w, "pool", s->cfg.pool);
	put_config(w, &s->cfg);
	jsonw_int(w, "pid", s->pid);
	jsonw_int(w, "start_time", (long long)s->start_time);
	jsonw_open_arr(w, "fds");
	jsonw_int(w, NULL, s->udp_fd);
	jsonw_int(w, NULL, s->slot_fd);
	jsonw_int(w, NULL, s->pidfd);
	jsonw_int(w, NULL, s->ready_fd);
	jsonw_close_arr(w);
	jsonw_open_arr(w, "worker_fds");
	jsonw_int(w, NULL, s->worker_udp_fd);
	jsonw_int(w, NULL, s->worker_slot_fd);
	jsonw_close_arr(w);
	jsonw_int(w, "cpu", s->cpu);
	jsonw_int(w, "phase_ns", (long long)s->phase_ns);
	jsonw_bool(w, "drained", s->drained);
	jsonw_bool(w, "queued", s->spawn_queued);
	jsonw_bool(w, "inflight", s->spawn_inflight);
	jsonw_str(w, "last_exit", s->last_exit);
	/* Earlier workers only: a live worker's own CPU time is read from
	 * /proc again by whoever takes it over. */
	jsonw_int(w, "cpu_ticks_total", (long long)s->cpu_ticks_total);
	put_fsm(w, &s->fsm);
	put_session(w, &s->sess);
	jsonw_open_obj(w, "roll");
	jsonw_int(w, "phase", s->roll.phase);
	jsonw_int(w, "since_ns", (long long)s->roll.since_ns);
	jsonw_int(w, "old_pid", s->roll.old_pid);
	jsonw_close_obj(w);
	jsonw_close_obj(w);
}

static void put_roll(struct jsonw *w, const struct roll *r)
{
	jsonw_open_obj(w, "roll");
	jsonw_bool(w, "active", r->active);
	jsonw_int(w, "id", (long long)r->id);
	jsonw_int(w, "started_ns", (long long)r->started_ns);
	jsonw_int(w, "started_unix_ns", (long long)r->started_unix_ns);
	jsonw_int(w, "ended_unix_ns", (long long)r->ended_unix_ns);
	jsonw_int(w, "total", (long long)r->total);
	jsonw_open_arr(w, "results");
	for (int i = 0; i < ROLL_RESULT_COUNT; i++)
		jsonw_int(w, NULL, (long long)r->n[i]);
	jsonw_close_arr(w);
	jsonw_int(w, "pending", (long long)r->pending);
	jsonw_int(w, "waiting_for_match", (long long)r->waiting_for_match);
	jsonw_str(w, "current", r->current);
	jsonw_str(w, "pattern", r->pattern);
	jsonw_close_obj(w);
}

char *state_format(const struct daemon *d, int reply_fd, size_t *len)
{
	const struct fleet *f = &d->fleet;
	struct jsonw w;

	jsonw_init(&w, 512 * (f->n + 1));
	jsonw_open_obj(&w, NULL);
	jsonw_int(&w, "format", STATE_FORMAT);
	jsonw_str(&w, "version", RF_VERSION);
	jsonw_int(&w, "pid", getpid());
	jsonw_int(&w, "started_ns", (long long)d->started_ns);
	jsonw_int(&w, "upgrades", d->upgrades);
	jsonw_int(&w, "control_fd", d->ctl.listen_fd);
	jsonw_int(&w, "reply_fd", reply_fd);
	jsonw_open_obj(&w, "sessions");
	jsonw_bool(&w, "draining", f->sess.draining);
	jsonw_int(&w, "last_id", (long long)f->sess.last_id);
	jsonw_int(&w, "allocations", (long long)f->sess.allocations);
	jsonw_open_arr(&w, "failures");
	for (int i = 0; i < ALLOC_FAIL_COUNT; i++)
		jsonw_int(&w, NULL, (long long)f->sess.failures[i]);
	jsonw_close_arr(&w);
	jsonw_close_obj(&w);
	put_roll(&w, &f->roll);
	jsonw_open_arr(&w, "servers");
	for (size_t i = 0; i < f->n; i++)
		put_server(&w, f->srv[i]);
	jsonw_close_arr(&w);
	jsonw_close_obj(&w);
	jsonw_append(&w, "\n", 1);
	return jsonw_finish(&w, len);
}

/* ---- reading ---- */

struct rd {
	char *err;
	size_t errlen;
	int bad; /* -EINVAL once something was wrong */
};

static void fail(struct rd *r, const char *fmt, const char *what)
{
	if (!r->bad)
		snprintf(r->err, r->errlen, fmt, what);
	r->bad = -EINVAL;
}

static uint64_t get_u64(struct rd *r, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		fail(r, "state: \"%s\" missing or not a number >= 0", key);
		return 0;
	}
	return (uint64_t)json_integer_value(v);
}

static long long get_int(struct rd *r, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v)) {
		fail(r, "state: \"%s\" missing or not an integer", key);
		return 0;
	}
	return json_integer_value(v);
}

static bool get_bool(struct rd *r, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		fail(r, "state: \"%s\" missing or not true/false", key);
	return json_is_true(v);
}

static void get_str(struct rd *r, const json_t *o, const char *key, char *out, size_t len)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= len) {
		fail(r, "state: \"%s\" missing, not a string or too long", key);
		out[0] = '\0';
		return;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
}

static void get_fds(struct rd *r, const json_t *o, const char *key, int *out, size_t n)
{
	const json_t *a = json_object_get(o, key);

	if (!json_is_array(a) || json_array_size(a) != n) {
		fail(r, "state: \"%s\" is not a list of fds", key);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(a, i);

		if (!json_is_integer(v) || json_integer_value(v) < -1 ||
		    json_integer_value(v) > INT_MAX)
			fail(r, "state: \"%s\" holds a bad fd", key);
		else
			out[i] = (int)json_integer_value(v);
	}
}

static void get_config(struct rd *r, const json_t *o, struct cfg_server *c)
{
	const json_t *cfg = json_object_get(o, "config"), *v;
	uint16_t port_hi = 0;
	struct cfg_key_ctx ctx = { .ncpus = CPU_SETSIZE, .port_hi = &port_hi };
	const char *key;
	char why[CFG_WHY_MAX];

	cfg_server_init(c);
	get_str(r, o, "name", c->name, sizeof(c->name));
	get_str(r, o, "pool", c->pool, sizeof(c->pool));
	if (!json_is_object(cfg)) {
		fail(r, "state: server %s has no config", c->name);
		return;
	}
	json_object_foreach((json_t *)cfg, key, v)
	{
		const struct cfg_key *k = cfg_key_find(key);

		if (!k || !json_is_string(v)) {
			fail(r, "state: config key \"%s\" unknown to this ringfleetd", key);
			return;
		}
		if (k->set(k, c, json_string_value(v), &ctx, why, sizeof(why)) < 0) {
			fail(r, "state: config key \"%s\" refused", key);
			return;
		}
	}
}

static enum fsm_state fsm_state_from(struct rd *r, const char *name)
{
	for (int s = FSM_STOPPED; s <= FSM_FATAL; s++)
		if (strcmp(fsm_state_name((enum fsm_state)s), name) == 0)
			return (enum fsm_state)s;
	fail(r, "state: unknown process state \"%s\"", name);
	return FSM_STOPPED;
}

static void get_fsm(struct rd *r, const json_t *o, struct fsm *m)
{
	const json_t *crashes = json_object_get(o, "crashes");
	char state[32];

	fsm_init(m);
	get_str(r, o, "state", state, sizeof(state));
	m->state = fsm_state_from(r, state);
	m->deadline_ns = get_u64(r, o, "deadline_ns");
	m->since_ns = get_u64(r, o, "since_ns");
	m->ready_ns = get_u64(r, o, "ready_ns");
	m->consecutive = (uint32_t)get_u64(r, o, "consecutive");
	m->restarts = (uint32_t)get_u64(r, o, "restarts");
	m->spawn_failures = (uint32_t)get_u64(r, o, "spawn_failures");
	m->spawned_once = get_bool(r, o, "spawned_once");
	m->restart_pending = get_bool(r, o, "restart_pending");
	m->hung = get_bool(r, o, "hung");
	get_str(r, o, "reason", m->reason, sizeof(m->reason));
	if (!json_is_array(crashes) || json_array_size(crashes) > FSM_CRASH_HISTORY) {
		fail(r, "state: %s", "\"crashes\" is not a list of at most 64 times");
		return;
	}
	/* Newest first in the text; replayed oldest first into the ring. */
	for (size_t i = json_array_size(crashes); i-- > 0;) {
		const json_t *t = json_array_get(crashes, i);

		m->crashes[m->crash_head] =
			json_is_integer(t) ? (uint64_t)json_integer_value(t) : 0;
		m->crash_head = (m->crash_head + 1) % FSM_CRASH_HISTORY;
		m->n_crashes++;
	}
}

static enum session_state session_state_from(struct rd *r, const char *name)
{
	for (int s = 0; s < SESSION_STATE_COUNT; s++)
		if (strcmp(session_state_name((enum session_state)s), name) == 0)
			return (enum session_state)s;
	fail(r, "state: unknown session state \"%s\"", name);
	return SESSION_NONE;
}

static void get_session(struct rd *r, const json_t *o, struct session *ss)
{
	char state[32], kverr[128];

	memset(ss, 0, sizeof(*ss));
	get_str(r, o, "state", state, sizeof(state));
	ss->state = session_state_from(r, state);
	ss->since_ns = get_u64(r, o, "since_ns");
	ss->since_unix_ns = get_u64(r, o, "since_unix_ns");
	ss->alloc_id = get_u64(r, o, "alloc_id");
	ss->ended_base = get_u64(r, o, "ended_base");
	ss->recycle_ns = get_u64(r, o, "recycle_ns");
	ss->fresh_slot = get_bool(r, o, "fresh_slot");
	get_str(r, o, "end_reason", ss->end_reason, sizeof(ss->end_reason));
	if (kv_from_json(&ss->meta, json_object_get(o, "meta"), "meta", kverr, sizeof(kverr)) < 0)
		fail(r, "state: %s", kverr);
}

static void get_roll_mark(struct rd *r, const json_t *o, struct roll_mark *m)
{
	long long phase;

	memset(m, 0, sizeof(*m));
	if (!json_is_object(o)) {
		fail(r, "state: %s", "a server has no \"roll\"");
		return;
	}
	phase = get_int(r, o, "phase");
	if (phase < ROLL_NONE || phase > ROLL_RESTARTING)
		fail(r, "state: %s", "a server's roll phase is out of range");
	m->phase = (enum roll_phase)phase;
	m->since_ns = get_u64(r, o, "since_ns");
	m->old_pid = (pid_t)get_int(r, o, "old_pid");
}

static void get_roll(struct rd *r, const json_t *o, struct roll *rl)
{
	const json_t *res = json_object_get(o, "results");

	memset(rl, 0, sizeof(*rl));
	if (!json_is_object(o) || !json_is_array(res) || json_array_size(res) > ROLL_RESULT_COUNT) {
		fail(r, "state: %s", "\"roll\" is missing or malformed");
		return;
	}
	rl->active = get_bool(r, o, "active");
	rl->id = get_u64(r, o, "id");
	rl->started_ns = get_u64(r, o, "started_ns");
	rl->started_unix_ns = get_u64(r, o, "started_unix_ns");
	rl->ended_unix_ns = get_u64(r, o, "ended_unix_ns");
	rl->total = (size_t)get_u64(r, o, "total");
	for (size_t i = 0; i < json_array_size(res); i++)
		rl->n[i] = (size_t)json_integer_value(json_array_get(res, i));
	rl->pending = (size_t)get_u64(r, o, "pending");
	rl->waiting_for_match = (size_t)get_u64(r, o, "waiting_for_match");
	get_str(r, o, "current", rl->current, sizeof(rl->current));
	get_str(r, o, "pattern", rl->pattern, sizeof(rl->pattern));
}

static void get_server(struct rd *r, const json_t *o, struct state_server *s)
{
	int fds[4] = { -1, -1, -1, -1 }, wfds[2] = { -1, -1 };
	const json_t *fsm = json_object_get(o, "fsm"), *sess = json_object_get(o, "session");

	if (!json_is_object(o) || !json_is_object(fsm) || !json_is_object(sess)) {
		fail(r, "state: %s", "a server record is not an object with fsm and session");
		return;
	}
	get_config(r, o, &s->cfg);
	s->pid = (pid_t)get_int(r, o, "pid");
	s->start_time = get_u64(r, o, "start_time");
	get_fds(r, o, "fds", fds, 4);
	get_fds(r, o, "worker_fds", wfds, 2);
	s->udp_fd = fds[0];
	s->slot_fd = fds[1];
	s->pidfd = fds[2];
	s->ready_fd = fds[3];
	s->worker_udp_fd = wfds[0];
	s->worker_slot_fd = wfds[1];
	s->cpu = (int)get_int(r, o, "cpu");
	s->phase_ns = get_u64(r, o, "phase_ns");
	s->drained = get_bool(r, o, "drained");
	s->queued = get_bool(r, o, "queued");
	s->inflight = get_bool(r, o, "inflight");
	get_str(r, o, "last_exit", s->last_exit, sizeof(s->last_exit));
	s->cpu_ticks_total = get_u64(r, o, "cpu_ticks_total");
	get_fsm(r, fsm, &s->fsm);
	get_session(r, sess, &s->sess);
	get_roll_mark(r, json_object_get(o, "roll"), &s->roll);
	if (s->pid < 0)
		fail(r, "state: server %s has a negative pid", s->cfg.name);
}

static void get_sessions(struct rd *r, const json_t *o, struct state *st)
{
	const json_t *fails = json_object_get(o, "failures");

	if (!json_is_object(o) || !json_is_array(fails) ||
	    json_array_size(fails) > ALLOC_FAIL_COUNT) {
		fail(r, "state: %s", "\"sessions\" is missing or malformed");
		return;
	}
	st->draining = get_bool(r, o, "draining");
	st->last_id = get_u64(r, o, "last_id");
	st->allocations = get_u64(r, o, "allocations");
	for (size_t i = 0; i < json_array_size(fails); i++) {
		const json_t *v = json_array_get(fails, i);

		st->failures[i] = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
	}
}

static void get_top(struct rd *r, const json_t *root, struct state *st)
{
	const json_t *servers = json_object_get(root, "servers");

	get_str(r, root, "version", st->version, sizeof(st->version));
	st->pid = (pid_t)get_int(r, root, "pid");
	st->started_ns = get_u64(r, root, "started_ns");
	st->upgrades = (uint32_t)get_u64(r, root, "upgrades");
	st->control_fd = (int)get_int(r, root, "control_fd");
	st->reply_fd = (int)get_int(r, root, "reply_fd");
	get_sessions(r, json_object_get(root, "sessions"), st);
	get_roll(r, json_object_get(root, "roll"), &st->roll);
	if (!json_is_array(servers) || json_array_size(servers) > CFG_MAX_SERVERS) {
		fail(r, "state: %s", "\"servers\" is not a list of at most max servers");
		return;
	}
	st->srv = calloc(json_array_size(servers) + 1, sizeof(*st->srv));
	if (!st->srv) {
		fail(r, "state: %s", "out of memory");
		return;
	}
	for (size_t i = 0; i < json_array_size(servers) && !r->bad; i++)
		get_server(r, json_array_get(servers, i), &st->srv[st->n++]);
}

int state_parse(const char *text, size_t len, struct state *st, char *err, size_t errlen)
{
	struct rd r = { .err = err, .errlen = errlen };
	json_error_t je;
	json_t *root, *fmt;

	memset(st, 0, sizeof(*st));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "state: not JSON: %s (line %d)", je.text, je.line);
		return -EINVAL;
	}
	fmt = json_object_get(root, "format");
	if (!json_is_integer(fmt)) {
		snprintf(err, errlen, "state: no format number");
		json_decref(root);
		return -EINVAL;
	}
	st->format = (int)json_integer_value(fmt);
	if (st->format != STATE_FORMAT) {
		snprintf(err, errlen,
			 "state format %d is not one this ringfleetd (%s) reads (format %d)",
			 st->format, RF_VERSION, STATE_FORMAT);
		json_decref(root);
		return -EPROTO;
	}
	get_top(&r, root, st);
	json_decref(root);
	if (r.bad)
		state_free(st);
	return r.bad;
}

void state_free(struct state *st)
{
	free(st->srv);
	st->srv = NULL;
	st->n = 0;
}

/* ---- files ---- */

int state_file_path(const char *control_socket, char *buf, size_t len)
{
	char dir[PATH_MAX];

	if (strlen(control_socket) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, control_socket);
	if ((size_t)snprintf(buf, len, "%s/%s", dirname(dir), STATE_FILE_NAME) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int state_file_save(const char *path, const char *text, size_t len)
{
	char tmp[PATH_MAX];
	_cleanup_close_ int fd = -1;
	size_t off = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			unlink(tmp);
			return -e;
		}
		off += (size_t)n;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

int state_fd_load(int fd, char **text, size_t *len)
{
	struct stat st;
	char *buf;
	size_t off = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((size_t)st.st_size > STATE_TEXT_MAX)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* shorter than it said: parse what is there */
		off += (size_t)n;
	}
	buf[off] = '\0';
	*text = buf;
	*len = off;
	return 0;
}

int state_file_load(const char *path, char **text, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	return state_fd_load(fd, text, len);
}
