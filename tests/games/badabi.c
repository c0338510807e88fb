// SPDX-License-Identifier: Apache-2.0
/* badabi.c - a test module built for an ABI version this engine does not
 * speak: the entry point is there, its table says RF_GAME_ABI_VERSION + 98.
 * ringfleetd --check must refuse it at the config line that names it. */
#include <stddef.h>

#include "ringfleet/game.h"

static int bad_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	(void)e, (void)info, (void)state;
	return 0;
}

static void bad_tick(rf_engine *e, void *state)
{
	(void)e, (void)state;
}

static const struct rf_game game = {
	.abi_version = RF_GAME_ABI_VERSION + 98,
	.size = sizeof(struct rf_game),
	.name = "badabi",
	.init = bad_init,
	.tick = bad_tick,
};

const struct rf_game *ringfleet_game(void)
{
	return &game;
}
