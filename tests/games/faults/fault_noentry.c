// SPDX-License-Identifier: Apache-2.0
/* fault_noentry.c - a test game module without the entry point: it
 * exports its table under a misspelt name, as a module built with the
 * wrong symbol would. The worker must refuse it (server fatal, the reason
 * naming ringfleet_game), never run it.
 */
#include "ringfleet/game.h"

static int noentry_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	(void)e;
	(void)info;
	(void)state;
	return 0;
}

static void noentry_tick(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
}

static const struct rf_game noentry_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "fault_noentry",
	.init = noentry_init,
	.tick = noentry_tick,
};

/* Not RF_GAME_ENTRY. The prototype keeps -Wmissing-prototypes quiet. */
const struct rf_game *ringfleet_game_v1(void);
const struct rf_game *ringfleet_game_v1(void)
{
	return &noentry_game;
}
