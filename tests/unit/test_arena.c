// SPDX-License-Identifier: Apache-2.0
/* test_arena.c - the arena example module (games/arena) without the engine:
 * arena.so is loaded with dlopen, as the worker loads it, and driven by a
 * fake engine (fake_engine.h) that records its output. Movement and the
 * clamp to the arena, the last-input acknowledgement, snapshot contents,
 * leave, the empty-arena end of a session, game_args errors, drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "tests/unit/fake_engine.h"

#define SEC 1000000000ull
#define TICK_NS (SEC / 50)

static struct fake_engine fe;

struct snap {
	uint16_t n;
	uint32_t last_seq, you;
	uint64_t tick;
	struct {
		uint32_t id;
		int16_t x, y;
	} p[16];
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* The snapshot client c got this tick, decoded as README.md says. */
static struct snap snap_of(rf_client_id c)
{
	const struct fe_send *s = fe_last_to(&fe, c);
	struct snap out = { 0 };

	assert_non_null(s);
	assert_true(s->len >= 20);
	assert_int_equal(s->data[0], 1); /* version */
	assert_int_equal(s->data[1], 2); /* SNAPSHOT */
	out.n = le16(s->data + 2);
	out.last_seq = le32(s->data + 4);
	out.tick = (uint64_t)le32(s->data + 8) | (uint64_t)le32(s->data + 12) << 32;
	out.you = le32(s->data + 16);
	assert_int_equal(s->len, 20 + 8u * out.n);
	assert_true(out.n <= 16);
	for (unsigned i = 0; i < out.n; i++) {
		const uint8_t *q = s->data + 20 + (size_t)8 * i;

		out.p[i].id = le32(q);
		out.p[i].x = (int16_t)le16(q + 4);
		out.p[i].y = (int16_t)le16(q + 6);
	}
	return out;
}

/* Where player id is in s; fails when it is not there. */
static void pos_of(const struct snap *s, uint32_t id, int *x, int *y)
{
	*x = *y = -1;
	for (unsigned i = 0; i < s->n; i++) {
		if (s->p[i].id == id) {
			*x = s->p[i].x;
			*y = s->p[i].y;
			return;
		}
	}
	fail_msg("player %u not in the snapshot", id);
}

static void input(rf_client_id c, uint32_t seq, int8_t dx, int8_t dy)
{
	uint8_t m[8] = { 1,
			 1,
			 (uint8_t)seq,
			 (uint8_t)(seq >> 8),
			 (uint8_t)(seq >> 16),
			 (uint8_t)(seq >> 24),
			 (uint8_t)dx,
			 (uint8_t)dy };

	fe_input(&fe, c, m, sizeof(m));
}

static int setup(void **state)
{
	(void)state;
	fe_reset(&fe);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (fe.state)
		fe_fini(&fe);
	return 0;
}

static void test_entry(void **state)
{
	(void)state;
	assert_int_equal(fe.game->abi_version, RF_GAME_ABI_VERSION);
	assert_int_equal(fe.game->size, sizeof(struct rf_game));
	assert_string_equal(fe.game->name, "arena");
	assert_int_equal(fe.game->flags, RF_GAME_IDLE_SLEEP);
	assert_non_null(fe.game->init);
	assert_non_null(fe.game->tick);
	assert_non_null(fe.game->drain);
}

static void test_args_errors(void **state)
{
	static const char *const bad[] = {
		"bogus=1", "size=0",   "size=40000",        "size=abc", "size=",
		"size",    "speed=-1", "empty_end_s=86401", "size=10x", "=5",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fe_reset(&fe);
		assert_int_equal(fe_init(&fe, bad[i], 8), -EINVAL);
		assert_int_equal(fe.last_log_level, RF_GAME_LOG_ERR);
		assert_non_null(strstr(fe.last_log, "game_args: "));
		assert_null(fe.state);
	}
	fe_reset(&fe);
	assert_int_equal(fe_init(&fe, " size=100\tspeed=5  empty_end_s=0 ", 8), 0);
	fe_fini(&fe);
	fe_reset(&fe);
	assert_int_equal(fe_init(&fe, "", 8), 0);
	assert_string_equal(fe.value_name[0], "players");
	assert_string_equal(fe.value_name[1], "sessions");
	assert_string_equal(fe.status, "0 players");
	fe_fini(&fe);
	/* a snapshot must fit in one datagram */
	fe_reset(&fe);
	fe.max_packet = 24;
	assert_int_equal(fe_init(&fe, "", 8), -EINVAL);
	assert_int_equal(fe.last_log_level, RF_GAME_LOG_ERR);
}

