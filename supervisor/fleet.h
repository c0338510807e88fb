// SPDX-License-Identifier: Apache-2.0
/* fleet.h - the process table: every server, its worker and its
 * lifecycle. The fleet turns events (a pidfd became readable, a ready line
 * arrived, a deadline passed, an operator asked) into fsm_step() calls and
 * carries out the actions the state machine returns. Configuration
 * changes come in whole: fleet_apply() either prepares every new resource
 * and commits, or changes nothing.
 */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "supervisor/events.h"
#include "supervisor/server.h"

/* Spawn pacing: forking thousands of workers in one go starves the event
 * loop (signals, control socket) and the machine. Per event-loop turn at
 * most FLEET_SPAWNS_PER_TURN forks and FLEET_SPAWN_TURN_NS spent forking
 * (a fork waits for the child's exec, which takes milliseconds on a loaded
 * host), and at most FLEET_STARTING_MAX workers forked but not ready yet;
 * the rest wait in `starting`, queued in table order. */
#define FLEET_SPAWNS_PER_TURN 32
#define FLEET_SPAWN_TURN_NS (20 * 1000000ull)
#define FLEET_STARTING_MAX 32
/* /proc reads per loop turn in the 1 Hz sweep (fleet_sample.c). */
#define FLEET_SAMPLE_BATCH 32

struct fleet {
	struct server **srv;
	size_t n, cap;
	struct server *dead;   /* forgotten this batch, see fleet_reap() */
	size_t n_queued;       /* servers with spawn_queued */
	size_t n_inflight;     /* servers with spawn_inflight */
	unsigned spawn_budget; /* forks left in this loop turn */
	uint64_t turn_ns;      /* first fork of this loop turn, 0: none yet */
	uint64_t progress_ns;  /* last "start in progress" line, 0: none due */
	struct cfg_supervisor sup;
	struct fsm_policy policy;
	int epfd;
	bool privileged; /* running as root */
	char worker_path[PATH_MAX];
	/* The connect-token host key (token_key_file, read at start only)
	 * as a sealed memfd token servers inherit; -1: none. */
	int token_key_fd;
	uint8_t token_key[32];    /* RF_TOKEN_KEY_LEN */
	char token_key_file[256]; /* where it came from */
	uint64_t ticks_per_sec;   /* sysconf(_SC_CLK_TCK) */
	struct events *events;    /* told of every state change; may be NULL */
	struct sessions sess;     /* allocation state across servers (session.h) */
	/* Bumped by every change the state file records (upgrade.h); by a
	 * worker started or gone too, which the file must know at once. */
	uint64_t state_gen;
	bool state_urgent;
	uint64_t table_gen; /* bumped when srv[] changes: status jobs restart */
	struct roll roll;   /* `roll`: workers onto what is on disk (roll.h) */
	struct {
		bool active;    /* a sweep is under way: the loop must not block */
		size_t next;    /* index of the next server to read */
		double pct;     /* CPU % summed so far, for the progress line */
		cpu_set_t used; /* CPUs the sampled workers run on */
	} sample;               /* the 1 Hz /proc sweep (fleet_sample.c) */
};

/* Server names, in the order fleet_apply() met them (malloc'd). */
struct fleet_names {
	char (*name)[CFG_NAME_MAX];
	size_t n;
};

/* What a fleet_apply() changed, by server name; free with fleet_diff_free. */
struct fleet_diff {
	struct fleet_names added, removed, changed;
	size_t n_added, n_removed, n_changed, n_unchanged;
};

int fleet_init(struct fleet *f, int epfd, const char *worker_path);
void fleet_free(struct fleet *f);

/* Makes the fleet run cfg: starts added servers, stops removed ones,
 * restarts changed ones, leaves equal ones alone. All-or-nothing: on error
 * (-EADDRINUSE binding a new port, -ENOSPC placing, ...) nothing changed
 * and err says why. */
int fleet_apply(struct fleet *f, const struct cfg *cfg, struct fleet_diff *diff, char *err,
		size_t errlen);
void fleet_diff_free(struct fleet_diff *d);

void fleet_on_pidfd(struct fleet *f, struct server *s);
void fleet_on_ready(struct fleet *f, struct server *s);
/* Carries out state-machine deadlines that have passed (backoff over,
 * stop or start timeout); the earliest pending one, or UINT64_MAX. */
void fleet_on_deadlines(struct fleet *f, uint64_t now);
uint64_t fleet_next_deadline(const struct fleet *f);
/* The beat (fleet_beat), hang checks and CPU sampling; the daemon calls
 * it once a second, which catches a hang within hang_timeout_ms + 1 s (an
 * idle worker: see hang.h). The /proc reads are only begun here:
 * fleet_sample_step() does FLEET_SAMPLE_BATCH of them per loop turn while
 * fleet_sampling() says a sweep is under way. */
void fleet_housekeeping(struct fleet *f, uint64_t now);
/* Tells every worker its supervisor lives: stores now as the beat and the
 * current orphan_timeout_s in each server's slot (worker/orphan.h), two
 * plain stores per server. Housekeeping calls it once a second, a reload
 * at once (a changed orphan_timeout_s applies to running workers), and so
 * should whatever takes over live workers (adoption). */
void fleet_beat(struct fleet *f, uint64_t now);
void fleet_sample_begin(struct fleet *f, uint64_t now);
void fleet_sample_step(struct fleet *f, uint64_t now);
bool fleet_sampling(const struct fleet *f);

/* Starts a new event-loop turn: refills the spawn budget and forks queued
 * workers while it and FLEET_STARTING_MAX allow. */
void fleet_run_spawn_queue(struct fleet *f, uint64_t now);
/* Queued spawns could proceed right now: the loop must not block. */
bool fleet_spawns_waiting(const struct fleet *f);

/* Appends s, taken over from an earlier ringfleetd (adopt.c), watching
 * its pidfd and readiness pipe; queued/inflight: its spawn was queued,
 * or forked and not ready yet. Frees s and returns -ENOMEM on failure. */
int fleet_adopt(struct fleet *f, struct server *s, bool queued, bool inflight);
/* Operator requests; ev is FSM_EV_START/STOP/RESTART. */
void fleet_request(struct fleet *f, struct server *s, enum fsm_event_type ev);
void fleet_stop_all(struct fleet *f);

/* No server is starting or stopping. */
bool fleet_settled(const struct fleet *f);
/* No worker process exists. */
bool fleet_idle(const struct fleet *f);
/* Counts servers per state into counts[FSM_FATAL + 1]. */
void fleet_count_states(const struct fleet *f, size_t *counts);
/* Cumulative CPU seconds of all workers this server has had. */
double fleet_server_cpu_seconds(const struct fleet *f, const struct server *s);

/* File descriptors ringfleetd needs for n servers: per server its socket,
 * slot memfd and worker pidfd, a readiness pipe per worker starting, and
 * the loop, control and metrics connections. */
size_t fleet_fds_needed(size_t n_servers);
/* Makes RLIMIT_NOFILE fit n servers, raising the soft limit up to the
 * hard one if needed. Returns 0, or -EMFILE with err naming the limit. */
int fleet_reserve_fds(size_t n_servers, char *err, size_t errlen);

/* Fills the restart policy from the [supervisor] section. */
void fleet_policy_from(struct fsm_policy *p, const struct cfg_supervisor *sup);
/* Drops s from the table; it must have no process. An event of the
 * current batch may still name it, so it is only freed by fleet_reap(),
 * which the loop calls once the batch is done. */
void fleet_forget(struct fleet *f, struct server *s);
void fleet_reap(struct fleet *f);
