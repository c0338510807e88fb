// SPDX-License-Identifier: Apache-2.0
/* test_roll.c - the pure decisions of a roll (supervisor/roll.h) on a
 * hand-built fleet, the process and session states set by hand: which
 * servers are queued, table order, one restart at a time, an allocated
 * server waits for its match (recycle counts as rolled; a self-resetting
 * game is restarted once ready again), removal, failure, drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/roll.h"
#include "supervisor/server.h"

#define MAX_SRV 8

static struct server *srv[MAX_SRV];
static size_t n_srv;
static struct roll r;
static uint64_t now;
static size_t noted[ROLL_RESULT_COUNT];
static char last_noted[64];

static struct server *add(const char *name, enum fsm_state ps, enum session_state ss)
{
	struct server *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->cfg.name, sizeof(s->cfg.name), "%s", name);
	s->fsm.state = ps;
	s->fsm.ready_ns = ps == FSM_RUNNING ? 1 : 0;
	s->sess.state = ss;
	s->pid = ps == FSM_STOPPED || ps == FSM_FATAL ? 0 : (pid_t)(100 + n_srv);
	srv[n_srv++] = s;
	return s;
}

static void note(void *ctx, struct server *s, enum roll_result res)
{
	(void)ctx;
	assert_int_not_equal(s->roll.phase, ROLL_NONE); /* still marked when told */
	noted[res]++;
	snprintf(last_noted, sizeof(last_noted), "%s", s->cfg.name);
}

static struct server *step(void)
{
	now += 1000;
	return roll_step(&r, srv, n_srv, false, now, note, NULL);
}

/* The worker the roll asked for reports ready. */
static void new_worker_ready(struct server *s)
{
	now += 1000;
	s->fsm.state = FSM_RUNNING;
	s->fsm.ready_ns = now;
	s->pid += 1000;
	s->sess.state = SESSION_READY;
}

static void restarting(struct server *s)
{
	s->fsm.state = FSM_STOPPING;
	s->sess.state = SESSION_NONE;
}

static int setup(void **state)
{
	(void)state;
	memset(&r, 0, sizeof(r));
	memset(noted, 0, sizeof(noted));
	n_srv = 0;
	now = 1000000;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_srv; i++)
		free(srv[i]);
	return 0;
}

static void test_begin_matches(void **state)
{
	struct server *a = add("game-1", FSM_RUNNING, SESSION_READY);
	struct server *b = add("game-2", FSM_STOPPED, SESSION_NONE);
	struct server *c = add("game-3", FSM_FATAL, SESSION_NONE);
	struct server *d = add("lobby-1", FSM_RUNNING, SESSION_READY);
	struct server *e = add("game-4", FSM_RUNNING, SESSION_READY);

	(void)state;
	e->removing = true;
	assert_int_equal(roll_begin(&r, srv, n_srv, "nomatch-*", now, 1), 0);
	assert_false(r.active);
	assert_int_equal(roll_begin(&r, srv, n_srv, "game-*", now, 1), 3);
	assert_true(r.active);
	assert_int_equal(r.id, 1);
	assert_int_equal(r.total, 3);
	assert_int_equal(r.pending, 1);
	assert_int_equal(r.n[ROLL_SKIPPED], 2);
	assert_int_equal(a->roll.phase, ROLL_PENDING);
	assert_int_equal(a->roll.old_pid, a->pid);
	assert_int_equal(b->roll.phase, ROLL_NONE);
	assert_int_equal(c->roll.phase, ROLL_NONE);
	assert_int_equal(d->roll.phase, ROLL_NONE);
	assert_int_equal(e->roll.phase, ROLL_NONE);
	/* One at a time: a second roll is refused while this one runs. */
	assert_int_equal(roll_begin(&r, srv, n_srv, "all", now, 1), -EBUSY);
	assert_true(roll_matches("all", "x"));
	assert_true(roll_matches("game-[12]", "game-2"));
	assert_false(roll_matches("game-[12]", "game-3"));
}

