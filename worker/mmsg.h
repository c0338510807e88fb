// SPDX-License-Identifier: Apache-2.0
/* mmsg.h - the fallback backend of a worker, for hosts where io_uring is
 * unavailable (kernel.io_uring_disabled, seccomp): recvmmsg into
 * preallocated buffers, sendmmsg with the same GSO batches as the io_uring
 * backend (one mmsghdr per batch and destination), ppoll to sleep until
 * the tick deadline. The socket is never made O_NONBLOCK (it may be shared
 * with the supervisor): every call passes MSG_DONTWAIT instead. It only
 * moves bytes: the tick sequence is driver.c's.
 *
 * Sends are synchronous: send_plan returns when every send went out or
 * was dropped; sends that cannot go out before w->deadline_ns are dropped.
 */
#pragma once
#include "worker/backend.h"

extern const struct rf_backend_ops mmsg_backend_ops;
