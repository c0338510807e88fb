// SPDX-License-Identifier: Apache-2.0
/* control.c - see control.h. */
#include "supervisor/control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/timeutil.h"

#define PEER_GROUPS_MAX 256

struct control_conn {
	struct ev_tag tag;
	int fd;
	uint64_t id;
	struct ucred peer;
	bool authorised;
	bool waiting;          /* a deferred reply is due: read no more */
	bool closing;          /* close once the output is flushed */
	uint64_t last_active_ns;
	size_t in_len;
	char in[CTL_LINE_MAX];
	char *out;
	size_t out_len, out_off;
};

static int make_dir(const char *sock_path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	strcpy(dir, sock_path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file that nobody answers on is left over from a crash. */
static int clear_stale(const char *path)
{
	int fd = ctl_connect(path);

	if (fd >= 0) {
		close(fd);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int resolve_group(struct control *c, const char *group)
{
	struct group *g;

	if (!group || !*group)
		return 0;
	g = getgrnam(group);
	if (!g)
		return -ESRCH;
	c->group = g->gr_gid;
	c->group_set = true;
	return 0;
}

static int bind_listen(struct control *c, unsigned mode, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	strcpy(sa.sun_path, c->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		snprintf(err, errlen, "control socket %s: %s", c->path, strerror(-r));
		close(fd);
		return r;
	}
	if (chmod(c->path, mode) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		snprintf(err, errlen, "control socket %s: %s", c->path, strerror(-r));
		goto fail;
	}
	/* Giving a file to a group needs root or membership in it. */
	if (c->group_set && chown(c->path, (uid_t)-1, c->group) < 0) {
		r = -errno;
		snprintf(err, errlen, "control socket %s: cannot give it to control_group: %s "
			 "(ringfleetd must run as root or as a member of that group)",
			 c->path, strerror(-r));
		goto fail;
	}
	c->listen_fd = fd;
	return 0;
fail:
	unlink(c->path);
	close(fd);
	return r;
}

int control_open(struct control *c, int epfd, const char *path, const char *group,
		 unsigned mode, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	c->epfd = epfd;
	c->self_uid = geteuid();
	c->tag = (struct ev_tag){ EV_LISTEN, c };
	if (strlen(path) >= sizeof(c->path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(c->path, path);
	r = resolve_group(c, group);
	if (r < 0) {
		snprintf(err, errlen, "control_group: no such group \"%s\"", group);
		return r;
	}
	r = make_dir(path);
	if (r < 0) {
		snprintf(err, errlen, "control socket directory for %s: %s", path, strerror(-r));
		return r;
	}
	r = clear_stale(path);
	if (r < 0) {
		snprintf(err, errlen, "control socket %s: %s", path,
			 r == -EADDRINUSE ? "another ringfleetd is answering on it" : strerror(-r));
		return r;
	}
	r = bind_listen(c, mode, err, errlen);
	if (r < 0)
		return r;
	ev.data.ptr = &c->tag;
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->listen_fd, &ev);
	return 0;
}

static void conn_free(struct control *c, struct control_conn *conn)
{
	for (int i = 0; i < CONTROL_MAX_CONNS; i++)
		if (c->conns[i] == conn)
			c->conns[i] = NULL;
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
	close(conn->fd);
	free(conn->out);
	free(conn);
}

void control_close(struct control *c)
{
	for (int i = 0; i < CONTROL_MAX_CONNS; i++)
		if (c->conns[i])
			conn_free(c, c->conns[i]);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->path);
		c->listen_fd = -1;
	}
}

/* Root, the daemon's own uid, or a member of control_group. */
static bool control_peer_authorised(const struct control *c, const struct ucred *peer,
				    const gid_t *groups, int n_groups)
{
	if (peer->uid == 0 || peer->uid == c->self_uid)
		return true;
	if (!c->group_set)
		return false;
	if (peer->gid == c->group)
		return true;
	for (int i = 0; i < n_groups; i++)
		if (groups[i] == c->group)
			return true;
	return false;
}

static bool peer_authorised(const struct control *c, int fd, const struct ucred *peer)
{
	gid_t groups[PEER_GROUPS_MAX];
	socklen_t len = sizeof(groups);

	/* SO_PEERGROUPS reports the peer's groups as of connect(). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		len = 0;
	return control_peer_authorised(c, peer, groups, (int)(len / sizeof(gid_t)));
}

/* Refusal is best effort: the peer gets one line if its buffer has room. */
static void refuse(int fd, const char *why)
{
	char *line = ctl_reply_error("%s", why);

	if (line) {
		ssize_t n = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);

		(void)n;
		free(line);
	}
	close(fd);
}

static int free_index(const struct control *c)
{
	for (int i = 0; i < CONTROL_MAX_CONNS; i++)
		if (!c->conns[i])
			return i;
	return -1;
}

static void accept_one(struct control *c, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct control_conn *conn;
	socklen_t len = sizeof(struct ucred);
	int slot = free_index(c);

	if (slot < 0) {
		refuse(fd, "too many connections");
		return;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		refuse(fd, "out of memory");
		return;
	}
	conn->fd = fd;
	conn->tag = (struct ev_tag){ EV_CONN, conn };
	conn->id = ++c->next_id;
	conn->last_active_ns = rf_now_ns();
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &conn->peer, &len) < 0)
		conn->peer = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	conn->authorised = peer_authorised(c, fd, &conn->peer);
	ev.data.ptr = &conn->tag;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(conn);
		close(fd);
		return;
	}
	c->conns[slot] = conn;
}

