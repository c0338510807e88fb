// SPDX-License-Identifier: Apache-2.0
/* test_fsm.c - the worker lifecycle state machine, without processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "supervisor/fsm.h"

#define MS 1000000ull
#define S 1000000000ull

static const struct fsm_policy policy = {
	.delay_ns = 100 * MS,
	.delay_max_ns = 1000 * MS,
	.stable_ns = 10 * S,
	.window_ns = 60 * S,
	.stop_timeout_ns = 5 * S,
	.start_timeout_ns = 5 * S,
	.crash_limit = 5,
};

static struct fsm_result step(struct fsm *m, enum fsm_event_type t, int st, uint64_t now)
{
	struct fsm_event ev = { .type = t, .wait_status = st };

	return fsm_step(m, &policy, &ev, now);
}

static void start_running(struct fsm *m, uint64_t now)
{
	assert_int_equal(step(m, FSM_EV_START, 0, now).action, FSM_ACT_SPAWN);
	assert_int_equal(m->state, FSM_STARTING);
	step(m, FSM_EV_READY, 0, now);
	assert_int_equal(m->state, FSM_RUNNING);
}

static void test_start_ready_stop(void **state)
{
	struct fsm m;

	(void)state;
	fsm_init(&m);
	start_running(&m, 1 * S);
	assert_int_equal(step(&m, FSM_EV_STOP, 0, 2 * S).action, FSM_ACT_TERM);
	assert_int_equal(m.state, FSM_STOPPING);
	assert_int_equal(m.deadline_ns, 7 * S);
	step(&m, FSM_EV_EXIT, 0, 3 * S);
	assert_int_equal(m.state, FSM_STOPPED);
	assert_int_equal(m.restarts, 0);
}

static void test_stop_timeout_kills(void **state)
{
	struct fsm m;

	(void)state;
	fsm_init(&m);
	start_running(&m, 0);
	step(&m, FSM_EV_STOP, 0, 1 * S);
	assert_int_equal(step(&m, FSM_EV_TIMER, 0, 5 * S).action, FSM_ACT_NONE);
	assert_int_equal(step(&m, FSM_EV_TIMER, 0, 6 * S).action, FSM_ACT_KILL);
	step(&m, FSM_EV_EXIT, SIGKILL, 6 * S + 1);
	assert_int_equal(m.state, FSM_STOPPED);
}

static void test_first_crash_restarts_at_once_then_backoff(void **state)
{
	struct fsm m;
	uint64_t t = 100 * S;

	(void)state;
	fsm_init(&m);
	start_running(&m, t);
	/* First crash: immediate respawn. */
	assert_int_equal(step(&m, FSM_EV_EXIT, 1 << 8, t + 1 * S).action, FSM_ACT_SPAWN);
	assert_int_equal(m.restarts, 1);
	step(&m, FSM_EV_READY, 0, t + 1 * S);
	/* Second, before stable_after: 100 ms backoff. */
	assert_int_equal(step(&m, FSM_EV_EXIT, SIGSEGV, t + 2 * S).action, FSM_ACT_NONE);
	assert_int_equal(m.state, FSM_BACKOFF);
	assert_int_equal(m.deadline_ns, t + 2 * S + 100 * MS);
	assert_int_equal(step(&m, FSM_EV_TIMER, 0, t + 2 * S + 100 * MS).action, FSM_ACT_SPAWN);
	/* Third, crashing while starting: doubled. */
	step(&m, FSM_EV_EXIT, 1 << 8, t + 3 * S);
	assert_int_equal(m.deadline_ns, t + 3 * S + 200 * MS);
}

