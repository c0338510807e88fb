// SPDX-License-Identifier: Apache-2.0
/* fault_overflow.c - a test game module that writes past what it was
 * given: a datagram "OVERFLOW" makes input write the byte after the
 * datagram (data[len], through a cast), a memory error that corrupts
 * nothing visible in a normal build. In a sanitizer build the engine
 * poisons the rest of the receive buffer while input runs, so AddressSanitizer
 * reports the write and the worker dies. Any other datagram is echoed.
 */
#include <string.h>

#include "ringfleet/game.h"

static int overflow_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	(void)e;
	(void)info;
	*state = NULL;
	return 0;
}

static void overflow_input(rf_engine *e, void *state, rf_client_id c, const void *data,
			   uint32_t len)
{
	(void)state;
	if (len == 8 && memcmp(data, "OVERFLOW", 8) == 0)
		((volatile char *)data)[len] = '!';
	else
		rf_send(e, c, data, len);
}

static void overflow_tick(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
}

static const struct rf_game overflow_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "fault_overflow",
	.init = overflow_init,
	.input = overflow_input,
	.tick = overflow_tick,
};

const struct rf_game *ringfleet_game(void)
{
	return &overflow_game;
}
