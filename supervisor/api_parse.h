// SPDX-License-Identifier: Apache-2.0
/* api_parse.h - the pure part of the HTTP allocation API (api.c): which
 * endpoint a method and path name, the bearer token of an Authorization
 * header, and a request body turned into a struct alloc_req. No I/O, no
 * globals: tests/fuzz/fuzz_api_parse.c feeds it hostile input.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "supervisor/alloc_req.h"

#define API_BODY_MAX (16u << 10) /* larger: 413 */

enum api_endpoint {
	API_EP_NONE = 0, /* no such path: 404 */
	API_EP_ALLOCATE, /* POST /v1/allocate */
	API_EP_RELEASE,  /* POST /v1/servers/NAME/release */
	API_EP_SERVERS,  /* GET /v1/servers */
};

struct api_route {
	enum api_endpoint ep;
	bool method_ok;          /* false: 405, with allow in the Allow header */
	const char *allow;       /* the endpoint's method */
	char name[CFG_NAME_MAX]; /* release: the server, a valid name */
};

/* Routes method and path (MHD hands the path already %-decoded, without
 * the query string). A path that names no endpoint, or a release of a
 * name that cannot be a server's, is API_EP_NONE. */
void api_route(const char *method, const char *path, struct api_route *r);

/* The token of "Bearer TOKEN" (scheme in any case, RFC 7235; spaces
 * around the token skipped). False when header is NULL, has another
 * scheme, or no token. *tok points into header. */
bool api_bearer_token(const char *header, const char **tok, size_t *len);

/* The body of POST /v1/allocate (len bytes, not NUL-terminated; empty
 * means {}) into *r, validated. Returns 0, or -EINVAL with err saying
 * what is wrong and naming the member ("bad JSON at 1:7: ...", "policy:
 * want packed or distributed"). */
int api_parse_alloc(const char *body, size_t len, struct alloc_req *r, char *err, size_t errlen);
