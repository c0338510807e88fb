// SPDX-License-Identifier: Apache-2.0
/* control.h - the control socket: accepting local peers, framing request
 * lines, authorising mutating verbs, and writing replies without ever
 * blocking the supervisor's loop. What a verb does is the handler's job.
 *
 * Limits, so no peer can disturb another or the daemon: request lines of
 * at most CTL_LINE_MAX bytes; CONTROL_MAX_CONNS connections, at most
 * CONTROL_MAX_PER_UID of them per uid, the last CONTROL_RESERVED kept for
 * authorised peers; a connection that does not complete a request within
 * CONTROL_IDLE_MS is closed, however it trickles, and so is one whose
 * reply made no progress for CONTROL_IDLE_MS (nginx's send_timeout: a
 * large status to a slow reader is not a stalled peer);
 * no new request is handled while CONTROL_OUT_HIGH bytes of replies wait
 * (the peer is not read meanwhile), and one connection gets at most
 * CONTROL_TURN_REQS requests, stopping once its replies of this turn
 * reach CONTROL_TURN_BYTES, per turn of the event loop.
 *
 * Subscribers (the `events` verb): a connection whose handler answered
 * CONTROL_SUBSCRIBE gets an acknowledgement and then every line passed to
 * control_broadcast(), and sends nothing more (any byte it sends closes
 * it). At most CONTROL_SUBS_MAX, each an ordinary connection for the
 * limits above but exempt from CONTROL_IDLE_MS. Its output buffer is
 * allocated once, CONTROL_SUB_BUF bytes: a line that does not fit drops
 * the subscriber (the lines it has not started reading are discarded,
 * `{"dropped":true}` is sent if its socket has room, and it is closed),
 * so a peer that does not read costs a bounded amount of memory and
 * never slows the loop.
 *
 * Lifetime: a connection is never freed while an event of the current
 * epoll batch may still name it. Closing one retires it (its tag becomes
 * EV_DEAD, its fd is closed at once); control_reap() frees the retired at
 * the end of the batch.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "common/ctlproto.h"
#include "supervisor/ev.h"

#define CONTROL_MAX_CONNS 64
#define CONTROL_MAX_PER_UID 16
#define CONTROL_RESERVED 8
#define CONTROL_IDLE_MS 10000
#define CONTROL_OUT_HIGH (16u << 10)
#define CONTROL_TURN_REQS 16
#define CONTROL_TURN_BYTES (4u << 10)
#define CONTROL_ACCEPT_BACKOFF_MS 250
#define CONTROL_SUBS_MAX 16
#define CONTROL_SUB_BUF (64u << 10)

struct control_conn;

/* A handler returns the reply line (malloc'd), or CONTROL_DEFER to answer
 * later with control_reply(id). peer_ok says whether the peer may mutate. */
#define CONTROL_DEFER ((char *)-1)
/* Or CONTROL_SUBSCRIBE to make the connection an event subscriber. */
#define CONTROL_SUBSCRIBE ((char *)-2)
typedef char *(*control_handler)(void *ctx, uint64_t conn_id, const struct ucred *peer,
				 const struct ctl_request *req);

struct control {
	int listen_fd;
	int epfd;
	struct ev_tag tag;
	char path[108];
	bool group_set;
	gid_t group;
	uid_t self_uid;
	struct control_conn *conns[CONTROL_MAX_CONNS];
	struct control_conn *subs[CONTROL_SUBS_MAX];
	unsigned n_subs;
	uint64_t subs_dropped;     /* subscribers dropped for not keeping up */
	struct control_conn *dead; /* retired, freed by control_reap() */
	uint64_t next_id;
	uint64_t accept_resume_ns; /* accepting paused (fds ran out) until then, or 0 */
	bool accept_logged;        /* the fd shortage was logged this episode */
	control_handler handle;
	void *ctx;
};

/* Creates the socket (its directory too if missing) with mode, owned by
 * group when given. Refuses a directory (or an ancestor) that anyone but
 * root or our own uid could write to without the sticky bit, a path that
 * exists and is not a socket, and a socket another live daemon answers
 * on; only a stale socket is removed. Returns 0 or -errno with a message
 * in err. */
int control_open(struct control *c, int epfd, const char *path, const char *group, unsigned mode,
		 char *err, size_t errlen);
/* Takes over the listener fd an earlier image of this ringfleetd left
 * across exec (upgrade.c): path is not touched. Returns 0 or -errno. */
int control_inherit(struct control *c, int epfd, const char *path, int fd);
/* The socket of connection conn_id, or -ENOENT. */
int control_conn_fd(const struct control *c, uint64_t conn_id);
void control_close(struct control *c);

void control_on_listen(struct control *c);
void control_on_conn(struct control *c, struct control_conn *conn, uint32_t events);
/* Sends a deferred reply; a connection gone meanwhile is ignored. */
void control_reply(struct control *c, uint64_t conn_id, char *line);
/* Closes connections that completed no request within CONTROL_IDLE_MS. */
void control_expire(struct control *c, uint64_t now_ns);
/* Accepting pauses for CONTROL_ACCEPT_BACKOFF_MS when fds run out (an
 * accept that fails with EMFILE would otherwise wake the loop forever);
 * control_on_timer() resumes it, as does any connection closing. */
void control_on_timer(struct control *c, uint64_t now_ns);
/* When control_on_timer() next has work, or UINT64_MAX. */
uint64_t control_next_deadline(const struct control *c);
/* Queues line (len bytes, newline-terminated) to every subscriber,
 * dropping those it does not fit. Sending happens when their sockets
 * are writable, never here. */
void control_broadcast(struct control *c, const char *line, size_t len);
unsigned control_subscribers(const struct control *c);

/* Whether an events subscriber has lines not yet written to it. Then
 * ringfleetd waits at normal priority (latency.h): at realtime it would
 * outrun a reader at normal priority and drop it. */
bool control_subs_behind(const struct control *c);
/* Frees the connections closed during this batch of events. */
void control_reap(struct control *c);

/* Pure policies, exposed for unit tests. */
/* May a peer take a slot? used: slots in use; same_uid: of them, held by
 * its uid; trusted: root, our uid or control_group; exempt: root or our
 * uid, which the per-uid cap does not apply to. */
bool control_admit(unsigned used, unsigned same_uid, bool trusted, bool exempt);
/* May the socket live in (or under) a directory with this owner and mode,
 * for a daemon running as self? Owned by root or self, and writable by
 * nobody else unless sticky. */
bool control_dir_safe(uid_t owner, mode_t mode, uid_t self);
