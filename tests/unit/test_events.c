/* SPDX-License-Identifier: Apache-2.0 */
/* test_events.c - the event line format (supervisor/events.c): RFC 3339
 * time with milliseconds, null server for host events, escaping, bounds,
 * and that a line is valid JSON whatever the reason holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "supervisor/events.h"

/* 2026-12-02T00:41:51.400Z */
#define T_NS (1796172111ull * 1000000000ull + 400123456ull)

static void test_process_line(void **state)
{
	char buf[EVENTS_LINE_MAX];
	int n = events_format(buf, sizeof(buf), T_NS, EVENT_PROCESS, "eu-1", "running", "stopping",
			      "stop requested");

	(void)state;
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_string_equal(buf, "{\"time\":\"2026-12-02T00:41:51.400Z\",\"server\":\"eu-1\","
				 "\"kind\":\"process\",\"from\":\"running\",\"to\":\"stopping\","
				 "\"reason\":\"stop requested\"}\n");
}

static void test_host_line_has_null_server(void **state)
{
	char buf[EVENTS_LINE_MAX];
	json_t *v;

	(void)state;
	assert_true(events_format(buf, sizeof(buf), T_NS, EVENT_HOST, NULL, "serving", "draining",
				  NULL) > 0);
	v = json_loads(buf, 0, NULL);
	assert_non_null(v);
	assert_true(json_is_null(json_object_get(v, "server")));
	assert_string_equal(json_string_value(json_object_get(v, "kind")), "host");
	assert_string_equal(json_string_value(json_object_get(v, "reason")), "");
	json_decref(v);
}

static void test_reason_escaped_and_cut(void **state)
{
	char reason[EVENTS_REASON_MAX * 2], buf[EVENTS_LINE_MAX];
	json_t *v;
	const char *r;

	(void)state;
	/* Quotes, backslashes, control bytes and broken UTF-8: still JSON. */
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	memcpy(reason, "a\"b\\c\n\x01\xff\xc3", 9);
	assert_true(events_format(buf, sizeof(buf), T_NS, EVENT_SESSION, "s", "ready", "allocated",
				  reason) > 0);
	v = json_loads(buf, 0, NULL);
	assert_non_null(v);
	r = json_string_value(json_object_get(v, "reason"));
	assert_non_null(r);
	assert_int_equal(strncmp(r, "a\"b\\c\n\x01??", 9), 0);
	assert_int_equal(strlen(r), EVENTS_REASON_MAX);
	json_decref(v);
}

static void test_too_small_buffer(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(events_format(buf, sizeof(buf), T_NS, EVENT_PROCESS, "eu-1", "running",
				       "stopping", "stop requested"),
			 -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_line),
		cmocka_unit_test(test_host_line_has_null_server),
		cmocka_unit_test(test_reason_escaped_and_cut),
		cmocka_unit_test(test_too_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
