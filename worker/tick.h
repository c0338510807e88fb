// SPDX-License-Identifier: Apache-2.0
/* tick.h - the pure per-tick logic of a worker: what a tick receives and
 * sends, and when a datagram counts. No syscalls, no allocation after init.
 *
 * A tick_plan holds one tick's INPUT and OUTPUT. Input: the datagrams kept
 * this tick, by reference (pointer, length, the backend's buffer id), whose
 * buffers the backend holds until the plan's sends are done. Output: a
 * queue of datagrams, each for one client (table index + generation) or a
 * broadcast (every client in the table when it was queued, but one); the
 * payload is referenced when it lies in one of this plan's input buffers,
 * else copied into the plan's arena. tick_plan_build() then groups the
 * output per destination client, in queue order, and cuts each client's
 * datagrams into GSO runs: a flat list of sends, each an iovec range of
 * plan->iov with its own UDP_SEGMENT control message.
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
#define TICK_NONE UINT32_MAX     /* no client: a broadcast, no exception */
#define TICK_ARENA_PKTS 1024u    /* arena: this many max_packet datagrams */

/* One send: datagrams [first, first + count) of plan->iov to one client. */
struct tick_send {
	uint32_t idx;   /* client table index */
	uint32_t gen;   /* its generation: a send to a newer one is void */
	uint32_t first; /* index of the first datagram in plan->iov */
	uint16_t count; /* datagrams, 1..TICK_GSO_MAX_SEGS */
	uint16_t seg;   /* GSO segment size; 0: a plain send, no cmsg */
};

/* Room for one UDP_SEGMENT control message, aligned for cmsghdr. */
union tick_cmsg {
	char buf[CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/* Who an output datagram is for. */
struct tick_out {
	uint64_t seq;    /* broadcast: clients that had joined when it was queued */
	uint32_t target; /* client index, or TICK_NONE: a broadcast */
	uint32_t gen;    /* target's generation */
	uint32_t except; /* broadcast: the client left out, or TICK_NONE */
	uint32_t pad;
};

struct tick_plan_cfg {
	uint32_t max_in;      /* input datagrams (the backend's buffers) */
	uint32_t max_out;     /* output datagrams: max_output_per_tick */
	uint32_t max_clients; /* client table size */
	uint32_t max_packet;  /* largest datagram, sizes the arena */
};

struct tick_plan {
	/* Input, in arrival order. */
	uint32_t in_cap;
	uint32_t n_in;
	struct iovec *in_iov; /* [in_cap] */
	uint32_t *cookie;     /* [in_cap] the backend's id of each buffer */
	/* The backend's receive buffers: buffer i (cookie i) is
	 * [rx_base + i * rx_stride, + rx_stride); mark[i] == stamp while
	 * this plan holds it. */
	uintptr_t rx_base;
	uint32_t rx_stride;
	uint32_t stamp;
	uint32_t *mark; /* [in_cap] */
	/* Output queue. */
	uint32_t out_cap;  /* the budget: datagrams, each destination counted */
	uint32_t out_used; /* datagrams counted so far */
	uint32_t n_out;    /* queue entries */
	struct tick_out *out;
	/* [2 * out_cap]: the queue's payloads in [0, out_cap), the per-client
	 * runs tick_plan_build() gathers in [out_cap, 2 * out_cap). */
	struct iovec *iov;
	uint8_t *arena; /* copied payloads */
	uint32_t arena_cap;
	uint32_t arena_used;
	/* Built: the sends, grouped per client. */
	uint32_t n_sends;
	struct tick_send *send; /* [out_cap] */
	union tick_cmsg *cmsg;  /* [out_cap] UDP_SEGMENT of send i, if seg */
	/* tick_plan_build()'s scratch, left clean after each build. */
	uint32_t clients_cap;
	uint32_t *head;    /* [clients_cap] first unicast entry per client */
	uint32_t *tail;    /* [clients_cap] */
	uint8_t *excepted; /* [clients_cap] some broadcast leaves it out */
	uint32_t *next;    /* [out_cap] next unicast entry, same client */
	uint32_t *bcast;   /* [out_cap] the broadcast entries */
};

/* -EINVAL for a zero size, -ENOMEM. */
int tick_plan_init(struct tick_plan *p, const struct tick_plan_cfg *cfg);
void tick_plan_free(struct tick_plan *p);
/* Empties the plan for the next tick (the backend took its buffers back). */
void tick_plan_reset(struct tick_plan *p);
/* Where the backend's receive buffers lie: cookie i is the buffer at
 * base + i * stride. Without it every output payload is copied. */
void tick_plan_rx_region(struct tick_plan *p, const void *base, uint32_t stride);
/* Appends one received datagram, held in buffer cookie; -ENOSPC when
 * the plan is full. */
int tick_plan_input(struct tick_plan *p, void *data, uint32_t len, uint32_t cookie);
/* True when [data, data + len) lies in one buffer this plan holds. */
bool tick_plan_holds(const struct tick_plan *p, const void *data, uint32_t len);
/* Queues one output datagram for o's destinations, cost of them (>= 1):
 * by reference if the plan holds it, else copied. -ENOBUFS, and nothing
 * queued, when the budget or the arena would overflow. */
int tick_plan_output(struct tick_plan *p, const struct tick_out *o, uint32_t cost, const void *data,
		     uint32_t len);
/* Cuts the output into sends for the n clients in the table now
 * (indexes), gen[] and join[] being every index's generation and join
 * sequence: a unicast goes to its target if its generation still
 * matches; a broadcast to each client that had joined when it was queued
 * (join[c] <= seq), but its exception. gso_max_seg is the largest
 * datagram that may be a GSO segment; 0 sends each on its own. */
void tick_plan_build(struct tick_plan *p, uint32_t gso_max_seg, const uint32_t *clients, uint32_t n,
		     const uint32_t *gen, const uint64_t *join);

static inline uint32_t tick_plan_sends(const struct tick_plan *p)
{
	return p->n_sends;
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
