// SPDX-License-Identifier: Apache-2.0
/* gameview.h - what the supervisor shows of a server's game, read from the
 * slot's game area (common/slot.h) that the worker, and through it a game
 * module, writes: a snapshot the supervisor can trust. The strings are
 * copied and terminated (the worker may be mid-write, or a module may have
 * written through a wild pointer), anything not printable becomes '?', and
 * a value whose name is not [a-z][a-z0-9_]* is left out, so status JSON,
 * the ringfleetctl table and /metrics labels never carry what the worker
 * did not mean.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/slot.h"

struct gameview {
	char name[RF_SLOT_GAME_NAME_MAX];
	unsigned n_values;
	char value_name[RF_GAME_VALUES][RF_GAME_VALUE_NAME_MAX];
	int64_t value[RF_GAME_VALUES];
	char status[RF_GAME_STATUS_MAX];
};

/* Reads the game area of slot into v. */
void gameview_read(const struct rf_slot *slot, struct gameview *v);
/* The worker's RF_EXIT_CONFIG reason, sanitized the same way ("" = none). */
void gameview_exit_reason(const struct rf_slot *slot, char *buf, size_t len);
/* Formats "players=3 rounds=2" into buf (as much as fits). */
void gameview_format_values(const struct gameview *v, char *buf, size_t len);
