// SPDX-License-Identifier: Apache-2.0
/* api.c - see api.h. */
#include "supervisor/api.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/api_parse.h"
#include "supervisor/daemon.h"
#include "supervisor/session.h"
#include "supervisor/tokens.h"

#define API_ERR_MAX 256

/* A request whose headers passed: its endpoint and the body so far. */
struct api_req {
	struct api_route route;
	bool too_big;
	size_t len, cap;
	char *body;
};

/* ---- replies ---- */

static enum MHD_Result reply_json_hdr(struct MHD_Connection *c, unsigned code, json_t *j,
				      const char *hname, const char *hvalue)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	size_t len;
	char *body;

	json_decref(j);
	if (!text)
		return MHD_NO; /* out of memory: MHD closes the connection */
	len = strlen(text);
	body = realloc(text, len + 2);
	if (!body) {
		free(text);
		return MHD_NO;
	}
	body[len++] = '\n';
	body[len] = '\0';
	return httpd_reply_hdr(c, code, body, len, "application/json", hname, hvalue);
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned code, json_t *j)
{
	return reply_json_hdr(c, code, j, NULL, NULL);
}

/* {"error": MSG}: MSG may quote the client's bytes (a JSON parser's
 * "near '...'"), so it is cut to printable ASCII to stay valid JSON. */
static __attribute__((format(printf, 5, 6))) enum MHD_Result
reply_error_hdr(struct MHD_Connection *c, unsigned code, const char *hname, const char *hvalue,
		const char *fmt, ...)
{
	char msg[API_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return reply_json_hdr(c, code, json_pack("{s:s}", "error", msg), hname, hvalue);
}

#define reply_error(c, code, ...) reply_error_hdr(c, code, NULL, NULL, __VA_ARGS__)

/* ---- endpoints ---- */

static struct server *find_server(const struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->fleet.n; i++) {
		struct server *s = d->fleet.srv[i];

		if (!s->removing && strcmp(s->cfg.name, name) == 0)
			return s;
	}
	return NULL;
}

static enum MHD_Result list_servers(struct api *a, struct MHD_Connection *c)
{
	const struct fleet *f = &a->d->fleet;
	json_t *list = json_array();

	for (size_t i = 0; list && i < f->n; i++) {
		if (f->srv[i]->removing)
			continue;
		if (json_array_append_new(list, sessions_server_json(f->srv[i])) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	return reply_json(c, MHD_HTTP_OK, list);
}

static enum MHD_Result allocate(struct api *a, struct MHD_Connection *c, const struct api_req *rq)
{
	static struct alloc_req req; /* 9 KiB; the loop is single-threaded */
	char err[API_ERR_MAX];
	struct server *s = NULL;
	json_t *body;
	int r;

	if (a->d->shutting_down)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
	if (api_parse_alloc(rq->body, rq->len, &req, err, sizeof(err)) < 0) {
		a->d->fleet.sess.failures[ALLOC_FAIL_INVALID]++;
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	}
	if (tokens_check_request(a->d, &req, err, sizeof(err)) < 0) {
		a->d->fleet.sess.failures[ALLOC_FAIL_INVALID]++;
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	}
	r = sessions_allocate(a->d, &req, &s, err, sizeof(err));
	if (r == -ENOENT)
		return reply_error(c, MHD_HTTP_CONFLICT, "%s", err);
	if (r == -EAGAIN)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", err);
	if (r == -EINVAL)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	if (r < 0)
		return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err);
	body = sessions_server_json(s);
	/* Connect tokens for req.players (supervisor/tokens.c). */
	r = body ? sessions_tokens(a->d, s, &req, body) : -ENOMEM;
	if (r < 0) {
		json_decref(body);
		sessions_release(a->d, s, "tokens");
		return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "connect tokens: %s",
				   strerror(-r));
	}
	return reply_json(c, MHD_HTTP_OK, body);
}

static enum MHD_Result release(struct api *a, struct MHD_Connection *c, const struct api_req *rq)
{
	struct server *s = find_server(a->d, rq->route.name);

	if (!s)
		return reply_error(c, MHD_HTTP_NOT_FOUND, "no server named %s", rq->route.name);
	if (sessions_release(a->d, s, "release") < 0)
		return reply_error(c, MHD_HTTP_CONFLICT, "%s is not allocated (session %s)",
				   s->cfg.name, session_state_name(s->sess.state));
	log_notice("%s: released over the HTTP API", s->cfg.name);
	return reply_json(c, MHD_HTTP_OK, sessions_server_json(s));
}

/* ---- requests ---- */

/* Hashing what was sent first makes the comparison independent of its
 * length as well as of its bytes. */
static bool authorized(const struct api *a, struct MHD_Connection *c)
{
	const struct cfg_api_files *f = &a->d->cfg.api;
	const char *h =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned char got[CFG_TOKEN_HASH_LEN];
	const char *tok;
	size_t len;

	if (!f->token_set || !api_bearer_token(h, &tok, &len))
		return false;
	crypto_generichash(got, sizeof(got), (const unsigned char *)tok, len, NULL, 0);
	return sodium_memcmp(got, f->token_hash, sizeof(got)) == 0;
}

