// SPDX-License-Identifier: Apache-2.0
/* state.h - ringfleetd's state as text, for the ringfleetd that comes
 * after this one (issue 14): the image an upgrade execs, which gets it in
 * a memfd, and the ringfleetd started after a crash, which reads the state
 * file this one keeps in the control socket's directory.
 *
 * The text is JSON with a format number. A reader takes only the format it
 * knows (STATE_FORMAT) and refuses any other with a message naming it, so
 * a binary that cannot take over says so before the running one execs it.
 * Each server's configuration travels as the config key table's own
 * key = value text (config/cfg_schema.h), so a newer binary with more keys
 * reads an older state: its new keys keep their defaults.
 *
 * Writing walks the live fleet; parsing fills plain records that adopt.c
 * turns back into servers. Neither touches a process or an fd.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "supervisor/fsm.h"
#include "supervisor/roll.h"
#include "supervisor/session.h"

#define STATE_FORMAT 1
#define STATE_TEXT_MAX ((size_t)64 << 20) /* a reader refuses more */
#define STATE_FILE_NAME "ringfleetd.state"

struct daemon;

/* One server as the earlier ringfleetd left it. */
struct state_server {
	struct cfg_server cfg;
	pid_t pid;           /* 0: no process */
	uint64_t start_time; /* /proc/PID/stat starttime of pid */
	/* The earlier ringfleetd's fds (an upgrade inherits them at these
	 * numbers), -1 where it had none. */
	int udp_fd, slot_fd, pidfd, ready_fd;
	/* The same socket and slot at their numbers in the worker (its
	 * --fd and --slot-fd), for pidfd_getfd after a crash. */
	int worker_udp_fd, worker_slot_fd;
	int cpu;
	uint64_t phase_ns;
	bool drained, queued, inflight;
	char last_exit[48];
	uint64_t cpu_ticks_total;
	struct fsm fsm;
	struct session sess; /* prev/next unset */
	struct roll_mark roll;
};

struct state {
	int format;
	char version[32]; /* RF_VERSION of the writer */
	pid_t pid;        /* the writer's pid */
	uint64_t started_ns;
	uint32_t upgrades;
	int control_fd; /* the listener (upgrade) */
	int reply_fd;   /* the connection that asked for the upgrade, or -1 */
	bool draining;
	uint64_t last_id, allocations;
	uint64_t failures[ALLOC_FAIL_COUNT];
	struct roll roll; /* a roll under way goes on */
	struct state_server *srv;
	size_t n;
};

/* The state of d as text (malloc'd, NUL-terminated), with reply_fd for
 * an upgrade (-1 otherwise); NULL when out of memory. */
char *state_format(const struct daemon *d, int reply_fd, size_t *len);
/* Parses text into st (free with state_free). Returns 0, or -EINVAL /
 * -EPROTO (another format) / -ENOMEM with err saying what is wrong. */
int state_parse(const char *text, size_t len, struct state *st, char *err, size_t errlen);
void state_free(struct state *st);

/* Writes text to path atomically (a temporary file in the same directory,
 * then rename), mode 0600. Returns 0 or -errno. */
int state_file_save(const char *path, const char *text, size_t len);
/* Reads a whole state file or memfd; -ENOENT when path does not exist,
 * -EFBIG past STATE_TEXT_MAX, -EINVAL when it is not a regular file. */
int state_file_load(const char *path, char **text, size_t *len);
int state_fd_load(int fd, char **text, size_t *len);
/* path of the state file for a control socket path: its directory. */
int state_file_path(const char *control_socket, char *buf, size_t len);
