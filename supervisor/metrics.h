// SPDX-License-Identifier: Apache-2.0
/* metrics.h - Prometheus /metrics over HTTP (libmicrohttpd), served from
 * the supervisor's own epoll loop: MHD runs in external-epoll mode, so
 * there is no thread and no lock, and a slow scraper only costs a socket
 * buffer (MHD writes non-blocking), never a stalled loop.
 *
 * MHD alone only drops a connection after METRICS_IDLE_TIMEOUT_S of
 * silence, so a byte every few seconds held one of its slots forever and
 * 16 such clients locked scrapers out. Here every connection also has a
 * whole-request deadline (METRICS_REQUEST_TIMEOUT_S to deliver a request,
 * METRICS_RESPONSE_TIMEOUT_S to take the answer) enforced from the loop's
 * timer, and once more than METRICS_BUSY_CONNS are open a new connection
 * evicts the oldest one still owing its request, so a scraper, which
 * sends its request at once, always gets in. A per-address limit would
 * not help: local attackers and the local scraper share 127.0.0.1.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/fleet.h"
#include "supervisor/ev.h"
#include "supervisor/server.h"

struct MHD_Daemon;
struct MHD_Connection;

/* Limits that keep /metrics answering while clients hold connections open
 * without finishing a request (slowloris), all from one address or not. */
#define METRICS_MAX_CONNS 64          /* MHD's hard limit */
#define METRICS_BUSY_CONNS 32         /* beyond: a new one evicts the oldest idle one */
#define METRICS_REQUEST_TIMEOUT_S 5   /* accept (or last response) to a whole request */
#define METRICS_RESPONSE_TIMEOUT_S 30 /* request to the response's last byte */
#define METRICS_IDLE_TIMEOUT_S 10     /* MHD's own: silence on a connection */

/* One accepted connection, between MHD's STARTED and CLOSED notices. */
struct metrics_conn {
	struct MHD_Connection *c; /* NULL: free */
	int fd;
	uint64_t since_ns;    /* waiting for a request since (eviction order) */
	uint64_t deadline_ns; /* shut down when this passes */
	bool requested;       /* its request is in, being answered */
	bool closing;         /* shut down, MHD has yet to notice */
};

struct metrics {
	struct MHD_Daemon *mhd;
	int epfd;
	int mhd_fd; /* MHD's own epoll fd, watched by ours */
	struct ev_tag tag;
	const struct fleet *fleet;
	uint64_t started_ns;
	uint64_t paused_until_ns; /* fds ran out: not watched until then, or 0 */
	bool fd_logged;           /* that was logged this episode */
	char listen[64];
	struct metrics_conn conns[METRICS_MAX_CONNS];
	size_t n_conns;
	uint64_t n_cut; /* connections shut down by a deadline or eviction */
};

/* Starts listening on "ADDR:PORT" ("[v6]:PORT" for IPv6); m must stay at
 * this address while open (MHD calls back with it). Returns 0 or
 * -errno with a message in err. */
int metrics_open(struct metrics *m, int epfd, const char *listen, const struct fleet *f,
		 uint64_t started_ns, char *err, size_t errlen);
void metrics_close(struct metrics *m);
/* Shuts down connections past their deadline, then lets MHD run, unless
 * no fd is left: MHD, holding no connection, retries a failing accept at
 * once ("busy waiting"), so serving pauses for METRICS_FD_BACKOFF_MS
 * instead, logged once per episode. */
void metrics_on_event(struct metrics *m);
/* When MHD, a connection deadline or the end of a pause next needs a run,
 * or UINT64_MAX. */
uint64_t metrics_next_run(const struct metrics *m, uint64_t now);

/* The exposition text for the fleet (malloc'd), or NULL on ENOMEM. */
char *metrics_render(const struct fleet *f, uint64_t started_ns, size_t *len);
