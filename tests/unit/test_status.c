// SPDX-License-Identifier: Apache-2.0
/* test_status.c - the `status` reply written by the streaming writer is,
 * byte for byte, what the jansson tree it replaced printed (status_ref.c,
 * the old builder, kept as the oracle) for a hand-built fleet with every
 * awkward value: quotes and UTF-8 in labels and metadata, an allocated
 * session, a stopped server with stale counters, duplicate and invalid
 * game value names, patterns that match some, all or none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctlproto.h"
#include "common/timeutil.h"
#include "supervisor/roll.h"
#include "supervisor/session.h"
#include "supervisor/status.h"

json_t *status_ref_build(const struct fleet *f, const struct status_info *info, const char *pattern,
			 uint64_t now, size_t *matched);
json_t *status_ref_roll(const struct roll *r, uint64_t now);

#define N 3
#define NOW (1000 * RF_NSEC_PER_SEC + 123456789ull)

struct fixture {
	struct fleet fleet;
	struct server *srv[N];
};

static struct server *new_server(const char *name, enum fsm_state state, pid_t pid, int cpu)
{
	struct server *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->cfg.name, sizeof(s->cfg.name), "%s", name);
	snprintf(s->cfg.bind, sizeof(s->cfg.bind), "%s", "127.0.0.1");
	snprintf(s->cfg.game, sizeof(s->cfg.game), "%s", "relay");
	s->cfg.port = 7000;
	s->cfg.tick_hz = 50;
	s->cfg.max_clients_per_ip = 4;
	s->slot = calloc(1, rf_slot_size(4));
	assert_non_null(s->slot);
	s->slot->max_clients = 4;
	s->fsm.state = state;
	s->pid = pid;
	s->cpu = cpu;
	return s;
}

/* By hand: kv_add would refuse the UTF-8 the writer must still copy. */
static void add(struct kv_list *l, const char *k, const char *v)
{
	assert_true(l->n < KV_PAIRS_MAX);
	snprintf(l->kv[l->n].key, sizeof(l->kv[l->n].key), "%s", k);
	snprintf(l->kv[l->n].value, sizeof(l->kv[l->n].value), "%s", v);
	l->n++;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct server *s;
	struct rf_slot_stats *st;

	assert_non_null(fx);
	fx->fleet.ticks_per_sec = 100;
	fx->fleet.sess.allocations = 12345678901ull;
	/* A roll under way, its current server a name with a quote. */
	fx->fleet.roll = (struct roll){ .active = true,
					.id = 3,
					.total = 3,
					.pending = 2,
					.waiting_for_match = 1,
					.started_ns = NOW - RF_NSEC_PER_SEC,
					.started_unix_ns = 1700000000123456789ull,
					.ended_unix_ns = 0 };
	fx->fleet.roll.n[ROLL_SKIPPED] = 1;
	snprintf(fx->fleet.roll.current, sizeof(fx->fleet.roll.current), "%s", "eu-\"1\"");
	snprintf(fx->fleet.roll.pattern, sizeof(fx->fleet.roll.pattern), "%s", "eu-*");
	fx->srv[0] = s = new_server("eu-1", FSM_RUNNING, 4242, 1);
	s->fsm.ready_ns = NOW - 3 * RF_NSEC_PER_SEC - 1;
	s->fsm.restarts = 2;
	snprintf(s->fsm.reason, sizeof(s->fsm.reason), "%s", "ready \"at last\"\t\\o/");
	s->cpu_pct = 1.0 / 3.0;
	s->rss_kb = 2100;
	s->cpu_ticks_total = 150;
	s->cpu_ticks = 51;
	s->tick_p50_ms = 0.016;
	s->tick_p99_ms = 1e-7;
	s->tick_max_ms = 12345.5;
	add(&s->labels, "region", "eu-west");
	add(&s->labels, "mode", "caf\xc3\xa9 \xf0\x9f\x8e\xae");
	s->sess.state = SESSION_ALLOCATED;
	s->sess.since_ns = NOW - 1500 * RF_NSEC_PER_MSEC;
	s->sess.since_unix_ns = 1764644400123000000ull;
	s->sess.alloc_id = 77;
	snprintf(s->sess.end_reason, sizeof(s->sess.end_reason), "%s", "release");
	add(&s->sess.meta, "match", "m-\"42\"");
	st = &s->slot->stats;
	st->last_tick_ns = NOW - 20 * RF_NSEC_PER_MSEC;
	st->clients = 3;
	st->ticks = 1ull << 40;
	st->pkts_in = 6000;
	st->bytes_out = 61440000;
	st->backend = 1;
	st->gso = 1;
	st->drop_flood = 5;
	st->adm_admitted = 12;
	st->drop_output = 21;
	st->idle = 1;
	st->idle_wakeups = 9;
	st->idle_ns = 2500 * RF_NSEC_PER_MSEC;
	strcpy(s->slot->game.name, "arena");
	strcpy(s->slot->game.status, "round 2 \"final\"");
	strcpy(s->slot->game.value_name[0], "players");
	s->slot->game.value[0] = 3;
	strcpy(s->slot->game.value_name[1], "Bad name");
	s->slot->game.value[1] = 99;
	strcpy(s->slot->game.value_name[2], "rounds_left");
	s->slot->game.value[2] = -2;
	strcpy(s->slot->game.value_name[3], "players"); /* again: last value wins */
	s->slot->game.value[3] = 4;

	fx->srv[0]->roll.phase = ROLL_RESTARTING;
	fx->srv[1] = s = new_server("lobby-7100", FSM_STOPPED, 0, 0);
	snprintf(s->last_exit, sizeof(s->last_exit), "%s", "exit 3");
	s->slot->stats.clients = 7;
	s->slot->stats.last_tick_ns = NOW - RF_NSEC_PER_SEC;
	strcpy(s->slot->game.value_name[0], "stale");
	s->slot->game.value[0] = 5; /* stopped: not shown */
	s->rss_kb = 999;
	s->cpu_pct = 50.0;

	fx->srv[2] = s = new_server("lobby-7101", FSM_STARTING, 4343, -1);
	s->cfg.admission = RF_ADMISSION_TOKEN;
	s->sess.state = SESSION_RECYCLING;

	fx->fleet.srv = fx->srv;
	fx->fleet.n = fx->fleet.cap = N;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < N; i++) {
		free(fx->srv[i]->slot);
		free(fx->srv[i]);
	}
	free(fx);
	return 0;
}

