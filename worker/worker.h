// SPDX-License-Identifier: Apache-2.0
/* worker.h - the engine state of one game server: the slot, the client
 * table with its client ids, the flood limiter, the counters and the game
 * host it reports to (game_host.h), with the per-packet admission
 * (worker_rx(), which tells the game who joins and hands it what it
 * keeps), the client removals (each told to the game as a leave first),
 * the game's output (worker_send(), worker_broadcast(), into the current
 * tick's plan) and the end-of-tick planning (worker_plan(): the sends)
 * that the tick driver (driver.c) runs through a backend.
 * Logic over memory only: no syscalls, no allocation after worker_init().
 */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/handshake.h"
#include "common/slot.h"
#include "worker/admission.h"
#include "worker/clients.h"
#include "ringfleet/game.h"
#include "worker/tick.h"

/* The largest GSO segment whose datagram, with its IP and UDP headers,
 * fits a 1500-byte Ethernet MTU: 1500 - 20 - 8 and 1500 - 40 - 8. */
#define RF_GSO_SEG_IPV4 1472u
#define RF_GSO_SEG_IPV6 1452u
#define RF_MAX_OUTPUT_DEFAULT 65536u /* max_output_per_tick */

struct worker_params {
	uint32_t max_clients;
	uint32_t client_timeout_s;
	uint32_t max_packet;
	uint32_t max_packets_per_tick;
	uint32_t gso_max_seg;   /* largest GSO segment; 0 = no GSO */
	uint32_t tick_hz;       /* the tick grid, which the flood cap */
	uint64_t tick_phase_ns; /* counts arrival ticks on */
	uint64_t seed;          /* client hash key */
	enum rf_admission admission;
	uint32_t max_clients_per_ip;  /* 0: unlimited */
	uint32_t max_output_per_tick; /* 0: RF_MAX_OUTPUT_DEFAULT */
	/* admission = token: the host key and the server's name the tokens
	 * must be for (common/token.h); both required in that mode. */
	const uint8_t *token_key;
	const char *server;
};

struct game_host;

/* A handshake reply queued during the tick, sent by the backend at its
 * end with the relay output (worker_replies_sent() empties the queue). */
struct worker_reply {
	struct sockaddr_in6 name; /* big enough for either family */
	uint32_t namelen;
	uint32_t len;
	uint8_t data[RF_HS_REPLY_MAX];
};

struct worker {
	struct rf_slot *slot;
	struct clients clients;
	struct tick_flood flood;
	struct tick_clock clock; /* maps receive timestamps to ticks */
	struct rf_slot_stats st; /* counters, published once per tick */
	uint64_t now_ns;         /* start of the current tick, stamps clients */
	uint64_t deadline_ns;    /* next tick deadline, bounds any waiting */
	uint64_t timeout_ns;     /* client silence before expiry */
	uint32_t max_packet;
	uint32_t gso_max_seg; /* largest GSO segment; 0 once GSO is off */
	uint32_t gso_events;  /* times the kernel refused GSO, for logs */
	enum rf_admission admission;
	uint64_t real_s; /* CLOCK_REALTIME seconds at the tick start: token expiry */
	uint8_t token_key[RF_TOKEN_KEY_LEN];
	char server[RF_TOKEN_SERVER_MAX + 1];
	uint32_t per_ip; /* max_clients_per_ip, 0 = unlimited */
	uint32_t n_replies;
	uint32_t n_challenges; /* of them CHALLENGEs */
	uint32_t n_places;     /* table scans this tick */
	uint32_t max_output;   /* datagrams a tick may queue */
	/* Client ids: gen[i] is bumped each time entry i takes a new client
	 * (0: never used); join[i] = joins when it did, so a broadcast
	 * queued before reaches only clients with join[i] <= its seq. */
	uint32_t *gen;
	uint64_t *join;
	uint64_t joins;
	/* The plan of the tick being received, that output goes into; set by
	 * the backend (worker_set_plan()), NULL when there is none. */
	struct tick_plan *plan;
	struct game_host *host; /* the game; NULL: none (unit tests) */
	uint32_t *gone;         /* [max_clients] scratch: expired clients */
	uint64_t *gone_id;      /* [max_clients] the same by id */
	struct worker_reply reply[RF_ADM_REPLY_MAX];
};

/* Attaches w to slot, which must map rf_slot_size(max_clients) bytes. A
 * slot already holding this layout is resumed (counters and clients kept),
 * anything else is initialised. Returns 1 when resumed, 0 when fresh, or
 * -errno. */
int worker_init(struct worker *w, struct rf_slot *slot, const struct worker_params *p);
void worker_free(struct worker *w);

/* A client id: (generation << 32) | index, never 0; 0 (RF_NO_CLIENT) for
 * an entry that holds no client. */
