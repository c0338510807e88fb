// SPDX-License-Identifier: Apache-2.0
/* jsonw.c - see jsonw.h. */
#include "common/jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONW_HINT_MIN 256

void jsonw_init(struct jsonw *w, size_t hint)
{
	memset(w, 0, sizeof(*w));
	w->cap = hint > JSONW_HINT_MIN ? hint : JSONW_HINT_MIN;
	w->buf = malloc(w->cap);
	w->oom = !w->buf;
	w->first[0] = true;
}

void jsonw_free(struct jsonw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

char *jsonw_finish(struct jsonw *w, size_t *len)
{
	char *text = w->oom ? NULL : w->buf;

	if (!text)
		free(w->buf);
	else
		text[w->len] = '\0';
	if (len)
		*len = text ? w->len : 0;
	memset(w, 0, sizeof(*w));
	return text;
}

/* Room for n more bytes and the final NUL; doubles, so a reply grows in
 * a few steps rather than one realloc per value. */
static bool reserve(struct jsonw *w, size_t n)
{
	size_t cap = w->cap;
	char *buf;

	if (w->oom)
		return false;
	if (w->len + n + 1 <= cap)
		return true;
	while (w->len + n + 1 > cap)
		cap = cap ? cap * 2 : JSONW_HINT_MIN;
	buf = realloc(w->buf, cap);
	if (!buf) {
		w->oom = true;
		return false;
	}
	w->buf = buf;
	w->cap = cap;
	return true;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void putc_(struct jsonw *w, char c)
{
	if (!reserve(w, 1))
		return;
	w->buf[w->len++] = c;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none:
 * the rules jansson's utf8 check applies (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], cp, k;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4, cp = c & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (unsigned i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return k;
}

/* A JSON string as jansson dumps it: '"' and '\\' escaped, the short
 * escapes for \b \f \n \r \t, other controls as \u00XX (upper case),
 * '/' and everything from 0x7f up as is. */
static void put_string(struct jsonw *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, run = 0;

	putc_(w, '"');
	while (i < n) {
		unsigned char c = s[i];
		char esc[8];
		size_t k;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		put(w, (const char *)s + i - run, run);
		run = 0;
		if (c >= 0x80) {
			k = utf8_len(s + i, n - i);
			if (k)
				put(w, (const char *)s + i, k);
			else
				put(w, "\xef\xbf\xbd", 3);
			i += k ? k : 1;
			continue;
		}
		switch (c) {
		case '"':
			put(w, "\\\"", 2);
			break;
		case '\\':
			put(w, "\\\\", 2);
			break;
		case '\b':
			put(w, "\\b", 2);
			break;
		case '\f':
			put(w, "\\f", 2);
			break;
		case '\n':
			put(w, "\\n", 2);
			break;
		case '\r':
			put(w, "\\r", 2);
			break;
		case '\t':
			put(w, "\\t", 2);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", c);
			put(w, esc, 6);
		}
		i++;
	}
	put(w, (const char *)s + i - run, run);
	putc_(w, '"');
}

/* The separator and the member name before a value. */
static void member(struct jsonw *w, const char *key)
{
	if (!w->first[w->depth])
		putc_(w, ',');
	w->first[w->depth] = false;
	if (key) {
		put_string(w, key);
		putc_(w, ':');
	}
}

static void open_(struct jsonw *w, const char *key, char c)
{
	member(w, key);
	putc_(w, c);
	if (w->depth + 1 >= JSONW_DEPTH_MAX) {
		w->oom = true; /* deeper than any reply we write: a bug */
		return;
	}
	w->first[++w->depth] = true;
}

static void close_(struct jsonw *w, char c)
{
	if (w->depth)
		w->depth--;
	putc_(w, c);
}

void jsonw_open_obj(struct jsonw *w, const char *key)
{
	open_(w, key, '{');
}

void jsonw_close_obj(struct jsonw *w)
{
	close_(w, '}');
}

void jsonw_open_arr(struct jsonw *w, const char *key)
{
	open_(w, key, '[');
}

void jsonw_close_arr(struct jsonw *w)
{
	close_(w, ']');
}

void jsonw_str(struct jsonw *w, const char *key, const char *val)
{
	member(w, key);
	put_string(w, val ? val : "");
}

/* Decimal digits of n, ending at end (exclusive); returns the start.
 * By hand: snprintf was a third of a `status` reply's cost. */
static char *digits(char *end, unsigned long long n)
{
	do
		*--end = (char)('0' + n % 10);
	while (n /= 10);
	return end;
}

void jsonw_int(struct jsonw *w, const char *key, long long val)
{
	char num[24], *end = num + sizeof(num), *p;
	unsigned long long mag = val < 0 ? 0ull - (unsigned long long)val : (unsigned long long)val;

	p = digits(end, mag);
	if (val < 0)
		*--p = '-';
	member(w, key);
	put(w, p, (size_t)(end - p));
}

void jsonw_real(struct jsonw *w, const char *key, double val)
{
	char num[40], *e;
	int n;

	if (!isfinite(val)) {
		jsonw_null(w, key);
		return;
	}
	/* A whole number below 1e15 prints as its digits under %.17g, and
	 * jansson adds ".0": the common 0.0 skips printf. */
	if (val >= 0 && val < 1e15 && !signbit(val) && (double)(unsigned long long)val == val) {
		char *end = num + sizeof(num) - 2, *p = digits(end, (unsigned long long)val);

		end[0] = '.';
		end[1] = '0';
		member(w, key);
		put(w, p, (size_t)(end + 2 - p));
		return;
	}
	n = snprintf(num, sizeof(num) - 2, "%.17g", val);
	if (n < 0)
		n = 0;
	e = strchr(num, 'e');
	if (!e && !strchr(num, '.')) {
		num[n++] = '.';
		num[n++] = '0';
		num[n] = '\0';
	} else if (e) {
		char *from = e + 1, *to = e + 1;

		if (*from == '+')
			from++;
		else if (*from == '-')
			from++, to++;
		while (*from == '0' && from[1])
			from++;
		memmove(to, from, strlen(from) + 1);
		n = (int)strlen(num);
	}
	member(w, key);
	put(w, num, (size_t)n);
}

void jsonw_bool(struct jsonw *w, const char *key, bool val)
{
	member(w, key);
	put(w, val ? "true" : "false", val ? 4 : 5);
}

void jsonw_null(struct jsonw *w, const char *key)
{
	member(w, key);
	put(w, "null", 4);
}

void jsonw_append(struct jsonw *w, const char *text, size_t len)
{
	put(w, text, len);
}
