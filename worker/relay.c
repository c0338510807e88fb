// SPDX-License-Identifier: Apache-2.0
/* relay.c - see relay.h. */
#include "worker/relay.h"

#include "worker/worker.h"

static void relay_input(void *game, struct worker *w, uint32_t idx, const void *data, uint32_t len)
{
	(void)game;
	(void)idx;
	/* A refusal (budget) is counted by the engine. */
	worker_broadcast(w, -1, data, len);
}

static void relay_tick(void *game, struct worker *w)
{
	(void)game;
	(void)w;
}

const struct rf_game_ops relay_game_ops = {
	.name = "relay",
	.input = relay_input,
	.tick = relay_tick,
};
