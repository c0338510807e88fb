// SPDX-License-Identifier: Apache-2.0
/* test_session.c - sessions (supervisor/session.h): the pure transitions,
 * the choice with selectors and both policies on a fake fleet with CPUs,
 * and the daemon side on that fleet (no processes): allocate, drain,
 * release, end by the game, the slot's session area, exactly-once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/alloc_req.h"
#include "supervisor/daemon.h"
#include "supervisor/session.h"

#define MAX_SRV 128

static struct daemon d;
static struct server *srv[MAX_SRV];

/* A running, ready server on cpu with labels ("k=v,k2=v2"). */
static struct server *add_server(const char *name, int cpu, const char *labels)
{
	struct server *s = calloc(1, sizeof(*s));
	char why[160];

	assert_non_null(s);
	snprintf(s->cfg.name, sizeof(s->cfg.name), "%s", name);
	snprintf(s->cfg.bind, sizeof(s->cfg.bind), "127.0.0.1");
	s->cfg.port = (uint16_t)(7000 + d.fleet.n);
	snprintf(s->cfg.labels, sizeof(s->cfg.labels), "%s", labels);
	assert_int_equal(kv_parse_list(&s->labels, labels, "label", why, sizeof(why)), 0);
	s->cpu = cpu;
	s->pidfd = s->ready_fd = -1;
	s->slot_len = rf_slot_size(1);
	s->slot = calloc(1, s->slot_len);
	assert_non_null(s->slot);
	fsm_init(&s->fsm);
	s->fsm.state = FSM_RUNNING;
	s->fsm.ready_ns = 1;
	srv[d.fleet.n++] = s;
	sessions_on_process(&d.fleet, s);
	return s;
}

static int setup(void **state)
{
	struct cfg_supervisor sup;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.fleet.srv = srv;
	d.fleet.epfd = -1;
	cfg_supervisor_init(&sup);
	fleet_policy_from(&d.fleet.policy, &sup);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < d.fleet.n; i++) {
		free(srv[i]->slot);
		free(srv[i]);
	}
	d.fleet.n = 0;
	return 0;
}

static struct server *alloc_sel(const char *sel, enum alloc_policy policy, int *rc)
{
	struct alloc_req r;
	struct server *s;
	char err[256];

	alloc_req_init(&r);
	r.policy = policy;
	if (sel)
		assert_int_equal(kv_parse_list(&r.selectors, sel, "selector", err, sizeof(err)), 0);
	*rc = sessions_allocate(&d, &r, &s, err, sizeof(err));
	return s;
}

static void test_selectors(void **state)
{
	struct server *a, *b, *c;
	int rc;

	(void)state;
	a = add_server("a", 0, "mode=ctf,region=eu");
	b = add_server("b", 0, "mode=dm,region=eu");
	c = add_server("c", 0, "");
	assert_int_equal(a->sess.state, SESSION_READY);
	assert_ptr_equal(alloc_sel("mode=dm", ALLOC_PACKED, &rc), b);
	assert_int_equal(rc, 0);
	assert_int_equal(b->sess.state, SESSION_ALLOCATED);
	/* b is taken: nothing else is dm */
	assert_null(alloc_sel("mode=dm", ALLOC_PACKED, &rc));
	assert_int_equal(rc, -ENOENT);
	/* every selector must match */
	assert_null(alloc_sel("mode=ctf,region=us", ALLOC_PACKED, &rc));
	assert_int_equal(rc, -ENOENT);
	assert_ptr_equal(alloc_sel("region=eu,mode=ctf", ALLOC_PACKED, &rc), a);
	/* no selector: any ready server */
	assert_ptr_equal(alloc_sel(NULL, ALLOC_PACKED, &rc), c);
	assert_null(alloc_sel(NULL, ALLOC_PACKED, &rc));
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(d.fleet.sess.allocations, 3);
	assert_int_equal(d.fleet.sess.failures[ALLOC_FAIL_NO_MATCH], 3);
	assert_int_equal(d.fleet.sess.n_allocated, 3);
	/* ids count up from 1 */
	assert_int_equal(b->sess.alloc_id, 1);
	assert_int_equal(c->sess.alloc_id, 3);
}

