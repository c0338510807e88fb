// SPDX-License-Identifier: Apache-2.0
/* daemon.h - ringfleetd's single-threaded event loop: one epoll over a
 * signalfd, a timerfd, the control socket and every worker's pidfd and
 * readiness pipe. Signals are events here, never work done in a handler.
 */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "supervisor/api.h"
#include "supervisor/control.h"
#include "supervisor/ev.h"
#include "supervisor/events.h"
#include "supervisor/fleet.h"
#include "supervisor/latency.h"
#include "supervisor/metrics.h"
#include "supervisor/status_run.h"

#define DAEMON_WAITERS_MAX CONTROL_MAX_CONNS

/* A control request answered once the fleet has settled. */
struct waiter {
	uint64_t conn_id;
	enum ctl_verb verb;
	char pattern[CTL_ARG_MAX];
	json_t *body; /* reload: what changed */
	uint64_t deadline_ns;
};

struct daemon {
	int epfd, sigfd, timerfd;
	struct ev_tag sig_tag, timer_tag;
	struct fleet fleet;
	struct control ctl;
	struct events events;
	struct metrics metrics;
	struct api api;
	struct cfg cfg;
	char config_path[PATH_MAX];
	uint64_t started_ns;
	bool ready_sent;
	bool reloading;
	bool shutting_down;
	uint64_t watchdog_ns, watchdog_next_ns;
	uint64_t housekeeping_ns; /* next 1 Hz round */
	struct waiter waiters[DAEMON_WAITERS_MAX];
	size_t n_waiters;
	char last_status[256];
	/* status replies being built over loop turns (status_run.h) */
	struct status_pending *status_jobs[STATUS_JOBS_MAX];
	size_t n_status_jobs;
	/* Handing over to the next ringfleetd (upgrade.h). */
	int argc;
	char **argv;             /* as main() got them: an upgrade execs them again */
	char exe_path[PATH_MAX]; /* our binary's path at start */
	uint32_t upgrades;       /* in-place upgrades since the fleet was started */
	char upgraded_from[32];  /* version the last upgrade came from, "" = none */
	char recovered_from[32]; /* version of a crashed ringfleetd taken over, "" = none */
	size_t adopted;          /* live workers taken over at start */
	int reply_fd;            /* the upgrade request to answer, or -1 */
	struct {
		pid_t pid;            /* the check's child, 0: no upgrade under way */
		int pidfd, out_fd;    /* its pidfd (watched) and stdout+stderr */
		uint64_t conn_id;     /* the request, answered when it is done */
		uint64_t deadline_ns; /* the check is killed then */
		struct ev_tag tag;
	} upgrade;
	char state_path[PATH_MAX];
	uint64_t state_saved_gen; /* fleet.state_gen when the state file was written */
	uint64_t state_saved_ns;  /* when */
	bool state_save_failed;
	struct latency lat; /* realtime while waiting (latency.h) */
};

/* How ringfleetd was started. */
struct daemon_start {
	const char *config_path;
	const char *worker_path;
	int upgrade_fd; /* --upgrade-from: the state memfd, else -1 */
	int argc;
	char **argv;
};

/* Sets everything up from config_path and starts the workers. Returns 0,
 * or -errno with a message in err. */
int daemon_init(struct daemon *d, const struct daemon_start *a, char *err, size_t errlen);
/* Runs until shut down; returns the process exit code. */
int daemon_run(struct daemon *d);

/* Applies [supervisor] realtime (at start, and on a reload that changed
 * it): latency.h. Logs once when the kernel does not allow it. */
void daemon_realtime(struct daemon *d);
void daemon_free(struct daemon *d);
