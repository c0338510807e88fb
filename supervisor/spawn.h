// SPDX-License-Identifier: Apache-2.0
/* spawn.h - starting one worker process: fork, pin, exec.
 *
 * The child inherits exactly three fds (its UDP socket, its shared-memory
 * slot and the write end of its readiness pipe), and a token server the
 * sealed memfd of the connect-token host key; everything else the
 * supervisor holds is O_CLOEXEC. Between fork and exec the child only
 * makes async-signal-safe calls, so argv is built before forking.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"

struct spawn_args {
	const char *worker_path;
	const struct cfg_server *cfg;
	int cpu;           /* -1: leave the affinity alone */
	uint64_t phase_ns; /* tick phase within the period */
	int udp_fd;
	int slot_fd;
	int ready_fd;     /* write end of the readiness pipe */
	int token_key_fd; /* admission = token: the host key memfd, else -1 */
	int log_level;
	pid_t parent;    /* getpid() of the supervisor */
	bool drop_privs; /* switch to uid/gid before exec */
	uid_t uid;
	gid_t gid;
};

#define SPAWN_ARGV_MAX 40
#define SPAWN_ARGBUF_MAX 2048

/* A worker's argv, its strings in buf. */
struct spawn_argv {
	char *argv[SPAWN_ARGV_MAX];
	int argc;
	char buf[SPAWN_ARGBUF_MAX];
	size_t used;
};

/* Builds into *b (zeroed by the caller) the argv spawn_worker() execs for
 * a: the worker's own flags, then one --KEY=VALUE per config key the
 * worker takes (config/cfg_schema.h). Returns 0 or -E2BIG. */
int spawn_build_argv(const struct spawn_args *a, struct spawn_argv *b);

/* Forks and execs the worker. Returns 0 with *pid and *pidfd set, or
 * -errno. Failures after the fork show up as the child exiting 127 after
 * writing "spawn-error ERRNO STEP\n" to ready_fd (see spawn_parse_error).
 * The worker dies by SIGKILL when the supervisor does, whatever its user. */
int spawn_worker(const struct spawn_args *a, pid_t *pid, int *pidfd);

/* Parses a "spawn-error ERRNO STEP" line; returns ERRNO (> 0) or 0. */
int spawn_parse_error(const char *line, size_t len);

/* Reaps the exited child behind pidfd and returns its wait status
 * (as waitpid would), or -errno (-EAGAIN: not exited yet). *cpu_ticks
 * gets the CPU time it used in all (user + system, clock ticks). */
int spawn_reap(int pidfd, uint64_t *cpu_ticks);

/* Sends sig through the pidfd; -ESRCH when it is already gone. */
int spawn_signal(int pidfd, int sig);