/* cpu 0: x0 allocated, x1 ready; cpu 1: y0, y1 ready; cpu 2: z0 ready. */
static void test_policies(void **state)
{
	struct server *x0, *x1, *y0, *z0;
	int rc;

	(void)state;
	x0 = add_server("x0", 0, "");
	x1 = add_server("x1", 0, "");
	y0 = add_server("y0", 1, "");
	add_server("y1", 1, "");
	z0 = add_server("z0", 2, "");
	/* nothing allocated: packed takes the lowest CPU, table order */
	assert_ptr_equal(session_pick(srv, d.fleet.n, &(struct kv_list){ 0 }, ALLOC_PACKED), x0);
	/* distributed: fewest allocated, then fewest running: cpu 2 */
	assert_ptr_equal(session_pick(srv, d.fleet.n, &(struct kv_list){ 0 }, ALLOC_DISTRIBUTED),
			 z0);
	assert_ptr_equal(alloc_sel(NULL, ALLOC_PACKED, &rc), x0);
	/* packed fills cpu 0 first */
	assert_ptr_equal(alloc_sel(NULL, ALLOC_PACKED, &rc), x1);
	/* distributed: cpu 1 and 2 have none allocated; cpu 2 runs fewer */
	assert_ptr_equal(alloc_sel(NULL, ALLOC_DISTRIBUTED, &rc), z0);
	/* now cpu 1 is the only one with none allocated */
	assert_ptr_equal(alloc_sel(NULL, ALLOC_DISTRIBUTED, &rc), y0);
	/* cpu 0 has 2 allocated, but no ready server left: packed goes to
	 * the CPU with the most allocated that has one (cpu 1) */
	assert_string_equal(alloc_sel(NULL, ALLOC_PACKED, &rc)->cfg.name, "y1");
	assert_null(alloc_sel(NULL, ALLOC_DISTRIBUTED, &rc));
	assert_int_equal(rc, -ENOENT);
}

static void test_draining(void **state)
{
	struct server *a;
	char err[128];
	int rc;

	(void)state;
	a = add_server("a", 0, "");
	sessions_set_draining(&d, true);
	assert_int_equal(a->sess.state, SESSION_NONE);
	assert_null(alloc_sel(NULL, ALLOC_PACKED, &rc));
	assert_int_equal(rc, -EAGAIN);
	assert_int_equal(d.fleet.sess.failures[ALLOC_FAIL_DRAINING], 1);
	{
		struct alloc_req r;
		struct server *s;

		alloc_req_init(&r);
		assert_int_equal(sessions_allocate(&d, &r, &s, err, sizeof(err)), -EAGAIN);
		assert_string_equal(err, "host is draining");
	}
	sessions_set_draining(&d, false);
	assert_int_equal(a->sess.state, SESSION_READY);
	assert_ptr_equal(alloc_sel(NULL, ALLOC_PACKED, &rc), a);
}

/* The pure transitions, process state by process state. */
static void test_transitions(void **state)
{
	struct session s = { 0 };
	struct kv_list meta = { 0 };

	(void)state;
	assert_false(session_follow(&s, FSM_STARTING, 0, false, 1, 1));
	assert_int_equal(s.state, SESSION_NONE);
	assert_true(session_follow(&s, FSM_RUNNING, 5, false, 10, 10));
	assert_int_equal(s.state, SESSION_READY);
	assert_int_equal(s.since_ns, 10);
	session_mark_allocated(&s, 7, &meta, 0, 20, 20);
	assert_int_equal(s.state, SESSION_ALLOCATED);
	/* the worker crashes and restarts: the match goes on */
	assert_false(session_follow(&s, FSM_BACKOFF, 5, false, 30, 30));
	assert_false(session_follow(&s, FSM_STARTING, 5, false, 31, 31));
	assert_false(session_follow(&s, FSM_RUNNING, 40, false, 40, 40));
	assert_false(session_follow(&s, FSM_STOPPING, 40, false, 41, 41));
	assert_int_equal(s.state, SESSION_ALLOCATED);
	assert_int_equal(s.alloc_id, 7);
	/* an operator stop ends it */
	assert_true(session_follow(&s, FSM_STOPPED, 40, false, 50, 50));
	assert_int_equal(s.state, SESSION_NONE);
	assert_int_equal(s.alloc_id, 0);
	assert_true(s.fresh_slot); /* the match is over: the next start is fresh */
	s.fresh_slot = false;
	/* fatal too */
	session_follow(&s, FSM_RUNNING, 60, false, 60, 60);
	session_mark_allocated(&s, 8, &meta, 0, 61, 61);
	assert_true(session_follow(&s, FSM_FATAL, 60, false, 62, 62));
	assert_int_equal(s.state, SESSION_NONE);
	/* draining: a running server is not ready */
	assert_false(session_follow(&s, FSM_RUNNING, 60, true, 63, 63));
	assert_int_equal(s.state, SESSION_NONE);
}

