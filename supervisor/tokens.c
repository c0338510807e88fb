// SPDX-License-Identifier: Apache-2.0
/* tokens.c - see tokens.h. */
#include "supervisor/tokens.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/token_key.h"
#include "config/config.h"
#include "common/slot.h"
#include "supervisor/daemon.h"
#include "supervisor/fleet.h"
#include "supervisor/server.h"
#include "supervisor/session.h"

int tokens_key_setup(struct fleet *f, const struct cfg_supervisor *sup, char *err, size_t errlen)
{
	uint8_t key[RF_TOKEN_KEY_LEN];
	char why[CFG_PATH_MAX + 256];
	int r, fd;

	if (!sup->token_key_file[0])
		return 0;
	r = token_key_read(sup->token_key_file, geteuid(), key, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "token_key_file: %s", why);
		return r;
	}
	if (f->token_key_fd >= 0) {
		if (strcmp(sup->token_key_file, f->token_key_file) != 0 ||
		    sodium_memcmp(key, f->token_key, sizeof(key)) != 0)
			log_warn("reload: a new token_key_file takes effect when ringfleetd "
				 "restarts; still using the key of %s",
				 f->token_key_file);
		sodium_memzero(key, sizeof(key));
		return 0;
	}
	fd = token_key_memfd(key);
	if (fd < 0) {
		sodium_memzero(key, sizeof(key));
		snprintf(err, errlen, "token_key_file: memfd: %s", strerror(-fd));
		return fd;
	}
	memcpy(f->token_key, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	snprintf(f->token_key_file, sizeof(f->token_key_file), "%s", sup->token_key_file);
	f->token_key_fd = fd;
	return 0;
}

int tokens_for_allocation(const struct fleet *f, const struct server *s, uint64_t alloc_id,
			  const char *const *players, size_t n, uint64_t now_s, uint32_t ttl_s,
			  json_t *out)
{
	struct rf_token t = { .expiry_s = now_s + ttl_s, .alloc_id = alloc_id };
	uint8_t buf[RF_TOKEN_MAX], nonce[RF_TOKEN_NONCE_LEN];
	char text[RF_TOKEN_TEXT_MAX];
	json_t *obj;
	int len;

	if (!n)
		return 0;
	if (f->token_key_fd < 0)
		return -ENOKEY;
	for (size_t i = 0; i < n; i++)
		if (!token_player_ok(players[i]))
			return -EINVAL;
	snprintf(t.server, sizeof(t.server), "%s", s->cfg.name);
	obj = json_object();
	if (!obj)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(t.player, sizeof(t.player), "%s", players[i]);
		randombytes_buf(nonce, sizeof(nonce));
		len = token_seal(f->token_key, &t, nonce, buf, sizeof(buf));
		if (len < 0 || token_to_text(buf, (size_t)len, text, sizeof(text)) < 0 ||
		    json_object_set_new(obj, players[i], json_string(text)) < 0) {
			json_decref(obj);
			return len < 0 ? len : -ENOMEM;
		}
	}
	if (json_object_set_new(out, "tokens", obj) < 0 ||
	    json_object_set_new(out, "tokens_expiry", json_integer((json_int_t)t.expiry_s)) < 0)
		return -ENOMEM;
	return 0;
}

/* session.h's hook, on the allocate reply path: s->sess.alloc_id is what
 * sessions_allocate() has just written into the slot's session area, the
 * value the worker compares a token's with. */
int sessions_tokens(struct daemon *d, struct server *s, const struct alloc_req *req, json_t *reply)
{
	const char *players[ALLOC_PLAYERS_MAX];
	struct timespec now;

	if (!req->n_players)
		return 0;
	for (unsigned i = 0; i < req->n_players && i < ALLOC_PLAYERS_MAX; i++)
		players[i] = req->players[i];
	clock_gettime(CLOCK_REALTIME, &now);
	return tokens_for_allocation(&d->fleet, s, s->sess.alloc_id, players, req->n_players,
				     (uint64_t)now.tv_sec, d->cfg.sup.token_ttl_s, reply);
}

int tokens_check_request(const struct daemon *d, const struct alloc_req *req, char *err,
			 size_t errlen)
{
	if (!req->n_players || d->fleet.token_key_fd >= 0)
		return 0;
	snprintf(err, errlen, "players need connect tokens: set token_key_file in [supervisor]");
	return -EINVAL;
}
