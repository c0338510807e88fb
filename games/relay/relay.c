// SPDX-License-Identifier: Apache-2.0
/* relay.c - the relay, ringfleet's built-in game: every datagram a client
 * sends goes to every client, itself included, once per tick. A module of
 * the public API like any other (it includes nothing but
 * ringfleet/game.h), compiled into ringfleet-worker and found by the name
 * "relay" (worker/game_host.c), so it runs through the same host code as
 * a loaded module. The datagram is broadcast as received, by reference:
 * the engine sends it from the receive buffer, without a copy.
 */
#include "ringfleet/game.h"

static int relay_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	(void)e;
	(void)info;
	*state = NULL;
	return 0;
}

static void relay_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	(void)state;
	(void)c;
	/* Over the output budget: this datagram is dropped for everyone,
	 * counted by the engine (drop_output). */
	(void)rf_broadcast(e, RF_NO_CLIENT, data, len);
}

static void relay_tick(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
}

static const struct rf_game relay_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "relay",
	.flags = RF_GAME_IDLE_SLEEP,
	.init = relay_init,
	.input = relay_input,
	.tick = relay_tick,
};

/* Not RF_GAME_ENTRY: a built-in table is looked up by name, and the
 * worker exports no ringfleet_game a loaded module could pick up. */
const struct rf_game *rf_relay_game(void);

const struct rf_game *rf_relay_game(void)
{
	return &relay_game;
}