static void test_recycle(void **state)
{
	struct session s = { 0 };
	struct kv_list meta = { 0 };

	(void)state;
	session_follow(&s, FSM_RUNNING, 5, false, 10, 10);
	session_mark_allocated(&s, 1, &meta, 3, 20, 20);
	assert_false(session_game_ended(&s, 3));
	assert_true(session_game_ended(&s, 4));
	session_end(&s, false, "game", 30, 30);
	assert_int_equal(s.state, SESSION_RECYCLING);
	assert_true(s.fresh_slot);
	assert_string_equal(s.end_reason, "game");
	/* the old worker (ready at 5) stops, a new one starts */
	assert_false(session_follow(&s, FSM_RUNNING, 5, false, 31, 31));
	assert_false(session_follow(&s, FSM_STOPPING, 5, false, 32, 32));
	s.fresh_slot = false; /* sessions_before_spawn() cleared the table */
	assert_false(session_follow(&s, FSM_STARTING, 5, false, 33, 33));
	assert_int_equal(s.state, SESSION_RECYCLING);
	assert_true(session_follow(&s, FSM_RUNNING, 34, false, 34, 34));
	assert_int_equal(s.state, SESSION_READY);
	/* a game that resets itself goes straight back */
	session_mark_allocated(&s, 2, &meta, 4, 40, 40);
	session_end(&s, true, "game", 41, 41);
	assert_int_equal(s.state, SESSION_READY);
	assert_false(s.fresh_slot);
}

/* The daemon side: the slot's area, the end by the game, release. */
static void test_end_and_release(void **state)
{
	struct server *a, *b, *got;
	struct alloc_req r;
	char err[128];

	(void)state;
	a = add_server("a", 0, "");
	b = add_server("b", 1, "");
	alloc_req_init(&r);
	assert_int_equal(kv_add_pair(&r.meta, "map=dust", "meta", err, sizeof(err)), 0);
	assert_int_equal(kv_add_pair(&r.meta, "mode=ctf", "meta", err, sizeof(err)), 0);
	assert_int_equal(sessions_allocate(&d, &r, &got, err, sizeof(err)), 0);
	assert_ptr_equal(got, a);
	assert_int_equal(a->slot->session.state, RF_SESSION_ALLOCATED);
	assert_int_equal(a->slot->session.alloc_id, a->sess.alloc_id);
	assert_int_equal(a->slot->session.seq % 2, 0);
	assert_string_equal(a->slot->session.meta, "map=dust\nmode=ctf\n");
	assert_int_equal(b->slot->session.state, RF_SESSION_READY);

	/* nothing ended yet */
	sessions_poll(&d.fleet);
	assert_int_equal(a->sess.state, SESSION_ALLOCATED);
	/* the game calls rf_end_session(): a recycle (restart) follows */
	a->slot->clients[0].addr.family = 2;
	a->slot->stats.sessions_ended = 1;
	sessions_poll(&d.fleet);
	assert_int_equal(a->sess.state, SESSION_RECYCLING);
	assert_int_equal(a->fsm.state, FSM_STOPPING);
	assert_int_equal(a->slot->session.state, RF_SESSION_NONE);
	assert_int_equal(d.fleet.sess.n_allocated, 0);
	/* before the next worker starts, the client table is cleared */
	sessions_before_spawn(a);
	assert_int_equal(a->slot->clients[0].addr.family, 0);

	/* release: only an allocated server */
	assert_int_equal(sessions_release(&d, b, "release"), -EINVAL);
	assert_int_equal(sessions_allocate(&d, &r, &got, err, sizeof(err)), 0);
	assert_ptr_equal(got, b);
	/* a game that resets itself: straight back to ready, no restart */
	b->slot->game.flags = RF_GAME_SELF_RESET;
	assert_int_equal(sessions_release(&d, b, "release"), 0);
	assert_int_equal(b->sess.state, SESSION_READY);
	assert_int_equal(b->fsm.state, FSM_RUNNING);
	assert_int_equal(b->slot->session.state, RF_SESSION_READY);
	assert_string_equal(b->slot->session.meta, "");
	assert_string_equal(b->sess.end_reason, "release");
}