static void test_move_and_clamp(void **state)
{
	rf_client_id c;
	struct snap s;
	int x, y;

	(void)state;
	assert_int_equal(fe_init(&fe, "size=100 speed=30", 8), 0);
	c = fe_join(&fe);
	assert_true(c != RF_NO_CLIENT);
	fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last_seq, 0); /* no input yet */
	assert_int_equal(s.tick, fe.tick);
	pos_of(&s, s.you, &x, &y);
	assert_int_equal(x, 50); /* spawned in the middle, not moving */
	assert_int_equal(y, 50);
	input(c, 1, 1, -1);
	fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	pos_of(&s, s.you, &x, &y);
	assert_int_equal(x, 80);
	assert_int_equal(y, 20);
	assert_int_equal(s.last_seq, 1);
	/* the input holds: it moves on, and stops at the walls */
	fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	pos_of(&s, s.you, &x, &y);
	assert_int_equal(x, 100);
	assert_int_equal(y, 0);
	fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	pos_of(&s, s.you, &x, &y);
	assert_int_equal(x, 100);
	assert_int_equal(y, 0);
	input(c, 2, -1, 0);
	for (int i = 0; i < 10; i++)
		fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	pos_of(&s, s.you, &x, &y);
	assert_int_equal(x, 0);
	assert_int_equal(y, 0);
	assert_int_equal(s.last_seq, 2);
}

static void test_last_seq_ack(void **state)
{
	rf_client_id c;
	struct snap s;
	int x, y;

	(void)state;
	assert_int_equal(fe_init(&fe, "size=1000 speed=1", 8), 0);
	c = fe_join(&fe);
	input(c, 5, 1, 0);
	input(c, 3, -1, 0); /* late and older: ignored */
	fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	assert_int_equal(s.last_seq, 5);
	pos_of(&s, s.you, &x, &y);
	assert_int_equal(x, 501);
	/* several inputs in one tick: the newest is applied */
	input(c, 6, 0, 1);
	input(c, 7, 0, -1);
	fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	assert_int_equal(s.last_seq, 7);
	pos_of(&s, s.you, &x, &y);
	assert_int_equal(x, 501);
	assert_int_equal(y, 499);
	/* malformed inputs change nothing */
	input(c, 8, 2, 0);                                       /* dx out of range */
	input(c, 0, 1, 1);                                       /* seq 0 */
	fe_input(&fe, c, "\x01\x01\x09\x00\x00\x00\x01", 7);     /* short */
	fe_input(&fe, c, "\x02\x01\x09\x00\x00\x00\x01\x00", 8); /* version 2 */
	fe_input(&fe, c, "\x01\x02\x09\x00\x00\x00\x01\x00", 8); /* not INPUT */
	fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	assert_int_equal(s.last_seq, 7);
	pos_of(&s, s.you, &x, &y);
	assert_int_equal(x, 501);
	assert_int_equal(y, 498);
}

static void test_snapshot_contents(void **state)
{
	rf_client_id c[3];
	struct snap s[3];

	(void)state;
	assert_int_equal(fe_init(&fe, "", 8), 0);
	for (int i = 0; i < 3; i++)
		c[i] = fe_join(&fe);
	assert_string_equal(fe.status, "3 players");
	assert_int_equal(fe.value[0], 3);
	input(c[0], 10, 1, 0);
	input(c[2], 20, 0, 1);
	fe_tick(&fe, TICK_NS);
	assert_int_equal(fe.nsends, 3); /* one snapshot each, no broadcast */
	for (int i = 0; i < 3; i++) {
		s[i] = snap_of(c[i]);
		assert_int_equal(s[i].n, 3);
		assert_int_equal(s[i].you, (uint32_t)i + 1); /* small numbers, from 1 */
		/* the same players at the same places for everyone */
		assert_memory_equal(s[i].p, s[0].p, sizeof(s[0].p[0]) * 3);
	}
	assert_int_equal(s[0].last_seq, 10);
	assert_int_equal(s[1].last_seq, 0);
	assert_int_equal(s[2].last_seq, 20);
	/* the rest of the datagram is the same for all */
	assert_memory_equal(fe_last_to(&fe, c[0])->data + 20, fe_last_to(&fe, c[1])->data + 20, 24);
}

static void test_leave(void **state)
{
	rf_client_id c[3], d;
	struct snap s;

	(void)state;
	assert_int_equal(fe_init(&fe, "", 8), 0);
	for (int i = 0; i < 3; i++)
		c[i] = fe_join(&fe);
	fe_leave(&fe, c[1], RF_LEAVE_TIMEOUT);
	assert_string_equal(fe.status, "2 players");
	assert_int_equal(fe.value[0], 2);
	fe_tick(&fe, TICK_NS);
	assert_int_equal(fe.nsends, 2);
	assert_null(fe_last_to(&fe, c[1]));
	s = snap_of(c[0]);
	assert_int_equal(s.n, 2);
	for (unsigned i = 0; i < s.n; i++)
		assert_int_not_equal(s.p[i].id, 2);
	/* a newcomer takes the free place with a new number */
	d = fe_join(&fe);
	fe_tick(&fe, TICK_NS);
	s = snap_of(d);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.you, 4);
	assert_int_equal(fe.end_sessions, 0);
}

