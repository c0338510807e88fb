// SPDX-License-Identifier: Apache-2.0
/* metrics.h - Prometheus /metrics over HTTP, served from the
 * supervisor's own epoll loop by httpd.h (which owns the connection
 * limits and deadlines); this module owns the endpoint and its text.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/fleet.h"
#include "supervisor/httpd.h"
#include "supervisor/server.h"

struct metrics {
	struct httpd http;
	const struct fleet *fleet;
	uint64_t started_ns;
};

/* Starts listening on "ADDR:PORT" ("[v6]:PORT" for IPv6); m must stay at
 * this address while open (MHD calls back with it). Returns 0 or
 * -errno with a message in err. */
int metrics_open(struct metrics *m, int epfd, const char *listen, const struct fleet *f,
		 uint64_t started_ns, char *err, size_t errlen);
void metrics_close(struct metrics *m);

/* The exposition text for the fleet (malloc'd), or NULL on ENOMEM. */
char *metrics_render(const struct fleet *f, uint64_t started_ns, size_t *len);
