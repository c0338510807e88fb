// SPDX-License-Identifier: Apache-2.0
/* relay.c - see relay.h. */
#include "worker/relay.h"

static int relay_input(void *game, struct tick_plan *plan, void *data, uint32_t len,
		       uint32_t cookie)
{
	(void)game;
	return tick_plan_add(plan, data, len, cookie);
}

static void relay_tick(void *game, struct tick_plan *plan, const uint32_t *clients, uint32_t n)
{
	(void)game;
	/* n never exceeds the plan's room: both are max_clients. */
	tick_plan_set_dests(plan, clients, n);
}

const struct rf_game_ops relay_game_ops = {
	.name = "relay",
	.input = relay_input,
	.tick = relay_tick,
};
