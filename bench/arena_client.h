// SPDX-License-Identifier: Apache-2.0
/* arena_client.h - the arena game (games/arena/README.md) as ringfleet-load
 * plays it: encoding INPUTs, and checking each SNAPSHOT a player receives
 * (every tick one, acknowledging the player's inputs). Owns the per-player
 * accounting and the arena totals; ringfleet-load owns sockets and time. */
#pragma once
#include "bench/hist.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARENA_INPUT_LEN 8
#define ARENA_SNAP_HDR 20
#define ARENA_SNAP_PLAYER 8
/* Send times of a player's last inputs, by seq: acks come within a few
 * ticks, so 4096 inputs back is far more than any ack can lag. */
#define ARENA_RING 4096

/* One player. The sender thread writes sent_ts[], sent and win_*; the
 * receiving thread the rest. */
struct arena_player {
	uint64_t *sent_ts;   /* [ARENA_RING]: send time of input seq */
	uint32_t sent;       /* highest seq sent (atomic) */
	uint32_t win_first;  /* first and last seq sent in the window */
	uint32_t win_last;   /* (0: none) */
	uint32_t acked;      /* highest your_last_seq received */
	uint64_t first_tick; /* first and last tick of the snapshots */
	uint64_t last_tick;  /* received in the window (0: none) */
	uint64_t snaps;      /* snapshots received in the window */
	uint64_t last_rx;    /* when the previous snapshot arrived */
};

struct arena_totals {
	struct hist interval; /* between a player's consecutive snapshots */
	struct hist ack;      /* input sent -> first snapshot acknowledging it */
	uint64_t bad;         /* malformed, or acknowledging an unsent input */
	uint64_t stale;       /* a tick not newer than the previous one */
	uint64_t wrong_n;     /* not every player of the server in it */
	uint64_t byes;
};

/* Writes INPUT seq of player k (a direction that changes every second or
 * so) into buf; returns its length. */
uint32_t arena_input(uint8_t *buf, uint32_t seq, unsigned k, unsigned rate);

/* Notes that input seq was sent at ts; in_window: inside the window. */
void arena_sent(struct arena_player *p, uint32_t seq, uint64_t ts, bool in_window);

/* Accounts one datagram the player received at now. [t0, t1) is the
 * measured window; players: how many the server should show. Returns
 * false when it is no arena message at all. */
bool arena_received(struct arena_player *p, struct arena_totals *t, const uint8_t *m, size_t len,
		    uint64_t now, uint64_t t0, uint64_t t1, unsigned players);

/* After the run: snapshots expected (ticks spanned) and received, inputs
 * of the window and those never acknowledged, summed over players. */
struct arena_sum {
	uint64_t snaps_expected, snaps_received;
	uint64_t inputs, unacked;
};
void arena_sum_add(struct arena_sum *s, const struct arena_player *p);
