// SPDX-License-Identifier: Apache-2.0
/* control.c - see control.h. */
#include "supervisor/control.h"
#include "supervisor/control_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/timeutil.h"

#define PEER_GROUPS_MAX 256
/* Connections the kernel queues until accept(); CONTROL_MAX_CONNS applies
 * once accepted. */
#define CONTROL_BACKLOG 128

bool control_dir_safe(uid_t owner, mode_t mode, uid_t self)
{
	if (owner != 0 && owner != self)
		return false;
	/* Others may write to a sticky directory, but not rename or remove
	 * what they do not own (like /tmp). */
	return !(mode & (S_IWGRP | S_IWOTH)) || (mode & S_ISVTX);
}

bool control_admit(unsigned used, unsigned same_uid, bool trusted, bool exempt)
{
	if (used >= CONTROL_MAX_CONNS)
		return false;
	if (!exempt && same_uid >= CONTROL_MAX_PER_UID)
		return false;
	return trusted || used < CONTROL_MAX_CONNS - CONTROL_RESERVED;
}

static int make_dir(const char *dir)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];

	strcpy(buf, dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Like sshd's StrictModes: whoever can write to the socket's directory or
 * one above it can put their own socket in its place and read what root
 * sends, so each of them must be ours or root's, and not writable by
 * others unless sticky. */
static int check_dirs(const char *dir, uid_t self, char *err, size_t errlen)
{
	char real[PATH_MAX];
	struct stat st;

	if (!realpath(dir, real)) {
		snprintf(err, errlen, "control socket directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (;;) {
		char *slash = strrchr(real, '/');

		if (stat(real, &st) < 0) {
			snprintf(err, errlen, "control socket directory %s: %s", real,
				 strerror(errno));
			return -errno;
		}
		if (!control_dir_safe(st.st_uid, st.st_mode, self)) {
			snprintf(
				err, errlen,
				"control socket directory %s (owner uid %u, mode %04o) "
				"is writable by others than root and uid %u, who could replace the "
				"socket; use a directory only they can write to",
				real, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
				(unsigned)self);
			return -EPERM;
		}
		if (real[1] == '\0')
			return 0; /* checked "/" */
		if (slash == real)
			slash++; /* "/usr" -> "/" */
		*slash = '\0';
	}
}

static int prepare_dir(const char *sock_path, uid_t self, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	int r;

	strcpy(dir, sock_path);
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	r = make_dir(dir);
	if (r < 0) {
		snprintf(err, errlen, "control socket directory for %s: %s", sock_path,
			 strerror(-r));
		return r;
	}
	return check_dirs(dir, self, err, errlen);
}

/* A socket file that nobody answers on is left over from a crash; any
 * other file at the path is someone's, and never ours to delete. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
			 "control socket %s: exists and is not a socket; "
			 "not removing it",
			 path);
		return -EEXIST;
	}
	fd = ctl_connect(path);
	if (fd >= 0) {
		close(fd);
		snprintf(err, errlen, "control socket %s: another ringfleetd is answering on it",
			 path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		return -errno;
	}
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
	_cleanup_close_ int fd = -1;
	int r;

	strcpy(sa.sun_path, c->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		snprintf(err, errlen, "control socket %s: %s", c->path, strerror(-r));
		return r;
	}
	if (chmod(c->path, mode) < 0 || listen(fd, CONTROL_BACKLOG) < 0) {
		r = -errno;
		snprintf(err, errlen, "control socket %s: %s", c->path, strerror(-r));
		goto fail;
	}
	/* Giving a file to a group needs root or membership in it. */
	if (c->group_set && chown(c->path, (uid_t)-1, c->group) < 0) {
		r = -errno;
		snprintf(err, errlen,
			 "control socket %s: cannot give it to control_group: %s "
			 "(ringfleetd must run as root or as a member of that group)",
			 c->path, strerror(-r));
		goto fail;
	}
	c->listen_fd = TAKE_FD(fd);
	return 0;
fail:
	unlink(c->path);
	return r;
}

static void watch_listener(struct control *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->tag };

	epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->listen_fd, &ev);
}

int control_open(struct control *c, int epfd, const char *path, const char *group, unsigned mode,
		 char *err, size_t errlen)
{
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
	r = prepare_dir(path, c->self_uid, err, errlen);
	if (r < 0)
		return r;
	r = clear_stale(path, err, errlen);
	if (r < 0)
		return r;
	r = bind_listen(c, mode, err, errlen);
	if (r < 0)
		return r;
	watch_listener(c);
	return 0;
}

int control_inherit(struct control *c, int epfd, const char *path, int fd)
{
	memset(c, 0, sizeof(*c));
	c->epfd = epfd;
	c->self_uid = geteuid();
	c->tag = (struct ev_tag){ EV_LISTEN, c };
	if (strlen(path) >= sizeof(c->path))
		return -ENAMETOOLONG;
	strcpy(c->path, path);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	c->listen_fd = fd;
	watch_listener(c);
	return 0;
}

