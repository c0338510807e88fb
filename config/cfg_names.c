// SPDX-License-Identifier: Apache-2.0
/* cfg_names.c - see cfg_names.h. */
#include "config/cfg_names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static const char *name_at(const struct cfg_names *t, uint32_t i)
{
	return t->base + (size_t)i * t->stride;
}

int cfg_names_init(struct cfg_names *t, const char *first_name, size_t stride, size_t n)
{
	size_t slots = 16;

	/* At most half full keeps probe chains short. */
	while (slots < 2 * n)
		slots *= 2;
	t->slot = calloc(slots, sizeof(*t->slot));
	if (!t->slot)
		return -ENOMEM;
	t->base = first_name;
	t->stride = stride;
	t->n = n;
	t->mask = slots - 1;
	return 0;
}

/* Slot holding name, or the empty slot where it would go. */
static size_t probe(const struct cfg_names *t, const char *name)
{
	size_t i = (size_t)name_hash(name) & t->mask;

	while (t->slot[i] && strcmp(name_at(t, t->slot[i] - 1), name) != 0)
		i = (i + 1) & t->mask;
	return i;
}

long cfg_names_add(struct cfg_names *t, uint32_t i)
{
	size_t s = probe(t, name_at(t, i));

	if (t->slot[s])
		return (long)t->slot[s] - 1;
	t->slot[s] = i + 1;
	return -1;
}

long cfg_names_find(const struct cfg_names *t, const char *name)
{
	size_t s = probe(t, name);

	return t->slot[s] ? (long)t->slot[s] - 1 : -1;
}

void cfg_names_free(struct cfg_names *t)
{
	free(t->slot);
	t->slot = NULL;
}