void control_on_listen(struct control *c)
{
	for (int i = 0; i < 2 * CONTROL_MAX_CONNS; i++) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return; /* EAGAIN, or a transient error: retry on the next event */
		accept_one(c, fd);
	}
}

static void set_events(struct control *c, struct control_conn *conn)
{
	struct epoll_event ev = { .data.ptr = &conn->tag };

	if (conn->out_len > conn->out_off)
		ev.events = EPOLLOUT;
	else if (!conn->waiting && !conn->closing)
		ev.events = EPOLLIN;
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, conn->fd, &ev);
}

/* Returns false when the connection is gone. */
static bool flush(struct control *c, struct control_conn *conn)
{
	while (conn->out_off < conn->out_len) {
		ssize_t n = send(conn->fd, conn->out + conn->out_off,
				 conn->out_len - conn->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_free(c, conn);
			return false;
		}
		conn->out_off += (size_t)n;
		conn->last_active_ns = rf_now_ns();
	}
	if (conn->out_off == conn->out_len) {
		free(conn->out);
		conn->out = NULL;
		conn->out_len = conn->out_off = 0;
		if (conn->closing) {
			conn_free(c, conn);
			return false;
		}
	}
	set_events(c, conn);
	return true;
}

static void queue(struct control_conn *conn, char *line)
{
	size_t n = strlen(line);
	char *out;

	if (!conn->out) {
		conn->out = line;
		conn->out_len = n;
		conn->out_off = 0;
		return;
	}
	out = realloc(conn->out, conn->out_len + n + 1);
	if (out) {
		memcpy(out + conn->out_len, line, n + 1);
		conn->out = out;
		conn->out_len += n;
	}
	free(line);
}

static void handle_line(struct control *c, struct control_conn *conn, const char *line, size_t len)
{
	struct ctl_request req;
	const char *why;
	char *reply;

	if (ctl_parse_request(line, len, &req, &why) < 0)
		reply = ctl_reply_error("bad request: %s", why);
	else if (ctl_verb_mutates(req.verb) && !conn->authorised)
		reply = ctl_reply_error("permission denied");
	else
		reply = c->handle(c->ctx, conn->id, &conn->peer, &req);
	if (reply == CONTROL_DEFER) {
		conn->waiting = true;
		return;
	}
	if (!reply)
		reply = ctl_reply_error("out of memory");
	if (reply)
		queue(conn, reply);
}

/* Handles every complete line in the buffer, stopping at a deferred one. */
static void process_input(struct control *c, struct control_conn *conn)
{
	char *nl;

	while (!conn->waiting && (nl = memchr(conn->in, '\n', conn->in_len))) {
		size_t len = (size_t)(nl - conn->in);

		handle_line(c, conn, conn->in, len);
		memmove(conn->in, nl + 1, conn->in_len - len - 1);
		conn->in_len -= len + 1;
	}
	if (conn->in_len == sizeof(conn->in)) {
		/* No newline within the limit: the stream cannot be resynced. */
		queue(conn, ctl_reply_error("request line longer than %d bytes", CTL_LINE_MAX));
		conn->closing = true;
		conn->in_len = 0;
	}
}

static void read_input(struct control *c, struct control_conn *conn)
{
	ssize_t n = recv(conn->fd, conn->in + conn->in_len, sizeof(conn->in) - conn->in_len,
			 MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Peer closed: anything still to send is dropped with it. */
		if (!conn->waiting)
			conn_free(c, conn);
		else {
			conn->closing = true;
			set_events(c, conn);
		}
		return;
	}
	conn->in_len += (size_t)n;
	conn->last_active_ns = rf_now_ns();
	process_input(c, conn);
	flush(c, conn);
}

void control_on_conn(struct control *c, struct control_conn *conn, uint32_t events)
{
	if (events & EPOLLOUT) {
		if (!flush(c, conn))
			return;
		if (!conn->waiting && conn->in_len) {
			process_input(c, conn);
			flush(c, conn);
		}
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		read_input(c, conn);
}

void control_reply(struct control *c, uint64_t conn_id, char *line)
{
	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		struct control_conn *conn = c->conns[i];

		if (!conn || conn->id != conn_id)
			continue;
		if (!conn->waiting) {
			/* Only deferred requests are answered this way. */
			free(line);
			return;
		}
		conn->waiting = false;
		if (line)
			queue(conn, line);
		if (!flush(c, conn))
			return;
		if (conn->in_len) {
			process_input(c, conn);
			flush(c, conn);
		}
		return;
	}
	free(line);
}

void control_expire(struct control *c, uint64_t now)
{
	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		struct control_conn *conn = c->conns[i];

		if (conn && !conn->waiting &&
		    now - conn->last_active_ns > (uint64_t)CONTROL_IDLE_MS * RF_NSEC_PER_MSEC)
			conn_free(c, conn);
	}
}
