// SPDX-License-Identifier: Apache-2.0
/* orphan.h - the rule by which a worker stops on its own when nobody
 * supervises it any more (common/slot.h, struct rf_slot_sup).
 *
 * Workers outlive ringfleetd on purpose: a supervisor crash must not end
 * the matches, and a new ringfleetd adopts them. A worker whose
 * supervisor stays gone (a removed service, a host that never starts
 * ringfleetd again) must not serve forever, though: ringfleetd stores
 * beat_ns once a second, and a worker that sees it older than
 * orphan_timeout_s stops gracefully, as on SIGTERM. Pure functions: the
 * driver calls them once per tick and once per idle wake.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/slot.h"
#include "common/timeutil.h"

/* True when a supervisor that set timeout_s (0: never) and last beat at
 * beat_ns (0: not yet) has been silent for more than timeout_s at now_ns.
 * A beat stored after the caller read its clock (beat_ns > now_ns) is
 * fresh, not 584 years old. */
static inline bool rf_orphaned(uint32_t timeout_s, uint64_t beat_ns, uint64_t now_ns)
{
	if (!timeout_s || !beat_ns || now_ns <= beat_ns)
		return false;
	return now_ns - beat_ns > (uint64_t)timeout_s * RF_NSEC_PER_SEC;
}

/* The slot's version of the rule: two relaxed loads from one cache line. */
static inline bool rf_slot_orphaned(const struct rf_slot *s, uint64_t now_ns)
{
	return rf_orphaned(RF_LOAD(s->sup.orphan_timeout_s), RF_LOAD(s->sup.beat_ns), now_ns);
}

/* How long a worker sleeping idle at now_ns may sleep: its heartbeat
 * interval, cut so that it wakes the moment the supervisor's beat goes
 * stale (0 if it already is). So an idle orphan stops within timeout_s
 * of the last beat like a ticking one, while a supervised idle worker
 * wakes about every timeout_s (each wake finds a newer beat), never more
 * often. */
static inline uint64_t rf_orphan_sleep_ns(uint64_t beat_every_ns, uint32_t timeout_s,
					  uint64_t beat_ns, uint64_t now_ns)
{
	uint64_t stale, left;

	if (!timeout_s || !beat_ns)
		return beat_every_ns;
	/* The first instant rf_orphaned() holds; no wrap for a sane clock. */
	stale = beat_ns + (uint64_t)timeout_s * RF_NSEC_PER_SEC + 1;
	if (stale < beat_ns)
		return beat_every_ns;
	left = stale > now_ns ? stale - now_ns : 0;
	return left < beat_every_ns ? left : beat_every_ns;
}
