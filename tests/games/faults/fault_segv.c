// SPDX-License-Identifier: Apache-2.0
/* fault_segv.c - a test game module that crashes: a datagram starting
 * with "CRASH" makes input write through a NULL pointer (SIGSEGV); any
 * other datagram is echoed to its sender. The worker dies; the usual
 * restart policy replaces it, and the supervisor-owned socket keeps what
 * clients send meanwhile for the new worker to echo.
 */
#include <stddef.h>
#include <string.h>

#include "ringfleet/game.h"

/* Volatile so that the compiler can neither see the NULL nor turn the
 * store into a trap (SIGILL); the sanitizers' null check is off for the
 * store so that a sanitizer build dies of the same SIGSEGV. */
static int *volatile crash_at;

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
__attribute__((no_sanitize("undefined")))
#endif
static void
crash(void)
{
	*crash_at = 1;
}

static int segv_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	(void)e;
	(void)info;
	*state = NULL;
	return 0;
}

static void segv_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	(void)state;
	if (len >= 5 && memcmp(data, "CRASH", 5) == 0)
		crash();
	else
		rf_send(e, c, data, len);
}

static void segv_tick(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
}

static const struct rf_game segv_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "fault_segv",
	.init = segv_init,
	.input = segv_input,
	.tick = segv_tick,
};

const struct rf_game *ringfleet_game(void)
{
	return &segv_game;
}
