// SPDX-License-Identifier: Apache-2.0
/* control_sub.c - the control socket's event subscribers (control.h,
 * "Subscribers"): their fixed buffers, broadcasting into them, and dropping
 * the ones that do not keep up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/control.h"
#include "supervisor/control_conn.h"

/* Moves what is still due to the front of a subscriber's buffer. */
static void sub_compact(struct control_conn *conn)
{
	memmove(conn->out, conn->out + conn->out_off, control_conn_pending(conn));
	conn->out_len -= conn->out_off;
	conn->out_off = 0;
}

static void sub_append(struct control_conn *conn, const char *s, size_t n)
{
	if (conn->out_len + n > conn->out_cap)
		sub_compact(conn);
	memcpy(conn->out + conn->out_len, s, n);
	conn->out_len += n;
}

static const char sub_dropped[] = "{\"dropped\":true}\n";
#define SUB_RESERVE (sizeof(sub_dropped) - 1)

/* The buffer is sized once: what is still due (earlier replies), the
 * acknowledgement, CONTROL_SUB_BUF of events and room for the last line. */
char *control_sub_start(struct control *c, struct control_conn *conn)
{
	char *ack = ctl_reply_ok(
		json_pack("{s:b,s:i}", "subscribed", 1, "buffer", (int)CONTROL_SUB_BUF));
	size_t due = control_conn_pending(conn), cap;
	char *buf;
	int slot = -1;

	if (!ack)
		return NULL;
	for (int i = 0; i < CONTROL_SUBS_MAX && slot < 0; i++)
		if (!c->subs[i])
			slot = i;
	if (slot < 0) {
		free(ack);
		return ctl_reply_error("too many event subscribers (at most %d)", CONTROL_SUBS_MAX);
	}
	cap = due + strlen(ack) + CONTROL_SUB_BUF + SUB_RESERVE;
	buf = malloc(cap);
	if (!buf) {
		free(ack);
		return NULL;
	}
	memcpy(buf, conn->out ? conn->out + conn->out_off : "", due);
	free(conn->out);
	conn->out = buf;
	conn->out_off = 0;
	conn->out_len = due;
	conn->out_cap = cap;
	conn->subscriber = true;
	conn->sent_nl = true;
	c->subs[slot] = conn;
	c->n_subs++;
	sub_append(conn, ack, strlen(ack));
	free(ack);
	log_info("control: events subscriber %llu (pid %d, uid %u)", (unsigned long long)conn->id,
		 (int)conn->peer.pid, (unsigned)conn->peer.uid);
	return CONTROL_SUBSCRIBE;
}

/* Over its buffer: the lines it has not started are discarded so what it
 * reads stays whole lines, the last line goes if its socket takes it. */
static void sub_drop(struct control *c, struct control_conn *conn)
{
	size_t keep = conn->out_off;

	if (!conn->sent_nl) {
		const char *nl = memchr(conn->out + keep, '\n', conn->out_len - keep);

		keep = nl ? (size_t)(nl - conn->out) + 1 : conn->out_len;
	}
	conn->out_len = keep;
	sub_append(conn, sub_dropped, SUB_RESERVE);
	c->subs_dropped++;
	log_warn("control: events subscriber %llu (pid %d, uid %u) dropped: it did not keep up "
		 "(%u KiB of events unread)",
		 (unsigned long long)conn->id, (int)conn->peer.pid, (unsigned)conn->peer.uid,
		 CONTROL_SUB_BUF >> 10);
	conn->closing = true;
	if (control_conn_flush(c, conn))
		control_conn_retire(c, conn);
}

void control_broadcast(struct control *c, const char *line, size_t len)
{
	for (int i = 0; i < CONTROL_SUBS_MAX; i++) {
		struct control_conn *conn = c->subs[i];
		bool idle;

		if (!conn || conn->closing)
			continue;
		if (control_conn_pending(conn) + len + SUB_RESERVE > conn->out_cap) {
			sub_drop(c, conn);
			continue;
		}
		idle = control_conn_pending(conn) == 0;
		sub_append(conn, line, len);
		/* Sent when writable: one epoll change however many lines come. */
		if (idle)
			control_conn_set_events(c, conn);
	}
}

unsigned control_subscribers(const struct control *c)
{
	return c->n_subs;
}

bool control_subs_behind(const struct control *c)
{
	for (int i = 0; i < CONTROL_SUBS_MAX; i++)
		if (c->subs[i] && !c->subs[i]->closing && control_conn_pending(c->subs[i]) > 0)
			return true;
	return false;
}
