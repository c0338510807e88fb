// SPDX-License-Identifier: Apache-2.0
/* kv.c - see kv.h. */
#include "common/kv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool kv_key_valid(const char *key)
{
	size_t n = 0;

	for (; key[n]; n++) {
		char c = key[n];

		if (n >= KV_KEY_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return n > 0;
}

bool kv_value_valid(const char *value)
{
	size_t n = 0;

	for (; value[n]; n++) {
		unsigned char c = (unsigned char)value[n];

		if (n >= KV_VALUE_MAX - 1 || c < 0x20 || c > 0x7e)
			return false;
	}
	return true;
}

/* Shows at most 40 bytes of an offending item, escaped, so that a
 * message stays one printable line whatever the input was. */
static void shown(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; s[i] && o + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == 40) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

static int check_pair(const struct kv_list *l, unsigned upto, const char *key, const char *value,
		      const char *what, char *err, size_t errlen)
{
	char a[64], b[64];

	shown(key, a, sizeof(a));
	if (!kv_key_valid(key)) {
		snprintf(err, errlen, "%s key \"%s\": want 1-32 of a-z 0-9 _ . -", what, a);
		return -EINVAL;
	}
	if (!kv_value_valid(value)) {
		shown(value, b, sizeof(b));
		snprintf(err, errlen,
			 "%s %s: value \"%s\" is not printable text of at most 128 bytes", what, a,
			 b);
		return -EINVAL;
	}
	for (unsigned i = 0; i < upto; i++)
		if (strcmp(l->kv[i].key, key) == 0) {
			snprintf(err, errlen, "%s %s given twice", what, a);
			return -EINVAL;
		}
	return 0;
}

int kv_add(struct kv_list *l, const char *key, const char *value, const char *what, char *err,
	   size_t errlen)
{
	int rc = check_pair(l, l->n, key, value, what, err, errlen);

	if (rc < 0)
		return rc;
	if (l->n >= KV_PAIRS_MAX) {
		snprintf(err, errlen, "too many %ss (at most %d)", what, KV_PAIRS_MAX);
		return -EINVAL;
	}
	/* check_pair() bounded both lengths; the checks keep -O3's
	 * truncation analysis, which cannot see that, quiet. */
	if (snprintf(l->kv[l->n].key, KV_KEY_MAX, "%s", key) >= KV_KEY_MAX ||
	    snprintf(l->kv[l->n].value, KV_VALUE_MAX, "%s", value) >= KV_VALUE_MAX)
		return -ENAMETOOLONG;
	l->n++;
	return 0;
}

int kv_add_pair(struct kv_list *l, const char *pair, const char *what, char *err, size_t errlen)
{
	const char *eq = strchr(pair, '=');
	char key[KV_KEY_MAX + 1], a[64];
	size_t klen;

	if (!eq) {
		shown(pair, a, sizeof(a));
		snprintf(err, errlen, "%s \"%s\": want key=value", what, a);
		return -EINVAL;
	}
	klen = (size_t)(eq - pair);
	if (klen > KV_KEY_MAX - 1)
		klen = KV_KEY_MAX; /* too long: kv_key_valid() refuses it */
	memcpy(key, pair, klen);
	key[klen] = '\0';
	return kv_add(l, key, eq + 1, what, err, errlen);
}

static const char *trim(const char *s, size_t *len)
{
	while (*len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return s;
}

int kv_parse_list(struct kv_list *l, const char *text, const char *what, char *err, size_t errlen)
{
	const char *p = text;

	l->n = 0; /* only n pairs are ever read: the rest need not be cleared */
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *item = trim(p, &len);
		char buf[KV_KEY_MAX + KV_VALUE_MAX + 2];
		const char *eq;
		int rc;

		if (len == 0) {
			if (!comma && l->n == 0)
				return 0; /* "" or blanks: no labels */
			snprintf(err, errlen, "empty %s in list", what);
			return -EINVAL;
		}
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1; /* too long either way: refused below */
		memcpy(buf, item, len);
		buf[len] = '\0';
		/* "k = v" reads as k=v */
		eq = strchr(buf, '=');
		if (eq) {
			char k[KV_KEY_MAX + 1];
			size_t kl = (size_t)(eq - buf), vl = len - kl - 1;
			const char *kt = trim(buf, &kl);
			const char *vt = trim(eq + 1, &vl);

			if (kl > KV_KEY_MAX)
				kl = KV_KEY_MAX;
			memcpy(k, kt, kl);
			k[kl] = '\0';
			buf[(size_t)(vt - buf) + vl] = '\0';
			rc = kv_add(l, k, vt, what, err, errlen);
		} else {
			rc = kv_add_pair(l, buf, what, err, errlen);
		}
		if (rc < 0)
			return rc;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int kv_validate(const struct kv_list *l, const char *what, char *err, size_t errlen)
{
	if (l->n > KV_PAIRS_MAX) {
		snprintf(err, errlen, "too many %ss (at most %d)", what, KV_PAIRS_MAX);
		return -EINVAL;
	}
	for (unsigned i = 0; i < l->n; i++) {
		const struct kv *kv = &l->kv[i];

		if (!memchr(kv->key, '\0', KV_KEY_MAX) || !memchr(kv->value, '\0', KV_VALUE_MAX)) {
			snprintf(err, errlen, "%s %u is not terminated", what, i + 1);
			return -EINVAL;
		}
		int rc = check_pair(l, i, kv->key, kv->value, what, err, errlen);

		if (rc < 0)
			return rc;
	}
	return 0;
}

const char *kv_get(const struct kv_list *l, const char *key)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0)
			return l->kv[i].value;
	return NULL;
}

bool kv_match(const struct kv_list *l, const struct kv_list *sel)
{
	for (unsigned i = 0; i < sel->n; i++) {
		const char *v = kv_get(l, sel->kv[i].key);

		if (!v || strcmp(v, sel->kv[i].value) != 0)
			return false;
	}
	return true;
}

bool kv_equal(const struct kv_list *a, const struct kv_list *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (strcmp(a->kv[i].key, b->kv[i].key) != 0 ||
		    strcmp(a->kv[i].value, b->kv[i].value) != 0)
			return false;
	return true;
}

static int format(const struct kv_list *l, char *buf, size_t len, const char *sep, bool trailing)
{
	size_t o = 0;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (unsigned i = 0; i < l->n; i++) {
		int n = snprintf(buf + o, len - o, "%s%s=%s%s", i && !trailing ? sep : "",
				 l->kv[i].key, l->kv[i].value, trailing ? sep : "");

		if (n < 0 || (size_t)n >= len - o) {
			buf[0] = '\0';
			return -ENOSPC;
		}
		o += (size_t)n;
	}
	return (int)o;
}

int kv_format_lines(const struct kv_list *l, char *buf, size_t len)
{
	return format(l, buf, len, "\n", true);
}

int kv_format_list(const struct kv_list *l, char *buf, size_t len, const char *sep)
{
	return format(l, buf, len, sep, false);
}

json_t *kv_to_json(const struct kv_list *l)
{
	json_t *o = json_object();

	for (unsigned i = 0; o && i < l->n; i++)
		if (json_object_set_new(o, l->kv[i].key, json_string(l->kv[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

int kv_from_json(struct kv_list *l, const json_t *obj, const char *what, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	memset(l, 0, sizeof(*l));
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%ss: want an object of strings", what);
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		int rc;

		if (!json_is_string(v)) {
			char a[64];

			shown(key, a, sizeof(a));
			snprintf(err, errlen, "%s %s: value is not a string", what, a);
			return -EINVAL;
		}
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			char a[64];

			shown(key, a, sizeof(a));
			snprintf(err, errlen, "%s %s: value holds a NUL", what, a);
			return -EINVAL;
		}
		rc = kv_add(l, key, json_string_value(v), what, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}
