// SPDX-License-Identifier: Apache-2.0
/* metrics.c - the HTTP side of metrics.h. */
#include "supervisor/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"

/* Fds ran out: MHD would retry its accept at once, so serving pauses. */
#define METRICS_FD_BACKOFF_MS 250

/* ---- connection deadlines (see metrics.h) ---- */

static struct metrics_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* MHD sees EOF (or EPIPE) on its next run and closes the connection
 * itself; MHD has no call to close one from outside. */
static void conn_cut(struct metrics *m, struct metrics_conn *mc)
{
	if (mc->closing)
		return;
	shutdown(mc->fd, SHUT_RDWR);
	mc->closing = true;
	m->n_cut++;
}

static void conn_wait_request(struct metrics_conn *mc, uint64_t now)
{
	mc->requested = false;
	mc->since_ns = now;
	mc->deadline_ns = now + METRICS_REQUEST_TIMEOUT_S * RF_NSEC_PER_SEC;
}

/* The connection that has waited longest for a request, other than skip. */
static void evict_oldest(struct metrics *m, const struct metrics_conn *skip)
{
	struct metrics_conn *old = NULL;

	for (size_t i = 0; i < METRICS_MAX_CONNS; i++) {
		struct metrics_conn *mc = &m->conns[i];

		if (!mc->c || mc == skip || mc->closing || mc->requested)
			continue;
		if (!old || mc->since_ns < old->since_ns)
			old = mc;
	}
	if (old)
		conn_cut(m, old);
}

static void conn_started(struct metrics *m, struct MHD_Connection *c, void **ctx)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct metrics_conn *mc = NULL;

	for (size_t i = 0; i < METRICS_MAX_CONNS && !mc; i++)
		if (!m->conns[i].c)
			mc = &m->conns[i];
	if (!ci)
		return;
	if (!mc) { /* MHD's limit equals the table's: not expected */
		shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	*mc = (struct metrics_conn){ .c = c, .fd = ci->connect_fd };
	conn_wait_request(mc, rf_now_ns());
	*ctx = mc;
	if (++m->n_conns > METRICS_BUSY_CONNS)
		evict_oldest(m, mc);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct metrics *m = cls;
	struct metrics_conn *mc = *ctx;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		conn_started(m, c, ctx);
		return;
	}
	if (mc) {
		memset(mc, 0, sizeof(*mc));
		m->n_conns--;
		*ctx = NULL;
	}
}

/* A response went out (or failed): a keep-alive connection now owes the
 * next request within the request deadline, like a new one. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct metrics_conn *mc = conn_of(c);

	(void)cls;
	(void)con_cls;
	(void)toe;
	if (mc)
		conn_wait_request(mc, rf_now_ns());
}

static void conn_requested(struct MHD_Connection *c)
{
	struct metrics_conn *mc = conn_of(c);

	if (!mc || mc->requested)
		return;
	mc->requested = true;
	mc->deadline_ns = rf_now_ns() + METRICS_RESPONSE_TIMEOUT_S * RF_NSEC_PER_SEC;
}

static void cut_expired(struct metrics *m, uint64_t now)
{
	for (size_t i = 0; i < METRICS_MAX_CONNS; i++) {
		struct metrics_conn *mc = &m->conns[i];

		if (mc->c && !mc->closing && now >= mc->deadline_ns)
			conn_cut(m, mc);
	}
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, char *body, size_t len,
			     const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ok;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ok = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *msg)
{
	return reply(c, code, strdup(msg), strlen(msg), "text/plain");
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
	conn_requested(c);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/metrics") != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	body = metrics_render(m->fleet, m->started_ns, &len);
	if (!body)
		return MHD_NO;
	return reply(c, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

static int parse_listen(const char *s, struct sockaddr_storage *ss)
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

int metrics_open(struct metrics *m, int epfd, const char *listen, const struct fleet *f,
		 uint64_t started_ns, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_TURBO;

	memset(m, 0, sizeof(*m));
	m->mhd_fd = -1;
	m->epfd = epfd;
	m->fleet = f;
	m->started_ns = started_ns;
	m->tag = (struct ev_tag){ EV_METRICS, m };
	snprintf(m->listen, sizeof(m->listen), "%s", listen);
	if (parse_listen(listen, &ss) < 0) {
		snprintf(err, errlen, "metrics_listen: bad address \"%s\"", listen);
		return -EINVAL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)METRICS_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned)METRICS_IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_CONNECTION,
				  on_connection, m, MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
				  MHD_OPTION_END);
	if (!m->mhd) {
		snprintf(err, errlen, "metrics_listen: cannot listen on %s", listen);
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	m->mhd_fd = info ? info->epoll_fd : -1;
	ev.data.ptr = &m->tag;
	if (m->mhd_fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, m->mhd_fd, &ev) < 0) {
		MHD_stop_daemon(m->mhd);
		m->mhd = NULL;
		snprintf(err, errlen, "metrics_listen: cannot poll the HTTP server");
		return -EIO;
	}
	return 0;
}

void metrics_close(struct metrics *m)
{
	if (!m->mhd)
		return;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->mhd_fd, NULL);
	MHD_stop_daemon(m->mhd);
	m->mhd = NULL;
}

static void watch(struct metrics *m)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &m->tag };

	epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->mhd_fd, &ev);
}

static bool fd_left(const struct metrics *m)
{
	int fd = fcntl(m->mhd_fd, F_DUPFD_CLOEXEC, 0);

	if (fd >= 0) {
		close(fd);
		return true;
	}
	return errno != EMFILE;
}

void metrics_on_event(struct metrics *m)
{
	uint64_t now = rf_now_ns();

	if (!m->mhd)
		return;
	cut_expired(m, now);
	if (m->paused_until_ns) {
		if (now < m->paused_until_ns)
			return;
		m->paused_until_ns = 0;
		watch(m);
	}
	if (!fd_left(m)) {
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->mhd_fd, NULL);
		m->paused_until_ns = now + METRICS_FD_BACKOFF_MS * RF_NSEC_PER_MSEC;
		if (!m->fd_logged)
			log_warn("metrics: out of file descriptors; serving pauses %d ms at a time "
				 "until one is free",
				 METRICS_FD_BACKOFF_MS);
		m->fd_logged = true;
		return;
	}
	if (m->fd_logged)
		log_notice("metrics: serving again");
	m->fd_logged = false;
	MHD_run(m->mhd);
}

uint64_t metrics_next_run(const struct metrics *m, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	MHD_UNSIGNED_LONG_LONG ms;

	if (m->mhd && m->paused_until_ns)
		return m->paused_until_ns;
	if (!m->mhd)
		return UINT64_MAX;
	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES)
		next = now + (uint64_t)ms * RF_NSEC_PER_MSEC;
	for (size_t i = 0; i < METRICS_MAX_CONNS; i++) {
		const struct metrics_conn *mc = &m->conns[i];

		if (mc->c && !mc->closing && mc->deadline_ns < next)
			next = mc->deadline_ns;
	}
	return next;
}
