// SPDX-License-Identifier: Apache-2.0
/* slot.h - the shared-memory slot of one game server.
 *
 * ringfleetd creates one memfd per server, sized rf_slot_size(), and passes
 * it to the worker. The worker is the only writer of the stats, heartbeat
 * and client table; the supervisor creates the memfd zero-filled and only
 * reads it (relaxed atomic loads). Because the client
 * table lives here, a restarted worker resumes broadcasting to the same
 * clients.
 */
#pragma once
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/backend.h"
#include "ringfleet/game.h"

#define RF_SLOT_MAGIC 0x52464c54u   /* "RFLT" */
#define RF_SLOT_VERSION 7u          /* 4: session, 5: tokens, 6: idle, 7: orphan */
#define RF_CLIENTS_LIMIT 4096u      /* hard upper bound of max_clients */
#define RF_TICK_HIST_BUCKETS 12     /* tick-duration histogram, see below */
#define RF_TICK_HIST_BASE_NS 16000u /* upper bound of its first bucket */

/* One client, identified by its source address. A zero addr.ss_family
 * marks an empty entry. Times are CLOCK_MONOTONIC nanoseconds, which are
 * host-wide, so they survive a worker restart. */
struct rf_slot_client {
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
		sa_family_t family;
	} addr;
	uint32_t addrlen;
	uint32_t flags; /* RF_CLIENT_* */
	uint64_t last_seen_ns;
};

/* Admitted by the handshake and no game data since: a newcomer may take
 * its place (worker/admission.h). Cleared by its first game datagram. */
#define RF_CLIENT_PROBATION 1u
#define RF_CLIENT_FLAGS_KNOWN RF_CLIENT_PROBATION

/* Counters count datagrams (one GSO batch of 20 segments is 20 pkts_out). */
struct rf_slot_stats {
	uint64_t ticks;
	uint64_t tick_overruns;
	uint64_t last_tick_ns; /* CLOCK_MONOTONIC of the last tick end */
	uint64_t pkts_in;
	uint64_t pkts_out;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t drop_truncated;   /* larger than max_packet */
	uint64_t drop_max_clients; /* new source while the table was full */
	uint64_t drop_no_buffer;   /* buffer ring empty / ENOBUFS */
	uint64_t drop_send;        /* a send that failed */
	uint64_t drop_flood;       /* over max_packets_per_tick */
	uint64_t tick_ns_sum;      /* total tick work time */
	/* Admission (common/handshake.h, worker/admission.h). */
	uint64_t adm_challenges;  /* CHALLENGEs queued for sending */
	uint64_t adm_admitted;    /* sources that entered the table */
	uint64_t adm_evictions;   /* idle clients evicted for a newcomer */
	uint64_t adm_refusals;    /* admissions refused (full, per IP) */
	uint64_t drop_unadmitted; /* datagrams from sources not in the table */
	uint64_t drop_replies;    /* replies over the per-tick budget or unsent */
	/* The game (include/ringfleet/game.h). */
	uint64_t drop_output;    /* sends refused: max_output_per_tick reached */
	uint64_t sessions_ended; /* rf_end_session() calls that took effect */
	/* Idle sleep (no client, a module with RF_GAME_IDLE_SLEEP, no
	 * allocation): the worker blocks on its socket instead of ticking;
	 * ticks are not counted meanwhile. A wakeup is any return from that
	 * sleep (a heartbeat, a datagram, a signal). */
	uint64_t idle_wakeups;
	uint64_t idle_ns; /* time spent asleep, up to the last wakeup */
	/* Tick work duration histogram: bucket i counts ticks that took
	 * < 2^i * RF_TICK_HIST_BASE_NS (i = 0..RF_TICK_HIST_BUCKETS-2); the
	 * last is +Inf. */
	uint64_t tick_hist[RF_TICK_HIST_BUCKETS];
	uint32_t clients; /* clients currently in the table */
	uint32_t backend; /* enum rf_backend */
	uint32_t gso;     /* 1 while UDP GSO is in use */
	uint32_t ready;   /* 1 once the data path is armed */
	uint32_t worker_pid;
	uint32_t idle; /* 1 while the worker sleeps idle */
};

