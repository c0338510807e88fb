// SPDX-License-Identifier: Apache-2.0
/* ring.h - the io_uring backend of a worker. It owns one ring with the
 * socket as registered file 0, one multishot recvmsg over an mmapped,
 * registered provided-buffer ring (armed only while a tick drains the
 * socket, so a sleeping worker holds no datagram), and the sends of each
 * tick: one sendmsg per destination and batch, iovecs pointing into the
 * receive buffers. Buffers go back to the kernel when every send of their
 * tick completed. It only moves bytes: the tick sequence is driver.c's,
 * admission and planning are worker.c's.
 *
 * open: nbufs is a power of two; -EPERM/-ENOSYS mean io_uring is not
 * available here, other -errno that this kernel lacks a feature we need
 * (the multishot receive is armed once at open to check, then cancelled
 * until the first tick). wait submits what is queued (the previous tick's
 * sends and the receive's cancel) and sleeps until the deadline, a signal,
 * or a full completion queue. drain_on_stop waits for the sends in flight.
 */
#pragma once
#include "worker/backend.h"

extern const struct rf_backend_ops ring_backend_ops;
