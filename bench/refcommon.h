// SPDX-License-Identifier: Apache-2.0
/* refcommon.h - what the two reference servers share: the CLI
 * (--port P --bind ADDR --tick-hz N, like ringfleet-worker), the bound UDP
 * socket and the client table. The reference servers reproduce the two
 * designs of the original article as baselines for the benchmark; they are
 * deliberately plain, neither sabotaged nor tuned.
 */
#pragma once
#include <netinet/in.h>
#include <stdint.h>

#define REF_MAX_CLIENTS 1024
#define REF_MAX_PACKET 2048

struct ref_opts {
	uint16_t port;
	struct in_addr bind;
	unsigned tick_hz;
};

/* A client is a source address; clients are never forgotten (a benchmark
 * run is short), so entries never move and may be pointed at. */
struct ref_clients {
	struct sockaddr_in a[REF_MAX_CLIENTS];
	unsigned n;
};

/* Returns 0 to run, 1 after --help (usage printed), -EINVAL on a usage
 * error (usage printed to stderr). */
int ref_parse_args(int argc, char **argv, const char *prog, struct ref_opts *o);
/* A UDP socket bound to o->bind:o->port, or -errno. */
int ref_socket(const struct ref_opts *o);
/* Index of sa in the table, adding it if new; -ENOSPC when full. */
int ref_client_add(struct ref_clients *c, const struct sockaddr_in *sa);
/* Tick period in ns. */
uint64_t ref_period_ns(const struct ref_opts *o);
