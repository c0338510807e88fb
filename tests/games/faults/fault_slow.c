// SPDX-License-Identifier: Apache-2.0
/* fault_slow.c - a test game module whose tick is too slow: after a
 * datagram "SLOW n" its next n ticks each busy-loop for one and a half
 * tick periods (the worker counts tick_overruns and goes on); after
 * "HANG" its tick never returns (the supervisor's hang detection replaces
 * the worker). Any other datagram is echoed to its sender.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringfleet/game.h"

struct slow {
	uint64_t period_ns;
	uint32_t slow_ticks; /* ticks still to overrun */
	int hang;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int slow_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	struct slow *g = calloc(1, sizeof(*g));

	(void)e;
	if (!g)
		return -ENOMEM;
	g->period_ns = 1000000000u / (info->tick_hz ? info->tick_hz : 1);
	*state = g;
	return 0;
}

static void slow_fini(rf_engine *e, void *state)
{
	(void)e;
	free(state);
}

static void slow_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	struct slow *g = state;
	char num[12];

	if (len > 5 && len < 5 + sizeof(num) && memcmp(data, "SLOW ", 5) == 0) {
		memcpy(num, (const char *)data + 5, len - 5);
		num[len - 5] = '\0';
		g->slow_ticks = (uint32_t)strtoul(num, NULL, 10);
	} else if (len == 4 && memcmp(data, "HANG", 4) == 0) {
		g->hang = 1;
	} else {
		rf_send(e, c, data, len);
	}
}

static void slow_tick(rf_engine *e, void *state)
{
	struct slow *g = state;
	uint64_t until;

	(void)e;
	/* Spins, as a runaway simulation would: no sleep, no return. */
	if (g->hang)
		for (;;)
			(void)mono_ns();
	if (!g->slow_ticks)
		return;
	g->slow_ticks--;
	until = mono_ns() + g->period_ns + g->period_ns / 2;
	while (mono_ns() < until)
		;
}

static const struct rf_game slow_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "fault_slow",
	.init = slow_init,
	.fini = slow_fini,
	.input = slow_input,
	.tick = slow_tick,
};

const struct rf_game *ringfleet_game(void)
{
	return &slow_game;
}
