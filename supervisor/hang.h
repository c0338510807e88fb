// SPDX-License-Identifier: Apache-2.0
/* hang.h - the hang rule: whether a running worker is hung, from its
 * heartbeat and, for a worker sleeping idle, the input waiting on its
 * socket. Pure: fleet.c reads the slot and the socket and acts on the
 * verdict.
 *
 * A ticking worker beats every tick: hung when its heartbeat is older
 * than hang_timeout. An idle worker beats only every idle_beat (long, to
 * keep a thousand sleeping servers near zero CPU), so it is hung when
 * (a) it missed a beat by more than hang_timeout, or (b) a datagram waits
 * on its socket and its heartbeat has not moved for hang_timeout since
 * that was first seen: a healthy idle worker wakes on the first datagram.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* What (b) remembers between checks: when input was first seen waiting
 * on an idle worker's socket, and the heartbeat then. Zero: nothing. */
struct hang_watch {
	uint64_t since_ns;
	uint64_t beat_ns;
};

struct hang_in {
	bool idle;        /* the slot's idle flag, as last read */
	uint64_t beat_ns; /* the heartbeat (monotonic), not before ready */
	uint64_t now_ns;
	uint64_t hang_ns;       /* hang_timeout */
	uint64_t beat_every_ns; /* idle_beat */
	uint64_t pending;       /* bytes waiting on the socket (asked of idle
				 * workers only: one ioctl, no worker wake) */
};

enum hang_verdict {
	HANG_OK = 0,
	HANG_NO_TICK,     /* ticking worker: no heartbeat for hang_timeout */
	HANG_IDLE_SILENT, /* idle worker: no heartbeat for idle_beat + hang_timeout */
	HANG_IDLE_DEAF,   /* idle worker: input waiting, not taken for hang_timeout */
};

/* The verdict, updating *w. *for_ms (may be NULL) gets how long the
 * worker has been silent (NO_TICK, IDLE_SILENT) or deaf (IDLE_DEAF). */
enum hang_verdict hang_judge(const struct hang_in *in, struct hang_watch *w, uint64_t *for_ms);
