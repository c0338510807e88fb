/* metrics.h - Prometheus /metrics over HTTP (libmicrohttpd), served from
 * the supervisor's own epoll loop: MHD runs in external-epoll mode, so
 * there is no thread and no lock, and a slow scraper only costs a socket
 * buffer (MHD writes non-blocking), never a stalled loop.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/fleet.h"
#include "supervisor/server.h"

struct MHD_Daemon;

struct metrics {
	struct MHD_Daemon *mhd;
	int epfd;
	int mhd_fd;              /* MHD's own epoll fd, watched by ours */
	struct ev_tag tag;
	const struct fleet *fleet;
	uint64_t started_ns;
	uint64_t paused_until_ns; /* fds ran out: not watched until then, or 0 */
	bool fd_logged;           /* that was logged this episode */
	char listen[64];
};

/* Starts listening on "ADDR:PORT" ("[v6]:PORT" for IPv6); m must stay at
 * this address while open (MHD calls back with it). Returns 0 or
 * -errno with a message in err. */
int metrics_open(struct metrics *m, int epfd, const char *listen, const struct fleet *f,
		 uint64_t started_ns, char *err, size_t errlen);
void metrics_close(struct metrics *m);
/* Lets MHD run, unless no fd is left: MHD, holding no connection, retries
 * a failing accept at once ("busy waiting"), so serving pauses for
 * METRICS_FD_BACKOFF_MS instead, logged once per episode. */
void metrics_on_event(struct metrics *m);
/* When MHD next needs to run for its own timeouts (or a pause ends), or
 * UINT64_MAX. */
uint64_t metrics_next_run(const struct metrics *m, uint64_t now);

/* The exposition text for the fleet (malloc'd), or NULL on ENOMEM. */
char *metrics_render(const struct fleet *f, uint64_t started_ns, size_t *len);