/* A worker that crashes while allocated keeps the match. */
static void test_crash_while_allocated(void **state)
{
	struct server *a;
	int rc;

	(void)state;
	a = add_server("a", 0, "");
	assert_ptr_equal(alloc_sel(NULL, ALLOC_PACKED, &rc), a);
	a->fsm.state = FSM_BACKOFF;
	sessions_on_process(&d.fleet, a);
	assert_int_equal(a->sess.state, SESSION_ALLOCATED);
	a->fsm.state = FSM_RUNNING;
	a->fsm.ready_ns = 100;
	sessions_on_process(&d.fleet, a);
	assert_int_equal(a->sess.state, SESSION_ALLOCATED);
	assert_int_equal(d.fleet.sess.n_allocated, 1);
	/* a stop ends it and takes it off the allocated list */
	a->fsm.state = FSM_STOPPED;
	sessions_on_process(&d.fleet, a);
	assert_int_equal(a->sess.state, SESSION_NONE);
	assert_int_equal(d.fleet.sess.n_allocated, 0);
	assert_null(d.fleet.sess.allocated);
}

/* A game that ends its match while its worker is stopped (echo does on
 * drain) must not turn the stop into a restart. */
static void test_end_while_stopping(void **state)
{
	struct server *a;
	int rc;

	(void)state;
	a = add_server("a", 0, "");
	assert_ptr_equal(alloc_sel(NULL, ALLOC_PACKED, &rc), a);
	fleet_request(&d.fleet, a, FSM_EV_STOP);
	assert_int_equal(a->fsm.state, FSM_STOPPING);
	assert_int_equal(a->sess.state, SESSION_ALLOCATED);
	a->slot->stats.sessions_ended = 1;
	sessions_poll(&d.fleet);
	assert_int_equal(a->sess.state, SESSION_RECYCLING);
	assert_int_equal(a->fsm.state, FSM_STOPPING);
	assert_false(a->fsm.restart_pending);
	a->fsm.state = FSM_STOPPED;
	sessions_on_process(&d.fleet, a);
	assert_int_equal(a->sess.state, SESSION_NONE);
}

/* 200 allocations against 100 ready servers: 100 distinct winners. */
static void test_exactly_once(void **state)
{
	int ok = 0, none = 0, rc;

	(void)state;
	for (int i = 0; i < 100; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", i);
		add_server(name, i % 4, "");
	}
	for (int i = 0; i < 200; i++) {
		struct server *s = alloc_sel(NULL, i % 2 ? ALLOC_PACKED : ALLOC_DISTRIBUTED, &rc);

		if (rc == 0) {
			assert_int_equal(s->sess.alloc_id, (uint64_t)ok + 1);
			ok++;
		} else {
			assert_int_equal(rc, -ENOENT);
			none++;
		}
	}
	assert_int_equal(ok, 100);
	assert_int_equal(none, 100);
	for (size_t i = 0; i < d.fleet.n; i++)
		assert_int_equal(srv[i]->sess.state, SESSION_ALLOCATED);
	assert_int_equal(d.fleet.sess.n_allocated, 100);
}

