// SPDX-License-Identifier: Apache-2.0
/* events.h - the supervisor's event stream: one line of JSON per state
 * change, sent to every `events` subscriber of the control socket.
 *
 * Each kind has ONE emitter, so a subscriber sees every change exactly
 * once: process (a worker's lifecycle state) from fleet.c's dispatch(),
 * session (a server's session state) from the session transition hook
 * events_session(), host (draining or serving) from the drain verbs.
 *
 * This module owns the line format; the subscribers' bounded buffers and
 * the policy for a subscriber that does not keep up are control.c's
 * (control_broadcast). Emitting never blocks and costs nothing without
 * subscribers.
 *
 * Line: {"time":"2026-12-02T00:35:09.123Z","server":"a","kind":"process",
 *        "from":"running","to":"stopping","reason":"..."}
 * time is CLOCK_REALTIME in RFC 3339 UTC with milliseconds; server is
 * null for host events.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct control;

enum event_kind { EVENT_PROCESS, EVENT_SESSION, EVENT_HOST };

/* A line is at most this long: names and states are short, the reason is
 * cut to EVENTS_REASON_MAX bytes before escaping. */
#define EVENTS_REASON_MAX 256
#define EVENTS_LINE_MAX 4096

struct events {
	struct control *ctl; /* NULL: nobody to tell (unit tests, early init) */
	uint64_t emitted;    /* lines formatted since start */
};

void events_init(struct events *e, struct control *ctl);
/* Formats and broadcasts one event; server may be NULL (host events). */
void events_emit(struct events *e, enum event_kind kind, const char *server, const char *from,
		 const char *to, const char *reason);
const char *events_kind_name(enum event_kind kind);

/* Pure, for unit tests: the line for an event at realtime_ns, newline
 * included, NUL-terminated. Returns its length, or -ENOSPC. */
int events_format(char *buf, size_t len, uint64_t realtime_ns, enum event_kind kind,
		  const char *server, const char *from, const char *to, const char *reason);