/* The handshake secret: two keys, each current for one epoch of
 * RF_ADM_KEY_WINDOWS handshake windows; key[e & 1] belongs to epoch e when
 * epoch1[e & 1] == e + 1 (0: no key). Kept here so that a restarted worker
 * still verifies the handshakes its predecessor started. Only the worker
 * reads or writes it. */
struct rf_slot_secret {
	uint64_t epoch1[2];
	uint8_t key[2][32];
};

/* What the game shows of itself, written by the worker, read by the
 * supervisor for status and /metrics. The strings are NUL-terminated; a
 * reader copies them and terminates its copy, since a write may race its
 * read (a torn status text is shown once, never trusted). */
#define RF_SLOT_GAME_NAME_MAX 32
#define RF_SLOT_EXIT_REASON_MAX 160
struct rf_slot_game {
	char name[RF_SLOT_GAME_NAME_MAX];                        /* "relay", or the module's */
	char value_name[RF_GAME_VALUES][RF_GAME_VALUE_NAME_MAX]; /* "" unused */
	int64_t value[RF_GAME_VALUES];
	char status[RF_GAME_STATUS_MAX];
	/* Why the worker is exiting with RF_EXIT_CONFIG (a module that is
	 * missing, has no entry point, the wrong ABI, or whose init failed):
	 * written before the exit, shown as the server's fatal reason. */
	char exit_reason[RF_SLOT_EXIT_REASON_MAX];
	uint32_t flags; /* the game's RF_GAME_* flags, once it is loaded */
	uint32_t pad;
};

/* The session the supervisor gave this server (issue 13): the one part of
 * the slot the SUPERVISOR writes and the worker only reads. A seqlock:
 * the writer makes seq odd, writes, makes it even again (release); a
 * reader that sees an odd seq, or a different seq after copying, retries
 * on its next tick. */
#define RF_SESSION_NONE 0u      /* not running, or draining */
#define RF_SESSION_READY 1u     /* waiting for a match */
#define RF_SESSION_ALLOCATED 2u /* a match is on it */
#define RF_SLOT_META_MAX 2048
struct rf_slot_session {
	uint32_t seq;
	uint32_t state;              /* RF_SESSION_* */
	uint64_t alloc_id;           /* this allocation, 0 = none; new per allocation */
	uint64_t since_unix_ns;      /* when state last changed (CLOCK_REALTIME) */
	char meta[RF_SLOT_META_MAX]; /* the allocation's metadata, "key=value\n"... */
};

/* Written by the supervisor, read by the worker (relaxed loads), kept
 * across workers like the session area. idle_beat_ms: how often a worker
 * sleeping idle must refresh its heartbeat, which the supervisor writes
 * before each spawn (30 s from ringfleetd: its hang rule for an idle
 * worker also watches the socket, supervisor/hang.h); 0 (no supervisor):
 * the worker's default.
 *
 * Workers outlive ringfleetd (a crash leaves the matches running for the
 * next ringfleetd to adopt), so the worker needs another way to learn
 * that nobody supervises it any more: ringfleetd stores beat_ns once a
 * second and before each spawn, and a worker that sees it older than
 * orphan_timeout_s stops as on SIGTERM (worker/orphan.h). Both 0 for a
 * standalone worker, which never stops on its own. */
struct rf_slot_sup {
	uint32_t idle_beat_ms;
	uint32_t orphan_timeout_s; /* 0: never (standalone worker) */
	uint64_t beat_ns;          /* CLOCK_MONOTONIC of ringfleetd's last beat; 0: none yet */
};

struct rf_slot {
	uint32_t magic;
	uint32_t version;
	uint32_t max_clients; /* entries in clients[] */
	uint32_t pad;
	struct rf_slot_stats stats;
	struct rf_slot_secret secret;
	struct rf_slot_game game;
	struct rf_slot_session session;
	struct rf_slot_sup sup;
	struct rf_slot_client clients[]; /* max_clients entries */
};

