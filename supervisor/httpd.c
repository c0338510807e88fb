// SPDX-License-Identifier: Apache-2.0
/* httpd.c - see httpd.h. */
#include "supervisor/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"

/* Fds ran out: MHD would retry its accept at once, so serving pauses. */
#define HTTPD_FD_BACKOFF_MS 250

/* ---- connection deadlines (see httpd.h) ---- */

static struct httpd_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* MHD sees EOF (or EPIPE) on its next run and closes the connection
 * itself; MHD has no call to close one from outside. */
static void conn_cut(struct httpd *h, struct httpd_conn *hc)
{
	if (hc->closing)
		return;
	shutdown(hc->fd, SHUT_RDWR);
	hc->closing = true;
	h->n_cut++;
}

static void conn_wait_request(struct httpd_conn *hc, uint64_t now)
{
	hc->requested = false;
	hc->since_ns = now;
	hc->deadline_ns = now + HTTPD_REQUEST_TIMEOUT_S * RF_NSEC_PER_SEC;
}

/* Bytes of the client's that MHD has yet to read: a request on its way. */
static bool conn_pending(const struct httpd_conn *hc)
{
	int n = 0;

	return ioctl(hc->fd, FIONREAD, &n) == 0 && n > 0;
}

/* Can hc make room? Only one that has owed its request for
 * HTTPD_EVICT_AFTER_MS with nothing of it unread: a connection just
 * accepted has had no time to send (a burst of matchmakers would
 * otherwise cut each other), and one with bytes waiting is sending. */
static bool conn_evictable(const struct httpd_conn *hc, const struct httpd_conn *skip, uint64_t now)
{
	if (!hc->c || hc == skip || hc->closing || hc->requested)
		return false;
	if (now - hc->since_ns < (uint64_t)HTTPD_EVICT_AFTER_MS * RF_NSEC_PER_MSEC)
		return false;
	return !conn_pending(hc);
}

/* The connection that has waited longest for a request, other than skip;
 * false when none can be evicted (conn_evictable). */
static bool evict_oldest(struct httpd *h, const struct httpd_conn *skip)
{
	uint64_t now = rf_now_ns();
	struct httpd_conn *old = NULL;

	for (size_t i = 0; i < HTTPD_CONN_LIMIT; i++) {
		struct httpd_conn *hc = &h->conns[i];

		if (old && hc->since_ns >= old->since_ns)
			continue;
		if (conn_evictable(hc, skip, now))
			old = hc;
	}
	if (old) {
		conn_cut(h, old);
		h->n_evicted++;
	}
	return old != NULL;
}

static void conn_started(struct httpd *h, struct MHD_Connection *c, void **ctx)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct httpd_conn *hc = NULL;

	for (size_t i = 0; i < HTTPD_CONN_LIMIT && !hc; i++)
		if (!h->conns[i].c)
			hc = &h->conns[i];
	if (!ci)
		return;
	if (!hc) { /* MHD's limit equals the table's: not expected */
		shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	*hc = (struct httpd_conn){ .c = c, .fd = ci->connect_fd };
	/* A fixed size turns the kernel's autotuning off: unread answers then
	 * pin at most that much per connection, not up to tcp_wmem's 4 MiB. */
	setsockopt(hc->fd, SOL_SOCKET, SO_SNDBUF, &(int){ HTTPD_SNDBUF }, sizeof(int));
	conn_wait_request(hc, rf_now_ns());
	*ctx = hc;
	/* Room is made by cutting an idle one; only when all are busy is the
	 * new one over the limit. */
	if (++h->n_conns > HTTPD_BUSY_CONNS && !evict_oldest(h, hc))
		hc->over = h->n_conns > HTTPD_MAX_CONNS;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;
	struct httpd_conn *hc = *ctx;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		conn_started(h, c, ctx);
		return;
	}
	if (hc) {
		memset(hc, 0, sizeof(*hc));
		h->n_conns--;
		*ctx = NULL;
	}
}

/* MHD can still parse and hand over a request it read before a cut (in
 * the same run: a connection accepted a moment ago is read at once, a
 * shut-down socket still yields what it had buffered); its answer would
 * be lost. So a cut connection runs nothing: its client sees the
 * connection closed without an answer, and knows nothing was done. One
 * the table does not hold (conn_started shut it down) neither. */
static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url,
				      const char *method, const char *version, const char *upload,
				      size_t *upload_size, void **con_cls)
{
	struct httpd *h = cls;
	const struct httpd_conn *hc = conn_of(c);

	if (!hc || hc->closing) {
		h->n_refused_cut++;
		return MHD_NO;
	}
	return h->ops.handle(h->ops.cls, c, url, method, version, upload, upload_size, con_cls);
}

/* A response went out (or failed): a keep-alive connection now owes the
 * next request within the request deadline, like a new one. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct httpd *h = cls;
	struct httpd_conn *hc = conn_of(c);

	(void)toe;
	if (*con_cls && h->ops.done)
		h->ops.done(h->ops.cls, *con_cls);
	*con_cls = NULL;
	if (hc)
		conn_wait_request(hc, rf_now_ns());
}

bool httpd_requested(struct MHD_Connection *c)
{
	struct httpd_conn *hc = conn_of(c);

	if (!hc)
		return false;
	if (!hc->requested) {
		hc->requested = true;
		hc->deadline_ns = rf_now_ns() + HTTPD_RESPONSE_TIMEOUT_S * RF_NSEC_PER_SEC;
	}
	return hc->over;
}

static void cut_expired(struct httpd *h, uint64_t now)
{
	for (size_t i = 0; i < HTTPD_CONN_LIMIT; i++) {
		struct httpd_conn *hc = &h->conns[i];

		if (hc->c && !hc->closing && now >= hc->deadline_ns)
			conn_cut(h, hc);
	}
}

enum MHD_Result httpd_reply(struct MHD_Connection *c, unsigned code, char *body, size_t len,
			    const char *type)
{
	return httpd_reply_hdr(c, code, body, len, type, NULL, NULL);
}

enum MHD_Result httpd_reply_hdr(struct MHD_Connection *c, unsigned code, char *body, size_t len,
				const char *type, const char *hname, const char *hvalue)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	const struct httpd_conn *hc = conn_of(c);
	enum MHD_Result ok;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (hname)
		MHD_add_response_header(r, hname, hvalue);
	if (hc && hc->over)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ok = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ok;
}

/* ---- the listener ---- */

