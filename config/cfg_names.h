// SPDX-License-Identifier: Apache-2.0
/* cfg_names.h - an open-addressing hash over names that live inside an
 * array of structs (servers, sections), so duplicate checks at load time
 * and cfg_find_server() stay O(1) per name with 10,000+ servers.
 * The table stores indices, never copies of names.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct cfg_names {
	const char *base; /* name of entry i is at base + i * stride */
	size_t stride;
	size_t n;       /* entries the table was sized for */
	size_t mask;    /* slots - 1 (a power of two) */
	uint32_t *slot; /* entry index + 1; 0 = empty */
};

/* Sizes the table for n entries at first_name, first_name + stride, ...
 * Returns 0 or -ENOMEM. */
int cfg_names_init(struct cfg_names *t, const char *first_name, size_t stride, size_t n);
/* Adds entry i. Returns -1, or the index of an entry already added with
 * the same name (then i is not added). */
long cfg_names_add(struct cfg_names *t, uint32_t i);
/* Index of the entry named name, or -1. */
long cfg_names_find(const struct cfg_names *t, const char *name);
void cfg_names_free(struct cfg_names *t);
