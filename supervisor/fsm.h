// SPDX-License-Identifier: Apache-2.0
/* fsm.h - the lifecycle of one supervised worker as an explicit state
 * machine (s6-style). fsm_step() is pure: it takes the current machine,
 * an event and the time, updates the machine and says what the caller must
 * do (spawn, SIGTERM, SIGKILL). It never forks or signals, so every
 * decision of the restart policy is unit-tested without processes.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FSM_CRASH_HISTORY 64 /* crash_limit is capped to this */

enum fsm_state {
	FSM_STOPPED = 0,
	FSM_STARTING, /* forked, waiting for the worker's ready line */
	FSM_RUNNING,
	FSM_BACKOFF,  /* crashed, waiting to restart */
	FSM_STOPPING, /* SIGTERM sent, waiting for exit */
	FSM_FATAL,    /* gave up; only an explicit start revives it */
};

enum fsm_event_type {
	FSM_EV_START,        /* operator or config wants it running */
	FSM_EV_STOP,         /* operator or config wants it stopped */
	FSM_EV_RESTART,      /* stop if running, then start */
	FSM_EV_READY,        /* the worker reported ready */
	FSM_EV_EXIT,         /* the worker process ended; see status */
	FSM_EV_HANG,         /* no heartbeat for hang_timeout (or no ready line) */
	FSM_EV_TIMER,        /* deadline_ns passed */
	FSM_EV_SPAWN_FAILED, /* no worker could be started; see err */
};

enum fsm_action {
	FSM_ACT_NONE = 0,
	FSM_ACT_SPAWN,
	FSM_ACT_TERM, /* SIGTERM: graceful stop */
	FSM_ACT_KILL, /* SIGKILL */
};

struct fsm_policy {
	uint64_t delay_ns;     /* second consecutive crash waits this */
	uint64_t delay_max_ns; /* backoff cap */
	uint64_t stable_ns;    /* running this long resets the backoff */
	uint64_t window_ns;    /* crash_limit is counted within this */
	uint64_t stop_timeout_ns;
	uint64_t start_timeout_ns; /* starting longer than this is a hang */
	uint32_t crash_limit;      /* more crashes than this in window: fatal */
};

struct fsm_event {
	enum fsm_event_type type;
	int wait_status; /* FSM_EV_EXIT: as from waitid/waitpid */
	int err;         /* FSM_EV_SPAWN_FAILED: the errno (> 0) */
	/* FSM_EV_EXIT with RF_EXIT_CONFIG: the worker's own reason (a game
	 * module that failed to load or init), or NULL/"" when it left none. */
	const char *detail;
};

struct fsm {
	enum fsm_state state;
	uint64_t deadline_ns;                /* 0: no timer wanted */
	uint64_t since_ns;                   /* entered the current state */
	uint64_t ready_ns;                   /* last READY */
	uint32_t consecutive;                /* crashes since the last stable run */
	uint32_t n_crashes;                  /* valid entries in crashes[] */
	uint64_t crashes[FSM_CRASH_HISTORY]; /* ring of crash times */
	uint32_t crash_head;
	uint32_t restarts;       /* spawns after the first */
	uint32_t spawn_failures; /* consecutive failures to start for lack of resources */
	bool spawned_once;
	bool restart_pending; /* STOPPING, then start again */
	bool hung;            /* the pending exit was our SIGKILL */
	char reason[256];     /* why the last transition happened */
};

struct fsm_result {
	enum fsm_action action;
	bool changed; /* state changed: log it */
};

void fsm_init(struct fsm *m);
struct fsm_result fsm_step(struct fsm *m, const struct fsm_policy *p, const struct fsm_event *ev,
			   uint64_t now_ns);
/* The caller queued the spawn FSM_ACT_SPAWN asked for (spawns are paced):
 * no start timeout runs while it waits. */
void fsm_spawn_queued(struct fsm *m, const char *why);
/* The queued spawn happens now: the start timeout runs from here. */
void fsm_spawn_dequeued(struct fsm *m, const struct fsm_policy *p, uint64_t now);
const char *fsm_state_name(enum fsm_state s);
/* How a failure to start a worker (fork, exec, fds) is handled:
 * lack of resources (EMFILE, ENFILE, EAGAIN, ENOMEM, ETXTBSY...) is the host's
 * condition: retried with backoff, never counted toward crash_limit, never
 * fatal. A missing or unusable worker binary (ENOENT, EACCES, ENOEXEC, ...)
 * is a configuration error: fatal at once. Anything else counts as a
 * crash. */
enum fsm_spawn_err { FSM_SPAWN_TRANSIENT, FSM_SPAWN_CONFIG, FSM_SPAWN_CRASH };
enum fsm_spawn_err fsm_spawn_err_class(int err);
/* True while a worker process may exist (it must be reaped or killed). */
bool fsm_has_process(enum fsm_state s);
/* Describes a wait status: "exited with status 1", "killed by SIGKILL". */
void fsm_describe_exit(int wait_status, char *buf, size_t len);
