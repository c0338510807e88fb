/* SPDX-License-Identifier: Apache-2.0 */
/* tokens.h - connect tokens on the supervisor's side (issue 13): the host
 * key ([supervisor] token_key_file), read once and handed to token
 * servers as a sealed memfd (never argv), and the tokens issued to the
 * players of an allocation (common/token.h).
 *
 * The key is read when ringfleetd starts, or at the first reload that
 * sets token_key_file; a later change of the file (path or content) is
 * reported and takes effect when ringfleetd restarts, since workers
 * already running keep the key they were started with and a token must
 * open on the server it names.
 */
#pragma once
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct alloc_req;
struct daemon;
struct fleet;
struct server;

/* Loads the host key of sup into f (f->token_key, f->token_key_fd) if it
 * has none yet. 0, or -errno with "token_key_file: PATH: why" in err. */
int tokens_key_setup(struct fleet *f, const struct cfg_supervisor *sup, char *err, size_t errlen);

/* Adds to out "tokens": {player: token text} for the n players of
 * allocation alloc_id on server s, valid until now_s + ttl_s, and
 * "tokens_expiry": that time (unix seconds). 0 (n == 0: nothing added),
 * -ENOKEY (no token_key_file), -EINVAL (a bad player id: 1..64 bytes of
 * printable ASCII without space; nothing added), -ENOMEM. */
int tokens_for_allocation(const struct fleet *f, const struct server *s, uint64_t alloc_id,
			  const char *const *players, size_t n, uint64_t now_s, uint32_t ttl_s,
			  json_t *out);

/* For the allocate front ends (control verb, HTTP), before
 * sessions_allocate(): -EINVAL with a message in err when req names
 * players but there is no host key to seal their tokens with; else 0.
 * After it, sessions_tokens() (session.h) adds the tokens to the reply. */
int tokens_check_request(const struct daemon *d, const struct alloc_req *req, char *err,
			 size_t errlen);
