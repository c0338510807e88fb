// SPDX-License-Identifier: Apache-2.0
/* fault_initfail.c - a test game module whose init fails: it logs why at
 * RF_GAME_LOG_ERR and returns -EINVAL, as a game whose map is missing
 * would. The server must become fatal (no restart loop) with that message
 * in its reason and in the log.
 */
#include <errno.h>
#include <stdlib.h>

#include "ringfleet/game.h"

/* The e2e test looks for this text. */
#define INITFAIL_MSG "fault_initfail: map 'nowhere' not found"

static int initfail_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	(void)info;
	(void)state;
	rf_log(e, RF_GAME_LOG_ERR, INITFAIL_MSG);
	return -EINVAL;
}

static void initfail_tick(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
	abort(); /* never ticked: init failed */
}

static const struct rf_game initfail_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "fault_initfail",
	.init = initfail_init,
	.tick = initfail_tick,
};

const struct rf_game *ringfleet_game(void)
{
	return &initfail_game;
}
