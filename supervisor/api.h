// SPDX-License-Identifier: Apache-2.0
/* api.h - the HTTP allocation API for matchmakers on other hosts
 * (api_listen), served from the supervisor's loop by httpd.h like
 * /metrics, with JSON in and out (jansson):
 *   POST /v1/allocate                 {"selectors":{..},"meta":{..},
 *                                      "policy":"packed","players":[..]}
 *                                     -> 200 server | 409 none ready |
 *                                        503 draining | 400 bad request
 *   POST /v1/servers/NAME/release     -> 200 server | 404 | 409 not allocated
 *   GET  /v1/servers                  -> 200 [server, ...]
 * Every request carries "Authorization: Bearer TOKEN"; the token's digest
 * comes from the running configuration (cfg.api, read from
 * api_token_file at start and reload) and is compared in constant time,
 * whatever the length of what was sent. Errors are {"error": "..."}:
 * 400, 401 (with WWW-Authenticate: Bearer), 404, 405 (with Allow), 409,
 * 413 (body over API_BODY_MAX), 429 (over the connection limit), 503.
 * This module owns the listener and the requests in flight; allocation
 * itself is sessions_allocate()'s (session.h), as for the control verb.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "supervisor/httpd.h"

struct daemon;

struct api {
	struct httpd http;
	struct daemon *d;
	uint64_t n_requests, n_denied; /* answered; refused for the token */
};

/* Starts serving cfg's api_listen (with its TLS files, if any) for d; a
 * must stay at this address while open. 0 or -errno with err. */
int api_open(struct api *a, struct daemon *d, const struct cfg *cfg, char *err, size_t errlen);
void api_close(struct api *a);
/* A reload is about to make next d's configuration: reopens the
 * listener when its address or TLS files change (a failure is logged and
 * leaves the API off until the next reload). The token needs nothing: each
 * request reads it from d->cfg. */
void api_reload(struct api *a, struct daemon *d, const struct cfg *next);