static void test_backoff_caps_and_stable_run_resets(void **state)
{
	struct fsm_policy p = policy;
	struct fsm m;
	uint64_t t = 0;

	(void)state;
	p.crash_limit = 60;
	fsm_init(&m);
	start_running(&m, t);
	for (int i = 0; i < 8; i++) {
		struct fsm_event ev = { .type = FSM_EV_EXIT, .wait_status = 1 << 8 };

		t += 1 * S;
		fsm_step(&m, &p, &ev, t);
		if (m.state == FSM_BACKOFF) {
			ev.type = FSM_EV_TIMER;
			fsm_step(&m, &p, &ev, m.deadline_ns);
		}
		ev.type = FSM_EV_READY;
		fsm_step(&m, &p, &ev, t);
	}
	assert_true(m.consecutive >= 8);
	{
		struct fsm_event ev = { .type = FSM_EV_EXIT, .wait_status = 1 << 8 };

		fsm_step(&m, &p, &ev, t + 1 * S);
		assert_int_equal(m.deadline_ns - (t + 1 * S), 1000 * MS); /* capped */
	}
	/* A run longer than stable_after: the next crash restarts at once. */
	{
		struct fsm_event ev = { .type = FSM_EV_TIMER };

		fsm_step(&m, &p, &ev, m.deadline_ns);
		ev.type = FSM_EV_READY;
		fsm_step(&m, &p, &ev, 200 * S);
		ev = (struct fsm_event){ .type = FSM_EV_EXIT, .wait_status = 1 << 8 };
		assert_int_equal(fsm_step(&m, &p, &ev, 211 * S).action, FSM_ACT_SPAWN);
	}
}

static void test_crash_loop_goes_fatal_and_start_revives(void **state)
{
	struct fsm m;
	uint64_t t = 0;

	(void)state;
	fsm_init(&m);
	start_running(&m, t);
	for (int i = 0; i < 5; i++) {
		t += 1 * S;
		step(&m, FSM_EV_EXIT, 1 << 8, t);
		if (m.state == FSM_BACKOFF)
			step(&m, FSM_EV_TIMER, 0, m.deadline_ns);
		assert_int_equal(m.state, FSM_STARTING);
	}
	step(&m, FSM_EV_EXIT, 1 << 8, t + 1 * S); /* the 6th within 60 s */
	assert_int_equal(m.state, FSM_FATAL);
	assert_int_equal(m.deadline_ns, 0);
	assert_int_equal(step(&m, FSM_EV_TIMER, 0, t + 100 * S).action, FSM_ACT_NONE);
	assert_int_equal(step(&m, FSM_EV_START, 0, t + 101 * S).action, FSM_ACT_SPAWN);
	assert_int_equal(m.state, FSM_STARTING);
}

static void test_old_crashes_leave_the_window(void **state)
{
	struct fsm m;
	uint64_t t = 0;

	(void)state;
	fsm_init(&m);
	start_running(&m, t);
	for (int i = 0; i < 20; i++) {
		t += 20 * S; /* stable runs, 3 crashes per window at most */
		step(&m, FSM_EV_EXIT, 1 << 8, t);
		assert_int_equal(m.state, FSM_STARTING);
		step(&m, FSM_EV_READY, 0, t);
	}
}

static void test_exit_code_2_is_fatal_config_error(void **state)
{
	struct fsm m;

	(void)state;
	fsm_init(&m);
	step(&m, FSM_EV_START, 0, 0);
	assert_int_equal(step(&m, FSM_EV_EXIT, 2 << 8, 1 * S).action, FSM_ACT_NONE);
	assert_int_equal(m.state, FSM_FATAL);
	assert_non_null(strstr(m.reason, "configuration error"));
}

/* The worker's reason (a game module that failed) lands in the fatal
 * reason; a crash with a detail ignores it (only RF_EXIT_CONFIG says why). */
static void test_config_exit_carries_worker_reason(void **state)
{
	const char *why = "game /opt/g.so: undefined symbol ringfleet_game";
	struct fsm_event ev = { .type = FSM_EV_EXIT, .wait_status = 2 << 8, .detail = why };
	struct fsm m;

	(void)state;
	fsm_init(&m);
	start_running(&m, 0);
	assert_int_equal(fsm_step(&m, &policy, &ev, 1 * S).action, FSM_ACT_NONE);
	assert_int_equal(m.state, FSM_FATAL);
	assert_string_equal(m.reason, "exited with status 2 (configuration error: game /opt/g.so: "
				      "undefined symbol ringfleet_game): not restarting");
	fsm_init(&m);
	start_running(&m, 0);
	ev.wait_status = 1 << 8;
	assert_int_equal(fsm_step(&m, &policy, &ev, 1 * S).action, FSM_ACT_SPAWN);
	assert_null(strstr(m.reason, "ringfleet_game"));
}

