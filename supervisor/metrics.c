// SPDX-License-Identifier: Apache-2.0
/* metrics.c - the HTTP side of metrics.h. */
#include "supervisor/metrics.h"

#include <stdlib.h>
#include <string.h>

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *msg)
{
	return httpd_reply(c, code, strdup(msg), strlen(msg), "text/plain");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct metrics *m = cls;
	size_t len = 0;
	char *body;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (httpd_requested(c))
		return reply_text(c, MHD_HTTP_TOO_MANY_REQUESTS, "too many connections\n");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/metrics") != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	body = metrics_render(m->fleet, m->started_ns, &len);
	if (!body)
		return MHD_NO;
	return httpd_reply(c, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

int metrics_open(struct metrics *m, int epfd, const char *listen, const struct fleet *f,
		 uint64_t started_ns, char *err, size_t errlen)
{
	const struct httpd_ops ops = { .handle = handle, .cls = m };

	m->fleet = f;
	m->started_ns = started_ns;
	return httpd_open(&m->http, epfd, "metrics", listen, NULL, &ops, err, errlen);
}

void metrics_close(struct metrics *m)
{
	httpd_close(&m->http);
}
