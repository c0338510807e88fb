// SPDX-License-Identifier: Apache-2.0
/* test_jsonw.c - the streaming JSON writer prints exactly what jansson's
 * json_dumps(JSON_COMPACT) prints for the same values: tricky strings
 * (quotes, backslashes, every control character, UTF-8, invalid bytes),
 * integers at their limits, reals of every shape, nesting and commas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

static char *finish(struct jsonw *w)
{
	size_t len;
	char *text = jsonw_finish(w, &len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* jansson's text for a one-member object {"k": v}. */
static void assert_same(json_t *v, char *mine)
{
	json_t *o = json_object();
	char *ref;

	assert_non_null(v);
	json_object_set_new(o, "k", v);
	ref = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(ref);
	assert_string_equal(mine, ref);
	free(ref);
	free(mine);
	json_decref(o);
}

static char *one_str(const char *s)
{
	struct jsonw w;

	jsonw_init(&w, 0);
	jsonw_open_obj(&w, NULL);
	jsonw_str(&w, "k", s);
	jsonw_close_obj(&w);
	return finish(&w);
}

static char *one_int(long long v)
{
	struct jsonw w;

	jsonw_init(&w, 0);
	jsonw_open_obj(&w, NULL);
	jsonw_int(&w, "k", v);
	jsonw_close_obj(&w);
	return finish(&w);
}

static char *one_real(double v)
{
	struct jsonw w;

	jsonw_init(&w, 0);
	jsonw_open_obj(&w, NULL);
	jsonw_real(&w, "k", v);
	jsonw_close_obj(&w);
	return finish(&w);
}

static void test_strings(void **state)
{
	static const char *const cases[] = {
		"",
		"plain",
		"say \"hi\"",
		"back\\slash",
		"a/b",
		"\b\f\n\r\t",
		"\x01\x02\x1f\x7f end",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xae",
		"\xe2\x80\xa8 line separator",
		"\xef\xbf\xbf max BMP \xf4\x8f\xbf\xbf max",
	};
	char ctl[2] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_same(json_string(cases[i]), one_str(cases[i]));
	for (int c = 1; c < 0x20; c++) {
		ctl[0] = (char)c;
		assert_same(json_string(ctl), one_str(ctl));
	}
}

/* jansson refuses these; the writer keeps the reply and marks the byte. */
static void test_invalid_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a\xff"
		  "b",
		  "{\"k\":\"a\xef\xbf\xbd"
		  "b\"}" },
		{ "\xc0\xaf", "{\"k\":\"\xef\xbf\xbd\xef\xbf\xbd\"}" }, /* overlong */
		{ "\xed\xa0\x80",
		  "{\"k\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}" },   /* surrogate */
		{ "x\xe2\x82", "{\"k\":\"x\xef\xbf\xbd\xef\xbf\xbd\"}" }, /* cut short */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = one_str(cases[i].in);

		assert_null(json_string(cases[i].in));
		assert_string_equal(t, cases[i].out);
		free(t);
	}
}

static void test_integers(void **state)
{
	static const long long cases[] = { 0,   1,  -1,           9,         10,
					   -10, 42, 4294967296LL, LLONG_MAX, LLONG_MIN };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_same(json_integer(cases[i]), one_int(cases[i]));
}

static void test_reals(void **state)
{
	static const double cases[] = {
		0.0,          2.0,
		-7.0,         123456.0,
		4294967296.0, 999999999999999.0,
		1e15 + 2,     0.5e-323, /* subnormal */
		-0.0,         1.0,
		-1.5,         0.1,
		1.0 / 3.0,    100.0,
		1e15,         1e16,
		1e17,         1e20,
		1e100,        1.5e300,
		1e-5,         1e-7,
		1.23e-300,    DBL_MAX,
		DBL_MIN,      4.99812,
		12345.6,      7.7e21,
		-2.5e-10,     123456789012345678.0,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_same(json_real(cases[i]), one_real(cases[i]));
}

/* jansson has no NaN or infinity; the writer says null. */
static void test_not_finite(void **state)
{
	char *t = one_real(NAN);

	(void)state;
	assert_string_equal(t, "{\"k\":null}");
	free(t);
	t = one_real(INFINITY);
	assert_string_equal(t, "{\"k\":null}");
	free(t);
}

static void test_nesting(void **state)
{
	struct jsonw w;
	char *t;
	json_t *ref = json_pack("{s:b,s:[{s:i},{},[]],s:{s:n,s:{}},s:[i,s,f]}", "ok", 1, "list",
				"a", 1, "obj", "n", "e", "mixed", 7, "x", 0.5);
	char *want = json_dumps(ref, JSON_COMPACT | JSON_PRESERVE_ORDER);

	(void)state;
	jsonw_init(&w, 1); /* tiny: every value grows the buffer */
	jsonw_open_obj(&w, NULL);
	jsonw_bool(&w, "ok", true);
	jsonw_open_arr(&w, "list");
	jsonw_open_obj(&w, NULL);
	jsonw_int(&w, "a", 1);
	jsonw_close_obj(&w);
	jsonw_open_obj(&w, NULL);
	jsonw_close_obj(&w);
	jsonw_open_arr(&w, NULL);
	jsonw_close_arr(&w);
	jsonw_close_arr(&w);
	jsonw_open_obj(&w, "obj");
	jsonw_null(&w, "n");
	jsonw_open_obj(&w, "e");
	jsonw_close_obj(&w);
	jsonw_close_obj(&w);
	jsonw_open_arr(&w, "mixed");
	jsonw_int(&w, NULL, 7);
	jsonw_str(&w, NULL, "x");
	jsonw_real(&w, NULL, 0.5);
	jsonw_close_arr(&w);
	jsonw_close_obj(&w);
	jsonw_append(&w, "\n", 1);
	t = finish(&w);
	assert_int_equal(strlen(t), strlen(want) + 1);
	assert_memory_equal(t, want, strlen(want));
	assert_int_equal(t[strlen(want)], '\n');
	free(t);
	free(want);
	json_decref(ref);
}

/* A large text grows from a small start; a hint avoids the growth. */
static void test_large(void **state)
{
	struct jsonw w;
	char *t;
	size_t cap;

	(void)state;
	jsonw_init(&w, 0);
	jsonw_open_arr(&w, NULL);
	for (int i = 0; i < 100000; i++)
		jsonw_int(&w, NULL, i);
	jsonw_close_arr(&w);
	t = finish(&w);
	assert_int_equal(t[0], '[');
	assert_string_equal(t + strlen(t) - 7, ",99999]");
	cap = strlen(t);
	free(t);
	jsonw_init(&w, cap + 1);
	assert_true(w.cap >= cap + 1);
	jsonw_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),    cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_integers),   cmocka_unit_test(test_reals),
		cmocka_unit_test(test_not_finite), cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