static void test_hang_kills_and_counts_as_crash(void **state)
{
	struct fsm m;

	(void)state;
	fsm_init(&m);
	start_running(&m, 0);
	assert_int_equal(step(&m, FSM_EV_HANG, 0, 3 * S).action, FSM_ACT_KILL);
	assert_int_equal(m.state, FSM_RUNNING);
	assert_int_equal(step(&m, FSM_EV_EXIT, SIGKILL, 3 * S + 1).action, FSM_ACT_SPAWN);
	assert_int_equal(m.consecutive, 1);
	assert_non_null(strstr(m.reason, "hung"));
}

static void test_start_timeout_is_a_hang(void **state)
{
	struct fsm m;

	(void)state;
	fsm_init(&m);
	step(&m, FSM_EV_START, 0, 0);
	assert_int_equal(step(&m, FSM_EV_TIMER, 0, 5 * S).action, FSM_ACT_KILL);
	assert_true(m.hung);
	/* Its readiness was already on the way: the killed worker is not
	 * taken for running (the log said "ready" after "killing"). */
	assert_false(step(&m, FSM_EV_READY, 0, 5 * S + 1).changed);
	assert_int_equal(m.state, FSM_STARTING);
}

static void test_restart_stops_then_spawns(void **state)
{
	struct fsm m;

	(void)state;
	fsm_init(&m);
	start_running(&m, 0);
	assert_int_equal(step(&m, FSM_EV_RESTART, 0, 1 * S).action, FSM_ACT_TERM);
	assert_int_equal(m.state, FSM_STOPPING);
	assert_int_equal(step(&m, FSM_EV_EXIT, 0, 2 * S).action, FSM_ACT_SPAWN);
	assert_int_equal(m.state, FSM_STARTING);
	assert_int_equal(m.restarts, 1);
}

static void test_stop_in_backoff_and_fatal(void **state)
{
	struct fsm m;

	(void)state;
	fsm_init(&m);
	start_running(&m, 0);
	step(&m, FSM_EV_EXIT, 1 << 8, 1 * S);
	step(&m, FSM_EV_EXIT, 1 << 8, 2 * S);
	assert_int_equal(m.state, FSM_BACKOFF);
	assert_int_equal(step(&m, FSM_EV_STOP, 0, 2 * S).action, FSM_ACT_NONE);
	assert_int_equal(m.state, FSM_STOPPED);
	assert_int_equal(m.deadline_ns, 0);
	/* Events that do not apply change nothing. */
	assert_false(step(&m, FSM_EV_READY, 0, 3 * S).changed);
	assert_false(step(&m, FSM_EV_HANG, 0, 3 * S).changed);
	assert_int_equal(m.state, FSM_STOPPED);
}

static void test_describe_exit(void **state)
{
	char buf[64];

	(void)state;
	fsm_describe_exit(3 << 8, buf, sizeof(buf));
	assert_string_equal(buf, "exited with status 3");
	fsm_describe_exit(SIGKILL, buf, sizeof(buf));
	assert_string_equal(buf, "killed by SIGKILL");
}

static struct fsm_result spawn_failed(struct fsm *m, int err, uint64_t now)
{
	struct fsm_event ev = { .type = FSM_EV_SPAWN_FAILED, .err = err };

	return fsm_step(m, &policy, &ev, now);
}

/* EMFILE at spawn (ulimit -n reached) far more often than crash_limit:
 * backoff doubling to the cap, never fatal, never a crash; once fds are
 * back the next retry runs and the backoff resets. */
