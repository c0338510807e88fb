// SPDX-License-Identifier: Apache-2.0
/* relay.h - the game a worker runs, behind its operations table, and the
 * one game built in: the relay, which sends every datagram it is handed to
 * every admitted client. The engine (worker.c, driver.c) calls a game; a
 * game makes no syscalls and knows nothing of the backends: it sees
 * payloads and the plan, which references them by the engine's buffer ids.
 */
#pragma once
#include <stdint.h>

#include "worker/tick.h"

struct rf_game_ops {
	const char *name;
	/* A datagram of an admitted client, kept for this tick: appended to
	 * plan by reference (cookie: the engine's id of its buffer). 0, or
	 * -ENOSPC when the plan is full. */
	int (*input)(void *game, struct tick_plan *plan, void *data, uint32_t len, uint32_t cookie);
	/* The tick: chooses the destinations of the plan's packets among the
	 * n admitted clients (indexes into the client table). The engine then
	 * cuts the plan into send batches. */
	void (*tick)(void *game, struct tick_plan *plan, const uint32_t *clients, uint32_t n);
};

/* Every admitted client gets every datagram; no state (game is NULL). */
extern const struct rf_game_ops relay_game_ops;
