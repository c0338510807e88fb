// SPDX-License-Identifier: Apache-2.0
/* control_conn.h - private to control.c and control_sub.c: one control
 * connection and the helpers both use. Nothing else includes it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "supervisor/control.h"

struct control_conn {
	struct ev_tag tag;
	int fd;
	uint64_t id;
	struct ucred peer;
	bool authorised;
	bool waiting;    /* a deferred reply is due: read no more */
	bool closing;    /* close once the output is flushed */
	bool subscriber; /* receives control_broadcast() lines, see control.h */
	bool sent_nl;    /* subscriber: what it was sent ends a line */
	/* Accepted, or last completed a request or sent any part of a reply:
	 * trickling request bytes does not count, so a request has
	 * CONTROL_IDLE_MS to arrive. */
	uint64_t last_active_ns;
	size_t in_len;
	char in[CTL_LINE_MAX];
	char *out;
	size_t out_len, out_off;
	size_t out_cap; /* subscriber: out's fixed size */
	struct control_conn *next_dead;
};

static inline size_t control_conn_pending(const struct control_conn *conn)
{
	return conn->out_len - conn->out_off;
}

/* Arms the epoll events the connection's state calls for. */
void control_conn_set_events(struct control *c, struct control_conn *conn);
/* Sends what it can; false when the connection is gone (retired). */
bool control_conn_flush(struct control *c, struct control_conn *conn);
/* Closes now, frees at the end of the batch (control.h, Lifetime). */
void control_conn_retire(struct control *c, struct control_conn *conn);
/* Makes conn a subscriber: returns CONTROL_SUBSCRIBE once the
 * acknowledgement is queued, an error reply (too many), or NULL (ENOMEM). */
char *control_sub_start(struct control *c, struct control_conn *conn);