static void test_one_at_a_time_in_order(void **state)
{
	struct server *s[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "g%d", i);
		s[i] = add(name, FSM_RUNNING, SESSION_READY);
	}
	assert_int_equal(roll_begin(&r, srv, n_srv, "all", now, 1), 4);
	for (int i = 0; i < 4; i++) {
		assert_ptr_equal(step(), s[i]);
		assert_int_equal(s[i]->roll.phase, ROLL_RESTARTING);
		assert_string_equal(r.current, s[i]->cfg.name);
		restarting(s[i]);
		/* Nothing else starts while its new worker is on the way, however
		 * many steps pass, and through a crash of the new worker. */
		assert_null(step());
		s[i]->fsm.state = FSM_BACKOFF;
		assert_null(step());
		s[i]->fsm.state = FSM_STARTING;
		assert_null(step());
		assert_int_equal(r.pending, (size_t)(4 - i));
		for (int j = i + 1; j < 4; j++)
			assert_int_equal(s[j]->roll.phase, ROLL_PENDING);
		new_worker_ready(s[i]);
		if (i < 3) {
			assert_ptr_equal(step(), s[i + 1]);
			assert_int_equal(s[i]->roll.phase, ROLL_NONE);
			assert_string_equal(last_noted, s[i]->cfg.name);
			/* step() restarted the next: undo for the loop's check */
			s[i + 1]->roll.phase = ROLL_PENDING;
		} else {
			assert_null(step());
		}
	}
	assert_false(r.active);
	assert_int_equal(r.n[ROLL_ROLLED], 4);
	assert_int_equal(noted[ROLL_ROLLED], 4);
	assert_int_equal(r.pending, 0);
}

static void test_allocated_waits_for_its_match(void **state)
{
	struct server *a = add("a", FSM_RUNNING, SESSION_READY);
	struct server *b = add("b", FSM_RUNNING, SESSION_ALLOCATED);
	struct server *c = add("c", FSM_RUNNING, SESSION_READY);

	(void)state;
	assert_int_equal(roll_begin(&r, srv, n_srv, "all", now, 1), 3);
	assert_ptr_equal(step(), a);
	assert_int_equal(r.waiting_for_match, 1);
	restarting(a);
	new_worker_ready(a);
	/* b carries a match: c goes first. */
	assert_ptr_equal(step(), c);
	restarting(c);
	new_worker_ready(c);
	assert_null(step());
	assert_true(r.active);
	assert_int_equal(r.pending, 1);
	assert_int_equal(r.waiting_for_match, 1);
	assert_int_equal(b->roll.phase, ROLL_PENDING);
	/* The match ends: the recycle restarts it, and that is its roll. */
	b->sess.state = SESSION_RECYCLING;
	b->fsm.state = FSM_STOPPING;
	assert_null(step());
	assert_int_equal(r.waiting_for_match, 0);
	b->fsm.state = FSM_STARTING;
	assert_null(step());
	new_worker_ready(b);
	assert_null(step());
	assert_false(r.active);
	assert_int_equal(r.n[ROLL_ROLLED], 3);
}

static void test_recycle_holds_the_next(void **state)
{
	struct server *a = add("a", FSM_RUNNING, SESSION_ALLOCATED);
	struct server *b = add("b", FSM_RUNNING, SESSION_ALLOCATED);

	(void)state;
	assert_int_equal(roll_begin(&r, srv, n_srv, "all", now, 1), 2);
	assert_null(step());
	assert_int_equal(r.waiting_for_match, 2);
	/* a recycles; b's match ends too, but as a self-reset game's: b is
	 * ready without a restart, and waits until a's worker is up. */
	a->sess.state = SESSION_RECYCLING;
	a->fsm.state = FSM_STOPPING;
	b->sess.state = SESSION_READY;
	assert_null(step());
	assert_int_equal(b->roll.phase, ROLL_PENDING);
	new_worker_ready(a);
	assert_ptr_equal(step(), b);
	restarting(b);
	new_worker_ready(b);
	assert_null(step());
	assert_false(r.active);
	assert_int_equal(r.n[ROLL_ROLLED], 2);
}

