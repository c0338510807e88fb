// SPDX-License-Identifier: Apache-2.0
/* session_run.c - the daemon's half of session.h: carries the pure
 * transitions of session.c out on the fleet, writes each server's slot
 * session area (ringfleetd is its only writer) and recycles a server
 * whose match ended. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/slot.h"
#include "common/timeutil.h"
#include "supervisor/daemon.h"
#include "supervisor/session.h"
#include "supervisor/spawn.h"

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * RF_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint32_t slot_state(enum session_state st)
{
	switch (st) {
	case SESSION_READY:
		return RF_SESSION_READY;
	case SESSION_ALLOCATED:
		return RF_SESSION_ALLOCATED;
	default:
		return RF_SESSION_NONE; /* recycling included: no match to join */
	}
}

/* The seqlock of common/slot.h: odd while writing; a reader that sees an
 * odd or changed seq retries. */
static void write_slot(struct server *s)
{
	struct rf_slot_session *a = &s->slot->session;
	uint32_t seq = RF_LOAD(a->seq) & ~1u;

	RF_STORE(a->seq, seq + 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	RF_STORE(a->state, slot_state(s->sess.state));
	RF_STORE(a->alloc_id, s->sess.alloc_id);
	RF_STORE(a->since_unix_ns, s->sess.since_unix_ns);
	if (kv_format_lines(&s->sess.meta, a->meta, sizeof(a->meta)) < 0)
		a->meta[0] = '\0'; /* cannot happen: alloc_req_validate bounds it */
	__atomic_store_n(&a->seq, seq + 2, __ATOMIC_RELEASE);
}

static void list_link(struct sessions *ss, struct server *s)
{
	s->sess.prev = NULL;
	s->sess.next = ss->allocated;
	if (ss->allocated)
		ss->allocated->sess.prev = s;
	ss->allocated = s;
	ss->n_allocated++;
}

static void list_unlink(struct sessions *ss, struct server *s)
{
	if (s->sess.prev)
		s->sess.prev->sess.next = s->sess.next;
	else
		ss->allocated = s->sess.next;
	if (s->sess.next)
		s->sess.next->sess.prev = s->sess.prev;
	s->sess.prev = s->sess.next = NULL;
	ss->n_allocated--;
	if (s->sess.wake) { /* its match is over before its worker heard of it */
		s->sess.wake = false;
		ss->wakes--;
	}
}

/* Every session transition passes here once: the list of allocated
 * servers, the slot and the log follow it. */
static void changed(struct fleet *f, struct server *s, enum session_state from, const char *why)
{
	enum session_state to = s->sess.state;

	f->state_gen++;
	if (from == SESSION_ALLOCATED && to != SESSION_ALLOCATED)
		list_unlink(&f->sess, s);
	else if (from != SESSION_ALLOCATED && to == SESSION_ALLOCATED)
		list_link(&f->sess, s);
	write_slot(s);
	/* An idle worker sleeps on its socket and reads the session area only
	 * when it wakes; an allocated server must tick now (the relay's
	 * session_idle_s clock runs from its allocated callback). SIGURG
	 * only cuts that sleep short (worker/main.c); it is sent after the
	 * replies (sessions_send_wakes). */
	if (to == SESSION_ALLOCATED && !s->sess.wake) {
		s->sess.wake = true;
		f->sess.wakes++;
	}
	/* The one emitter of session events (events.h). */
	events_emit(f->events, EVENT_SESSION, s->cfg.name, session_state_name(from),
		    session_state_name(to), why);
	log_msg(to == SESSION_ALLOCATED || from == SESSION_ALLOCATED ? RF_LOG_NOTICE : RF_LOG_INFO,
		"%s: session %s -> %s: %s", s->cfg.name, session_state_name(from),
		session_state_name(to), why);
}

void sessions_on_process(struct fleet *f, struct server *s)
{
	enum session_state from = s->sess.state;

	if (session_follow(&s->sess, s->fsm.state, s->fsm.ready_ns, f->sess.draining, rf_now_ns(),
			   realtime_ns())) {
		changed(f, s, from, s->fsm.reason);
	} else if (s->fsm.state == FSM_RUNNING) {
		/* A worker that found the slot foreign started it afresh,
		 * session area included: give it the session again. */
		write_slot(s);
	}
	if (s->fsm.state == FSM_RUNNING && s->sess.state == SESSION_ALLOCATED) {
		uint64_t ended = RF_LOAD(s->slot->stats.sessions_ended);

		if (ended < s->sess.ended_base)
			s->sess.ended_base = ended; /* a fresh slot counts from 0 */
	}
}

void sessions_before_spawn(struct server *s)
{
	if (s->sess.fresh_slot) {
		size_t n = (s->slot_len - sizeof(struct rf_slot)) / sizeof(struct rf_slot_client);

		/* No worker runs, so the worker's table is ours to clear: the
		 * next match starts with nobody in it. */
		memset(s->slot->clients, 0, n * sizeof(struct rf_slot_client));
		s->sess.fresh_slot = false;
	}
	write_slot(s);
}

void sessions_adopt(struct fleet *f, struct server *s)
{
	if (s->sess.state == SESSION_ALLOCATED)
		list_link(&f->sess, s);
	write_slot(s);
}

void sessions_send_wakes(struct fleet *f)
{
	/* Newly allocated servers are linked at the head. */
	for (struct server *s = f->sess.allocated; s && f->sess.wakes; s = s->sess.next) {
		if (!s->sess.wake)
			continue;
		s->sess.wake = false;
		f->sess.wakes--;
		if (s->pidfd >= 0)
			spawn_signal(s->pidfd, SIGURG);
	}
}

void sessions_forget(struct fleet *f, struct server *s)
{
	if (s->sess.state == SESSION_ALLOCATED)
		list_unlink(&f->sess, s);
	s->sess.state = SESSION_NONE;
}

/* Ends s's match and recycles it: straight back to ready if the game
 * resets itself, else a fresh worker (the ordinary, lossless restart;
 * the new worker gets an empty client table). While draining, the server
 * stops instead: nothing new will be allocated on it. */
static void end_match(struct fleet *f, struct server *s, const char *why)
{
	bool self_reset = (RF_LOAD(s->slot->game.flags) & RF_GAME_SELF_RESET) != 0;
	enum session_state from = s->sess.state;
	char reason[64];

	snprintf(reason, sizeof(reason), "match ended (%s)", why);
	session_end(&s->sess, self_reset, why, rf_now_ns(), realtime_ns());
	changed(f, s, from, reason);
	if (self_reset) {
		sessions_on_process(f, s); /* ready only if the worker still runs */
		return;
	}
	/* A worker being stopped (a stop, shutdown, or a restart already
	 * under way) is left to it: a game that ends its match while it says
	 * goodbye must not turn a stop into a restart. One in backoff starts
	 * when its delay is over, with the fresh table all the same. */
	if (f->sess.draining)
		fleet_request(f, s, FSM_EV_STOP);
	else if (s->fsm.state == FSM_RUNNING || s->fsm.state == FSM_STARTING)
		fleet_request(f, s, FSM_EV_RESTART);
}

void sessions_poll(struct fleet *f)
{
	struct server *s = f->sess.allocated, *next;

	for (; s; s = next) {
		uint64_t ended = RF_LOAD(s->slot->stats.sessions_ended);

		next = s->sess.next;
		if (ended < s->sess.ended_base)
			s->sess.ended_base = ended; /* a fresh slot counts from 0 */
		else if (session_game_ended(&s->sess, ended))
			end_match(f, s, "game");
	}
}

int sessions_allocate(struct daemon *d, const struct alloc_req *req, struct server **out, char *err,
		      size_t errlen)
{
	struct sessions *ss = &d->fleet.sess;
	struct server *s;
	enum session_state from;
	char why[64];
	int rc;

	*out = NULL;
	rc = alloc_req_validate(req, err, errlen);
	if (rc < 0) {
		ss->failures[ALLOC_FAIL_INVALID]++;
		return rc;
	}
	if (ss->draining) {
		ss->failures[ALLOC_FAIL_DRAINING]++;
		snprintf(err, errlen, "host is draining");
		return -EAGAIN;
	}
	/* Pick and mark in one call: nothing else runs in between. */
	s = session_pick(d->fleet.srv, d->fleet.n, &req->selectors, req->policy);
	if (!s) {
		ss->failures[ALLOC_FAIL_NO_MATCH]++;
		snprintf(err, errlen, "no ready server matches");
		return -ENOENT;
	}
	from = s->sess.state;
	session_mark_allocated(&s->sess, ++ss->last_id, &req->meta,
			       RF_LOAD(s->slot->stats.sessions_ended), rf_now_ns(), realtime_ns());
	snprintf(why, sizeof(why), "allocation %llu (%s)", (unsigned long long)s->sess.alloc_id,
		 alloc_policy_name(req->policy));
	changed(&d->fleet, s, from, why);
	ss->allocations++;
	*out = s;
	return 0;
}

int sessions_release(struct daemon *d, struct server *s, const char *why)
{
	if (s->sess.state != SESSION_ALLOCATED)
		return -EINVAL;
	end_match(&d->fleet, s, why);
	return 0;
}

void sessions_set_draining(struct daemon *d, bool draining)
{
	struct fleet *f = &d->fleet;

	if (f->sess.draining == draining)
		return;
	f->sess.draining = draining;
	for (size_t i = 0; i < f->n; i++)
		sessions_on_process(f, f->srv[i]);
}

/* RFC 3339 UTC with milliseconds. */
void session_format_time(uint64_t unix_ns, char *buf, size_t len)
{
	time_t t = (time_t)(unix_ns / RF_NSEC_PER_SEC);
	struct tm tm;

	if (!unix_ns || !gmtime_r(&t, &tm)) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(unix_ns % RF_NSEC_PER_SEC / 1000000u));
}

json_t *sessions_server_json(const struct server *s)
{
	char since[80];

	session_format_time(s->sess.since_unix_ns, since, sizeof(since));
	return json_pack("{s:s,s:s,s:i,s:o?,s:o?,s:s,s:s,s:I}", "name", s->cfg.name, "address",
			 s->cfg.bind, "port", (int)s->cfg.port, "labels", kv_to_json(&s->labels),
			 "meta", kv_to_json(&s->sess.meta), "state",
			 session_state_name(s->sess.state), "since", since, "allocation_id",
			 (json_int_t)s->sess.alloc_id);
}