/* The old reply: the tree, the two keys verb_status added, ctl_reply_ok. */
static char *reference(const struct fleet *f, const struct status_info *info, const char *pattern,
		       size_t *matched)
{
	json_t *body = status_ref_build(f, info, pattern, NOW, matched);

	assert_non_null(body);
	json_object_set_new(body, "draining", json_boolean(f->sess.draining));
	json_object_set_new(body, "event_subscribers",
			    json_integer((json_int_t)info->event_subscribers));
	json_object_set_new(body, "roll", status_ref_roll(&f->roll, NOW));
	return ctl_reply_ok(body);
}

static void check(struct fixture *fx, const char *pattern, size_t want_matched)
{
	struct status_info info = { "/etc/ringfleet/ring \"fleet\".ini",
				    10 * RF_NSEC_PER_SEC,
				    2,
				    3,
				    "0.0.9",
				    "",
				    2,
				    true,
				    5,
				    4 };
	size_t m_ref, m_new;
	char *ref = reference(&fx->fleet, &info, pattern, &m_ref);
	char *mine = status_reply_at(&fx->fleet, &info, pattern, NOW, &m_new);

	assert_non_null(ref);
	assert_non_null(mine);
	assert_string_equal(mine, ref);
	assert_int_equal(m_new, m_ref);
	assert_int_equal(m_new, want_matched);
	free(ref);
	free(mine);
}

static void test_all(void **state)
{
	check(*state, NULL, N);
}

static void test_patterns(void **state)
{
	check(*state, "lobby-*", 2);
	check(*state, "eu-1", 1);
	check(*state, "nothing", 0);
}

static void test_draining(void **state)
{
	struct fixture *fx = *state;

	fx->fleet.sess.draining = true;
	check(fx, NULL, N);
}

/* The reply reads the table when asked: a change shows at once. */
static void test_reflects_change(void **state)
{
	struct fixture *fx = *state;
	struct status_info info = { .config_path = "c.ini" };
	size_t m;
	char *before = status_reply_at(&fx->fleet, &info, "eu-1", NOW, &m), *after;

	fx->srv[0]->sess.state = SESSION_READY;
	fx->srv[0]->slot->stats.clients = 0;
	after = status_reply_at(&fx->fleet, &info, "eu-1", NOW, &m);
	assert_non_null(strstr(before, "\"state\":\"allocated\""));
	assert_non_null(strstr(after, "\"session\":{\"state\":\"ready\""));
	assert_non_null(strstr(after, "\"clients\":0,"));
	free(before);
	free(after);
	check(fx, NULL, N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_patterns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_draining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reflects_change, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
