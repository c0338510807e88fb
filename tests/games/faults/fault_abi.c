// SPDX-License-Identifier: Apache-2.0
/* fault_abi.c - a test game module built for an ABI the engine does not
 * know (RF_GAME_ABI_VERSION + 1), as a module built against a newer
 * header would be. The worker must refuse it before calling anything
 * (server fatal, the reason naming the ABI); init aborts to prove it.
 */
#include <stdlib.h>

#include "ringfleet/game.h"

static int abi_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	(void)e;
	(void)info;
	(void)state;
	abort(); /* the engine called a module it should have refused */
}

static void abi_tick(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
	abort();
}

static const struct rf_game abi_game = {
	.abi_version = RF_GAME_ABI_VERSION + 1,
	.size = sizeof(struct rf_game),
	.name = "fault_abi",
	.init = abi_init,
	.tick = abi_tick,
};

const struct rf_game *ringfleet_game(void)
{
	return &abi_game;
}