/* The layout is shared by two binaries that may come from different
 * builds: a change must bump RF_SLOT_VERSION, and the entries must stay
 * 8-byte aligned for the atomic loads. */
_Static_assert(sizeof(struct rf_slot_stats) % 8 == 0, "rf_slot_stats alignment");
_Static_assert(sizeof(struct rf_slot_secret) == 80, "rf_slot_secret layout");
_Static_assert(sizeof(struct rf_slot) % 8 == 0, "rf_slot alignment");
_Static_assert(sizeof(struct rf_slot_client) % 8 == 0, "rf_slot_client alignment");
/* The layout of RF_SLOT_VERSION 7 on every Linux ABI we build for; a
 * change that trips these must bump the version (tests read the layout
 * from tests/slot_layout.c, not from these numbers). */
_Static_assert(offsetof(struct rf_slot, stats) == 16, "rf_slot header layout");
_Static_assert(sizeof(struct rf_slot_stats) == 304, "rf_slot_stats layout");
_Static_assert(sizeof(struct rf_slot_game) == 344, "rf_slot_game layout");
_Static_assert(sizeof(struct rf_slot_session) == 2072, "rf_slot_session layout");
_Static_assert(sizeof(struct rf_slot_sup) == 16, "rf_slot_sup layout");
_Static_assert(offsetof(struct rf_slot, clients) == 2832, "rf_slot layout");
_Static_assert(sizeof(struct rf_slot_client) == 48, "rf_slot_client layout");
_Static_assert(offsetof(struct rf_slot_client, last_seen_ns) == 40, "rf_slot_client layout");

/* Connect tokens (admission = token, common/token.h), after clients[]:
 * the worker is its only reader and writer. Kept in the slot so that a
 * restarted worker neither admits a token's player a second time nor
 * forgets the player id of a client it resumes.
 *   struct rf_slot_tokens                      the used-player table's header
 *   struct rf_slot_used used[2 * max_clients]  players admitted this session
 *   char player[max_clients][RF_SLOT_PLAYER_MAX]  each entry's player id,
 *                                               "" when not admitted by token
 * A used entry is a BLAKE2b-128 of (alloc_id, player id); the table
 * belongs to the allocation alloc_id and is emptied when the session
 * area shows another one. */
#define RF_SLOT_PLAYER_MAX 72 /* a player id (<= 64 bytes) with its NUL, padded */
struct rf_slot_tokens {
	uint64_t alloc_id; /* the allocation whose players used[] holds */
	uint32_t used;     /* entries in used[] */
	uint32_t pad;
};
struct rf_slot_used {
	uint8_t hash[16];
};
static inline size_t rf_slot_clients_end(uint32_t max_clients)
{
	return sizeof(struct rf_slot) + (size_t)max_clients * sizeof(struct rf_slot_client);
}
static inline size_t rf_slot_size(uint32_t max_clients)
{
	return rf_slot_clients_end(max_clients) + sizeof(struct rf_slot_tokens) +
	       (size_t)max_clients * (2 * sizeof(struct rf_slot_used) + RF_SLOT_PLAYER_MAX);
}
static inline struct rf_slot_tokens *rf_slot_tokens(struct rf_slot *s)
{
	return (struct rf_slot_tokens *)((char *)s + rf_slot_clients_end(s->max_clients));
}
static inline struct rf_slot_used *rf_slot_used(struct rf_slot *s)
{
	return (struct rf_slot_used *)(rf_slot_tokens(s) + 1);
}
static inline char (*rf_slot_players(struct rf_slot *s))[RF_SLOT_PLAYER_MAX]
{
	return (char(*)[RF_SLOT_PLAYER_MAX])(rf_slot_used(s) + 2 * (size_t)s->max_clients);
}

/* The single writer publishes, readers load; relaxed is enough because
 * every field is an independent counter read for reporting. */
#define RF_STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define RF_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