int httpd_parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	size_t hl;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	hl = (size_t)(colon - s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t)port);
			return 0;
		}
	}
	return -EINVAL;
}

static int copy_tls(struct httpd *h, const struct httpd_tls *tls)
{
	if (!tls)
		return 0;
	h->tls_cert = strdup(tls->cert_pem);
	h->tls_key = strdup(tls->key_pem);
	return h->tls_cert && h->tls_key ? 0 : -ENOMEM;
}

static void free_tls(struct httpd *h)
{
	free(h->tls_cert);
	if (h->tls_key)
		memset(h->tls_key, 0, strlen(h->tls_key));
	free(h->tls_key);
	h->tls_cert = h->tls_key = NULL;
}

static struct MHD_Daemon *start(struct httpd *h, const struct sockaddr_storage *ss)
{
	unsigned flags = MHD_USE_EPOLL | MHD_USE_TURBO;
	struct MHD_OptionItem opt[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, (void *)ss },
		{ MHD_OPTION_CONNECTION_LIMIT, HTTPD_CONN_LIMIT, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, HTTPD_IDLE_TIMEOUT_S, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (ss->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (h->tls_cert)
		flags |= MHD_USE_TLS;
	else
		opt[5].option = MHD_OPTION_END;
	return MHD_start_daemon(flags, 0, NULL, NULL, access_handler, h, MHD_OPTION_ARRAY, opt,
				MHD_OPTION_END);
}

int httpd_open(struct httpd *h, int epfd, const char *what, const char *listen,
	       const struct httpd_tls *tls, const struct httpd_ops *ops, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;

	memset(h, 0, sizeof(*h));
	h->mhd_fd = -1;
	h->epfd = epfd;
	h->ops = *ops;
	h->what = what;
	h->tag = (struct ev_tag){ EV_HTTP, h };
	snprintf(h->listen, sizeof(h->listen), "%s", listen);
	if (httpd_parse_listen(listen, &ss) < 0) {
		snprintf(err, errlen, "%s_listen: bad address \"%s\"", what, listen);
		return -EINVAL;
	}
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errlen, "%s_listen: this libmicrohttpd has no TLS support", what);
		return -ENOTSUP;
	}
	if (copy_tls(h, tls) < 0) {
		free_tls(h);
		snprintf(err, errlen, "%s_listen: out of memory", what);
		return -ENOMEM;
	}
	h->mhd = start(h, &ss);
	if (!h->mhd) {
		free_tls(h);
		snprintf(err, errlen, "%s_listen: cannot listen on %s%s", what, listen,
			 tls ? " (or the TLS certificate and key do not load)" : "");
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	h->mhd_fd = info ? info->epoll_fd : -1;
	ev.data.ptr = &h->tag;
	if (h->mhd_fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, h->mhd_fd, &ev) < 0) {
		httpd_close(h);
		snprintf(err, errlen, "%s_listen: cannot poll the HTTP server", what);
		return -EIO;
	}
	return 0;
}

void httpd_close(struct httpd *h)
{
	if (!h->mhd)
		return;
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->mhd_fd, NULL);
	MHD_stop_daemon(h->mhd);
	h->mhd = NULL;
	free_tls(h);
}

static void watch(struct httpd *h)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &h->tag };

	epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->mhd_fd, &ev);
}

static bool fd_left(const struct httpd *h)
{
	int fd = fcntl(h->mhd_fd, F_DUPFD_CLOEXEC, 0);

	if (fd >= 0) {
		close(fd);
		return true;
	}
	return errno != EMFILE;
}

void httpd_on_event(struct httpd *h)
{
	uint64_t now = rf_now_ns();

	if (!h->mhd)
		return;
	cut_expired(h, now);
	if (h->paused_until_ns) {
		if (now < h->paused_until_ns)
			return;
		h->paused_until_ns = 0;
		watch(h);
	}
	if (!fd_left(h)) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->mhd_fd, NULL);
		h->paused_until_ns = now + HTTPD_FD_BACKOFF_MS * RF_NSEC_PER_MSEC;
		if (!h->fd_logged)
			log_warn("%s: out of file descriptors; serving pauses %d ms at a time "
				 "until one is free",
				 h->what, HTTPD_FD_BACKOFF_MS);
		h->fd_logged = true;
		return;
	}
	if (h->fd_logged)
		log_notice("%s: serving again", h->what);
	h->fd_logged = false;
	MHD_run(h->mhd);
}

uint64_t httpd_next_run(const struct httpd *h, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	MHD_UNSIGNED_LONG_LONG ms;

	if (h->mhd && h->paused_until_ns)
		return h->paused_until_ns;
	if (!h->mhd)
		return UINT64_MAX;
	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
		next = now + (uint64_t)ms * RF_NSEC_PER_MSEC;
	for (size_t i = 0; i < HTTPD_CONN_LIMIT; i++) {
		const struct httpd_conn *hc = &h->conns[i];

		if (hc->c && !hc->closing && hc->deadline_ns < next)
			next = hc->deadline_ns;
	}
	return next;
}
