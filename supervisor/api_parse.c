// SPDX-License-Identifier: Apache-2.0
/* api_parse.c - see api_parse.h. */
#include "supervisor/api_parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define RELEASE_PREFIX "/v1/servers/"
#define RELEASE_SUFFIX "/release"

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= CFG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool release_path(const char *path, char *name)
{
	size_t pl = strlen(RELEASE_PREFIX), sl = strlen(RELEASE_SUFFIX), n = strlen(path);

	if (n <= pl + sl || strncmp(path, RELEASE_PREFIX, pl) != 0 ||
	    strcmp(path + n - sl, RELEASE_SUFFIX) != 0)
		return false;
	n -= pl + sl;
	if (!name_ok(path + pl, n))
		return false;
	memcpy(name, path + pl, n);
	name[n] = '\0';
	return true;
}

void api_route(const char *method, const char *path, struct api_route *r)
{
	memset(r, 0, sizeof(*r));
	if (strcmp(path, "/v1/allocate") == 0) {
		r->ep = API_EP_ALLOCATE;
		r->allow = "POST";
	} else if (strcmp(path, "/v1/servers") == 0) {
		r->ep = API_EP_SERVERS;
		r->allow = "GET";
	} else if (release_path(path, r->name)) {
		r->ep = API_EP_RELEASE;
		r->allow = "POST";
	} else {
		return;
	}
	r->method_ok = strcmp(method, r->allow) == 0;
}

bool api_bearer_token(const char *header, const char **tok, size_t *len)
{
	const char *t, *end;

	if (!header || strncasecmp(header, "Bearer", 6) != 0 ||
	    (header[6] != ' ' && header[6] != '\t'))
		return false;
	t = header + 6;
	while (*t == ' ' || *t == '\t')
		t++;
	end = t + strlen(t);
	while (end > t && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == t)
		return false;
	*tok = t;
	*len = (size_t)(end - t);
	return true;
}

int api_parse_alloc(const char *body, size_t len, struct alloc_req *r, char *err, size_t errlen)
{
	json_error_t je;
	json_t *obj;
	int rc;

	if (len == 0) {
		alloc_req_init(r);
		return 0;
	}
	obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!obj) {
		alloc_req_init(r);
		snprintf(err, errlen, "bad JSON at %d:%d: %s", je.line, je.column, je.text);
		return -EINVAL;
	}
	rc = alloc_req_from_json(r, obj, err, errlen);
	json_decref(obj);
	return rc;
}
