// SPDX-License-Identifier: Apache-2.0
/* alloc_req.h - one allocation request as every front end (control verb,
 * HTTP API) hands it to sessions_allocate(): which servers qualify
 * (selectors: labels that must all match), what the match is told (meta,
 * written to the server's slot for its game), how to choose among the
 * ready ones (policy) and the players to issue connect tokens for.
 * Pure: building, checking and (de)serialising requests, no I/O.
 */
#pragma once
#include <jansson.h>
#include <stddef.h>

#include "common/kv.h"
#include "common/slot.h"

#define ALLOC_PLAYERS_MAX 64
#define ALLOC_PLAYER_MAX 65 /* player id: 1..64 bytes + NUL */

enum alloc_policy {
	ALLOC_PACKED = 0,  /* fill the busiest CPU first (default) */
	ALLOC_DISTRIBUTED, /* spread matches over CPUs */
	ALLOC_POLICY_COUNT,
};

struct alloc_req {
	struct kv_list selectors; /* every one must equal the server's label */
	struct kv_list meta;      /* given to the match; "k=v\n" text fits the slot */
	enum alloc_policy policy;
	char players[ALLOC_PLAYERS_MAX][ALLOC_PLAYER_MAX]; /* token per player */
	unsigned n_players;
};

void alloc_req_init(struct alloc_req *r);
/* Checks every bound of r: the selectors and meta by the kv.h rules, the
 * meta as "key=value\n" text within RF_SLOT_META_MAX - 1 bytes, the
 * policy, players 1..64 bytes of printable ASCII without space or comma,
 * each at most once, at most ALLOC_PLAYERS_MAX. Returns 0, or -EINVAL with
 * a message naming the bad item in err. Pure. */
int alloc_req_validate(const struct alloc_req *r, char *err, size_t errlen);

/* "packed" / "distributed" <-> enum; parse returns 0 or -EINVAL. */
int alloc_policy_parse(const char *s, enum alloc_policy *p);
const char *alloc_policy_name(enum alloc_policy p);
/* Appends one player id (validated as above); 0 or -EINVAL with err. */
int alloc_req_add_player(struct alloc_req *r, const char *id, char *err, size_t errlen);
/* Appends "a,b,c" (ringfleetctl --players); 0 or -EINVAL with err. */
int alloc_req_add_players(struct alloc_req *r, const char *list, char *err, size_t errlen);

/* The request's wire form, shared by the control verb and the HTTP API:
 * {"selectors":{k:v}, "meta":{k:v}, "policy":"packed", "players":[...]};
 * every member optional, no other member allowed. from_json fills and
 * validates r (-EINVAL with err naming the bad item); to_json returns a
 * new object or NULL on ENOMEM. */
int alloc_req_from_json(struct alloc_req *r, const json_t *obj, char *err, size_t errlen);
json_t *alloc_req_to_json(const struct alloc_req *r);