int control_conn_fd(const struct control *c, uint64_t conn_id)
{
	for (int i = 0; i < CONTROL_MAX_CONNS; i++)
		if (c->conns[i] && c->conns[i]->id == conn_id)
			return c->conns[i]->fd;
	return -ENOENT;
}

/* An fd came free: accepting may work again. */
static void accept_resume(struct control *c)
{
	if (!c->accept_resume_ns)
		return;
	c->accept_resume_ns = 0;
	watch_listener(c);
}

static void accept_pause(struct control *c, int e)
{
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->listen_fd, NULL);
	c->accept_resume_ns = rf_now_ns() + CONTROL_ACCEPT_BACKOFF_MS * RF_NSEC_PER_MSEC;
	if (!c->accept_logged)
		log_warn("control socket: cannot accept: %s; retrying every %d ms until an fd "
			 "is free",
			 strerror(e), CONTROL_ACCEPT_BACKOFF_MS);
	c->accept_logged = true;
}

/* Closes the connection now and frees it at the end of the batch, since
 * a later event of this batch may still name it (see control.h). */
void control_conn_retire(struct control *c, struct control_conn *conn)
{
	for (int i = 0; i < CONTROL_MAX_CONNS; i++)
		if (c->conns[i] == conn)
			c->conns[i] = NULL;
	for (int i = 0; conn->subscriber && i < CONTROL_SUBS_MAX; i++)
		if (c->subs[i] == conn) {
			c->subs[i] = NULL;
			c->n_subs--;
		}
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
	close(conn->fd);
	conn->fd = -1;
	conn->tag.kind = EV_DEAD;
	conn->next_dead = c->dead;
	c->dead = conn;
	accept_resume(c);
}

void control_reap(struct control *c)
{
	while (c->dead) {
		struct control_conn *conn = c->dead;

		c->dead = conn->next_dead;
		free(conn->out);
		free(conn);
	}
}

void control_close(struct control *c)
{
	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		struct control_conn *conn = c->conns[i];

		if (!conn)
			continue;
		/* The last events (the workers stopping) are worth one try. */
		if (conn->subscriber && conn->out_off < conn->out_len) {
			ssize_t n =
				send(conn->fd, conn->out + conn->out_off,
				     conn->out_len - conn->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

			(void)n;
		}
		control_conn_retire(c, conn);
	}
	control_reap(c);
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

/* Picks a free slot for a peer, or -1 with why set. */
static int pick_slot(const struct control *c, const struct ucred *peer, bool trusted,
		     const char **why)
{
	unsigned used = 0, same = 0;
	bool exempt = peer->uid == 0 || peer->uid == c->self_uid;
	int slot = -1;

	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		if (!c->conns[i]) {
			if (slot < 0)
				slot = i;
			continue;
		}
		used++;
		same += c->conns[i]->peer.uid == peer->uid;
	}
	if (control_admit(used, same, trusted, exempt))
		return slot;
	*why = !exempt && same >= CONTROL_MAX_PER_UID ? "too many connections from this user"
						      : "too many connections";
	return -1;
}

static void accept_one(struct control *c, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct control_conn *conn;
	struct ucred peer;
	socklen_t len = sizeof(peer);
	const char *why = NULL;
	bool trusted;
	int slot;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
		peer = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	trusted = peer_authorised(c, fd, &peer);
	slot = pick_slot(c, &peer, trusted, &why);
	if (slot < 0) {
		refuse(fd, why);
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
	conn->peer = peer;
	conn->authorised = trusted;
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

		if (fd < 0) {
			/* Out of fds, the pending peer stays readable: retrying at
			 * once would spin, so wait for an fd or the back-off. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_pause(c, errno);
			return; /* EAGAIN, or a transient error: retry on the next event */
		}
		if (c->accept_logged)
			log_notice("control socket: accepting again");
		c->accept_logged = false;
		accept_one(c, fd);
	}
}

void control_on_timer(struct control *c, uint64_t now)
{
	if (c->accept_resume_ns && now >= c->accept_resume_ns)
		accept_resume(c);
}

uint64_t control_next_deadline(const struct control *c)
{
	return c->accept_resume_ns ? c->accept_resume_ns : UINT64_MAX;
}

static bool has_line(const struct control_conn *conn)
{
	return memchr(conn->in, '\n', conn->in_len) != NULL;
}

/* Reads only when there is nothing to send and no request left over:
 * a peer that does not take its replies is not read. Work left over
 * from a turn arms EPOLLOUT, which fires on the next turn. */
void control_conn_set_events(struct control *c, struct control_conn *conn)
{
	struct epoll_event ev = { .data.ptr = &conn->tag };

	if (control_conn_pending(conn) || (!conn->waiting && !conn->closing && has_line(conn)))
		ev.events = EPOLLOUT;
	else if (!conn->waiting && !conn->closing && conn->in_len < sizeof(conn->in))
		ev.events = EPOLLIN;
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, conn->fd, &ev);
}

