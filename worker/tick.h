// SPDX-License-Identifier: Apache-2.0
/* tick.h - the pure per-tick logic of a worker: which packets a tick
 * accepts and how they go out. No syscalls, no allocation after init.
 *
 * A tick collects the packets received since the previous tick, in arrival
 * order and by reference (pointer, length, the backend's buffer id), into a
 * tick_plan. At the end of the tick the plan is cut into batches: runs of
 * packets that one sendmsg can carry with UDP_SEGMENT (GSO). Every client
 * receives every packet, so the batches are the same for every destination
 * and the tick's sends are dests x batches; each send's iovecs are the
 * range [first, first + count) of plan->iov.
 *
 * tick_flood enforces max_packets_per_tick per source client and per tick
 * of ARRIVAL, so that one client cannot flood the others while datagrams
 * that waited in the socket (for a stalled, slow or restarting worker) are
 * not punished for having waited: a backlog of n ticks is allowed n times
 * the cap. tick_clock maps the kernel's receive timestamp of a datagram
 * (CLOCK_REALTIME, SO_TIMESTAMPNS) onto the worker's tick grid.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define TICK_GSO_MAX_SEGS 64     /* segments per GSO send */
#define TICK_GSO_MAX_BYTES 65507 /* payload bytes per GSO send */

struct tick_batch {
	uint32_t first; /* index of the first packet in plan->iov */
	uint16_t count; /* packets in the batch, 1..TICK_GSO_MAX_SEGS */
	uint16_t seg;   /* GSO segment size; 0: a plain send, no cmsg */
};

/* Room for one UDP_SEGMENT control message, aligned for cmsghdr. */
union tick_cmsg {
	char buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

struct tick_plan {
	uint32_t cap; /* packets the plan can hold */
	uint32_t n_pkts;
	struct iovec *iov; /* [cap] payloads in arrival order */
	uint32_t *cookie;  /* [cap] the backend's id of each buffer */
	uint32_t n_batches;
	struct tick_batch *batch; /* [cap] */
	union tick_cmsg *cmsg;    /* [cap] UDP_SEGMENT of batch i, if seg */
	uint32_t dest_cap;
	uint32_t n_dests;
	uint32_t *dest; /* [dest_cap] client indexes to send to */
};

int tick_plan_init(struct tick_plan *p, uint32_t max_pkts, uint32_t max_dests);
void tick_plan_free(struct tick_plan *p);
/* Empties the plan for the next tick. */
void tick_plan_reset(struct tick_plan *p);
/* Appends one packet; -ENOSPC when the plan is full. */
int tick_plan_add(struct tick_plan *p, void *data, uint32_t len, uint32_t cookie);
/* Sets the destinations (copied). -ENOSPC if n > dest_cap. */
int tick_plan_set_dests(struct tick_plan *p, const uint32_t *idx, uint32_t n);
/* Cuts the packets into batches. gso_max_seg is the largest packet that may
 * be a GSO segment; 0 sends every packet on its own. */
void tick_plan_build(struct tick_plan *p, uint32_t gso_max_seg);

static inline uint32_t tick_plan_sends(const struct tick_plan *p)
{
	return p->n_dests * p->n_batches;
}

struct tick_flood {
	uint32_t limit;  /* packets per client per arrival tick */
	uint32_t n;      /* clients */
	uint64_t *tick;  /* [n] arrival tick of the client's last packet */
	uint32_t *count; /* [n] packets counted in tick[i] */
};

int tick_flood_init(struct tick_flood *f, uint32_t clients, uint32_t limit);
void tick_flood_free(struct tick_flood *f);
/* A new client took entry client: it starts with a full allowance. */
void tick_flood_forget(struct tick_flood *f, uint32_t client);
/* Counts one packet from client that arrived in tick; false once that
 * tick is over the limit. One client's datagrams arrive in order, so a
 * tick before the client's last one (a clock step) counts against the
 * last one: going back never buys a fresh allowance. */
bool tick_flood_admit(struct tick_flood *f, uint32_t client, uint64_t tick);

/* The worker's tick grid on CLOCK_MONOTONIC: tick k is
 * [phase + k * period, phase + (k + 1) * period), the window whose
 * datagrams the tick due at its end relays. */
struct tick_clock {
	uint64_t period_ns;
	uint64_t phase_ns;   /* < period_ns */
	uint64_t now_ns;     /* CLOCK_MONOTONIC at the start of this tick */
	uint64_t now_tick;   /* the tick now_ns falls in */
	int64_t real_off_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC at now_ns */
};

/* -EINVAL unless 1 <= hz <= 1e9. phase is taken modulo the period. */
int tick_clock_init(struct tick_clock *c, uint32_t hz, uint64_t phase_ns);
/* Starts a tick: both clocks read at (nearly) the same instant. Measuring
 * the offset every tick follows steps of the real-time clock. */
void tick_clock_set(struct tick_clock *c, uint64_t mono_ns, uint64_t real_ns);
/* The tick in which a datagram with kernel receive time real_ns arrived.
 * 0 (no timestamp) or a time that cannot be one (before boot, or more than
 * a period after this tick started) gives the current tick. */
uint64_t tick_clock_arrival(const struct tick_clock *c, uint64_t real_ns);
/* The receive time (ns since the epoch) in cm, an SCM_TIMESTAMPNS control
 * message whose bytes must all lie before end; 0 if cm is anything else,
 * does not fit or holds an impossible time. */
uint64_t tick_stamp_ns(const struct cmsghdr *cm, const void *end);
