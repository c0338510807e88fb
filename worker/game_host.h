// SPDX-License-Identifier: Apache-2.0
/* game_host.h - the game host: the engine's side of the public game API
 * (include/ringfleet/game.h). It owns the module a worker runs: loading it
 * (the built-in relay by name, anything else with dlopen), checking its
 * table, calling its callbacks at the moments the engine reports (join,
 * leave, input, tick, drain, fini) and the services table the module
 * calls back through, on top of the engine's output API (worker_send(),
 * worker_broadcast()) and client ids (worker_client_id()).
 *
 * Rules it enforces: no callback runs inside another; a service called
 * outside a callback, or from a callback it is not for, returns -EPERM;
 * rf_kick() takes effect when the current callback returns, and
 * rf_end_session() at the end of the tick (game_host_end_tick()).
 * The host writes the game area of the slot: name, values, status, the
 * game's flags and, before an exit on a bad module, exit_reason. It reads
 * the slot's session area (the supervisor's, a seqlock) once per tick and
 * tells the module of a new allocation (game_host_session()).
 *
 * Nothing here allocates after game_host_start(); dlopen() and the log
 * sink are the only calls out.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slot.h"
#include "ringfleet/game.h"

struct worker;

#define GAME_HOST_WHY_MAX 160     /* one-line reasons, as in the slot */
#define GAME_HOST_LOG_PER_SEC 100 /* module log lines per second */

/* Which callback is running (HOST_CB_NONE: none). */
enum game_host_cb {
	HOST_CB_NONE,
	HOST_CB_INIT,
	HOST_CB_JOIN,
	HOST_CB_LEAVE,
	HOST_CB_INPUT,
	HOST_CB_TICK,
	HOST_CB_DRAIN,
	HOST_CB_FINI,
	HOST_CB_ALLOCATED,
};

struct game_host_params {
	const char *server; /* the server's name */
	const char *args;   /* game_args, "" when unset */
	uint32_t tick_hz;
	uint32_t output_budget;  /* max_output_per_tick */
	uint32_t session_idle_s; /* handed to the module in rf_game_info */
	/* Where the module's log lines go (already prefixed "game: "); NULL
	 * drops them. */
	void (*log)(int level, const char *line);
};

struct game_host {
	struct rf_engine engine; /* what the module holds; first member */
	struct rf_game game;     /* the module's table, zero past its size */
	char what[64];           /* "relay" or the path, for reasons */
	void *dl;                /* dlopen() handle; NULL when built in */
	void *state;             /* the module's, from init */
	struct worker *w;
	enum game_host_cb cb;
	bool started;      /* init succeeded: fini is due */
	bool applying;     /* kicks being applied: no nesting */
	bool end_asked;    /* rf_end_session() this tick */
	bool ending;       /* the session end is being applied */
	bool draining;     /* drain was called */
	bool session_over; /* a session ended while draining: stop */
	uint32_t max_clients;
	void **client_data; /* [max_clients] the module's pointer per index */
	uint64_t *kick;     /* [max_clients] ids kicked, applied after the callback */
	uint8_t *kick_flag; /* [max_clients] index already in kick[], or leaving */
	uint32_t n_kicks;
	uint64_t leaving;    /* the id whose leave runs, 0: none */
	uint64_t *ids;       /* [max_clients] scratch for session end, resume */
	uint32_t value_used; /* bit i: value i defined */
	void (*log)(int level, const char *line);
	uint64_t log_window_ns; /* start of the current rate-limit second */
	uint32_t log_lines;     /* lines in that second */
	uint32_t log_dropped;   /* lines suppressed in that second */
	char last_err[96];      /* the last RF_GAME_LOG_ERR line, for init failures */
	/* The session area as last read: its even seq, and the allocation
	 * the module was told of (0: none). */
	uint32_t sess_seq;
	uint64_t alloc_id;
	/* The allocation whose match is in play: told, and ended neither by
	 * the module nor by the supervisor (0: none). */
	uint64_t live_id;
	char meta[RF_SLOT_META_MAX + 1]; /* the copy handed to allocated */
};