uint64_t worker_client_id(const struct worker *w, uint32_t idx);
/* The index of client id, or -ENOENT (entry empty, or a newer client). */
int worker_client_idx(const struct worker *w, uint64_t id);
/* True while entry idx holds the client of generation gen. */
static inline bool worker_client_live(const struct worker *w, uint32_t idx, uint32_t gen)
{
	return idx < w->clients.max && w->gen[idx] == gen && w->clients.pos[idx] < w->clients.n;
}

/* The player id a client was admitted with by token (admission = token),
 * or NULL: not admitted by token, or no such client. */
const char *worker_client_player(const struct worker *w, uint32_t idx);

/* The plan this tick's input and output go into (NULL: none, output is
 * refused). Backends set it before their receive. */
static inline void worker_set_plan(struct worker *w, struct tick_plan *p)
{
	w->plan = p;
}

/* Queue output in the current plan: one datagram for client idx, or one
 * for every client in the table now but except_idx (-1: none; an index
 * that holds no client leaves nobody out). 0, -EINVAL (len over
 * max_packet; an empty datagram is valid UDP, and the relay relays it),
 * -ENOENT (idx not a client),
 * -ENOBUFS (max_output_per_tick, each destination counted, or the copy
 * arena would overflow: refused whole, counted in st.drop_output). data
 * in one of this tick's received buffers is sent from there, anything
 * else is copied. */
int worker_send(struct worker *w, uint32_t idx, const void *data, uint32_t len);
int worker_broadcast(struct worker *w, int64_t except_idx, const void *data, uint32_t len);

/* Starts a tick at mono_ns (CLOCK_MONOTONIC), real_ns being
 * CLOCK_REALTIME read right after: stamps clients and places arrivals. */
void worker_tick_start(struct worker *w, uint64_t mono_ns, uint64_t real_ns);
/* Admits one received datagram into w->plan's input and hands it to the
 * game's input. rx_real_ns is the kernel's
 * receive time (CLOCK_REALTIME ns, 0 if unknown): the flood cap counts the
 * datagram against the tick it arrived in. 0: kept, the backend must hold
 * its buffer until the plan's sends are done. Negative: not relayed, and
 * counted (-EMSGSIZE oversize, -ENOTCONN from a source not admitted,
 * -EALREADY a handshake message from an admitted one, -ENOSPC no room in
 * the table, -EPERM refused by the game's join, -EDQUOT flood, -ENOBUFS
 * plan full); the backend recycles the buffer at once. Handshake replies
 * it causes go to w->reply. */
int worker_rx(struct worker *w, const struct sockaddr *name, uint32_t namelen, void *data,
	      uint32_t len, bool trunc, uint32_t cookie, uint64_t rx_real_ns);
/* Ends a tick's admission window: expires silent clients (each leaves the
 * game, RF_LEAVE_TIMEOUT). */
void worker_end_window(struct worker *w);
/* The game's tick: after the input and worker_end_window(). */
void worker_game_tick(struct worker *w);
/* Cuts w->plan's output (if any plan) into sends; after
 * worker_game_tick(), so expired and kicked clients get nothing. */
void worker_plan(struct worker *w);
/* After the plan's sends are queued: ends the session if the game asked
 * (every client leaves, RF_LEAVE_SESSION_OVER). true when it did. */
bool worker_end_tick(struct worker *w);

/* Client idx leaves (the game is told why, while it is still in the
 * table) and is removed. */
void worker_drop_client(struct worker *w, uint32_t idx, enum rf_leave_reason why);
/* Client idx, which the game refused, is removed (no leave). */
void worker_refuse_client(struct worker *w, uint32_t idx);

/* Errors by which the kernel refuses a GSO send (negative errno). */
static inline bool worker_gso_error(int err)
{
	return err == -EINVAL || err == -EIO || err == -ENOPROTOOPT || err == -EMSGSIZE;
}
/* A GSO send of segment size seg failed with err. EMSGSIZE (the path MTU
 * is below seg) lowers the segment cap; the others switch GSO off for
 * good. The caller resends that send one datagram per send. */
void worker_gso_failed(struct worker *w, int err, uint32_t seg);

/* The backend sent (or dropped, counted in failed) the queued replies. */
void worker_replies_sent(struct worker *w, uint32_t failed);
/* True when the handshake key of w->now_ns's epoch must be installed
 * (the caller draws it: this module makes no syscalls). */
bool worker_key_due(const struct worker *w);
void worker_key_install(struct worker *w, const uint8_t *key);

/* Records one finished tick: work duration and end time. */
void worker_tick_done(struct worker *w, uint64_t work_ns, uint64_t end_ns);
/* Copies the counters into the slot. */
void worker_publish(struct worker *w);