static void test_spawn_out_of_fds_backs_off_never_fatal(void **state)
{
	static const uint64_t want_ms[] = {
		100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000
	};
	struct fsm m;
	uint64_t t = 1 * S;

	(void)state;
	fsm_init(&m);
	assert_int_equal(step(&m, FSM_EV_START, 0, t).action, FSM_ACT_SPAWN);
	for (size_t i = 0; i < sizeof(want_ms) / sizeof(want_ms[0]); i++) {
		struct fsm_result r = spawn_failed(&m, EMFILE, t);

		assert_int_equal(r.action, FSM_ACT_NONE);
		assert_int_equal(m.state, FSM_BACKOFF);
		assert_int_equal(m.deadline_ns - t, want_ms[i] * MS);
		assert_non_null(strstr(m.reason, "spawn failed: Too many open files: retrying in"));
		assert_int_equal(m.n_crashes, 0);
		t = m.deadline_ns;
		assert_int_equal(step(&m, FSM_EV_TIMER, 0, t).action, FSM_ACT_SPAWN);
	}
	step(&m, FSM_EV_READY, 0, t);
	assert_int_equal(m.state, FSM_RUNNING);
	assert_int_equal(m.spawn_failures, 0);
	/* The other resource errors are just as transient. */
	fsm_init(&m);
	step(&m, FSM_EV_START, 0, t);
	spawn_failed(&m, EAGAIN, t);
	assert_int_equal(m.state, FSM_BACKOFF);
	step(&m, FSM_EV_TIMER, 0, m.deadline_ns);
	spawn_failed(&m, ENOMEM, m.since_ns);
	assert_int_equal(m.state, FSM_BACKOFF);
	step(&m, FSM_EV_TIMER, 0, m.deadline_ns);
	spawn_failed(&m, ENFILE, m.since_ns);
	assert_int_equal(m.state, FSM_BACKOFF);
}

/* A missing worker binary is a configuration error: fatal at once, and an
 * explicit start tries again. Any other error counts as a crash. */
static void test_spawn_missing_binary_fatal_other_is_crash(void **state)
{
	struct fsm m;

	(void)state;
	fsm_init(&m);
	step(&m, FSM_EV_START, 0, 1 * S);
	assert_int_equal(spawn_failed(&m, ENOENT, 1 * S).action, FSM_ACT_NONE);
	assert_int_equal(m.state, FSM_FATAL);
	assert_non_null(strstr(m.reason, "spawn failed: No such file or directory"));
	assert_int_equal(step(&m, FSM_EV_START, 0, 2 * S).action, FSM_ACT_SPAWN);
	/* EPERM (e.g. setresuid refused): a crash, first one restarts at once. */
	assert_int_equal(spawn_failed(&m, EPERM, 2 * S).action, FSM_ACT_SPAWN);
	assert_int_equal(m.n_crashes, 1);
	assert_non_null(strstr(m.reason, "spawn failed: Operation not permitted"));
	/* A spawn failure reported for a state without a spawn is ignored. */
	step(&m, FSM_EV_READY, 0, 3 * S);
	assert_false(spawn_failed(&m, EMFILE, 3 * S).changed);
	assert_int_equal(m.state, FSM_RUNNING);
	assert_int_equal(fsm_spawn_err_class(E2BIG), FSM_SPAWN_CONFIG);
	assert_int_equal(fsm_spawn_err_class(ETXTBSY), FSM_SPAWN_TRANSIENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_ready_stop),
		cmocka_unit_test(test_stop_timeout_kills),
		cmocka_unit_test(test_first_crash_restarts_at_once_then_backoff),
		cmocka_unit_test(test_backoff_caps_and_stable_run_resets),
		cmocka_unit_test(test_crash_loop_goes_fatal_and_start_revives),
		cmocka_unit_test(test_old_crashes_leave_the_window),
		cmocka_unit_test(test_exit_code_2_is_fatal_config_error),
		cmocka_unit_test(test_config_exit_carries_worker_reason),
		cmocka_unit_test(test_hang_kills_and_counts_as_crash),
		cmocka_unit_test(test_start_timeout_is_a_hang),
		cmocka_unit_test(test_restart_stops_then_spawns),
		cmocka_unit_test(test_stop_in_backoff_and_fatal),
		cmocka_unit_test(test_describe_exit),
		cmocka_unit_test(test_spawn_out_of_fds_backs_off_never_fatal),
		cmocka_unit_test(test_spawn_missing_binary_fatal_other_is_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
