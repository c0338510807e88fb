// SPDX-License-Identifier: Apache-2.0
/* clients.h - the worker's client table: one entry per source address.
 *
 * The entries live in the shared slot (struct rf_slot_client[max]) so that a
 * restarted worker resumes with the same clients and the supervisor can
 * count them. This module owns a private index over them, built at start:
 * an open-addressing hash (linear probing, backward-shift deletion, so no
 * tombstones) from address to entry, and a dense set of the used entries
 * for iteration, expiry and O(1) allocation of a free one, and a count of
 * entries per address prefix (max_clients_per_ip), hashed the same way.
 * Nothing here allocates after clients_init().
 */
#pragma once
#include <stdint.h>
#include <sys/socket.h>

#include "common/slot.h"

/* What max_clients_per_ip counts by: an IPv4 address (also when IPv4-
 * mapped in IPv6) or an IPv6 /64; a tag byte, then 4 or 8 bytes. */
struct clients_prefix {
	uint8_t b[9];
};

struct prefix_slot {
	struct clients_prefix key;
	uint8_t pad[3];
	uint32_t count; /* 0 = empty bucket */
};

struct clients {
	struct rf_slot_client *tab; /* [max] entries, in the slot */
	uint32_t max;
	uint32_t n;     /* used entries */
	uint32_t mask;  /* hash buckets - 1 */
	uint32_t *hash; /* [mask + 1] entry index + 1, 0 = empty */
	/* Sparse set: set[0..n) are the used entries, set[n..max) the free
	 * ones; pos[i] is entry i's place in set. */
	uint32_t *set;
	uint32_t *pos;
	uint64_t seed;           /* hash key, so peers cannot pick collisions */
	struct prefix_slot *pfx; /* [mask + 1] entries per prefix */
};

/* Sets up an empty index over tab[max] (tab's contents are left alone:
 * call clients_clear() for a new slot or clients_rebuild() to resume). */
int clients_init(struct clients *c, struct rf_slot_client *tab, uint32_t max, uint64_t seed);
void clients_free(struct clients *c);
/* Empties the table and the slot entries. */
void clients_clear(struct clients *c);
/* Indexes the entries already in tab (a resumed slot). Entries with an
 * unusable address and duplicates are cleared. Returns the number kept. */
uint32_t clients_rebuild(struct clients *c);

/* Entry index of the client with this address, or -ENOENT. */
int clients_find(const struct clients *c, const struct sockaddr *sa, uint32_t salen);
/* Finds the client or adds it, and marks it seen at now. Returns its index,
 * -ENOSPC when it is new and the table is full, or -EAFNOSUPPORT for an
 * address that is not a complete IPv4/IPv6 one. */
int clients_touch(struct clients *c, const struct sockaddr *sa, uint32_t salen, uint64_t now);
void clients_remove(struct clients *c, uint32_t idx);
/* Removes every client silent for more than timeout_ns. Returns how many. */
uint32_t clients_expire(struct clients *c, uint64_t now, uint64_t timeout_ns);
/* Writes the indexes of the clients silent for more than timeout_ns into
 * out[cap], removing none (the caller tells the game first). Returns how
 * many it wrote. */
uint32_t clients_silent(const struct clients *c, uint64_t now, uint64_t timeout_ns, uint32_t *out,
			uint32_t cap);

/* The prefix of a complete IPv4/IPv6 address. */
struct clients_prefix clients_prefix_of(const struct sockaddr *sa);
/* Entries whose address has sa's prefix; O(1). */
uint32_t clients_per_prefix(const struct clients *c, const struct sockaddr *sa);

/* The used entries, for iteration: clients_list(c)[0..c->n). */
static inline const uint32_t *clients_list(const struct clients *c)
{
	return c->set;
}
