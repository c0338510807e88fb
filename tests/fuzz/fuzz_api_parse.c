// SPDX-License-Identifier: Apache-2.0
/* fuzz_api_parse - the HTTP allocation API's request parsing on hostile
 * bytes (supervisor/api_parse.c): everything a client controls before
 * sessions_allocate() runs. Each input goes through three paths:
 *
 *  1. api_parse_alloc() on the raw bytes as a POST /v1/allocate body, in
 *     a buffer of exactly their size (no terminator) so ASan sees any read
 *     past it. An accepted body must give a request that passes
 *     alloc_req_validate() and survives alloc_req_to_json() -> text ->
 *     api_parse_alloc() unchanged; a refused one must say why in err.
 *  2. api_route() on the bytes (up to a NUL) as the path, for GET and
 *     POST: a release names a valid server name and the path is exactly
 *     /v1/servers/NAME/release; anything else routed is one of the two
 *     fixed paths, with method_ok true only for its own method.
 *  3. api_bearer_token() on the bytes as an Authorization header: a token
 *     found is non-empty, inside the header, without blanks at its ends,
 *     after a case-insensitive "Bearer" and a blank.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "supervisor/api_parse.h"
#include "tests/fuzz/fuzz_input.h"

static bool same_req(const struct alloc_req *a, const struct alloc_req *b)
{
	if (!kv_equal(&a->selectors, &b->selectors) || !kv_equal(&a->meta, &b->meta) ||
	    a->policy != b->policy || a->n_players != b->n_players)
		return false;
	for (unsigned i = 0; i < a->n_players; i++)
		if (strcmp(a->players[i], b->players[i]) != 0)
			return false;
	return true;
}

static void check_body(const uint8_t *data, size_t size)
{
	static struct alloc_req req, again;
	char *body = malloc(size ? size : 1);
	char err[256], err2[256];
	json_t *j;
	char *text;
	int r;

	memcpy(body, data, size);
	err[0] = '\0';
	r = api_parse_alloc(body, size, &req, err, sizeof(err));
	free(body);
	FUZZ_CHECK(r == 0 || r == -EINVAL, "returned %d", r);
	if (r < 0) {
		FUZZ_CHECK(err[0] != '\0', "refused without a reason");
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "unterminated error");
		return;
	}
	FUZZ_CHECK(alloc_req_validate(&req, err, sizeof(err)) == 0, "accepted but invalid: %s",
		   err);
	j = alloc_req_to_json(&req);
	FUZZ_CHECK(j != NULL, "to_json failed");
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	FUZZ_CHECK(text != NULL, "dump failed");
	r = api_parse_alloc(text, strlen(text), &again, err2, sizeof(err2));
	FUZZ_CHECK(r == 0, "its own JSON %s refused: %s", text, err2);
	FUZZ_CHECK(same_req(&req, &again), "round trip changed %s", text);
	free(text);
}

static void check_route(const char *path)
{
	static const char *const methods[] = { "GET", "POST" };
	char want[CFG_NAME_MAX + 32];

	for (size_t m = 0; m < 2; m++) {
		struct api_route r;

		api_route(methods[m], path, &r);
		switch (r.ep) {
		case API_EP_NONE:
			continue;
		case API_EP_ALLOCATE:
			FUZZ_CHECK(strcmp(path, "/v1/allocate") == 0, "allocate for %s", path);
			break;
		case API_EP_SERVERS:
			FUZZ_CHECK(strcmp(path, "/v1/servers") == 0, "servers for %s", path);
			break;
		case API_EP_RELEASE:
			FUZZ_CHECK(r.name[0] && strlen(r.name) < CFG_NAME_MAX, "bad name");
			FUZZ_CHECK(strspn(r.name,
					  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789._-") == strlen(r.name),
				   "name %s", r.name);
			snprintf(want, sizeof(want), "/v1/servers/%s/release", r.name);
			FUZZ_CHECK(strcmp(path, want) == 0, "release of %s for %s", r.name, path);
			break;
		}
		FUZZ_CHECK(r.allow != NULL, "no Allow");
		FUZZ_CHECK(r.method_ok == (strcmp(methods[m], r.allow) == 0), "method_ok");
	}
}

static void check_bearer(const char *h)
{
	const char *tok = NULL;
	size_t len = 0;

	if (!api_bearer_token(h, &tok, &len))
		return;
	FUZZ_CHECK(strncasecmp(h, "bearer", 6) == 0 && (h[6] == ' ' || h[6] == '\t'),
		   "token without the scheme");
	FUZZ_CHECK(len > 0 && tok > h + 6 && tok + len <= h + strlen(h), "token out of header");
	FUZZ_CHECK(tok[0] != ' ' && tok[0] != '\t' && tok[len - 1] != ' ' && tok[len - 1] != '\t',
		   "blank at an end of the token");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	check_body(data, size);
	memcpy(text, data, size);
	text[size] = '\0';
	check_route(text);
	check_bearer(text);
	free(text);
	return 0;
}