/* Returns false when the connection is gone. */
bool control_conn_flush(struct control *c, struct control_conn *conn)
{
	while (conn->out_off < conn->out_len) {
		ssize_t n = send(conn->fd, conn->out + conn->out_off, conn->out_len - conn->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			control_conn_retire(c, conn);
			return false;
		}
		conn->out_off += (size_t)n;
		conn->sent_nl = conn->out[conn->out_off - 1] == '\n';
		/* Idle counts from the last progress, as nginx's send_timeout:
		 * a megabyte of status to a busy reader is not a stalled peer. */
		conn->last_active_ns = rf_now_ns();
	}
	if (conn->out_off == conn->out_len) {
		if (!conn->subscriber) {
			free(conn->out);
			conn->out = NULL;
		}
		conn->out_len = conn->out_off = 0;
		if (conn->closing && !conn->waiting) {
			control_conn_retire(c, conn);
			return false;
		}
	}
	control_conn_set_events(c, conn);
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
	/* Drop what was sent so the buffer holds only what is still due. */
	memmove(conn->out, conn->out + conn->out_off, conn->out_len - conn->out_off);
	conn->out_len -= conn->out_off;
	conn->out_off = 0;
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

	conn->last_active_ns = rf_now_ns();
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
	if (reply == CONTROL_SUBSCRIBE) {
		reply = control_sub_start(c, conn);
		if (reply == CONTROL_SUBSCRIBE)
			return; /* acknowledged in its new buffer */
	}
	if (!reply)
		reply = ctl_reply_error("out of memory");
	if (reply)
		queue(conn, reply);
}

/* Handles complete lines until one is deferred, replies pile up, or this
 * turn's share (CONTROL_TURN_REQS requests, CONTROL_TURN_BYTES of
 * replies) is spent; the rest waits a turn. Nothing is sent meanwhile,
 * so what is pending only grows here. */
static void process_input(struct control *c, struct control_conn *conn)
{
	size_t before = control_conn_pending(conn);
	char *nl;

	for (int n = 0; n < CONTROL_TURN_REQS && !conn->waiting && !conn->closing &&
			!conn->subscriber && control_conn_pending(conn) < CONTROL_OUT_HIGH &&
			control_conn_pending(conn) - before < CONTROL_TURN_BYTES &&
			(nl = memchr(conn->in, '\n', conn->in_len));
	     n++) {
		size_t len = (size_t)(nl - conn->in);

		handle_line(c, conn, conn->in, len);
		memmove(conn->in, nl + 1, conn->in_len - len - 1);
		conn->in_len -= len + 1;
	}
	if (conn->subscriber && conn->in_len) {
		/* A subscriber only listens: nothing may follow `events`. */
		conn->closing = true;
		conn->in_len = 0;
	}
	if (conn->in_len == sizeof(conn->in) && !has_line(conn)) {
		/* No newline within the limit: the stream cannot be resynced. */
		queue(conn, ctl_reply_error("request line longer than %d bytes", CTL_LINE_MAX));
		conn->closing = true;
		conn->in_len = 0;
	}
}

static void read_input(struct control *c, struct control_conn *conn)
{
	ssize_t n;

	if (conn->subscriber) {
		char byte;

		/* EOF, or a byte it had no business sending: either way, gone. */
		n = recv(conn->fd, &byte, 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		control_conn_retire(c, conn);
		return;
	}
	n = recv(conn->fd, conn->in + conn->in_len, sizeof(conn->in) - conn->in_len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Peer closed: anything still to send, or due later, goes with it. */
		control_conn_retire(c, conn);
		return;
	}
	conn->in_len += (size_t)n;
	process_input(c, conn);
	control_conn_flush(c, conn);
}

void control_on_conn(struct control *c, struct control_conn *conn, uint32_t events)
{
	if (events & EPOLLOUT) {
		if (!control_conn_flush(c, conn))
			return;
		if (!conn->waiting && has_line(conn)) {
			process_input(c, conn);
			control_conn_flush(c, conn);
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
		conn->last_active_ns = rf_now_ns();
		if (line)
			queue(conn, line);
		if (!control_conn_flush(c, conn))
			return;
		if (has_line(conn)) {
			process_input(c, conn);
			control_conn_flush(c, conn);
		}
		return;
	}
	free(line);
}

/* Bytes the loop has yet to read, with nothing owed to the client: a busy
 * loop can see the timer before a request that came in time, and closing
 * then would reset a client whose request was never read, with no reason
 * given. One that does not take its replies (output pending) is idle
 * whatever it sends. */
static bool conn_has_input(const struct control_conn *conn)
{
	int n = 0;

	return control_conn_pending(conn) == 0 && ioctl(conn->fd, FIONREAD, &n) == 0 && n > 0;
}

void control_expire(struct control *c, uint64_t now)
{
	for (int i = 0; i < CONTROL_MAX_CONNS; i++) {
		struct control_conn *conn = c->conns[i];

		if (conn && !conn->waiting && (!conn->subscriber || conn->closing) &&
		    now - conn->last_active_ns > (uint64_t)CONTROL_IDLE_MS * RF_NSEC_PER_MSEC &&
		    (conn->closing || !conn_has_input(conn)))
			control_conn_retire(c, conn);
	}
}