static void test_self_reset_restarted_when_ready(void **state)
{
	struct server *a = add("a", FSM_RUNNING, SESSION_ALLOCATED);

	(void)state;
	assert_int_equal(roll_begin(&r, srv, n_srv, "all", now, 1), 1);
	assert_null(step());
	/* The game ended its match and reset itself: same worker, ready. */
	a->sess.state = SESSION_READY;
	assert_ptr_equal(step(), a);
	restarting(a);
	new_worker_ready(a);
	assert_null(step());
	assert_int_equal(r.n[ROLL_ROLLED], 1);
}

static void test_allocated_while_waiting_turn(void **state)
{
	struct server *a = add("a", FSM_RUNNING, SESSION_READY);
	struct server *b = add("b", FSM_RUNNING, SESSION_READY);
	struct server *c = add("c", FSM_RUNNING, SESSION_READY);

	(void)state;
	assert_int_equal(roll_begin(&r, srv, n_srv, "all", now, 1), 3);
	assert_ptr_equal(step(), a);
	restarting(a);
	b->sess.state = SESSION_ALLOCATED; /* a matchmaker took it meanwhile */
	assert_null(step());
	new_worker_ready(a);
	assert_ptr_equal(step(), c);
	assert_int_equal(b->roll.phase, ROLL_PENDING);
	assert_int_equal(r.waiting_for_match, 1);
}

static void test_removal_failure_stop(void **state)
{
	struct server *a = add("a", FSM_RUNNING, SESSION_READY);
	struct server *b = add("b", FSM_RUNNING, SESSION_READY);
	struct server *c = add("c", FSM_RUNNING, SESSION_READY);
	struct server *d = add("d", FSM_RUNNING, SESSION_READY);

	(void)state;
	assert_int_equal(roll_begin(&r, srv, n_srv, "all", now, 1), 4);
	assert_ptr_equal(step(), a);
	restarting(a);
	/* A reload removes b (still stopping) and c (gone from the table at
	 * once); an operator stops d. */
	b->removing = true;
	srv[2] = srv[3];
	n_srv = 3;
	d->fsm.state = FSM_STOPPED;
	assert_null(step());
	assert_int_equal(r.n[ROLL_DROPPED], 2);
	assert_int_equal(r.n[ROLL_SKIPPED], 1);
	assert_int_equal(r.pending, 1);
	/* a's new worker never comes up: failed, and the roll ends. */
	a->fsm.state = FSM_FATAL;
	assert_null(step());
	assert_int_equal(r.n[ROLL_FAILED], 1);
	assert_false(r.active);
	free(c);
}

static void test_drain_does_not_cancel(void **state)
{
	struct server *a = add("a", FSM_RUNNING, SESSION_NONE);
	struct server *b = add("b", FSM_RUNNING, SESSION_ALLOCATED);

	(void)state;
	assert_int_equal(roll_begin(&r, srv, n_srv, "all", now, 1), 2);
	/* Draining: nothing is restarted (drain stops a); the roll stays. */
	assert_null(roll_step(&r, srv, n_srv, true, now + 1, note, NULL));
	assert_true(r.active);
	a->fsm.state = FSM_STOPPED;
	assert_null(roll_step(&r, srv, n_srv, true, now + 2, note, NULL));
	assert_int_equal(r.n[ROLL_SKIPPED], 1);
	assert_true(r.active);
	assert_int_equal(r.waiting_for_match, 1);
	/* b's match ends; drain stops it instead of recycling it. */
	b->sess.state = SESSION_RECYCLING;
	b->fsm.state = FSM_STOPPING;
	assert_null(roll_step(&r, srv, n_srv, true, now + 3, note, NULL));
	b->fsm.state = FSM_STOPPED;
	b->sess.state = SESSION_NONE;
	assert_null(roll_step(&r, srv, n_srv, true, now + 4, note, NULL));
	assert_false(r.active);
	assert_int_equal(r.n[ROLL_SKIPPED], 2);
	/* A new roll may start now: the id counts up. */
	b->fsm.state = FSM_RUNNING;
	assert_int_equal(roll_begin(&r, srv, n_srv, "b", now + 5, 1), 1);
	assert_int_equal(r.id, 2);
	assert_int_equal(r.n[ROLL_SKIPPED], 0);
}

