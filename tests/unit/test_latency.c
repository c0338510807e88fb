// SPDX-License-Identifier: Apache-2.0
/* test_latency.c - when ringfleetd waits at realtime priority
 * (supervisor/latency.h): never while background work polls, never
 * once a window's CPU budget is spent, again in the next window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "supervisor/latency.h"

#define MS 1000000ull
#define T0 (1000 * MS) /* the clocks do not start at 0 */

static struct latency on(void)
{
	return (struct latency){ .enabled = true };
}

static void test_disabled_never(void **state)
{
	struct latency l = { 0 };

	(void)state;
	assert_false(latency_want_rt(&l, T0, 0, false));
	assert_false(latency_want_rt(&l, T0 + 500 * MS, 0, false));
	assert_int_equal(l.throttled, 0);
}

static void test_idle_wait_is_realtime(void **state)
{
	struct latency l = on();

	(void)state;
	assert_true(latency_want_rt(&l, T0, 5 * MS, false));
	assert_true(latency_want_rt(&l, T0 + 1 * MS, 6 * MS, false));
	/* background work polls: it must be shared fairly */
	assert_false(latency_want_rt(&l, T0 + 2 * MS, 7 * MS, true));
	assert_true(latency_want_rt(&l, T0 + 3 * MS, 8 * MS, false));
	assert_int_equal(l.throttled, 0);
}

static void test_budget_spent_until_window_ends(void **state)
{
	struct latency l = on();
	uint64_t cpu = 40 * MS;

	(void)state;
	assert_true(latency_want_rt(&l, T0, cpu, false)); /* the window opens */
	/* exactly the budget is still within it */
	assert_true(latency_want_rt(&l, T0 + 50 * MS, cpu + LATENCY_BUDGET_NS, false));
	assert_false(latency_want_rt(&l, T0 + 60 * MS, cpu + LATENCY_BUDGET_NS + 1, false));
	assert_int_equal(l.throttled, 1);
	/* idle for the rest of the window: still normal, counted once */
	assert_false(latency_want_rt(&l, T0 + LATENCY_WINDOW_NS - 1, cpu + LATENCY_BUDGET_NS + 1,
				     false));
	assert_int_equal(l.throttled, 1);
	/* a new window: realtime again */
	assert_true(
		latency_want_rt(&l, T0 + LATENCY_WINDOW_NS, cpu + LATENCY_BUDGET_NS + 1, false));
	assert_int_equal(l.throttled, 1);
}

static void test_flood_every_window(void **state)
{
	struct latency l = on();
	uint64_t now = T0, cpu = 0;
	int rt = 0;

	(void)state;
	/* 50% of a CPU for 1 s, asked every 1 ms: each window gives the first
	 * 25 ms of CPU (50 ms of time) realtime, then normal */
	for (int i = 0; i < 1000; i++, now += MS, cpu += MS / 2)
		rt += latency_want_rt(&l, now, cpu, false);
	assert_int_equal(l.throttled, 10);
	assert_in_range(rt, 490, 520);
}

static void test_busy_still_spends_budget(void **state)
{
	struct latency l = on();

	(void)state;
	/* CPU spent at normal priority counts too: a window of bulk work
	 * followed by a flood stays on the leash */
	assert_false(latency_want_rt(&l, T0, 0, true));
	assert_false(latency_want_rt(&l, T0 + 30 * MS, 30 * MS, true));
	assert_false(latency_want_rt(&l, T0 + 31 * MS, 30 * MS, false));
	assert_int_equal(l.throttled, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled_never),
		cmocka_unit_test(test_idle_wait_is_realtime),
		cmocka_unit_test(test_budget_spent_until_window_ends),
		cmocka_unit_test(test_flood_every_window),
		cmocka_unit_test(test_busy_still_spends_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
