// SPDX-License-Identifier: Apache-2.0
/* ctlproto.h - the control protocol codec shared by ringfleetd and
 * ringfleetctl. A request is one text line `VERB [ARG...]`; a reply is one
 * line of JSON, `{"ok":true,...}` or `{"ok":false,"error":"..."}`.
 * Parsing is strict: the daemon feeds it bytes from any local peer.
 */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CTL_LINE_MAX 4096 /* request line, newline included */
#define CTL_ARGS_MAX 4
#define CTL_ARG_MAX 64            /* one argument incl. NUL */
#define CTL_REPLY_MAX (64u << 20) /* a client refuses longer replies */

enum ctl_verb {
	CTL_PING,
	CTL_VERSION,
	CTL_STATUS,
	CTL_START,
	CTL_STOP,
	CTL_RESTART,
	CTL_RELOAD,
	CTL_SHUTDOWN,
	CTL_ALLOCATE, /* allocate [JSON]: the rest of the line is the request */
	CTL_RELEASE,
	CTL_EVENTS, /* the connection becomes a subscriber: one line per event */
	CTL_DRAIN,  /* [SECONDS]: deferred reply */
	CTL_UNDRAIN,
	CTL_UPGRADE, /* re-exec ringfleetd in place (supervisor/upgrade.h) */
	CTL_ROLL,    /* [NAME|GLOB|all]: restart onto what is on disk, one at a time */
	CTL_VERB_COUNT,
};

struct ctl_request {
	enum ctl_verb verb;
	int argc;
	char argv[CTL_ARGS_MAX][CTL_ARG_MAX];
	/* A verb that takes the rest of its line as one argument (allocate:
	 * a JSON object of options, supervisor/alloc_req.h) has it here,
	 * printable ASCII, leading blanks dropped; "" when none. */
	char raw[CTL_LINE_MAX];
};

/* Parses one request line (without its newline). Returns 0, or -EINVAL
 * with *err set to a static message naming what was wrong. */
int ctl_parse_request(const char *line, size_t len, struct ctl_request *req, const char **err);
const char *ctl_verb_name(enum ctl_verb v);
/* Mutating verbs need an authorised peer. */
bool ctl_verb_mutates(enum ctl_verb v);

/* Replies: a malloc'd, newline-terminated line (NULL on ENOMEM).
 * ctl_reply_ok steals a reference to body (may be NULL) and sets ok. */
char *ctl_reply_ok(json_t *body);
char *ctl_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An error a client tells apart by its "code" member (allocate: no_match,
 * draining, invalid), besides the message. */
char *ctl_reply_error_code(const char *code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Client side. ctl_connect returns a connected fd or -errno. ctl_call
 * sends one line and reads one reply line into *reply (a JSON object).
 * Returns 0, -EPROTO for a malformed reply, or -errno. */
int ctl_connect(const char *path);
int ctl_call(int fd, const char *request, json_t **reply);
