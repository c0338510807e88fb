// SPDX-License-Identifier: Apache-2.0
/* hang.c - see hang.h. */
#include "supervisor/hang.h"

#include <stddef.h>

#include "common/timeutil.h"

/* A worker may beat after now was read: its heartbeat is then newer. */
static uint64_t age_ns(const struct hang_in *in)
{
	return in->beat_ns >= in->now_ns ? 0 : in->now_ns - in->beat_ns;
}

enum hang_verdict hang_judge(const struct hang_in *in, struct hang_watch *w, uint64_t *for_ms)
{
	uint64_t age = age_ns(in), dur = 0;
	enum hang_verdict v = HANG_OK;

	if (!in->idle) {
		*w = (struct hang_watch){ 0 };
		if (age > in->hang_ns) {
			v = HANG_NO_TICK;
			dur = age;
		}
	} else if (age > in->beat_every_ns + in->hang_ns) {
		v = HANG_IDLE_SILENT;
		dur = age;
	} else if (!in->pending || (w->since_ns && w->beat_ns != in->beat_ns)) {
		/* Nothing waits, or the worker woke since: start over. */
		*w = (struct hang_watch){ 0 };
		if (in->pending)
			*w = (struct hang_watch){ .since_ns = in->now_ns, .beat_ns = in->beat_ns };
	} else if (!w->since_ns) {
		*w = (struct hang_watch){ .since_ns = in->now_ns, .beat_ns = in->beat_ns };
	} else if (in->now_ns - w->since_ns >= in->hang_ns) {
		v = HANG_IDLE_DEAF;
		dur = in->now_ns - w->since_ns;
	}
	if (for_ms)
		*for_ms = dur / RF_NSEC_PER_MSEC;
	return v;
}
