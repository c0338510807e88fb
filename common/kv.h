// SPDX-License-Identifier: Apache-2.0
/* kv.h - bounded key=value lists: a server's labels, an allocation's
 * selectors and metadata (issue 13). One set of rules for all of them:
 * at most KV_PAIRS_MAX pairs, keys [a-z0-9_.-]{1,32}, values printable
 * ASCII of at most 128 bytes (may be empty), each key at most once.
 * Pure: no I/O, no allocation except the JSON helpers.
 */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define KV_PAIRS_MAX 16
#define KV_KEY_MAX 33    /* 32 bytes + NUL */
#define KV_VALUE_MAX 129 /* 128 bytes + NUL */

struct kv {
	char key[KV_KEY_MAX];
	char value[KV_VALUE_MAX];
};

struct kv_list {
	struct kv kv[KV_PAIRS_MAX];
	unsigned n;
};

bool kv_key_valid(const char *key);
bool kv_value_valid(const char *value);

/* Appends key=value. Returns 0, or -EINVAL with a message naming the bad
 * item in err (what: "label", "selector", "meta"): a bad key or value, a
 * key given twice, more than KV_PAIRS_MAX pairs. */
int kv_add(struct kv_list *l, const char *key, const char *value, const char *what, char *err,
	   size_t errlen);
/* Splits "key=value" (at the first '=') and appends it; same errors. */
int kv_add_pair(struct kv_list *l, const char *pair, const char *what, char *err, size_t errlen);
/* Parses "k=v, k2=v2" (the labels config syntax; spaces around items
 * trimmed, "" is the empty list) into *l. Returns 0 or -EINVAL. */
int kv_parse_list(struct kv_list *l, const char *text, const char *what, char *err, size_t errlen);
/* Checks every pair of l against the rules (for a list filled by hand). */
int kv_validate(const struct kv_list *l, const char *what, char *err, size_t errlen);

/* The value of key in l, or NULL. */
const char *kv_get(const struct kv_list *l, const char *key);
/* Every pair of sel is in l with the same value (an empty sel matches). */
bool kv_match(const struct kv_list *l, const struct kv_list *sel);
bool kv_equal(const struct kv_list *a, const struct kv_list *b);

/* "key=value\n"... into buf (NUL-terminated). Returns the length, or
 * -ENOSPC when it does not fit (buf then holds "" ). */
int kv_format_lines(const struct kv_list *l, char *buf, size_t len);
/* "k=v" joined by sep (", " reads as config) into buf; -ENOSPC when it
 * does not fit. */
int kv_format_list(const struct kv_list *l, char *buf, size_t len, const char *sep);

/* {"key":"value",...}; NULL on ENOMEM. */
json_t *kv_to_json(const struct kv_list *l);
/* Fills l from a JSON object of strings; -EINVAL with err otherwise. */
int kv_from_json(struct kv_list *l, const json_t *obj, const char *what, char *err, size_t errlen);
