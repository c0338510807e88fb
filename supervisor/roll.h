// SPDX-License-Identifier: Apache-2.0
/* roll.h - `ringfleetctl roll` (issue 14, part 4): moving running servers
 * onto the worker binary and game module now on disk, one at a time, never
 * under a match. Owns the roll's progress (struct roll, in struct fleet)
 * and each server's mark (struct roll_mark, in struct server).
 *
 * A server is rolled once it runs a worker that reported ready after the
 * roll queued it: every spawn execs the binary at the worker path and
 * loads the module from disk. The roll itself restarts, through the usual
 * zero-loss path, one server at a time whose session is ready (or none,
 * the host not draining); an allocated one waits for its match to end,
 * whose recycle starts a fresh worker (that counts), or, for a game that
 * resets itself, is restarted once ready again. Stopped, fatal and removed
 * servers leave the roll.
 *
 * The decisions (roll_begin, roll_judge, roll_step) are pure and
 * unit-tested (tests/unit/test_roll.c); roll_run.c carries them out on the
 * daemon: the control verb, the sweep every loop turn, log and status.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "supervisor/fsm.h"
#include "supervisor/session.h"

struct server;
struct daemon;
struct jsonw;
struct ucred;
struct ctl_request;

enum roll_phase {
	ROLL_NONE = 0,   /* not in a roll */
	ROLL_PENDING,    /* queued: waiting for its turn or for its match to end */
	ROLL_RESTARTING, /* the roll restarted it: waiting for the new worker */
};

/* One server's part in the roll, in struct server. */
struct roll_mark {
	enum roll_phase phase;
	uint64_t since_ns; /* CLOCK_MONOTONIC: queued (pending), restart asked (restarting) */
	pid_t old_pid;     /* its worker when queued, for the log and the reply */
};

/* How a server left the roll. */
enum roll_result {
	ROLL_ROLLED = 0, /* a worker started since it was queued is ready */
	ROLL_FAILED,     /* the restart ended in fatal */
	ROLL_SKIPPED,    /* stopped or fatal (when queued or before its turn) */
	ROLL_DROPPED,    /* removed by a reload */
	ROLL_RESULT_COUNT,
};

/* What roll_judge() says of one server. */
enum roll_verdict {
	ROLL_V_OUT = 0,    /* not in the roll */
	ROLL_V_WAIT,       /* starting, in backoff, stopping, draining: later */
	ROLL_V_WAIT_MATCH, /* allocated: after its match */
	ROLL_V_NOW,        /* may be restarted now */
	ROLL_V_BUSY,       /* a fresh worker is on its way (restart, recycle) */
	ROLL_V_SETTLED,    /* done: see the result */
};

/* The fleet-wide progress, in struct fleet. Kept after the end, so that
 * status shows how the last roll went. */
struct roll {
	bool active;
	uint64_t id; /* counts up from 1 per daemon life */
	uint64_t started_ns, started_unix_ns, ended_unix_ns;
	size_t total;                /* servers the pattern matched */
	size_t n[ROLL_RESULT_COUNT]; /* by result, so far */
	size_t pending;              /* still marked */
	size_t waiting_for_match;    /* of those, allocated */
	char current[CFG_NAME_MAX];  /* restarting by the roll, "" none */
	char pattern[64];            /* what was asked */
};

const char *roll_result_name(enum roll_result r);
/* The pattern rule of start/stop/restart: "all", a name or an fnmatch glob. */
bool roll_matches(const char *pattern, const char *name);

/* ---- Pure logic ---- */

/* What roll_judge() reads of a server. */
struct roll_view {
	enum fsm_state ps;     /* process state */
	enum session_state ss; /* session state */
	uint64_t ready_ns;     /* the fsm's last READY */
	pid_t pid;             /* its worker now, 0: none */
	bool removing;         /* a reload removed it */
	bool draining;         /* the host drains: drain stops what the roll would restart */
};

/* The verdict on one server with mark m; when ROLL_V_SETTLED, *res says
 * how it left. */
enum roll_verdict roll_judge(const struct roll_mark *m, const struct roll_view *v,
			     enum roll_result *res);

/* Starts a roll of the servers among srv[0..n) whose name matches pattern
 * ("all", a name or an fnmatch glob; removed servers never match): marks
 * the ones with a process (or about to have one) pending, counts stopped
 * and fatal ones skipped. Returns how many matched, 0 when none (then no
 * roll starts), -EBUSY while a roll is active. */
int roll_begin(struct roll *r, struct server *const *srv, size_t n, const char *pattern,
	       uint64_t now, uint64_t now_unix);

/* Told of each server as it leaves the roll (its mark still set). */
typedef void roll_note_fn(void *ctx, struct server *s, enum roll_result res);

/* One pass over srv[0..n): settles the marks that are over (note is
 * called for each), updates the counters and, when nothing the roll
 * restarted or is tracking is on its way, marks the first server that may
 * be restarted now as restarting and returns it: the caller restarts it.
 * NULL otherwise. The roll ends (active false) when no mark is left;
 * servers that left the table unseen count as dropped. */
struct server *roll_step(struct roll *r, struct server *const *srv, size_t n, bool draining,
			 uint64_t now, roll_note_fn *note, void *ctx);

/* ---- The daemon's side (roll_run.c) ---- */

/* The `roll [NAME|GLOB|all]` verb: the reply line. */
char *roll_verb(struct daemon *d, const struct ucred *peer, const struct ctl_request *req);
/* Settles and advances the roll; cheap when none is active. The loop
 * calls it every turn. */
void roll_sweep(struct daemon *d);
/* status: the top-level "roll" object. */
void roll_write_status(struct jsonw *w, const struct roll *r, uint64_t now);
