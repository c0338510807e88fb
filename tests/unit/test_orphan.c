// SPDX-License-Identifier: Apache-2.0
/* test_orphan.c - the rule by which a worker stops when its supervisor
 * is gone (worker/orphan.h): a beat of 0 or a timeout of 0 never make an
 * orphan, the timeout is strict, a beat newer than the reader's clock is
 * fresh, and an idle worker wakes in time to notice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "worker/orphan.h"

#define S RF_NSEC_PER_SEC
#define T0 (1000 * S) /* a CLOCK_MONOTONIC time well past boot */

static void test_never(void **state)
{
	(void)state;
	/* No supervisor (standalone) or orphan_timeout_s = 0. */
	assert_false(rf_orphaned(0, T0, T0 + 100000 * S));
	assert_false(rf_orphaned(0, 0, UINT64_MAX));
	/* Supervised, but no beat yet: a slot from an older ringfleetd. */
	assert_false(rf_orphaned(300, 0, T0 + 100000 * S));
	assert_false(rf_orphaned(1, 0, UINT64_MAX));
}

static void test_boundary(void **state)
{
	(void)state;
	assert_false(rf_orphaned(300, T0, T0));
	assert_false(rf_orphaned(300, T0, T0 + 299 * S));
	/* Exactly the timeout is not over it yet. */
	assert_false(rf_orphaned(300, T0, T0 + 300 * S));
	assert_true(rf_orphaned(300, T0, T0 + 300 * S + 1));
	assert_true(rf_orphaned(1, T0, T0 + S + 1));
	assert_false(rf_orphaned(1, T0, T0 + S));
	/* The largest timeout the configuration allows. */
	assert_false(rf_orphaned(86400, T0, T0 + 86400 * S));
	assert_true(rf_orphaned(86400, T0, T0 + 86400 * S + 1));
	/* timeout_s * 1e9 does not wrap at the type's limit (~136 years). */
	assert_false(rf_orphaned(UINT32_MAX, T0, T0 + (uint64_t)UINT32_MAX * S));
	assert_true(rf_orphaned(UINT32_MAX, T0, T0 + (uint64_t)UINT32_MAX * S + 1));
}

static void test_beat_after_clock(void **state)
{
	(void)state;
	/* ringfleetd beat between the worker's clock read and its load. */
	assert_false(rf_orphaned(3, T0 + 1, T0));
	assert_false(rf_orphaned(3, UINT64_MAX, 1));
}

static void test_slot(void **state)
{
	static struct rf_slot slot;

	(void)state;
	memset(&slot, 0, sizeof(slot));
	assert_false(rf_slot_orphaned(&slot, T0));
	slot.sup.orphan_timeout_s = 3;
	assert_false(rf_slot_orphaned(&slot, T0));
	slot.sup.beat_ns = T0;
	assert_false(rf_slot_orphaned(&slot, T0 + 3 * S));
	assert_true(rf_slot_orphaned(&slot, T0 + 3 * S + 1));
	/* A reload that sets it to 0 saves every worker at once. */
	slot.sup.orphan_timeout_s = 0;
	assert_false(rf_slot_orphaned(&slot, T0 + 1000 * S));
}

static void test_idle_sleep(void **state)
{
	(void)state;
	/* The heartbeat alone with no timeout, or no beat yet. */
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 0, T0, T0), 30 * S);
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 3, 0, T0), 30 * S);
	/* A timeout longer than the beat: the heartbeat. */
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 300, T0, T0), 30 * S);
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 300, T0, T0 + 200 * S), 30 * S);
	/* ... until the beat would go stale sooner: wake right then. */
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 300, T0, T0 + 290 * S), 10 * S + 1);
	/* A shorter timeout: wake when the beat goes stale, never later
	 * than timeout_s from now. */
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 3, T0, T0), 3 * S + 1);
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 3, T0, T0 + 2 * S), S + 1);
	assert_true(rf_orphan_sleep_ns(30 * S, 3, T0, T0 + 3 * S) > 0);
	assert_false(rf_orphaned(3, T0, T0 + 3 * S));
	/* Already stale: no sleep, and the rule agrees, so no spin. */
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 3, T0, T0 + 3 * S + 1), 0);
	assert_true(rf_orphaned(3, T0, T0 + 3 * S + 1));
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 3, T0, T0 + 100 * S), 0);
	/* A beat newer than the caller's clock. */
	assert_int_equal(rf_orphan_sleep_ns(30 * S, 3, T0 + S, T0), 4 * S + 1);
	/* No wrap near the clock's end: the heartbeat. */
	assert_int_equal(rf_orphan_sleep_ns(S, 86400, UINT64_MAX - 5, UINT64_MAX - 5), S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_beat_after_clock),
		cmocka_unit_test(test_slot),
		cmocka_unit_test(test_idle_sleep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
