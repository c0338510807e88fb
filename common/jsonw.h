// SPDX-License-Identifier: Apache-2.0
/* jsonw.h - a streaming JSON writer: appends compact JSON text to one
 * growing buffer, byte for byte what jansson's json_dumps(JSON_COMPACT)
 * prints for the same values, without building a tree first. For replies
 * that are large and rebuilt often (`status` of a thousand servers), where
 * a tree per reply cost the supervisor more than the rest of its work.
 *
 * The writer keeps no error state per call: running out of memory sets
 * oom, later calls do nothing, and jsonw_finish() reports it. Keys and
 * strings are written as given (valid UTF-8 expected; an invalid byte is
 * written as U+FFFD, where jansson would refuse the whole value). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONW_DEPTH_MAX 16

struct jsonw {
	char *buf;
	size_t len, cap;
	bool oom;
	unsigned depth;
	bool first[JSONW_DEPTH_MAX]; /* nothing written yet at this depth */
};

/* Starts an empty text with room for hint bytes (0: a small default). */
void jsonw_init(struct jsonw *w, size_t hint);
/* Hands over the text (NUL-terminated, *len without the NUL), or NULL
 * after an allocation failure; the writer is empty afterwards. */
char *jsonw_finish(struct jsonw *w, size_t *len);
void jsonw_free(struct jsonw *w);

/* key: the member name inside an object, NULL inside an array or at the
 * top. */
void jsonw_open_obj(struct jsonw *w, const char *key);
void jsonw_close_obj(struct jsonw *w);
void jsonw_open_arr(struct jsonw *w, const char *key);
void jsonw_close_arr(struct jsonw *w);
void jsonw_str(struct jsonw *w, const char *key, const char *val);
void jsonw_int(struct jsonw *w, const char *key, long long val);
/* As jansson prints a real: %.17g, always with a '.' or an exponent, the
 * exponent without '+' or leading zeros. Not finite: null. */
void jsonw_real(struct jsonw *w, const char *key, double val);
void jsonw_bool(struct jsonw *w, const char *key, bool val);
void jsonw_null(struct jsonw *w, const char *key);
/* Appends bytes as they are, no separator (a reply's final newline). */
void jsonw_append(struct jsonw *w, const char *text, size_t len);
