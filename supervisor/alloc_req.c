// SPDX-License-Identifier: Apache-2.0
/* alloc_req.c - see alloc_req.h. */
#include "supervisor/alloc_req.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const policy_names[ALLOC_POLICY_COUNT] = {
	[ALLOC_PACKED] = "packed",
	[ALLOC_DISTRIBUTED] = "distributed",
};

void alloc_req_init(struct alloc_req *r)
{
	memset(r, 0, sizeof(*r));
	r->policy = ALLOC_PACKED;
}

int alloc_policy_parse(const char *s, enum alloc_policy *p)
{
	for (int i = 0; i < ALLOC_POLICY_COUNT; i++)
		if (strcmp(s, policy_names[i]) == 0) {
			*p = (enum alloc_policy)i;
			return 0;
		}
	return -EINVAL;
}

const char *alloc_policy_name(enum alloc_policy p)
{
	return (unsigned)p < ALLOC_POLICY_COUNT ? policy_names[p] : "?";
}

static bool player_valid(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++) {
		unsigned char c = (unsigned char)id[n];

		if (n >= ALLOC_PLAYER_MAX - 1 || c <= 0x20 || c > 0x7e || c == ',')
			return false;
	}
	return n > 0;
}

static int check_player(const struct alloc_req *r, unsigned upto, const char *id, char *err,
			size_t errlen)
{
	if (!player_valid(id)) {
		snprintf(err, errlen,
			 "player %u: want 1-64 bytes of printable text without space or comma",
			 upto + 1);
		return -EINVAL;
	}
	for (unsigned i = 0; i < upto; i++)
		if (strcmp(r->players[i], id) == 0) {
			snprintf(err, errlen, "player %s given twice", id);
			return -EINVAL;
		}
	return 0;
}

int alloc_req_add_player(struct alloc_req *r, const char *id, char *err, size_t errlen)
{
	int rc = check_player(r, r->n_players, id, err, errlen);

	if (rc < 0)
		return rc;
	if (r->n_players >= ALLOC_PLAYERS_MAX) {
		snprintf(err, errlen, "too many players (at most %d)", ALLOC_PLAYERS_MAX);
		return -EINVAL;
	}
	/* check_player() bounded the length; the check keeps -O3 quiet. */
	if (snprintf(r->players[r->n_players], ALLOC_PLAYER_MAX, "%s", id) >= ALLOC_PLAYER_MAX)
		return -ENAMETOOLONG;
	r->n_players++;
	return 0;
}

int alloc_req_add_players(struct alloc_req *r, const char *list, char *err, size_t errlen)
{
	const char *p = list;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char id[ALLOC_PLAYER_MAX + 1];
		int rc;

		if (len > ALLOC_PLAYER_MAX)
			len = ALLOC_PLAYER_MAX; /* too long: refused below */
		memcpy(id, p, len);
		id[len] = '\0';
		rc = alloc_req_add_player(r, id, err, errlen);
		if (rc < 0)
			return rc;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int alloc_req_validate(const struct alloc_req *r, char *err, size_t errlen)
{
	char text[RF_SLOT_META_MAX];
	int rc;

	rc = kv_validate(&r->selectors, "selector", err, errlen);
	if (rc < 0)
		return rc;
	rc = kv_validate(&r->meta, "meta", err, errlen);
	if (rc < 0)
		return rc;
	if (kv_format_lines(&r->meta, text, sizeof(text)) < 0) {
		snprintf(err, errlen, "meta: more than %d bytes as key=value lines",
			 RF_SLOT_META_MAX - 1);
		return -EINVAL;
	}
	if ((unsigned)r->policy >= ALLOC_POLICY_COUNT) {
		snprintf(err, errlen, "policy: want packed or distributed");
		return -EINVAL;
	}
	if (r->n_players > ALLOC_PLAYERS_MAX) {
		snprintf(err, errlen, "too many players (at most %d)", ALLOC_PLAYERS_MAX);
		return -EINVAL;
	}
	for (unsigned i = 0; i < r->n_players; i++) {
		if (!memchr(r->players[i], '\0', ALLOC_PLAYER_MAX)) {
			snprintf(err, errlen, "player %u is not terminated", i + 1);
			return -EINVAL;
		}
		rc = check_player(r, i, r->players[i], err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int alloc_req_from_json(struct alloc_req *r, const json_t *obj, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	int rc;

	alloc_req_init(r);
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "request: want a JSON object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		if (strcmp(key, "selectors") == 0) {
			rc = kv_from_json(&r->selectors, v, "selector", err, errlen);
		} else if (strcmp(key, "meta") == 0) {
			rc = kv_from_json(&r->meta, v, "meta", err, errlen);
		} else if (strcmp(key, "policy") == 0) {
			rc = json_is_string(v)
				     ? alloc_policy_parse(json_string_value(v), &r->policy)
				     : -EINVAL;
			if (rc < 0)
				snprintf(err, errlen, "policy: want packed or distributed");
		} else if (strcmp(key, "players") == 0) {
			size_t i;
			json_t *p;

			rc = 0;
			if (!json_is_array(v)) {
				snprintf(err, errlen, "players: want an array of strings");
				return -EINVAL;
			}
			json_array_foreach(v, i, p)
			{
				if (!json_is_string(p) ||
				    strlen(json_string_value(p)) != json_string_length(p)) {
					snprintf(err, errlen, "player %zu: want a string", i + 1);
					return -EINVAL;
				}
				rc = alloc_req_add_player(r, json_string_value(p), err, errlen);
				if (rc < 0)
					return rc;
			}
		} else {
			char k[48];

			snprintf(k, sizeof(k), "%.40s", key);
			for (char *c = k; *c; c++)
				if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
					*c = '?';
			snprintf(err, errlen,
				 "unknown member \"%s\" (want selectors, meta, policy, players)",
				 k);
			return -EINVAL;
		}
		if (rc < 0)
			return rc;
	}
	return alloc_req_validate(r, err, errlen);
}

json_t *alloc_req_to_json(const struct alloc_req *r)
{
	json_t *players = json_array();
	json_t *o;

	for (unsigned i = 0; players && i < r->n_players; i++)
		if (json_array_append_new(players, json_string(r->players[i])) < 0) {
			json_decref(players);
			return NULL;
		}
	o = json_pack("{s:o?,s:o?,s:s,s:o?}", "selectors", kv_to_json(&r->selectors), "meta",
		      kv_to_json(&r->meta), "policy", alloc_policy_name(r->policy), "players",
		      players);
	return o;
}
