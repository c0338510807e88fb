// SPDX-License-Identifier: Apache-2.0
/* control.h - the control socket: accepting local peers, framing request
 * lines, authorising mutating verbs, and writing replies without ever
 * blocking the supervisor's loop. What a verb does is the handler's job.
 *
 * Limits, so no peer can disturb another or the daemon: request lines of
 * at most CTL_LINE_MAX bytes, CONTROL_MAX_CONNS connections, and a
 * connection idle for CONTROL_IDLE_MS is closed.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "common/ctlproto.h"
#include "supervisor/server.h"

#define CONTROL_MAX_CONNS 64
#define CONTROL_IDLE_MS 10000

struct control_conn;

/* A handler returns the reply line (malloc'd), or CONTROL_DEFER to answer
 * later with control_reply(id). peer_ok says whether the peer may mutate. */
#define CONTROL_DEFER ((char *)-1)
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
	uint64_t next_id;
	control_handler handle;
	void *ctx;
};

/* Creates the socket (its directory too if missing) with mode, owned by
 * group when given. Refuses to take over a socket another live daemon
 * answers on. Returns 0 or -errno with a message in err. */
int control_open(struct control *c, int epfd, const char *path, const char *group,
		 unsigned mode, char *err, size_t errlen);
void control_close(struct control *c);

void control_on_listen(struct control *c);
void control_on_conn(struct control *c, struct control_conn *conn, uint32_t events);
/* Sends a deferred reply; a connection gone meanwhile is ignored. */
void control_reply(struct control *c, uint64_t conn_id, char *line);
/* Closes connections idle for longer than CONTROL_IDLE_MS. */
void control_expire(struct control *c, uint64_t now_ns);
