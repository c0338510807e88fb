// SPDX-License-Identifier: Apache-2.0
/* args.h - ringfleet-worker's command line and --help. The flags that are
 * per-server config keys (--tick-hz ...) come from the key table of
 * config/cfg_schema.h, with its defaults, ranges and messages; the others
 * (--fd, --name ...) are the worker's own. Part of main: a bad argument
 * prints why and exits 2, which the supervisor does not retry.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/exitcode.h"
#include "config/config.h"

#define EXIT_USAGE RF_EXIT_CONFIG
#define NAME_MAX_LEN 63

struct opts {
	char name[NAME_MAX_LEN + 1];
	const char *bind;
	unsigned port;
	int fd;
	int slot_fd;
	int ready_fd;
	int token_key_fd;      /* admission = token: the host key, read once */
	struct cfg_server srv; /* the per-server keys (tick_hz ...) */
	uint64_t tick_phase_ns;
	int supervisor_pid; /* must be our parent at start (0: standalone) */
	bool no_gso;
	const char *check_game; /* --check-game PATH: check the module, exit */
};

/* Fills o from the command line, defaults first; exits on --help,
 * --version (0) and on any bad argument (EXIT_USAGE). With --check-game
 * the socket options are not required. */
void args_parse(struct opts *o, int argc, char **argv);
