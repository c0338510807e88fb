// SPDX-License-Identifier: Apache-2.0
/* test_hang.c - the hang rule, ticking and idle (supervisor/hang.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "supervisor/hang.h"

#define MS 1000000ull
#define S 1000000000ull
#define HANG (2 * S)
#define BEAT (30 * S)

static enum hang_verdict judge(bool idle, uint64_t beat, uint64_t now, uint64_t pending,
			       struct hang_watch *w)
{
	struct hang_in in = {
		.idle = idle,
		.beat_ns = beat,
		.now_ns = now,
		.hang_ns = HANG,
		.beat_every_ns = BEAT,
		/* Given whether idle or not (fleet.c asks only of idle
		 * workers): a ticking worker's verdict must not depend on it. */
		.pending = pending,
	};

	return hang_judge(&in, w, NULL);
}

static void test_busy_rule_unchanged(void **state)
{
	struct hang_watch w = { 0 };
	uint64_t ms = 0;
	struct hang_in in = { .beat_ns = 100 * S, .now_ns = 102 * S + MS, .hang_ns = HANG };

	(void)state;
	assert_int_equal(judge(false, 100 * S, 100 * S + HANG, 0, &w), HANG_OK);
	assert_int_equal(judge(false, 100 * S, 100 * S + HANG + MS, 0, &w), HANG_NO_TICK);
	/* Input waiting changes nothing for a ticking worker. */
	assert_int_equal(judge(false, 100 * S, 101 * S, 500, &w), HANG_OK);
	/* A beat after now was read is no age. */
	assert_int_equal(judge(false, 105 * S, 100 * S, 0, &w), HANG_OK);
	assert_int_equal(hang_judge(&in, &w, &ms), HANG_NO_TICK);
	assert_int_equal(ms, 2001);
}

static void test_idle_quiet_not_hung_before_beat_and_hang(void **state)
{
	struct hang_watch w = { 0 };

	(void)state;
	for (uint64_t t = 100 * S; t <= 100 * S + BEAT + HANG; t += S)
		assert_int_equal(judge(true, 100 * S, t, 0, &w), HANG_OK);
	assert_int_equal(w.since_ns, 0);
	assert_int_equal(judge(true, 100 * S, 100 * S + BEAT + HANG + MS, 0, &w), HANG_IDLE_SILENT);
}

static void test_idle_pending_beat_moving(void **state)
{
	struct hang_watch w = { 0 };
	uint64_t beat = 100 * S;

	(void)state;
	/* Input waits at every check (a busy idle server, woken each time
	 * by a new datagram that just arrived): never hung. */
	for (uint64_t t = 103 * S; t < 200 * S; t += S) {
		assert_int_equal(judge(true, beat, t, 64, &w), HANG_OK);
		beat = t - 2 * S - MS; /* old, but moving */
	}
}

static void test_idle_pending_beat_frozen(void **state)
{
	struct hang_watch w = { 0 };
	uint64_t ms = 0;
	struct hang_in in = {
		.idle = true,
		.beat_ns = 100 * S,
		.hang_ns = HANG,
		.beat_every_ns = BEAT,
		.pending = 64,
	};

	(void)state;
	/* A young heartbeat too: the socket is asked of every idle worker,
	 * so a datagram is judged hang_timeout after it is first seen. */
	in.now_ns = 101 * S;
	assert_int_equal(hang_judge(&in, &w, &ms), HANG_OK);
	assert_int_equal(w.since_ns, 101 * S);
	in.now_ns = 102 * S;
	assert_int_equal(hang_judge(&in, &w, &ms), HANG_OK);
	in.now_ns = 103 * S - MS;
	assert_int_equal(hang_judge(&in, &w, &ms), HANG_OK);
	in.now_ns = 103 * S;
	assert_int_equal(hang_judge(&in, &w, &ms), HANG_IDLE_DEAF);
	assert_int_equal(ms, 2000);
}

static void test_idle_wake_clears(void **state)
{
	struct hang_watch w = { 0 };

	(void)state;
	assert_int_equal(judge(true, 100 * S, 103 * S, 64, &w), HANG_OK);
	assert_int_equal(w.since_ns, 103 * S);
	/* It woke between checks (its heartbeat moved) and more input came:
	 * the old record goes, a new one starts a full hang_timeout again. */
	assert_int_equal(judge(true, 103 * S + MS, 104 * S, 64, &w), HANG_OK);
	assert_int_equal(w.since_ns, 104 * S);
	assert_int_equal(w.beat_ns, 103 * S + MS);
	assert_int_equal(judge(true, 103 * S + MS, 106 * S - MS, 64, &w), HANG_OK);
	assert_int_equal(judge(true, 103 * S + MS, 106 * S, 64, &w), HANG_IDLE_DEAF);
	w = (struct hang_watch){ 0 };
	/* A wake that took the input and beat again, then nothing waits. */
	assert_int_equal(judge(true, 106 * S, 107 * S, 64, &w), HANG_OK);
	assert_int_equal(judge(true, 107 * S, 110 * S, 0, &w), HANG_OK);
	assert_int_equal(w.since_ns, 0);
	/* A record that became a ticking worker is dropped too. */
	assert_int_equal(judge(true, 107 * S, 110 * S, 64, &w), HANG_OK);
	assert_int_not_equal(w.since_ns, 0);
	assert_int_equal(judge(false, 110 * S, 111 * S, 64, &w), HANG_OK);
	assert_int_equal(w.since_ns, 0);
	/* Input gone though the beat is frozen (nothing to take): no record. */
	assert_int_equal(judge(true, 100 * S, 103 * S, 64, &w), HANG_OK);
	assert_int_equal(judge(true, 100 * S, 104 * S, 0, &w), HANG_OK);
	assert_int_equal(w.since_ns, 0);
	assert_int_equal(judge(true, 100 * S, 106 * S, 64, &w), HANG_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_rule_unchanged),
		cmocka_unit_test(test_idle_quiet_not_hung_before_beat_and_hang),
		cmocka_unit_test(test_idle_pending_beat_moving),
		cmocka_unit_test(test_idle_pending_beat_frozen),
		cmocka_unit_test(test_idle_wake_clears),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
