// SPDX-License-Identifier: Apache-2.0
/* test_ctlproto.c - the control protocol codec, including hostile lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctlproto.h"

static int parse(const char *line, struct ctl_request *req, const char **err)
{
	return ctl_parse_request(line, strlen(line), req, err);
}

static void test_verbs_and_args(void **state)
{
	struct ctl_request req;
	const char *err = NULL;

	(void)state;
	assert_int_equal(parse("ping", &req, &err), 0);
	assert_int_equal(req.verb, CTL_PING);
	assert_int_equal(req.argc, 0);
	assert_int_equal(parse("  status   eu-*  \r", &req, &err), 0);
	assert_int_equal(req.verb, CTL_STATUS);
	assert_int_equal(req.argc, 1);
	assert_string_equal(req.argv[0], "eu-*");
	assert_int_equal(parse("restart all", &req, &err), 0);
	assert_int_equal(req.verb, CTL_RESTART);
	assert_true(ctl_verb_mutates(CTL_RESTART));
	assert_false(ctl_verb_mutates(CTL_STATUS));
	assert_false(ctl_verb_mutates(CTL_PING));
	assert_true(ctl_verb_mutates(CTL_SHUTDOWN));
}

static void expect_error(const char *line, size_t len, const char *want)
{
	struct ctl_request req;
	const char *err = NULL;

	assert_int_equal(ctl_parse_request(line, len, &req, &err), -EINVAL);
	assert_non_null(err);
	assert_string_equal(err, want);
}

static void test_malformed(void **state)
{
	char long_arg[200];
	const char junk[] = { 's', 't', '\x01', 0x7f, (char)0xff, 'x' };

	(void)state;
	expect_error("", 0, "empty request");
	expect_error("   ", 3, "empty request");
	expect_error("frobnicate", 10, "unknown verb");
	expect_error("STATUS", 6, "unknown verb");
	expect_error("start", 5, "missing argument");
	expect_error("ping extra", 10, "too many arguments");
	expect_error("status a b", 10, "too many arguments");
	expect_error("status a b c d e f", 18, "too many arguments");
	expect_error("roll a b", 8, "too many arguments");
	expect_error(junk, sizeof(junk), "request is not printable text");
	expect_error("stat\0us", 7, "request is not printable text");
	memset(long_arg, 'a', sizeof(long_arg));
	memcpy(long_arg, "stop ", 5);
	expect_error(long_arg, sizeof(long_arg), "argument too long");
}

/* allocate takes the rest of its line (a JSON object) as one argument. */
static void test_raw_verb(void **state)
{
	static char line[CTL_LINE_MAX + 16];
	static struct ctl_request req;
	const char *err = NULL;
	char *reply;
	json_t *j;

	(void)state;
	assert_int_equal(parse("allocate", &req, &err), 0);
	assert_int_equal(req.verb, CTL_ALLOCATE);
	assert_string_equal(req.raw, "");
	assert_true(ctl_verb_mutates(CTL_ALLOCATE));
	assert_true(ctl_verb_mutates(CTL_RELEASE));
	assert_true(ctl_verb_mutates(CTL_ROLL));
	assert_int_equal(parse("roll", &req, &err), 0);
	assert_int_equal(req.verb, CTL_ROLL);
	assert_int_equal(req.argc, 0);
	assert_int_equal(parse("roll eu-*", &req, &err), 0);
	assert_int_equal(req.argc, 1);
	assert_string_equal(req.argv[0], "eu-*");
	assert_string_equal(ctl_verb_name(CTL_ROLL), "roll");
	assert_int_equal(parse("  allocate  {\"meta\": {\"map\": \"de dust\"}}\r", &req, &err), 0);
	assert_string_equal(req.raw, "{\"meta\": {\"map\": \"de dust\"}}");
	assert_int_equal(req.argc, 0);
	expect_error("allocate {\"a\":\"\x01\"}", 18, "request is not printable text");
	/* a whole line of options is fine; the framing bounds it */
	memset(line, 'x', CTL_LINE_MAX - 2);
	memcpy(line, "allocate ", 9);
	line[CTL_LINE_MAX - 2] = '\0';
	assert_int_equal(parse(line, &req, &err), 0);
	assert_int_equal(strlen(req.raw), CTL_LINE_MAX - 2 - 9);
	/* "allocatex" is not allocate */
	expect_error("allocatex {}", 12, "unknown verb");
	assert_int_equal(parse("release eu-1", &req, &err), 0);
	assert_int_equal(req.verb, CTL_RELEASE);
	assert_string_equal(req.argv[0], "eu-1");
	assert_string_equal(req.raw, "");
	expect_error("release", 7, "missing argument");

	reply = ctl_reply_error_code("no_match", "no ready server matches");
	j = json_loads(reply, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_string_equal(json_string_value(json_object_get(j, "code")), "no_match");
	assert_string_equal(json_string_value(json_object_get(j, "error")),
			    "no ready server matches");
	json_decref(j);
	free(reply);
}

static void test_replies_are_one_json_line(void **state)
{
	char *ok = ctl_reply_ok(json_pack("{s:i}", "n", 3));
	char *bad = ctl_reply_error("no server matches \"%s\"", "x\"y");
	json_t *o;

	(void)state;
	assert_string_equal(ok, "{\"ok\":true,\"n\":3}\n");
	assert_non_null(strchr(bad, '\n'));
	assert_int_equal(strchr(bad, '\n') - bad, (long)strlen(bad) - 1);
	o = json_loads(bad, 0, NULL);
	assert_non_null(o);
	assert_true(json_is_false(json_object_get(o, "ok")));
	assert_string_equal(json_string_value(json_object_get(o, "error")),
			    "no server matches \"x\"y\"");
	json_decref(o);
	free(ok);
	free(bad);
	ok = ctl_reply_ok(NULL);
	assert_string_equal(ok, "{\"ok\":true}\n");
	free(ok);
}

static void test_error_text_is_always_json(void **state)
{
	char *line = ctl_reply_error("cfg.ini:3: bind: got \"%s\"", "caf\xe9\x01\xc3");
	json_t *o;

	(void)state;
	assert_non_null(line);
	o = json_loads(line, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "error")),
			    "cfg.ini:3: bind: got \"caf???\"");
	json_decref(o);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs_and_args),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_raw_verb),
		cmocka_unit_test(test_replies_are_one_json_line),
		cmocka_unit_test(test_error_text_is_always_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
