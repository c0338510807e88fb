// SPDX-License-Identifier: Apache-2.0
/* ring.h - the io_uring backend of a worker. It owns one ring with the
 * socket as registered file 0, one multishot recvmsg over an mmapped,
 * registered provided-buffer ring (armed only while a tick drains the
 * socket, so a sleeping worker holds no datagram), and the sends of each
 * tick: one sendmsg per destination and batch, iovecs pointing into the
 * receive buffers. Buffers go back to the kernel when every send of their
 * tick completed. It only moves bytes: admission and planning are
 * worker.c's.
 */
#pragma once
#include <signal.h>
#include <stdint.h>

#include "worker/worker.h"

struct ring;

/* Sets the ring up for socket fd (which stays the caller's). nbufs is a
 * power of two; the payload room of each buffer is w->max_packet + 1 so
 * that a datagram longer than max_packet shows. -EPERM/-ENOSYS: io_uring is
 * not available here; other -errno: this kernel lacks a feature we need. */
int ring_open(struct ring **out, struct worker *w, int fd, uint32_t nbufs,
	      uint32_t max_clients);
void ring_close(struct ring *r);
/* Checks the kernel accepts the multishot receive: arms it once, then
 * cancels it until the first tick. */
int ring_arm(struct ring *r);
/* Submits what is queued and sleeps until deadline_ns, a signal in mask's
 * complement, or a full completion queue. 0 or -EINTR; other -errno are
 * fatal. The caller loops until the deadline. */
int ring_wait(struct ring *r, uint64_t deadline_ns, const sigset_t *mask);
/* The tick: takes in all completions and what queued in the socket,
 * plans the window's packets and queues their sends and the receive's
 * cancel (submitted by the next ring_wait). */
int ring_tick(struct ring *r);
/* Waits, at most until until_ns, for every queued send to complete.
 * -ETIMEDOUT if some did not. */
int ring_drain(struct ring *r, uint64_t until_ns);

/* The setup the kernel accepted, for the log. */
const char *ring_mode(const struct ring *r);
/* Last receive error (negative errno) or 0; the next tick re-arms. */
int ring_rx_error(const struct ring *r);
