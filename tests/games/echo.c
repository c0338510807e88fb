// SPDX-License-Identifier: Apache-2.0
/* echo.c - a test game module: sends each datagram back to its sender
 * only. Uses nothing but the public header, like a studio's module.
 *
 * Datagrams with a meaning: "kick" kicks the sender, "end" ends the
 * session, "who" answers "id <decimal rf_client_id>", "player" answers
 * "player <id>" (rf_client_player(), "-" when NULL). game_args
 * "max=N" refuses a join beyond N clients. On drain it broadcasts "bye"
 * and ends the session (with game_args "linger": broadcasts "bye" and
 * lets the drain deadline stop the worker).
 *
 * Values: players (clients now), joins, leaves, last_leave (the reason of
 * the last leave, enum rf_leave_reason). Status: "players N".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringfleet/game.h"

struct echo {
	uint32_t max; /* 0: no limit */
	int linger;   /* drain without ending the session */
	int64_t players, joins, leaves;
};

static void show(rf_engine *e, struct echo *g)
{
	char text[RF_GAME_STATUS_MAX];

	rf_set_value(e, 0, g->players);
	rf_set_value(e, 1, g->joins);
	rf_set_value(e, 2, g->leaves);
	snprintf(text, sizeof(text), "players %lld", (long long)g->players);
	rf_set_status(e, text);
}

static int echo_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	static const char *const names[] = { "players", "joins", "leaves", "last_leave" };
	struct echo *g = calloc(1, sizeof(*g));
	const char *m;

	if (!g)
		return -ENOMEM;
	m = strstr(info->args, "max=");
	if (m)
		g->max = (uint32_t)strtoul(m + 4, NULL, 10);
	g->linger = strstr(info->args, "linger") != NULL;
	for (unsigned i = 0; i < 4; i++)
		if (rf_define_value(e, i, names[i]) < 0) {
			free(g);
			return -EINVAL;
		}
	*state = g;
	show(e, g);
	rf_log(e, RF_GAME_LOG_INFO, "echo ready");
	return 0;
}

static void echo_fini(rf_engine *e, void *state)
{
	(void)e;
	free(state);
}

static int echo_join(rf_engine *e, void *state, rf_client_id c)
{
	struct echo *g = state;

	(void)c;
	if (g->max && g->players >= g->max)
		return -1;
	g->players++;
	g->joins++;
	show(e, g);
	return 0;
}

static void echo_leave(rf_engine *e, void *state, rf_client_id c, enum rf_leave_reason why)
{
	struct echo *g = state;

	(void)c;
	g->players--;
	g->leaves++;
	rf_set_value(e, 3, why);
	show(e, g);
}

static void echo_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	char buf[32];

	(void)state;
	if (len == 4 && memcmp(data, "kick", 4) == 0) {
		rf_kick(e, c);
	} else if (len == 3 && memcmp(data, "end", 3) == 0) {
		rf_end_session(e);
	} else if (len == 3 && memcmp(data, "who", 3) == 0) {
		int n = snprintf(buf, sizeof(buf), "id %llu", (unsigned long long)c);

		rf_send(e, c, buf, (uint32_t)n);
	} else if (len == 6 && memcmp(data, "player", 6) == 0) {
		const char *p = rf_client_player(e, c);
		int n = snprintf(buf, sizeof(buf), "player %s", p ? p : "-");

		rf_send(e, c, buf, (uint32_t)n);
	} else {
		rf_send(e, c, data, len);
	}
}

static void echo_tick(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
}

static void echo_drain(rf_engine *e, void *state, uint64_t deadline_ns)
{
	struct echo *g = state;

	(void)deadline_ns;
	rf_broadcast(e, RF_NO_CLIENT, "bye", 3);
	if (!g->linger)
		rf_end_session(e);
}

static const struct rf_game echo_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "echo",
	.flags = RF_GAME_IDLE_SLEEP,
	.init = echo_init,
	.fini = echo_fini,
	.join = echo_join,
	.leave = echo_leave,
	.input = echo_input,
	.tick = echo_tick,
	.drain = echo_drain,
};

const struct rf_game *ringfleet_game(void)
{
	return &echo_game;
}
