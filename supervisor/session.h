// SPDX-License-Identifier: Apache-2.0
/* session.h - the session beside each server's process (issue 13): is the
 * server free for a match (ready), running one (allocated), or neither
 * (none: not running, draining; recycling: its match ended and a fresh
 * worker is on the way). The process state drives it: a worker that is
 * running and ready makes the session ready; a worker that crashes while
 * allocated leaves it allocated (the match goes on in the restarted
 * worker, whose slot keeps the clients). sessions_allocate() picks and
 * marks a server in one handler call: the single-threaded loop makes an
 * allocation exactly-once.
 *
 * The transitions and the choice are pure (session_* below, unit-tested);
 * the sessions_* functions carry them out on the daemon's fleet and write
 * the slot's session area (common/slot.h), of which ringfleetd is the only
 * writer.
 */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/kv.h"
#include "supervisor/alloc_req.h"
#include "supervisor/fsm.h"

struct daemon;
struct fleet;
struct server;

enum session_state {
	SESSION_NONE = 0,  /* no running worker, or draining */
	SESSION_READY,     /* waiting for a match */
	SESSION_ALLOCATED, /* a match is on it */
	SESSION_RECYCLING, /* the match ended; waiting for a fresh worker */
	SESSION_STATE_COUNT,
};

/* Why an allocation failed, for ringfleet_allocation_failures_total. */
enum alloc_failure {
	ALLOC_FAIL_NO_MATCH = 0, /* -ENOENT */
	ALLOC_FAIL_DRAINING,     /* -EAGAIN */
	ALLOC_FAIL_INVALID,      /* -EINVAL */
	ALLOC_FAIL_COUNT,
};

/* One server's session, in struct server. */
struct session {
	enum session_state state;
	uint64_t since_ns;          /* CLOCK_MONOTONIC: for logic */
	uint64_t since_unix_ns;     /* CLOCK_REALTIME: for display */
	uint64_t alloc_id;          /* current allocation, 0 = none */
	uint64_t ended_base;        /* slot stats.sessions_ended when allocated */
	uint64_t recycle_ns;        /* recycling: ready once a worker is ready after this */
	bool fresh_slot;            /* clear the client table before the next spawn */
	bool wake;                  /* allocated: SIGURG not sent yet (sessions_send_wakes) */
	char end_reason[32];        /* how the last match ended: game, release, ... */
	struct kv_list meta;        /* the allocation's metadata */
	struct server *prev, *next; /* in the list of allocated servers */
};

/* The fleet-wide part, in struct fleet. */
struct sessions {
	bool draining;        /* allocate refuses with -EAGAIN */
	uint64_t last_id;     /* allocation ids count up from 1 per daemon life */
	uint64_t allocations; /* successful allocations */
	uint64_t failures[ALLOC_FAIL_COUNT];
	struct server *allocated; /* list head: servers with a match on them */
	size_t n_allocated;
	size_t wakes; /* allocated servers whose worker is still to be woken */
};

const char *session_state_name(enum session_state st);
const char *alloc_failure_name(enum alloc_failure f);

/* ---- Pure logic ---- */

/* The session state the process implies: ready when the worker runs and
 * has reported ready (and the fleet is not draining), none otherwise;
 * allocated stays allocated while the worker is being restarted (crash,
 * operator restart) and ends only when the server stops (stopped, fatal);
 * recycling waits for a worker that became ready after recycle_ns.
 * ready_ns is the fsm's last READY. Changes *s (and its since) when the
 * state differs; returns true then. */
bool session_follow(struct session *s, enum fsm_state ps, uint64_t ready_ns, bool draining,
		    uint64_t now, uint64_t now_unix);
/* Marks s allocated with id and meta; ended_now is the slot's
 * stats.sessions_ended at this moment. */
void session_mark_allocated(struct session *s, uint64_t id, const struct kv_list *meta,
			    uint64_t ended_now, uint64_t now, uint64_t now_unix);
/* True when the game ended the allocated match (its counter grew). */
bool session_game_ended(const struct session *s, uint64_t ended_now);
/* Ends the match: straight back to ready when the game resets itself
 * (RF_GAME_SELF_RESET), else recycling with a fresh slot to come. */
void session_end(struct session *s, bool self_reset, const char *why, uint64_t now,
		 uint64_t now_unix);
/* Chooses among srv[0..n) a ready server whose labels match every selector,
 * by policy: packed prefers the CPU with the most allocated servers, then
 * the lowest CPU number, then table order; distributed the CPU with the
 * fewest allocated, then fewest running servers, then lowest CPU, then
 * table order. NULL when none qualifies. Reads only labels, cpu, process
 * and session state. */
struct server *session_pick(struct server *const *srv, size_t n, const struct kv_list *selectors,
			    enum alloc_policy policy);

/* ---- The daemon's side ---- */

/* Validates req, picks a server (session_pick), marks it allocated,
 * writes its slot's session area and counts the allocation. Returns 0 with
 * *out set; -ENOENT "no ready server matches", -EAGAIN "host is draining",
 * -EINVAL (bad selector/meta/player) with err saying why. */
int sessions_allocate(struct daemon *d, const struct alloc_req *req, struct server **out, char *err,
		      size_t errlen);
/* Ends s's match by hand (why: "release", ...) and recycles it like an end
 * by the game. Returns 0, or -EINVAL when s is not allocated. */
int sessions_release(struct daemon *d, struct server *s, const char *why);
/* {name, address, port, labels, meta, state, since, allocation_id}: what
 * an allocation returns and what status shows of the session. New
 * reference, NULL on ENOMEM. */
json_t *sessions_server_json(const struct server *s);
/* RFC 3339 UTC with milliseconds, "" for 0: how `since` is shown. */
void session_format_time(uint64_t unix_ns, char *buf, size_t len);
/* Draining: allocate refuses; ready servers show none. */
void sessions_set_draining(struct daemon *d, bool draining);

/* Connect tokens for req's players into reply (the token helper's
 * supervisor/token.c defines it and calls it on the allocation's reply
 * path when req->n_players > 0). Returns 0 or -errno. */
int sessions_tokens(struct daemon *d, struct server *s, const struct alloc_req *req, json_t *reply);

/* Fleet hooks (supervisor/fleet.c): the process state of s changed;
 * s is about to be spawned; s leaves the fleet. */
void sessions_on_process(struct fleet *f, struct server *s);
void sessions_before_spawn(struct server *s);
void sessions_forget(struct fleet *f, struct server *s);
/* s was taken over from an earlier ringfleetd with its session: listed
 * if allocated, and its slot's session area written again. */
void sessions_adopt(struct fleet *f, struct server *s);
/* Notices matches the game ended (slot stats.sessions_ended grew) and
 * recycles them: cheap (walks only allocated servers), called every loop
 * turn and from the 1 Hz housekeeping. */
void sessions_poll(struct fleet *f);

/* Wakes the workers of the servers allocated since the last call
 * (SIGURG). The loop calls it once the batch's replies are written,
 * because the woken worker often preempts ringfleetd on the spot: sent
 * from the allocation itself, the signal put the requester's reply
 * behind a queue of ticking workers (p99 +1 ms at 200 servers). */
void sessions_send_wakes(struct fleet *f);
