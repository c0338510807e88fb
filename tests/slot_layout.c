// SPDX-License-Identifier: Apache-2.0
/* slot_layout.c - prints the layout of the shared-memory slot
 * (common/slot.h) as JSON, from the compiler's own offsetof/sizeof, so
 * that tests reading a slot (tests/e2e/rftest.py) never carry a second
 * copy of the struct that could drift from the real one.
 */
#include <stddef.h>
#include <stdio.h>

#include "common/slot.h"

#define STAT(f)                                                                               \
	{                                                                                     \
#f, offsetof(struct rf_slot, stats.f), sizeof(((struct rf_slot_stats *)0)->f) \
	}

struct field {
	const char *name;
	size_t off, size;
};

/* Scalar stats in declaration order; tick_hist is printed on its own. */
static const struct field stats[] = {
	STAT(ticks),
	STAT(tick_overruns),
	STAT(last_tick_ns),
	STAT(pkts_in),
	STAT(pkts_out),
	STAT(bytes_in),
	STAT(bytes_out),
	STAT(drop_truncated),
	STAT(drop_max_clients),
	STAT(drop_no_buffer),
	STAT(drop_send),
	STAT(drop_flood),
	STAT(tick_ns_sum),
	STAT(adm_challenges),
	STAT(adm_admitted),
	STAT(adm_evictions),
	STAT(adm_refusals),
	STAT(drop_unadmitted),
	STAT(drop_replies),
	STAT(drop_output),
	STAT(sessions_ended),
	STAT(idle_wakeups),
	STAT(idle_ns),
	STAT(clients),
	STAT(backend),
	STAT(gso),
	STAT(ready),
	STAT(worker_pid),
	STAT(idle),
};

int main(void)
{
	printf("{\"magic\": %u, \"version\": %u,\n", RF_SLOT_MAGIC, RF_SLOT_VERSION);
	printf(" \"header\": {\"magic\": %zu, \"version\": %zu, \"max_clients\": %zu},\n",
	       offsetof(struct rf_slot, magic), offsetof(struct rf_slot, version),
	       offsetof(struct rf_slot, max_clients));
	printf(" \"stats\": [");
	for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
		printf("%s[\"%s\", %zu, %zu]", i ? ", " : "", stats[i].name, stats[i].off,
		       stats[i].size);
	printf("],\n \"tick_hist\": [%zu, %d],\n", offsetof(struct rf_slot, stats.tick_hist),
	       RF_TICK_HIST_BUCKETS);
	printf(" \"game\": {\"name\": [%zu, %d], \"value_name\": [%zu, %d], \"value\": [%zu, %d],"
	       " \"status\": [%zu, %d], \"exit_reason\": [%zu, %d]},\n",
	       offsetof(struct rf_slot, game.name), RF_SLOT_GAME_NAME_MAX,
	       offsetof(struct rf_slot, game.value_name), RF_GAME_VALUE_NAME_MAX,
	       offsetof(struct rf_slot, game.value), RF_GAME_VALUES,
	       offsetof(struct rf_slot, game.status), RF_GAME_STATUS_MAX,
	       offsetof(struct rf_slot, game.exit_reason), RF_SLOT_EXIT_REASON_MAX);
	printf(" \"game_flags\": %zu,\n", offsetof(struct rf_slot, game.flags));
	printf(" \"session\": {\"seq\": %zu, \"state\": %zu, \"alloc_id\": %zu,"
	       " \"since_unix_ns\": %zu, \"meta\": [%zu, %d]},\n",
	       offsetof(struct rf_slot, session.seq), offsetof(struct rf_slot, session.state),
	       offsetof(struct rf_slot, session.alloc_id),
	       offsetof(struct rf_slot, session.since_unix_ns),
	       offsetof(struct rf_slot, session.meta), RF_SLOT_META_MAX);
	printf(" \"idle_beat_ms\": %zu,\n", offsetof(struct rf_slot, sup.idle_beat_ms));
	printf(" \"sup\": {\"idle_beat_ms\": %zu, \"orphan_timeout_s\": %zu, \"beat_ns\": %zu},\n",
	       offsetof(struct rf_slot, sup.idle_beat_ms),
	       offsetof(struct rf_slot, sup.orphan_timeout_s),
	       offsetof(struct rf_slot, sup.beat_ns));
	printf(" \"clients\": %zu, \"client_size\": %zu,\n", offsetof(struct rf_slot, clients),
	       sizeof(struct rf_slot_client));
	/* The token area after clients[] grows with max_clients too: size
	 * = clients + max_clients * per_client + tail. */
	printf(" \"per_client\": %zu, \"tail\": %zu,\n", rf_slot_size(1) - rf_slot_size(0),
	       rf_slot_size(0) - offsetof(struct rf_slot, clients));
	printf(" \"client\": {\"addr\": %zu, \"addrlen\": %zu, \"flags\": %zu, \"last_seen_ns\": %zu}}\n",
	       offsetof(struct rf_slot_client, addr), offsetof(struct rf_slot_client, addrlen),
	       offsetof(struct rf_slot_client, flags),
	       offsetof(struct rf_slot_client, last_seen_ns));
	return 0;
}
