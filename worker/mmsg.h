// SPDX-License-Identifier: Apache-2.0
/* mmsg.h - the fallback backend of a worker, for hosts where io_uring is
 * unavailable (kernel.io_uring_disabled, seccomp): recvmmsg into
 * preallocated buffers, sendmmsg with the same GSO batches as the io_uring
 * backend (one mmsghdr per batch and destination), ppoll to sleep until
 * the tick deadline. The socket is never made O_NONBLOCK (it may be shared
 * with the supervisor): every call passes MSG_DONTWAIT instead.
 */
#pragma once
#include <signal.h>
#include <stdint.h>

#include "worker/worker.h"

struct mmsg;

int mmsg_open(struct mmsg **out, struct worker *w, int fd, uint32_t nbufs,
	      uint32_t max_clients);
void mmsg_close(struct mmsg *m);
/* Sleeps until deadline_ns or a signal in mask's complement; the socket is
 * not read meanwhile. 0 or -EINTR; other -errno are fatal. */
int mmsg_wait(struct mmsg *m, uint64_t deadline_ns, const sigset_t *mask);
/* The tick: takes in what queued in the socket, plans and sends it all.
 * Sends that cannot go out before w->deadline_ns are dropped. */
int mmsg_tick(struct mmsg *m);
/* Last receive error (negative errno) or 0. */
int mmsg_rx_error(const struct mmsg *m);
