// SPDX-License-Identifier: Apache-2.0
/* server.h - one supervised game server: its configuration, the
 * resources the supervisor owns for it (UDP socket, shared-memory slot),
 * its worker process and lifecycle state. The socket and slot outlive any
 * one worker, which is what makes restarts lossless.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/slot.h"
#include "config/config.h"
#include "supervisor/ev.h"
#include "supervisor/fsm.h"
#include "supervisor/hang.h"
#include "supervisor/roll.h"
#include "supervisor/session.h"

struct server {
	struct cfg_server cfg;
	int cpu;           /* pinned CPU, -1 before placement */
	uint64_t phase_ns; /* tick phase among workers on that CPU */
	int udp_fd;
	int slot_fd;
	struct rf_slot *slot;
	size_t slot_len;

	struct fsm fsm;
	pid_t pid;           /* 0 when no process */
	uint64_t start_time; /* pid's /proc starttime: with pid, names the process */
	/* The socket and slot at their numbers inside the worker (its --fd,
	 * --slot-fd), which a ringfleetd started after a crash takes back
	 * with pidfd_getfd (adopt.c). */
	int worker_udp_fd, worker_slot_fd;
	int pidfd;     /* -1 when no process */
	int ready_fd;  /* read end of the readiness pipe, or -1 */
	int spawn_err; /* errno the child reported before exec, or 0 */
	struct ev_tag pid_tag, ready_tag;
	bool removing;            /* dropped by a reload: free once stopped */
	struct server *next_dead; /* forgotten, freed by fleet_reap() */
	bool spawn_queued;        /* starting, waiting for a spawn slot */
	bool spawn_inflight;      /* forked, not ready yet: holds a spawn slot */
	bool drop_privs;          /* switch the worker to uid/gid */
	bool drained;             /* stopped by drain: undrain starts it */
	uid_t uid;
	gid_t gid;
	char last_exit[48]; /* how the last worker ended */

	/* CPU sampling over the last window, from /proc/PID/stat. */
	uint64_t cpu_ticks_prev; /* utime+stime at the last sample */
	uint64_t cpu_sample_ns;
	double cpu_pct;
	uint64_t cpu_ticks;       /* latest utime+stime of this worker */
	uint64_t cpu_ticks_total; /* of all earlier workers of this server */
	uint64_t rss_kb;
	/* Tick work duration over the last window, from the slot histogram. */
	uint64_t hist_prev[RF_TICK_HIST_BUCKETS];
	double tick_p50_ms, tick_p99_ms, tick_max_ms;

	struct hang_watch hang; /* the idle hang rule's memory (hang.h) */

	struct session sess;   /* beside the process: see session.h */
	struct kv_list labels; /* cfg.labels parsed, for session_pick() */
	struct roll_mark roll; /* its part in a `roll` (roll.h) */
};

/* Allocates a server around an already bound socket (which it then owns)
 * and creates its slot. Returns -errno; on failure fd is not closed. */
int server_new_with_socket(const struct cfg_server *cfg, int udp_fd, struct server **out);
/* Wraps a socket and slot taken over from an earlier ringfleetd (adopt.c);
 * owns them from here. Returns 0 or -ENOMEM (nothing taken). */
int server_new_adopted(const struct cfg_server *cfg, int udp_fd, int slot_fd, struct rf_slot *slot,
		       size_t slot_len, struct server **out);
/* Maps a slot memfd for max_clients; with header, one that a worker of
 * this build's slot layout has written. -EBADF: not a slot of that size;
 * -EPROTO: another layout. */
int server_slot_map(int fd, uint32_t max_clients, bool header, struct rf_slot **slot, size_t *len);
void server_set_rcvbuf(int fd, uint64_t bytes, bool privileged);
void server_free(struct server *s);
/* s->labels from s->cfg.labels (which the config loader validated). */
void server_parse_labels(struct server *s);

/* Resolves cfg's user/group for a worker started by a root supervisor.
 * Sets *drop false when there is nothing to switch (no user configured,
 * or not running as root). Returns 0, or -ESRCH for an unknown name. */
int server_resolve_user(const struct cfg_server *cfg, bool privileged, bool *drop, uid_t *uid,
			gid_t *gid);
/* Binds the UDP socket of cfg with its receive buffer. Returns fd or -errno. */
int server_bind_udp(const struct cfg_server *cfg, bool privileged);
/* Creates the slot memfd for max_clients and maps it. */
int server_slot_create(const char *name, uint32_t max_clients, int *fd, struct rf_slot **slot,
		       size_t *len);
void server_slot_release(int fd, struct rf_slot *slot, size_t len);
