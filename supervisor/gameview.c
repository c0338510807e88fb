// SPDX-License-Identifier: Apache-2.0
/* gameview.c - see gameview.h. */
#include "supervisor/gameview.h"

#include <stdio.h>
#include <string.h>

/* Copies at most len - 1 bytes of the slot's src (up to its NUL or its
 * size), printable ASCII kept, the rest '?'. */
static void copy_text(char *dst, size_t len, const char *src, size_t srclen)
{
	size_t n = 0;

	if (!len)
		return;
	for (; n < srclen && n + 1 < len; n++) {
		char c = __atomic_load_n(&src[n], __ATOMIC_RELAXED);

		if (!c)
			break;
		if (c < 0x20 || c == 0x7f)
			c = '?';
		dst[n] = c;
	}
	dst[n] = '\0';
}

static bool name_ok(const char *s)
{
	if (*s < 'a' || *s > 'z')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

void gameview_read(const struct rf_slot *slot, struct gameview *v)
{
	const struct rf_slot_game *g = &slot->game;

	memset(v, 0, sizeof(*v));
	copy_text(v->name, sizeof(v->name), g->name, sizeof(g->name));
	copy_text(v->status, sizeof(v->status), g->status, sizeof(g->status));
	for (unsigned i = 0; i < RF_GAME_VALUES; i++) {
		char name[RF_GAME_VALUE_NAME_MAX];

		copy_text(name, sizeof(name), g->value_name[i], sizeof(g->value_name[i]));
		if (!name_ok(name))
			continue;
		memcpy(v->value_name[v->n_values], name, sizeof(name));
		v->value[v->n_values++] = RF_LOAD(g->value[i]);
	}
}

void gameview_exit_reason(const struct rf_slot *slot, char *buf, size_t len)
{
	copy_text(buf, len, slot->game.exit_reason, sizeof(slot->game.exit_reason));
}

void gameview_format_values(const struct gameview *v, char *buf, size_t len)
{
	size_t at = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < v->n_values && at < len; i++) {
		int n = snprintf(buf + at, len - at, "%s%s=%lld", i ? " " : "", v->value_name[i],
				 (long long)v->value[i]);

		if (n < 0)
			break;
		at += (size_t)n;
	}
}
