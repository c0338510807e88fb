// SPDX-License-Identifier: Apache-2.0
/* session.c - a test game module for sessions (issue 13): shows each
 * allocation it is told of in its status, "alloc N: k=v;k2=v2" (N counts
 * allocated calls of this module instance, the meta's lines joined by
 * ';'), and ends the session on a datagram "END". Any other datagram is
 * echoed to its sender. Built twice: "session", and "session_reset" with
 * RF_GAME_SELF_RESET set (-DSESSION_SELF_RESET), for the supervisor's
 * tests of a module that resets itself.
 *
 * Values: allocs (allocated calls), idle_s (rf_game_info's session_idle_s,
 * -1 when the engine has none), players, ended (rf_end_session calls).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringfleet/game.h"

#ifdef SESSION_SELF_RESET
#define SESSION_FLAGS (RF_GAME_IDLE_SLEEP | RF_GAME_SELF_RESET)
#else
#define SESSION_FLAGS RF_GAME_IDLE_SLEEP
#endif

enum { VAL_ALLOCS, VAL_IDLE_S, VAL_PLAYERS, VAL_ENDED };

struct session {
	int64_t allocs, players, ended;
};

static int session_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	static const char *const names[] = { "allocs", "idle_s", "players", "ended" };
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (unsigned i = 0; i < 4; i++)
		if (rf_define_value(e, i, names[i]) < 0) {
			free(s);
			return -EINVAL;
		}
	rf_set_value(e, VAL_IDLE_S,
		     RF_HAS_INFO(info, session_idle_s) ? (int64_t)info->session_idle_s : -1);
	rf_set_status(e, "not allocated");
	*state = s;
	return 0;
}

static void session_fini(rf_engine *e, void *state)
{
	(void)e;
	free(state);
}

static void session_allocated(rf_engine *e, void *state, const char *meta)
{
	struct session *s = state;
	char text[RF_GAME_STATUS_MAX];
	int n;

	s->allocs++;
	rf_set_value(e, VAL_ALLOCS, s->allocs);
	n = snprintf(text, sizeof(text), "alloc %lld: ", (long long)s->allocs);
	/* Lines joined by ';', the last '\n' dropped. */
	for (const char *m = meta; *m && n + 1 < (int)sizeof(text); m++) {
		if (*m == '\n' && !m[1])
			break;
		text[n] = *m;
		if (text[n] == '\n')
			text[n] = ';';
		n++;
	}
	text[n] = '\0';
	rf_set_status(e, text);
	rf_log(e, RF_GAME_LOG_INFO, text);
}

static int session_join(rf_engine *e, void *state, rf_client_id c)
{
	struct session *s = state;

	(void)c;
	rf_set_value(e, VAL_PLAYERS, ++s->players);
	return 0;
}

static void session_leave(rf_engine *e, void *state, rf_client_id c, enum rf_leave_reason why)
{
	struct session *s = state;

	(void)c;
	(void)why;
	rf_set_value(e, VAL_PLAYERS, --s->players);
}

static void session_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	struct session *s = state;

	if (len == 3 && memcmp(data, "END", 3) == 0) {
		rf_end_session(e);
		rf_set_value(e, VAL_ENDED, ++s->ended);
	} else {
		rf_send(e, c, data, len);
	}
}

static void session_tick(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
}

static const struct rf_game session_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "session",
	.flags = SESSION_FLAGS,
	.init = session_init,
	.fini = session_fini,
	.join = session_join,
	.leave = session_leave,
	.input = session_input,
	.tick = session_tick,
	.allocated = session_allocated,
};

const struct rf_game *ringfleet_game(void)
{
	return &session_game;
}
