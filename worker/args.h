// SPDX-License-Identifier: Apache-2.0
/* args.h - ringfleet-worker's command line: options, their defaults and
 * ranges (those of config/config.h) and --help. Part of main: a bad
 * argument prints why and exits 2, which the supervisor does not retry.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/backend.h"
#include "common/exitcode.h"
#include "common/handshake.h"

#define EXIT_USAGE RF_EXIT_CONFIG
#define NAME_MAX_LEN 63

struct opts {
	char name[NAME_MAX_LEN + 1];
	const char *bind;
	unsigned port;
	int fd;
	int slot_fd;
	int ready_fd;
	unsigned tick_hz;
	unsigned max_clients;
	unsigned client_timeout_s;
	unsigned max_packet;
	unsigned max_packets_per_tick;
	unsigned recv_buffers;
	enum rf_backend backend;
	uint64_t tick_phase_ns;
	int supervisor_pid;     /* die with it (0: standalone) */
	bool no_gso;
	enum rf_admission admission;
	unsigned max_clients_per_ip;
};

/* Fills o from the command line, defaults first; exits on --help,
 * --version (0) and on any bad argument (EXIT_USAGE). */
void args_parse(struct opts *o, int argc, char **argv);
