// SPDX-License-Identifier: Apache-2.0
/* driver.h - the tick driver of a worker: the one owner of the tick
 * sequence. On a fixed grid (period, phase on CLOCK_MONOTONIC) it sleeps
 * until the deadline, then drains the socket (each datagram admitted by
 * worker_rx(), joins and input told to the game), ends the admission
 * window (expiry: leaves), runs the game's tick, plans the sends
 * (worker_plan()), sends them and the handshake replies, applies a session
 * end the game asked for, and publishes the counters. At the stop signal
 * the game may drain: ticks go on until it ends its session or the drain
 * deadline passes. The io goes through a backend's operations table
 * (backend.h), the game through the game host (game_host.h): neither
 * knows the other, and the driver branches on neither.
 *
 * Idle sleep: after a tick that leaves no client, with a game that needs
 * no tick then (RF_GAME_IDLE_SLEEP) and no allocated session, the driver
 * stops ticking and sleeps on the socket (the backend's wait_rx) until a
 * datagram waits, a signal comes, a heartbeat is due (the slot's
 * idle_beat_ms) or the supervisor's beat goes stale (orphan.h); a
 * datagram's tick runs at once, then the grid resumes without catching up.
 */
#pragma once
#include <signal.h>
#include <stdint.h>

#include "worker/backend.h"
#include "worker/worker.h"

struct rf_driver {
	struct worker *w;
	const struct rf_backend_ops *ops;
	void *be; /* the backend's state */
	uint64_t period_ns;
	uint64_t phase_ns;
	uint32_t gso_seen; /* events already logged */
	int rx_seen;
	uint64_t drain_ns; /* drain_timeout_ms: the game's goodbye time */
	bool idle_sleep;   /* idle_sleep = on: may sleep while idle */
	uint64_t orphan_s; /* != 0: stopping, the supervisor gone this long (orphan.h) */
};

/* Installs the handshake key when w->now_ns's epoch needs a new one. */
void rf_driver_rotate_key(struct worker *w);
/* Opens backend ops for socket fd (which stays the caller's) under worker
 * w, ticking at hz with phase_ns. -errno from the backend's open. */
int rf_driver_open(struct rf_driver *d, const struct rf_backend_ops *ops, struct worker *w, int fd,
		   uint32_t nbufs, uint32_t max_clients, uint32_t hz, uint64_t phase_ns);
/* Runs ticks until *stop is set (by a signal, which only cuts a sleep
 * short: the tick after it runs at once) or the slot shows the supervisor
 * gone for longer than its orphan_timeout_s (orphan.h: then d->orphan_s
 * says for how long). That tick calls the game's drain, if it has one,
 * and ticks go on until the game ends its session or drain_ns pass;
 * without a drain that tick is the last. 0, or -errno
 * on a fatal error. */
int rf_driver_run(struct rf_driver *d, const sigset_t *waitmask, const volatile sig_atomic_t *stop);
/* At stop: waits, at most until until_ns, for sends still in flight;
 * -ETIMEDOUT if some did not complete. */
int rf_driver_drain(struct rf_driver *d, uint64_t until_ns);
void rf_driver_close(struct rf_driver *d);