static void test_request_validation(void **state)
{
	struct alloc_req r;
	char err[256], long_meta[200];
	json_t *j;

	(void)state;
	alloc_req_init(&r);
	assert_int_equal(kv_add_pair(&r.selectors, "Mode=x", "selector", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "selector key \"Mode\""));
	assert_int_equal(kv_add_pair(&r.selectors, "mode", "selector", err, sizeof(err)), -EINVAL);
	assert_int_equal(kv_add_pair(&r.meta, "k=\x01", "meta", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "meta k:"));
	assert_int_equal(kv_add_pair(&r.meta, "k=v", "meta", err, sizeof(err)), 0);
	assert_int_equal(kv_add_pair(&r.meta, "k=w", "meta", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "meta k given twice"));
	for (int i = 1; i < KV_PAIRS_MAX; i++) {
		char kv[16];

		snprintf(kv, sizeof(kv), "k%d=v", i);
		assert_int_equal(kv_add_pair(&r.meta, kv, "meta", err, sizeof(err)), 0);
	}
	assert_int_equal(kv_add_pair(&r.meta, "one=more", "meta", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too many metas"));
	assert_int_equal(alloc_req_validate(&r, err, sizeof(err)), 0);
	/* 16 values of 128 bytes do not fit the slot's 2 KiB as text */
	memset(long_meta, 'x', 128);
	long_meta[128] = '\0';
	for (unsigned i = 0; i < r.meta.n; i++)
		strcpy(r.meta.kv[i].value, long_meta);
	assert_int_equal(alloc_req_validate(&r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "meta: more than 2047 bytes"));
	/* a hand-filled bad key is caught too */
	alloc_req_init(&r);
	r.selectors.n = 1;
	strcpy(r.selectors.kv[0].key, "a b");
	assert_int_equal(alloc_req_validate(&r, err, sizeof(err)), -EINVAL);
	alloc_req_init(&r);
	r.policy = (enum alloc_policy)9;
	assert_int_equal(alloc_req_validate(&r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "policy"));

	/* players */
	alloc_req_init(&r);
	assert_int_equal(alloc_req_add_players(&r, "alice,bob", err, sizeof(err)), 0);
	assert_int_equal(r.n_players, 2);
	assert_int_equal(alloc_req_add_players(&r, "carol,alice", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "player alice given twice"));
	assert_int_equal(alloc_req_add_players(&r, "a,,b", err, sizeof(err)), -EINVAL);

	/* the JSON wire form, both ways */
	j = json_loads("{\"selectors\":{\"mode\":\"ctf\"},\"meta\":{\"map\":\"de dust\"},"
		       "\"policy\":\"distributed\",\"players\":[\"p1\",\"p2\"]}",
		       0, NULL);
	assert_int_equal(alloc_req_from_json(&r, j, err, sizeof(err)), 0);
	json_decref(j);
	assert_int_equal(r.policy, ALLOC_DISTRIBUTED);
	assert_string_equal(kv_get(&r.meta, "map"), "de dust");
	assert_int_equal(r.n_players, 2);
	{
		struct alloc_req back;

		j = alloc_req_to_json(&r);
		assert_int_equal(alloc_req_from_json(&back, j, err, sizeof(err)), 0);
		json_decref(j);
		assert_true(kv_equal(&back.selectors, &r.selectors));
		assert_true(kv_equal(&back.meta, &r.meta));
		assert_string_equal(back.players[1], "p2");
	}
	j = json_loads("{\"selector\":{}}", 0, NULL);
	assert_int_equal(alloc_req_from_json(&r, j, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown member \"selector\""));
	json_decref(j);
	j = json_loads("{\"meta\":{\"k\":1}}", 0, NULL);
	assert_int_equal(alloc_req_from_json(&r, j, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "meta k: value is not a string"));
	json_decref(j);
	j = json_loads("{\"policy\":\"spread\"}", 0, NULL);
	assert_int_equal(alloc_req_from_json(&r, j, err, sizeof(err)), -EINVAL);
	json_decref(j);
	j = json_loads("[]", 0, NULL);
	assert_int_equal(alloc_req_from_json(&r, j, err, sizeof(err)), -EINVAL);
	json_decref(j);
}

static void test_label_lists(void **state)
{
	struct kv_list l;
	char err[256], buf[64];

	(void)state;
	assert_int_equal(kv_parse_list(&l, " mode = ctf ,region=eu ", "label", err, sizeof(err)),
			 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(kv_get(&l, "mode"), "ctf");
	assert_string_equal(kv_get(&l, "region"), "eu");
	assert_int_equal(kv_format_list(&l, buf, sizeof(buf), ","), 18);
	assert_string_equal(buf, "mode=ctf,region=eu");
	assert_int_equal(kv_parse_list(&l, "", "label", err, sizeof(err)), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(kv_parse_list(&l, "a=1,", "label", err, sizeof(err)), -EINVAL);
	assert_int_equal(kv_parse_list(&l, "a=1,a=2", "label", err, sizeof(err)), -EINVAL);
	assert_int_equal(kv_parse_list(&l, "noval", "label", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "want key=value"));
	assert_int_equal(kv_parse_list(&l, "x=", "label", err, sizeof(err)), 0);
	assert_string_equal(kv_get(&l, "x"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_selectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_draining, setup, teardown),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_recycle),
		cmocka_unit_test_setup_teardown(test_end_and_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_while_allocated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_while_stopping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exactly_once, setup, teardown),
		cmocka_unit_test(test_request_validation),
		cmocka_unit_test(test_label_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
