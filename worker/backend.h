// SPDX-License-Identifier: Apache-2.0
/* backend.h - the operations table of a worker's io backend (io_uring in
 * ring.c, recvmmsg/sendmmsg in mmsg.c). A backend owns the io mechanics
 * only: its buffers, how it sleeps, receives and sends. The tick sequence
 * that calls these operations is driver.c's; admission and planning are
 * worker.c's, who gets what is the game's (game_host.c and the module).
 *
 * Within a tick the driver calls rx_drain, send_plan (with the plan
 * rx_drain returned, once worker_plan() cut its output into sends),
 * send_replies and tick_end, in that order.
 */
#pragma once
#include <signal.h>
#include <stdint.h>

#include "common/slot.h"
#include "worker/tick.h"
#include "worker/worker.h"

struct rf_backend_ops {
	const char *name;
	enum rf_backend kind; /* published in the slot */
	/* Sets the backend up for socket fd (which stays the caller's) and
	 * checks the kernel accepts what it needs. nbufs receive buffers of
	 * w->max_packet + 1 bytes. -errno on failure. */
	int (*open)(void **be, struct worker *w, int fd, uint32_t nbufs, uint32_t max_clients);
	void (*close)(void *be);
	/* The setup the kernel accepted, for the log. */
	const char *(*mode)(const void *be);
	/* Sleeps until deadline_ns or a signal in mask's complement, the
	 * socket unread meanwhile. 0 or -EINTR; other -errno are fatal. The
	 * caller loops until the deadline. */
	int (*wait)(void *be, uint64_t deadline_ns, const sigset_t *mask);
	/* The idle sleep: as wait, but also ends when a datagram waits in
	 * the socket, which it leaves there for the next tick. 1: the socket
	 * is readable (or has an error to report), 0: the deadline or some
	 * other wake (the caller decides whether to sleep on), -EINTR, other
	 * -errno fatal. */
	int (*wait_rx)(void *be, uint64_t deadline_ns, const sigset_t *mask);
	/* Takes in what queued in the socket, each datagram through
	 * worker_rx() into the returned plan (w->plan while it receives);
	 * NULL when there is no plan to fill (the datagrams are then dropped
	 * and counted). */
	struct tick_plan *(*rx_drain)(void *be);
	/* Sends the plan's sends (or queues them); a send whose client
	 * (index + generation) left the table meanwhile is dropped and
	 * counted in drop_send. */
	void (*send_plan)(void *be, struct tick_plan *p);
	/* Sends (or queues) the handshake replies in w->reply. */
	void (*send_replies)(void *be);
	/* Ends the tick: hands buffers whose sends are done back. */
	void (*tick_end)(void *be);
	/* Last receive error (negative errno) or 0; the next tick retries. */
	int (*rx_error)(const void *be);
	/* At stop: waits, at most until until_ns, for queued sends to
	 * complete; -ETIMEDOUT if some did not. */
	int (*drain_on_stop)(void *be, uint64_t until_ns);
};