static bool body_too_big(struct MHD_Connection *c)
{
	const char *cl =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return cl && strtoull(cl, NULL, 10) > API_BODY_MAX;
}

/* The headers are in: refuse at once (the body is then never read, and
 * MHD closes the connection), or take the request, answered once its
 * body is in (the request deadline runs until then). */
static enum MHD_Result start_request(struct api *a, struct MHD_Connection *c, const char *url,
				     const char *method, void **con_cls)
{
	struct api_req *rq;

	if (!authorized(a, c)) {
		httpd_requested(c);
		a->n_denied++;
		return reply_error_hdr(c, MHD_HTTP_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				       "Bearer realm=\"ringfleet\"",
				       "want Authorization: Bearer TOKEN with the token of "
				       "api_token_file");
	}
	if (body_too_big(c)) {
		httpd_requested(c);
		return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body over %u bytes",
				   API_BODY_MAX);
	}
	rq = calloc(1, sizeof(*rq));
	if (!rq)
		return MHD_NO;
	api_route(method, url, &rq->route);
	*con_cls = rq;
	return MHD_YES;
}

/* A chunk of body: kept up to API_BODY_MAX, the rest only counted
 * against the connection's deadline (a chunked upload has no length to
 * refuse up front). */
static void take_body(struct api_req *rq, const char *data, size_t n)
{
	char *p;

	if (rq->too_big || n > API_BODY_MAX - rq->len) {
		rq->too_big = true;
		return;
	}
	if (rq->len + n > rq->cap) {
		size_t cap = rq->cap ? rq->cap : 1024;

		while (cap < rq->len + n)
			cap *= 2;
		if (cap > API_BODY_MAX)
			cap = API_BODY_MAX;
		p = realloc(rq->body, cap);
		if (!p) {
			rq->too_big = true;
			return;
		}
		rq->body = p;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct api *a = cls;
	struct api_req *rq = *con_cls;

	(void)version;
	if (rq && *upload_size) {
		take_body(rq, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (!rq) {
		a->n_requests++;
		return start_request(a, c, url, method, con_cls);
	}
	if (httpd_requested(c))
		return reply_error(c, MHD_HTTP_TOO_MANY_REQUESTS, "too many connections");
	if (rq->too_big)
		return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body over %u bytes",
				   API_BODY_MAX);
	if (rq->route.ep == API_EP_NONE)
		return reply_error(c, MHD_HTTP_NOT_FOUND,
				   "no such endpoint: try POST /v1/allocate, "
				   "POST /v1/servers/NAME/release, GET /v1/servers");
	if (!rq->route.method_ok)
		return reply_error_hdr(c, MHD_HTTP_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW,
				       rq->route.allow, "%s only", rq->route.allow);
	switch (rq->route.ep) {
	case API_EP_ALLOCATE:
		return allocate(a, c, rq);
	case API_EP_RELEASE:
		return release(a, c, rq);
	default:
		return list_servers(a, c);
	}
}

static void request_done(void *cls, void *req_ctx)
{
	struct api_req *rq = req_ctx;

	(void)cls;
	free(rq->body);
	free(rq);
}

static struct httpd_tls tls_of(const struct cfg *cfg)
{
	return (struct httpd_tls){ cfg->api.tls_cert, cfg->api.tls_key };
}

int api_open(struct api *a, struct daemon *d, const struct cfg *cfg, char *err, size_t errlen)
{
	const struct httpd_ops ops = { .handle = handle, .done = request_done, .cls = a };
	struct httpd_tls tls = tls_of(cfg);

	a->d = d;
	return httpd_open(&a->http, d->epfd, "api", cfg->sup.api_listen, tls.cert_pem ? &tls : NULL,
			  &ops, err, errlen);
}

void api_close(struct api *a)
{
	httpd_close(&a->http);
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void api_reload(struct api *a, struct daemon *d, const struct cfg *next)
{
	const struct cfg *cur = &d->cfg;
	char err[CFG_ERR_MAX];

	if (strcmp(cur->sup.api_listen, next->sup.api_listen) == 0 &&
	    same_text(cur->api.tls_cert, next->api.tls_cert) &&
	    same_text(cur->api.tls_key, next->api.tls_key) &&
	    (a->http.mhd || !cur->sup.api_listen[0]))
		return;
	/* The old listener goes first: the new one may want its port. */
	api_close(a);
	if (!next->sup.api_listen[0])
		return;
	if (api_open(a, d, next, err, sizeof(err)) < 0) {
		log_err("reload: %s; the HTTP API is off", err);
		return;
	}
	log_notice("HTTP API on %s://%s/v1/", next->api.tls_cert ? "https" : "http",
		   next->sup.api_listen);
}
