// SPDX-License-Identifier: Apache-2.0
/* relay.c - the relay, ringfleet's built-in game: every datagram a client
 * sends goes to every client, itself included, once per tick. A module of
 * the public API like any other (it includes nothing but
 * ringfleet/game.h), compiled into ringfleet-worker and found by the name
 * "relay" (worker/game_host.c), so it runs through the same host code as
 * a loaded module. The datagram is broadcast as received, by reference:
 * the engine sends it from the receive buffer, without a copy.
 *
 * Sessions: once allocated, the relay ends its session when the server has
 * had no client for session_idle_s (a match whose players never came, or
 * all left), so that the supervisor recycles it for the next match.
 */
#include <errno.h>
#include <stdlib.h>

#include "ringfleet/game.h"

#define RELAY_IDLE_S_DEFAULT 60u /* an engine too old to say */

struct relay {
	uint64_t idle_ns; /* session_idle_s */
	uint64_t last_ns; /* allocated, or a client seen, at this tick */
	int allocated;    /* a session runs that the relay may end */
};

static int relay_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	struct relay *r = calloc(1, sizeof(*r));
	uint32_t idle_s = RELAY_IDLE_S_DEFAULT;

	(void)e;
	if (!r)
		return -ENOMEM;
	if (RF_HAS_INFO(info, session_idle_s) && info->session_idle_s)
		idle_s = info->session_idle_s;
	r->idle_ns = (uint64_t)idle_s * 1000000000u;
	*state = r;
	return 0;
}

static void relay_fini(rf_engine *e, void *state)
{
	(void)e;
	free(state);
}

static void relay_allocated(rf_engine *e, void *state, const char *meta)
{
	struct relay *r = state;

	(void)meta;
	/* The players get session_idle_s to arrive. */
	r->allocated = 1;
	r->last_ns = rf_tick_ns(e);
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
	struct relay *r = state;
	uint64_t now;

	if (!r->allocated)
		return;
	now = rf_tick_ns(e);
	/* A client leaves client_timeout_s after its last datagram: the
	 * idle time counts from then. */
	if (rf_clients(e, NULL, 0) > 0) {
		r->last_ns = now;
		return;
	}
	if (now - r->last_ns >= r->idle_ns) {
		rf_log(e, RF_GAME_LOG_INFO, "no client for session_idle_s: session over");
		rf_end_session(e);
		r->allocated = 0;
	}
}

static const struct rf_game relay_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "relay",
	.flags = RF_GAME_IDLE_SLEEP,
	.init = relay_init,
	.fini = relay_fini,
	.input = relay_input,
	.tick = relay_tick,
	.allocated = relay_allocated,
};

/* Not RF_GAME_ENTRY: a built-in table is looked up by name, and the
 * worker exports no ringfleet_game a loaded module could pick up. */
const struct rf_game *rf_relay_game(void);

const struct rf_game *rf_relay_game(void)
{
	return &relay_game;
}
