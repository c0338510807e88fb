/* SPDX-License-Identifier: Apache-2.0 */
/* admission.h - who may enter a game server's client table (issue 10).
 *
 * Pure logic over memory: the handshake MACs (common/handshake.h), the
 * per-mode decision for a datagram from a source not in the table, and the
 * table policy that places an admitted source (max_clients_per_ip, and
 * eviction of an idle client when the table is full). No syscalls: fresh
 * key material comes from the caller (adm_key_due / adm_key_install).
 *
 * Secret rotation: the key signing window W belongs to epoch
 * W / RF_ADM_KEY_WINDOWS (60 s). The slot keeps the current and the
 * previous epoch's keys; a RESPONSE for window W verifies with the key of
 * W's epoch, so one that straddles a rotation still verifies, and a key
 * that is two rotations old can verify nothing.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/handshake.h"
#include "common/slot.h"
#include "common/token.h"
#include "worker/clients.h"

#define RF_ADM_KEY_WINDOWS 12u /* windows per key epoch: 60 s */
/* A client silent for longer than this may be evicted to make room for a
 * proven newcomer. A player sends at 20+ Hz, so it is never idle this
 * long; a squatter that sends once every few seconds is. So may a client
 * still on probation (RF_CLIENT_PROBATION: admitted, no game data yet):
 * without that, 1,000 squatters re-admitted as fast as they are evicted
 * keep every entry younger than the grace period. A player leaves
 * probation with its first datagram, one client tick after WELCOME, long
 * before the rest of the table's probationers have gone. */
#define RF_ADM_EVICT_GRACE_NS 1500000000ull
#define RF_ADM_REPLY_MAX 64u /* replies queued per tick */
/* CHALLENGEs may take this many of them: the rest stay for WELCOME and
 * REFUSED, so a HELLO flood cannot starve clients that proved their
 * address. */
#define RF_ADM_CHALLENGE_MAX 48u
/* Placements per tick that need a scan of the table for a victim (full
 * table, or an address at its cap); the rest wait for the client's next
 * datagram. */
#define RF_ADM_PLACE_MAX 64u
#define RF_ADM_PER_IP_MAX RF_CLIENTS_LIMIT /* largest max_clients_per_ip */

/* What a datagram from a source not in the table earns. */
enum adm_verdict {
	ADM_IGNORE,    /* nothing: too short to be answered */
	ADM_CHALLENGE, /* one CHALLENGE */
	ADM_ADMIT,     /* proven: place it in the table */
	ADM_TOKEN,     /* a TOKEN message: open it (adm_token()) */
};

/* The handshake window of CLOCK_MONOTONIC time now_ns. */
static inline uint32_t adm_window(uint64_t now_ns)
{
	return (uint32_t)(now_ns / 1000000000ull / RF_HS_WINDOW_S);
}

/* True when the key of now_ns's epoch is not installed yet. */
bool adm_key_due(const struct rf_slot_secret *s, uint64_t now_ns);
/* Installs key (RF_HS_KEY_LEN random bytes) as now_ns's epoch key,
 * replacing the key two epochs old. */
void adm_key_install(struct rf_slot_secret *s, uint64_t now_ns, const uint8_t *key);

/* Writes the MAC of (window, source) into mac. -ENOKEY when the key of
 * window's epoch is gone, -EAFNOSUPPORT for an address that is not a
 * complete IPv4/IPv6 one. */
int adm_mac(const struct rf_slot_secret *s, uint32_t window, const struct sockaddr *sa,
	    uint32_t salen, uint8_t mac[RF_HS_MAC_LEN]);
/* Writes a CHALLENGE for source at now_ns into out[RF_HS_CHALLENGE_LEN].
 * 0 or the error of adm_mac(). */
int adm_challenge(const struct rf_slot_secret *s, uint64_t now_ns, const struct sockaddr *sa,
		  uint32_t salen, uint8_t *out);
/* True when data is a RESPONSE from source that verifies at now_ns. */
bool adm_response_ok(const struct rf_slot_secret *s, uint64_t now_ns, const struct sockaddr *sa,
		     uint32_t salen, const uint8_t *data, uint32_t len);

/* Exactly a RESPONSE / a HELLO by size and magic. */
bool adm_is_response(const uint8_t *data, uint32_t len);
bool adm_is_hello(const uint8_t *data, uint32_t len);

/* Exactly a TOKEN message by size and magic. */
bool adm_is_token(const uint8_t *data, uint32_t len);

/* Opens the TOKEN message data for the server named server at unix time
 * now_s into *t; alloc_id is the slot's allocation (0: none known, any
 * allocation's token opens). 0, or the REFUSED reason to answer with. */
uint32_t adm_token(const uint8_t key[RF_TOKEN_KEY_LEN], const char *server, uint64_t now_s,
		   uint64_t alloc_id, const uint8_t *data, uint32_t len, struct rf_token *t);

/* The used-player table in the slot's token area (common/slot.h): one
 * admission per player of an allocation. adm_used_sync() empties it when
 * the slot's allocation is no longer the table's; adm_used_has() tells
 * whether t's player was admitted; adm_used_add() records it: 0 or
 * -ENOSPC (2 * max_clients players this session). */
void adm_used_sync(struct rf_slot *s, uint64_t alloc_id);
bool adm_used_has(struct rf_slot *s, const struct rf_token *t);
bool adm_used_full(struct rf_slot *s);
int adm_used_add(struct rf_slot *s, const struct rf_token *t);

/* The decision for a datagram from a source not in the table. */
enum adm_verdict adm_decide(enum rf_admission mode, const struct rf_slot_secret *s, uint64_t now_ns,
			    const struct sockaddr *sa, uint32_t salen, const uint8_t *data,
			    uint32_t len);

/* The table policy for a source that earned ADM_ADMIT:
 * 1. one IPv4 address (an IPv4-mapped IPv6 address counts as IPv4) or one
 *    IPv6 /64 holds at most per_ip entries (0: unlimited); at the limit,
 *    its own evictable entry idle longest is replaced, else -EUSERS;
 * 2. a full table evicts the entry idle longest of those idle for more
 *    than RF_ADM_EVICT_GRACE_NS or on probation, else -ENOSPC.
 * (At the per-address cap, likewise among that address's entries.)
 * Returns the new entry's index; *evicted tells whether an entry went.
 * The caller sets the new entry's flags. */
int adm_place(struct clients *c, const struct sockaddr *sa, uint32_t salen, uint64_t now_ns,
	      uint32_t per_ip, bool *evicted);
/* adm_place()'s decision without its changes: the index of the entry to
 * evict for sa, -ENOENT when there is room without, or -EUSERS, -ENOSPC,
 * -EAFNOSUPPORT. The engine tells the game who leaves before it removes
 * the victim (clients_remove()) and places sa (clients_touch()). */
int adm_victim(const struct clients *c, const struct sockaddr *sa, uint32_t salen, uint64_t now_ns,
	       uint32_t per_ip);
/* Whether adm_place() for this source must scan the table (O(entries)):
 * only when the table is full or the source's prefix is at its cap. */
bool adm_place_scans(const struct clients *c, const struct sockaddr *sa, uint32_t per_ip);
