// SPDX-License-Identifier: Apache-2.0
/* session.c - the pure half of session.h: states, transitions and the
 * choice of a server. No syscalls: times come from the caller. */
#include "supervisor/session.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "supervisor/server.h"

static const char *const state_names[SESSION_STATE_COUNT] = {
	[SESSION_NONE] = "none",
	[SESSION_READY] = "ready",
	[SESSION_ALLOCATED] = "allocated",
	[SESSION_RECYCLING] = "recycling",
};

static const char *const failure_names[ALLOC_FAIL_COUNT] = {
	[ALLOC_FAIL_NO_MATCH] = "no_match",
	[ALLOC_FAIL_DRAINING] = "draining",
	[ALLOC_FAIL_INVALID] = "invalid",
};

const char *session_state_name(enum session_state st)
{
	return (unsigned)st < SESSION_STATE_COUNT ? state_names[st] : "?";
}

const char *alloc_failure_name(enum alloc_failure f)
{
	return (unsigned)f < ALLOC_FAIL_COUNT ? failure_names[f] : "?";
}

static void enter(struct session *s, enum session_state st, uint64_t now, uint64_t now_unix)
{
	s->state = st;
	s->since_ns = now;
	s->since_unix_ns = now_unix;
	if (st != SESSION_ALLOCATED) {
		s->alloc_id = 0;
		s->meta.n = 0; /* the rest is dead: only n pairs are read */
	}
}

bool session_follow(struct session *s, enum fsm_state ps, uint64_t ready_ns, bool draining,
		    uint64_t now, uint64_t now_unix)
{
	bool stopped = ps == FSM_STOPPED || ps == FSM_FATAL;
	enum session_state to;

	switch (s->state) {
	case SESSION_ALLOCATED:
		/* A crash or an operator restart keeps the match: the next
		 * worker resumes its clients from the slot. */
		to = stopped ? SESSION_NONE : SESSION_ALLOCATED;
		break;
	case SESSION_RECYCLING:
		if (stopped)
			to = SESSION_NONE;
		else if (ps == FSM_RUNNING && ready_ns > s->recycle_ns)
			to = draining ? SESSION_NONE : SESSION_READY;
		else
			to = SESSION_RECYCLING;
		break;
	default:
		to = ps == FSM_RUNNING && !draining ? SESSION_READY : SESSION_NONE;
		break;
	}
	if (to == s->state)
		return false;
	/* A match that ends with its server stopped is over: whoever starts
	 * the server again starts with an empty table. */
	if (s->state == SESSION_ALLOCATED)
		s->fresh_slot = true;
	enter(s, to, now, now_unix);
	return true;
}

void session_mark_allocated(struct session *s, uint64_t id, const struct kv_list *meta,
			    uint64_t ended_now, uint64_t now, uint64_t now_unix)
{
	enter(s, SESSION_ALLOCATED, now, now_unix);
	s->alloc_id = id;
	s->meta = *meta;
	s->ended_base = ended_now;
	s->end_reason[0] = '\0';
}

bool session_game_ended(const struct session *s, uint64_t ended_now)
{
	return s->state == SESSION_ALLOCATED && ended_now != s->ended_base;
}

void session_end(struct session *s, bool self_reset, const char *why, uint64_t now,
		 uint64_t now_unix)
{
	snprintf(s->end_reason, sizeof(s->end_reason), "%s", why);
	if (self_reset) {
		enter(s, SESSION_READY, now, now_unix);
		return;
	}
	enter(s, SESSION_RECYCLING, now, now_unix);
	s->recycle_ns = now;
	s->fresh_slot = true;
}

/* Servers not placed yet (cpu -1) share one bucket after every CPU. */
static size_t cpu_bucket(int cpu)
{
	return cpu >= 0 && cpu < CPU_SETSIZE ? (size_t)cpu : CPU_SETSIZE;
}

/* Is a better than b (both candidates, a later in table order)? */
static bool better(enum alloc_policy policy, const uint32_t *alloc, const uint32_t *running,
		   size_t a, size_t b)
{
	if (policy == ALLOC_PACKED) {
		if (alloc[a] != alloc[b])
			return alloc[a] > alloc[b];
		return a < b;
	}
	if (alloc[a] != alloc[b])
		return alloc[a] < alloc[b];
	if (running[a] != running[b])
		return running[a] < running[b];
	return a < b;
}

struct server *session_pick(struct server *const *srv, size_t n, const struct kv_list *selectors,
			    enum alloc_policy policy)
{
	static uint32_t alloc[CPU_SETSIZE + 1], running[CPU_SETSIZE + 1];
	struct server *best = NULL;
	size_t best_cpu = 0;

	/* Counts per CPU first: the loop is single-threaded, so static
	 * arrays spare the stack 8 KiB. */
	memset(alloc, 0, sizeof(alloc));
	memset(running, 0, sizeof(running));
	for (size_t i = 0; i < n; i++) {
		size_t c = cpu_bucket(srv[i]->cpu);

		if (srv[i]->sess.state == SESSION_ALLOCATED)
			alloc[c]++;
		if (srv[i]->fsm.state == FSM_RUNNING)
			running[c]++;
	}
	for (size_t i = 0; i < n; i++) {
		struct server *s = srv[i];
		size_t c = cpu_bucket(s->cpu);

		if (s->sess.state != SESSION_READY || !kv_match(&s->labels, selectors))
			continue;
		if (!best || (c != best_cpu && better(policy, alloc, running, c, best_cpu))) {
			best = s;
			best_cpu = c;
		}
	}
	return best;
}
