// SPDX-License-Identifier: Apache-2.0
/* arena_client.c - see arena_client.h. */
#include "bench/arena_client.h"

enum { VERSION = 1, MSG_INPUT = 1, MSG_SNAPSHOT = 2, MSG_BYE = 3 };

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t arena_input(uint8_t *buf, uint32_t seq, unsigned k, unsigned rate)
{
	/* the eight directions and standing still, one per second */
	unsigned d = (seq / (rate ? rate : 1) + k) % 9;

	buf[0] = VERSION;
	buf[1] = MSG_INPUT;
	buf[2] = (uint8_t)seq;
	buf[3] = (uint8_t)(seq >> 8);
	buf[4] = (uint8_t)(seq >> 16);
	buf[5] = (uint8_t)(seq >> 24);
	buf[6] = (uint8_t)(int8_t)((int)(d % 3) - 1);
	buf[7] = (uint8_t)(int8_t)((int)(d / 3) - 1);
	return ARENA_INPUT_LEN;
}

void arena_sent(struct arena_player *p, uint32_t seq, uint64_t ts, bool in_window)
{
	__atomic_store_n(&p->sent_ts[seq % ARENA_RING], ts, __ATOMIC_RELAXED);
	__atomic_store_n(&p->sent, seq, __ATOMIC_RELEASE);
	if (in_window) {
		if (!p->win_first)
			p->win_first = seq;
		p->win_last = seq;
	}
}

/* Every input up to seq is acknowledged (an ack names the newest input
 * applied; older ones were applied or superseded): their latency. */
static void acknowledge(struct arena_player *p, struct arena_totals *t, uint32_t seq, uint64_t now,
			uint64_t t0, uint64_t t1)
{
	uint32_t from = p->acked + 1;

	if (seq - p->acked > ARENA_RING)
		from = seq - ARENA_RING + 1;
	for (uint32_t s = from; s <= seq; s++) {
		uint64_t ts = __atomic_load_n(&p->sent_ts[s % ARENA_RING], __ATOMIC_RELAXED);

		if (ts >= t0 && ts < t1)
			hist_add(&t->ack, now > ts ? now - ts : 0);
	}
	p->acked = seq;
}

bool arena_received(struct arena_player *p, struct arena_totals *t, const uint8_t *m, size_t len,
		    uint64_t now, uint64_t t0, uint64_t t1, unsigned players)
{
	uint32_t n, ack;
	uint64_t tick;
	bool in_window = now >= t0 && now < t1;

	if (len < 2 || m[0] != VERSION)
		return false;
	if (m[1] == MSG_BYE) {
		t->byes++;
		return true;
	}
	if (m[1] != MSG_SNAPSHOT || len < ARENA_SNAP_HDR)
		return false;
	n = (uint32_t)m[2] | (uint32_t)m[3] << 8;
	ack = le32(m + 4);
	tick = (uint64_t)le32(m + 8) | (uint64_t)le32(m + 12) << 32;
	if (len != ARENA_SNAP_HDR + (size_t)n * ARENA_SNAP_PLAYER ||
	    ack > __atomic_load_n(&p->sent, __ATOMIC_ACQUIRE)) {
		t->bad++;
		return true;
	}
	if (ack > p->acked)
		acknowledge(p, t, ack, now, t0, t1);
	if (!in_window) {
		p->last_rx = now;
		return true;
	}
	if (p->last_tick && tick <= p->last_tick) {
		t->stale++;
		return true;
	}
	if (p->last_rx)
		hist_add(&t->interval, now - p->last_rx);
	p->last_rx = now;
	if (!p->first_tick)
		p->first_tick = tick;
	p->last_tick = tick;
	p->snaps++;
	t->wrong_n += n != players;
	return true;
}

void arena_sum_add(struct arena_sum *s, const struct arena_player *p)
{
	if (p->last_tick) {
		s->snaps_expected += p->last_tick - p->first_tick + 1;
		s->snaps_received += p->snaps;
	}
	if (p->win_first) {
		s->inputs += p->win_last - p->win_first + 1;
		if (p->win_last > p->acked)
			s->unacked += p->win_last -
				      (p->acked >= p->win_first ? p->acked : p->win_first - 1);
	}
}