/* For the host's own files (game_host.c, game_load.c, game_session.c):
 * a module callback runs between these two; kicks it queued are applied
 * at its end. */
void game_host_cb_enter(struct game_host *h, enum game_host_cb cb);
void game_host_cb_leave(struct game_host *h);

/* The built-in games by name (the relay): their entry, or NULL. */
rf_game_entry_fn game_host_builtin(const char *name);

/* Checks a module's table t (abi_version, size, init and tick) and copies
 * its first t->size bytes into out, zeroing the rest. 0, or -EINVAL /
 * -EPROTO with the reason in why. */
int game_host_check_table(const struct rf_game *t, struct rf_game *out, char *why, size_t len);

/* Loads game ("relay" or a module path: dlopen, the entry point, then the
 * table check); nothing of the module runs but its entry function. 0, or
 * a negative errno with one line in why (without the path). */
int game_host_load(struct game_host *h, const char *game, char *why, size_t len);
/* The same for a table at hand (tests, and the load above); what names
 * it in logs and reasons. */
int game_host_load_table(struct game_host *h, const struct rf_game *t, const char *what, char *why,
			 size_t len);

/* Attaches the loaded module to w (w->host = h), writes its name into the
 * slot, calls init, then join for each client the slot already held (a
 * resumed worker; refused ones are removed). 0, or the negative errno of
 * init (or -ENOMEM) with "game NAME: init failed: ..." in why, and
 * nothing left to undo but game_host_unload(). */
int game_host_start(struct game_host *h, struct worker *w, const struct game_host_params *p,
		    char *why, size_t len);
/* Calls fini (if started) and unloads the module. */
void game_host_unload(struct game_host *h);

/* The engine's moments. Indexes are client table entries. */
/* A client entered the table: 0 keeps it; negative: it is gone from the
 * table when this returns, refused (no leave follows; removed before the
 * kicks its join queued apply) or kicked during its own join
 * (-ECONNRESET, after its leave). */
int game_host_join(struct game_host *h, uint32_t idx);
/* idx is about to be removed (still in the table): leave, then its
 * client data is cleared. */
void game_host_leave(struct game_host *h, uint32_t idx, enum rf_leave_reason why);
void game_host_input(struct game_host *h, uint32_t idx, const void *data, uint32_t len);
void game_host_tick(struct game_host *h);
/* The worker is stopping: calls drain(deadline_ns) once. false when the
 * module has no drain (stop at once). */
bool game_host_drain(struct game_host *h, uint64_t deadline_ns);
/* The end of the tick, after its output is planned: applies an
 * rf_end_session() of this tick (every client leaves, SESSION_OVER, and
 * is removed). true when it did. */
bool game_host_end_tick(struct game_host *h);
/* The start of a tick: reads the slot's session area (one load when
 * nothing changed). A match in play that the area no longer shows
 * allocated (released by the supervisor) ends as rf_end_session() ends
 * it, every client leaving with SESSION_OVER, but is not counted in
 * sessions_ended: the supervisor ended it. Then, for a new allocation
 * (state allocated, an alloc_id not told yet), calls the module's
 * allocated with the sanitized meta, if its table has one. 1 when a new
 * allocation was seen, 0 when none, -EAGAIN when the supervisor was
 * writing (read again next tick). */
int game_host_session(struct game_host *h);
/* The meta of the session area made fit for a module: printable ASCII
 * (anything else '?'), no empty line, every line ending in '\n', at most
 * RF_SLOT_META_MAX bytes of src read. dst holds RF_SLOT_META_MAX + 1. */
void game_host_meta(char *dst, const char *src);
/* A draining module ended its session: the worker stops. */
static inline bool game_host_done(const struct game_host *h)
{
	return h->session_over;
}
