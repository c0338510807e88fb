// SPDX-License-Identifier: Apache-2.0
/* events.c - see events.h. */
#include "supervisor/events.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/timeutil.h"
#include "supervisor/control.h"

static const char *const kind_names[] = {
	[EVENT_PROCESS] = "process",
	[EVENT_SESSION] = "session",
	[EVENT_HOST] = "host",
};

const char *events_kind_name(enum event_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

void events_init(struct events *e, struct control *ctl)
{
	e->ctl = ctl;
	e->emitted = 0;
}

struct out {
	char *buf;
	size_t len, at;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || n >= o->len - o->at) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->at, s, n);
	o->at += n;
	o->buf[o->at] = '\0';
}

static void puts_raw(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A JSON string of at most max bytes of s. Reasons quote worker output
 * and file names, so everything below 0x20 is escaped; bytes >= 0x80 are
 * replaced since a cut could split a UTF-8 sequence and the stream must
 * stay valid JSON. */
static void put_string(struct out *o, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";

	if (!s) {
		puts_raw(o, "null");
		return;
	}
	put(o, "\"", 1);
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };

		if (c == '"' || c == '\\') {
			char two[2] = { '\\', (char)c };

			put(o, two, 2);
		} else if (c < 0x20 || c == 0x7f) {
			put(o, esc, 6);
		} else if (c >= 0x80) {
			put(o, "?", 1);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, "\"", 1);
}

int events_format(char *buf, size_t len, uint64_t realtime_ns, enum event_kind kind,
		  const char *server, const char *from, const char *to, const char *reason)
{
	struct out o = { buf, len, 0, len == 0 };
	time_t secs = (time_t)(realtime_ns / RF_NSEC_PER_SEC);
	unsigned ms = (unsigned)(realtime_ns % RF_NSEC_PER_SEC / RF_NSEC_PER_MSEC);
	char stamp[64], frac[8];
	struct tm tm;

	if (len)
		buf[0] = '\0';
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(frac, sizeof(frac), ".%03uZ", ms % 1000);
	puts_raw(&o, "{\"time\":\"");
	puts_raw(&o, stamp);
	puts_raw(&o, frac);
	puts_raw(&o, "\"");
	puts_raw(&o, ",\"server\":");
	put_string(&o, server, EVENTS_REASON_MAX);
	puts_raw(&o, ",\"kind\":");
	put_string(&o, events_kind_name(kind), EVENTS_REASON_MAX);
	puts_raw(&o, ",\"from\":");
	put_string(&o, from ? from : "", EVENTS_REASON_MAX);
	puts_raw(&o, ",\"to\":");
	put_string(&o, to ? to : "", EVENTS_REASON_MAX);
	puts_raw(&o, ",\"reason\":");
	put_string(&o, reason ? reason : "", EVENTS_REASON_MAX);
	puts_raw(&o, "}\n");
	return o.full ? -ENOSPC : (int)o.at;
}

void events_emit(struct events *e, enum event_kind kind, const char *server, const char *from,
		 const char *to, const char *reason)
{
	char line[EVENTS_LINE_MAX];
	int n;

	if (!e || !e->ctl || !control_subscribers(e->ctl))
		return;
	n = events_format(line, sizeof(line), rf_real_ns(), kind, server, from, to, reason);
	if (n < 0)
		return; /* cannot happen: every field is bounded */
	e->emitted++;
	control_broadcast(e->ctl, line, (size_t)n);
}