static void test_full(void **state)
{
	(void)state;
	assert_int_equal(fe_init(&fe, "", 2), 0);
	assert_true(fe_join(&fe) != RF_NO_CLIENT);
	assert_true(fe_join(&fe) != RF_NO_CLIENT);
	assert_true(fe_join(&fe) == RF_NO_CLIENT); /* refused: max_clients */
	assert_string_equal(fe.status, "2 players");
}

static void test_empty_end(void **state)
{
	rf_client_id a, b, c;
	struct snap s;

	(void)state;
	assert_int_equal(fe_init(&fe, "empty_end_s=2", 8), 0);
	/* an arena nobody ever joined has no session to end */
	for (int i = 0; i < 200; i++)
		fe_tick(&fe, TICK_NS);
	assert_int_equal(fe.end_sessions, 0);
	a = fe_join(&fe);
	b = fe_join(&fe);
	fe_tick(&fe, TICK_NS);
	fe_leave(&fe, a, RF_LEAVE_TIMEOUT);
	fe_tick(&fe, SEC);
	fe_tick(&fe, SEC); /* empty? no: b is still here */
	assert_int_equal(fe.end_sessions, 0);
	fe_leave(&fe, b, RF_LEAVE_KICKED);
	fe_tick(&fe, SEC);
	assert_int_equal(fe.end_sessions, 0);
	fe_tick(&fe, SEC - 1);
	assert_int_equal(fe.end_sessions, 0);
	fe_tick(&fe, 1); /* empty for 2 s */
	assert_int_equal(fe.end_sessions, 1);
	assert_int_equal(fe.value[1], 1);
	assert_string_equal(fe.status, "0 players");
	for (int i = 0; i < 5; i++)
		fe_tick(&fe, SEC);
	assert_int_equal(fe.end_sessions, 1); /* once */
	/* the next session numbers its players from 1 again */
	c = fe_join(&fe);
	fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	assert_int_equal(s.you, 1);
	/* a server that slept while empty (no ticks) did not end the
	 * session; the next player starts a new one all the same */
	fe_leave(&fe, c, RF_LEAVE_TIMEOUT);
	fe.now_ns += 10 * SEC;
	c = fe_join(&fe);
	assert_int_equal(fe.value[1], 2);
	fe_tick(&fe, TICK_NS);
	s = snap_of(c);
	assert_int_equal(s.you, 1);
	assert_int_equal(fe.end_sessions, 1);
}

static void test_drain(void **state)
{
	rf_client_id c[2];

	(void)state;
	assert_int_equal(fe_init(&fe, "", 8), 0);
	c[0] = fe_join(&fe);
	c[1] = fe_join(&fe);
	fe_tick(&fe, TICK_NS);
	fe_drain(&fe);
	assert_int_equal(fe.nsends, 2);
	for (int i = 0; i < 2; i++) {
		const struct fe_send *s = fe_last_to(&fe, c[i]);

		assert_non_null(s);
		assert_int_equal(s->len, 4);
		assert_memory_equal(s->data, "\x01\x03\x01\x00", 4);
	}
	assert_int_equal(fe.end_sessions, 1);
	/* the engine then removes everyone */
	fe_leave(&fe, c[0], RF_LEAVE_SESSION_OVER);
	fe_leave(&fe, c[1], RF_LEAVE_SESSION_OVER);
	assert_string_equal(fe.status, "0 players");
}

/* A matchmaker's allocation: logged with its metadata, shown in the
 * status until the session ends. */
static void test_allocated(void **state)
{
	rf_client_id c;

	(void)state;
	assert_int_equal(fe_init(&fe, "empty_end_s=1", 8), 0);
	assert_non_null(fe.game->allocated);
	fe.phase = FE_CALLBACK;
	fe.game->allocated(&fe.e, fe.state, "mode=duel\nmap=dust\n");
	fe.phase = FE_OUTSIDE;
	assert_string_equal(fe.last_log, "allocated: mode=duel map=dust");
	assert_string_equal(fe.status, "allocated, 0 players");
	c = fe_join(&fe);
	assert_string_equal(fe.status, "allocated, 1 player");
	fe_leave(&fe, c, RF_LEAVE_TIMEOUT);
	fe_tick(&fe, 2 * SEC);
	assert_int_equal(fe.end_sessions, 1);
	assert_string_equal(fe.status, "0 players");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_and_clamp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_seq_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_contents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocated, setup, teardown),
	};
	int ret;

	fe_load(&fe, ARENA_SO);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	fe_unload(&fe);
	return ret;
}
