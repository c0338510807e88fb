// SPDX-License-Identifier: Apache-2.0
/* relay.h - the game a worker runs, behind its operations table, and the
 * one game built in: the relay, which broadcasts every datagram it is
 * handed to every client. The engine (worker.c, driver.c) calls a game; a
 * game makes no syscalls and knows nothing of the backends: it queues its
 * output through the engine (worker_send(), worker_broadcast()).
 */
#pragma once
#include <stdint.h>

struct worker;

struct rf_game_ops {
	const char *name;
	/* A datagram of client idx, kept for this tick; data stays valid
	 * until the tick's sends are done, so it may be queued as is. */
	void (*input)(void *game, struct worker *w, uint32_t idx, const void *data, uint32_t len);
	/* The tick, after its input: the engine then plans the output. */
	void (*tick)(void *game, struct worker *w);
};

/* Every client gets every datagram, by reference; no state (game is NULL). */
extern const struct rf_game_ops relay_game_ops;
