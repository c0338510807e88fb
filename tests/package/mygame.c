// SPDX-License-Identifier: Apache-2.0
/* mygame.c - the module of the package_game test, written as someone who
 * has only the installed .deb would write it: built out of tree against
 * /usr/include/ringfleet/game.h through pkg-config, nothing else.
 *
 * It echoes each datagram to its sender, by reference, and tells the
 * players already there about a newcomer: "join <players> <game_args>"
 * to every client but the one joining. Value 0 "players" and the status
 * show how many play.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringfleet/game.h>

struct mygame {
	uint32_t players;
	char args[64];
};

static void show(rf_engine *e, const struct mygame *g)
{
	char text[RF_GAME_STATUS_MAX];

	rf_set_value(e, 0, g->players);
	snprintf(text, sizeof(text), "%u playing", (unsigned)g->players);
	rf_set_status(e, text);
}

static int my_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	struct mygame *g = calloc(1, sizeof(*g));
	char line[128];

	if (!g)
		return -ENOMEM;
	/* info is valid during init only: keep a copy. */
	snprintf(g->args, sizeof(g->args), "%s", info->args);
	if (rf_define_value(e, 0, "players") < 0) {
		free(g);
		return -EINVAL;
	}
	show(e, g);
	snprintf(line, sizeof(line), "mygame ready on %s at %u Hz", info->server,
		 (unsigned)info->tick_hz);
	rf_log(e, RF_GAME_LOG_INFO, line);
	*state = g;
	return 0;
}

static void my_fini(rf_engine *e, void *state)
{
	(void)e;
	free(state);
}

static int my_join(rf_engine *e, void *state, rf_client_id c)
{
	struct mygame *g = state;
	char notice[96];
	int n;

	g->players++;
	show(e, g);
	n = snprintf(notice, sizeof(notice), "join %u %s", (unsigned)g->players, g->args);
	/* A copy: notice is on the stack, the engine queues its own. */
	rf_broadcast(e, c, notice, (uint32_t)n);
	return 0;
}

static void my_leave(rf_engine *e, void *state, rf_client_id c, enum rf_leave_reason why)
{
	struct mygame *g = state;

	(void)c;
	(void)why;
	g->players--;
	show(e, g);
}

static void my_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	(void)state;
	rf_send(e, c, data, len);
}

static void my_tick(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
}

static const struct rf_game mygame = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "mygame",
	.init = my_init,
	.fini = my_fini,
	.join = my_join,
	.leave = my_leave,
	.input = my_input,
	.tick = my_tick,
};

const struct rf_game *ringfleet_game(void)
{
	return &mygame;
}