/* The verdict on one server, state by state. */
static enum roll_verdict judge(const struct roll_mark *m, enum fsm_state ps, enum session_state ss,
			       uint64_t ready_ns, pid_t pid, bool removing, bool draining,
			       enum roll_result *res)
{
	struct roll_view v = { ps, ss, ready_ns, pid, removing, draining };

	return roll_judge(m, &v, res);
}

static void test_judge_table(void **state)
{
	struct roll_mark p = { ROLL_PENDING, 100, 7 }, q = { ROLL_RESTARTING, 100, 7 };
	struct roll_mark none = { 0 };
	enum roll_result res;

	(void)state;
	assert_int_equal(judge(&none, FSM_RUNNING, SESSION_READY, 1, 7, false, false, &res),
			 ROLL_V_OUT);
	assert_int_equal(judge(&p, FSM_RUNNING, SESSION_READY, 50, 7, false, false, &res),
			 ROLL_V_NOW);
	assert_int_equal(judge(&p, FSM_RUNNING, SESSION_READY, 50, 7, false, true, &res),
			 ROLL_V_WAIT);
	assert_int_equal(judge(&p, FSM_BACKOFF, SESSION_NONE, 50, 0, false, false, &res),
			 ROLL_V_WAIT);
	assert_int_equal(judge(&p, FSM_STARTING, SESSION_ALLOCATED, 50, 8, false, false, &res),
			 ROLL_V_WAIT_MATCH);
	/* A crash restart of an allocated server since the roll began: a fresh
	 * worker from disk, the match going on in it. */
	assert_int_equal(judge(&p, FSM_RUNNING, SESSION_ALLOCATED, 150, 8, false, false, &res),
			 ROLL_V_SETTLED);
	assert_int_equal(res, ROLL_ROLLED);
	/* The worker it had when queued (forked before, ready after) is not
	 * fresh: it is restarted in its turn. */
	assert_int_equal(judge(&p, FSM_RUNNING, SESSION_READY, 150, 7, false, false, &res),
			 ROLL_V_NOW);
	assert_int_equal(judge(&q, FSM_RUNNING, SESSION_READY, 50, 7, false, false, &res),
			 ROLL_V_BUSY);
	assert_int_equal(judge(&q, FSM_FATAL, SESSION_NONE, 50, 0, false, false, &res),
			 ROLL_V_SETTLED);
	assert_int_equal(res, ROLL_FAILED);
	assert_int_equal(judge(&p, FSM_FATAL, SESSION_NONE, 50, 0, false, false, &res),
			 ROLL_V_SETTLED);
	assert_int_equal(res, ROLL_SKIPPED);
	assert_int_equal(judge(&q, FSM_STOPPING, SESSION_NONE, 50, 7, true, false, &res),
			 ROLL_V_SETTLED);
	assert_int_equal(res, ROLL_DROPPED);
	assert_string_equal(roll_result_name(ROLL_DROPPED), "dropped");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_begin_matches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_at_a_time_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocated_waits_for_its_match, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_recycle_holds_the_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_reset_restarted_when_ready, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_allocated_while_waiting_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removal_failure_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_does_not_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_judge_table, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
