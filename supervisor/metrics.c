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
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"

#define METRICS_MAX_CONNS 16
#define METRICS_FD_BACKOFF_MS 250
#define METRICS_CONN_TIMEOUT_S 10

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
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, 405, strdup("method not allowed\n"), 19, "text/plain");
	if (strcmp(url, "/metrics") != 0)
		return reply(c, 404, strdup("not found: try /metrics\n"), 24, "text/plain");
	body = metrics_render(m->fleet, m->started_ns, &len);
	if (!body)
		return MHD_NO;
	return reply(c, 200, body, len, "text/plain; version=0.0.4; charset=utf-8");
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
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, m,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_CONN_TIMEOUT_S,
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
				 "until one is free", METRICS_FD_BACKOFF_MS);
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
	MHD_UNSIGNED_LONG_LONG ms;

	if (m->mhd && m->paused_until_ns)
		return m->paused_until_ns;
	if (!m->mhd || MHD_get_timeout(m->mhd, &ms) != MHD_YES)
		return UINT64_MAX;
	return now + (uint64_t)ms * 1000000ull;
}
