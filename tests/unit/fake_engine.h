/* SPDX-License-Identifier: Apache-2.0 */
/* fake_engine.h - a stand-in for ringfleet's engine under a game module, for
 * unit tests of modules: its own struct rf_services that records what the
 * module sends, logs and publishes, a client table the test fills, and a
 * clock and tick number the test sets. Modules are loaded with dlopen, as
 * the worker does, so the entry point is tested too. Owns nothing of the
 * real engine; include/ringfleet/game.h is the whole contract. */
#ifndef RF_TEST_FAKE_ENGINE_H
#define RF_TEST_FAKE_ENGINE_H

#include <ringfleet/game.h>

#include <stdbool.h>
#include <stdint.h>

#define FE_CLIENTS 64
#define FE_SENDS 1024
#define FE_MSG 2048

struct fe_send {
	rf_client_id to; /* RF_NO_CLIENT: a broadcast */
	rf_client_id except;
	uint32_t len;
	uint8_t data[FE_MSG];
};

enum fe_phase { FE_OUTSIDE, FE_INIT, FE_CALLBACK };

struct fake_engine {
	rf_engine e; /* first: a callback's rf_engine * is the fake_engine */
	struct rf_services svc;
	enum fe_phase phase;
	uint64_t tick, now_ns;
	uint32_t max_packet;
	struct {
		bool used;
		uint32_t gen;
		void *data;
	} cl[FE_CLIENTS];
	struct fe_send sends[FE_SENDS];
	unsigned nsends;
	unsigned end_sessions, kicks;
	char last_log[256];
	int last_log_level;
	unsigned logs;
	char value_name[RF_GAME_VALUES][RF_GAME_VALUE_NAME_MAX];
	int64_t value[RF_GAME_VALUES];
	char status[RF_GAME_STATUS_MAX];
	/* the loaded module */
	void *dl;
	const struct rf_game *game;
	void *state;
};

/* dlopen(path), look up RF_GAME_ENTRY, call it; asserts on failure. */
void fe_load(struct fake_engine *f, const char *path);
void fe_unload(struct fake_engine *f);
/* A fresh engine at tick 1, time 1 s, no clients, max_packet 1400. */
void fe_reset(struct fake_engine *f);
/* The module's callbacks, run as the engine would (phases, state). */
int fe_init(struct fake_engine *f, const char *args, uint32_t max_clients);
void fe_fini(struct fake_engine *f);
/* A new client in the table; join is called. Returns its id, or 0 when the
 * module refused it (then it is not in the table). */
rf_client_id fe_join(struct fake_engine *f);
void fe_leave(struct fake_engine *f, rf_client_id c, enum rf_leave_reason why);
void fe_input(struct fake_engine *f, rf_client_id c, const void *data, uint32_t len);
/* Advances the tick (and the clock by ns), clears the recorded sends,
 * and calls tick. */
void fe_tick(struct fake_engine *f, uint64_t ns);
void fe_drain(struct fake_engine *f);
/* The last datagram recorded for client c, or NULL. */
const struct fe_send *fe_last_to(const struct fake_engine *f, rf_client_id c);

#endif
