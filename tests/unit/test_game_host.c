// SPDX-License-Identifier: Apache-2.0
/* test_game_host.c - the game host (worker/game_host.c) over the engine
 * (worker/worker.c) without syscalls: a fake game table records every
 * callback, and the tests drive joins, input, expiry, eviction, kicks,
 * session ends and drain through the engine's own entry points, and the
 * allocations the supervisor writes into the slot's session area. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/timeutil.h"
#include "worker/game_host.h"
#include "worker/worker.h"

#define SEC RF_NSEC_PER_SEC
#define EPOCH (1700000000ull * SEC)
#define MAXC 4
#define CAP 64

/* What the fake game saw, and what it is told to do. */
struct event {
	char what; /* j(oin) l(eave) i(nput) t(ick) d(rain) f(ini) a(llocated) */
	uint64_t id;
	int why;
};

static struct fake {
	struct event ev[64];
	unsigned n_ev;
	rf_engine *e;       /* the handle, kept to call services outside */
	int init_ret;       /* init returns it */
	int refuse;         /* join returns it */
	bool kick_on_input; /* input kicks its sender */
	bool kick_in_join;
	bool end_in_tick;
	bool end_in_drain;
	uint64_t kick_on_leave;    /* a leave kicks this one */
	uint64_t pair[2];          /* a leave of one kicks the other */
	uint64_t join_kicks;       /* a join kicks this one */
	uint64_t last_join;        /* the id of the last join */
	bool kick_last_join;       /* a leave kicks it (0 or -ENOENT) */
	uint32_t clients_in_input; /* rf_clients() inside the last input */
	int in_init[8];            /* service results inside init */
	int in_tick[4];
	uint64_t target;                 /* tick sends to it when set */
	int send_ret[4];                 /* their results */
	void *data_in_input;             /* rf_client_data() inside the last input */
	int log_lines;                   /* lines init logs */
	uint32_t idle_s;                 /* info->session_idle_s seen by init */
	char meta[RF_SLOT_META_MAX + 1]; /* the last allocated's meta */
	int in_alloc[5];                 /* service results inside allocated */
	bool end_in_alloc;
} fk;

static char log_seen[256][240];
static unsigned n_logs;

static void sink(int level, const char *line)
{
	(void)level;
	if (n_logs < 256)
		snprintf(log_seen[n_logs], sizeof(log_seen[0]), "%s", line);
	n_logs++;
}

static void record(char what, uint64_t id, int why)
{
	if (fk.n_ev < 64)
		fk.ev[fk.n_ev++] = (struct event){ what, id, why };
}

static int f_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	fk.e = e;
	*state = &fk;
	assert_string_equal(info->server, "srv");
	assert_string_equal(info->args, "a=1");
	assert_int_equal(info->max_clients, MAXC);
	fk.in_init[0] = rf_send(e, 1, "x", 1);
	fk.in_init[1] = rf_define_value(e, 0, "players");
	fk.in_init[2] = rf_define_value(e, 1, "Bad");
	fk.in_init[3] = rf_define_value(e, 4, "four");
	fk.in_init[4] = rf_define_value(e, 2, "players");          /* a second "players" */
	fk.in_init[5] = rf_define_value(e, 2, "abcdefghijklmno");  /* 15: fits */
	fk.in_init[6] = rf_define_value(e, 3, "abcdefghijklmnop"); /* 16: too long */
	fk.in_init[7] = rf_end_session(e);
	if (RF_HAS_INFO(info, session_idle_s))
		fk.idle_s = info->session_idle_s;
	for (int i = 0; i < fk.log_lines; i++)
		rf_log(e, RF_GAME_LOG_ERR, "bad\nthing");
	return fk.init_ret;
}

static void f_fini(rf_engine *e, void *state)
{
	(void)e;
	(void)state;
	record('f', 0, 0);
}

static int f_join(rf_engine *e, void *state, rf_client_id c)
{
	(void)state;
	record('j', c, 0);
	fk.last_join = c;
	if (fk.join_kicks)
		assert_int_equal(rf_kick(e, fk.join_kicks), 0);
	if (fk.refuse)
		return fk.refuse;
	assert_null(rf_client_data(e, c)); /* never a predecessor's */
	assert_int_equal(rf_set_client_data(e, c, (void *)(uintptr_t)c), 0);
	if (fk.kick_in_join)
		assert_int_equal(rf_kick(e, c), 0);
	return 0;
}

static void f_leave(rf_engine *e, void *state, rf_client_id c, enum rf_leave_reason why)
{
	(void)state;
	record('l', c, (int)why);
	/* Still there while it leaves; kicking it changes nothing. */
	assert_ptr_equal(rf_client_data(e, c), (void *)(uintptr_t)c);
	assert_int_equal(rf_kick(e, c), 0);
	if (fk.kick_on_leave)
		assert_int_equal(rf_kick(e, fk.kick_on_leave), 0);
	for (int i = 0; i < 2; i++)
		if (fk.pair[i] == c)
			assert_int_equal(rf_kick(e, fk.pair[1 - i]), 0);
	if (fk.kick_last_join) {
		int rc = rf_kick(e, fk.last_join);

		assert_true(rc == 0 || rc == -ENOENT);
	}
}

static void f_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	(void)state;
	(void)data;
	(void)len;
	record('i', c, 0);
	fk.data_in_input = rf_client_data(e, c);
	if (fk.kick_on_input) {
		assert_int_equal(rf_kick(e, c), 0);
		assert_int_equal(rf_kick(e, c), 0); /* twice: still one leave */
	}
	/* A kick waits for the callback to return. */
	fk.clients_in_input = rf_clients(e, NULL, 0);
}

static void f_tick(rf_engine *e, void *state)
{
	(void)state;
	record('t', 0, 0);
	fk.in_tick[0] = rf_define_value(e, 3, "late");
	fk.in_tick[1] = rf_set_value(e, 0, 42);
	fk.in_tick[2] = rf_set_value(e, 3, 1); /* never defined */
	fk.in_tick[3] = rf_set_status(e, "caf\xc3\xa9 ok 0123456789012345678901234567890123456789");
	if (fk.target) {
		static char big[101];

		fk.send_ret[0] = rf_send(e, fk.target, "", 0); /* empty is valid */
		fk.send_ret[1] = rf_send(e, fk.target, big, sizeof(big));
		fk.send_ret[2] = rf_send(e, fk.target ^ (1ull << 32), "x", 1); /* stale */
		fk.send_ret[3] = rf_broadcast(e, fk.target, "x", 1);
	}
	if (fk.end_in_tick)
		rf_end_session(e);
}

static void f_drain(rf_engine *e, void *state, uint64_t deadline_ns)
{
	(void)state;
	record('d', deadline_ns, 0);
	if (fk.end_in_drain)
		rf_end_session(e);
}

static void f_allocated(rf_engine *e, void *state, const char *meta)
{
	(void)state;
	record('a', rf_tick(e), 0);
	snprintf(fk.meta, sizeof(fk.meta), "%s", meta);
	fk.in_alloc[0] = rf_send(e, 1, "x", 1);
	fk.in_alloc[1] = rf_broadcast(e, RF_NO_CLIENT, "x", 1);
	fk.in_alloc[2] = rf_kick(e, 1);
	fk.in_alloc[3] = rf_set_status(e, "allocated");
	fk.in_alloc[4] = fk.end_in_alloc ? rf_end_session(e) : 0;
}

static struct rf_game fake_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "fake",
	.init = f_init,
	.fini = f_fini,
	.join = f_join,
	.leave = f_leave,
	.input = f_input,
	.tick = f_tick,
	.drain = f_drain,
	.allocated = f_allocated,
};

struct fx {
	struct worker w;
	struct game_host h;
	struct rf_slot *slot;
	struct tick_plan p;
	char payload[64];
};

static struct sockaddr_in v4(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static void fx_tick(struct fx *f, uint64_t t)
{
	tick_plan_reset(&f->p);
	worker_set_plan(&f->w, &f->p);
	worker_tick_start(&f->w, t, EPOCH + t);
}

static void plan_init(struct tick_plan *p)
{
	struct tick_plan_cfg cfg = {
		.max_in = CAP, .max_out = CAP, .max_clients = MAXC, .max_packet = 100
	};

	assert_int_equal(tick_plan_init(p, &cfg), 0);
}

static int rx(struct fx *f, uint16_t port)
{
	struct sockaddr_in a = v4(port);

	return worker_rx(&f->w, (const struct sockaddr *)&a, sizeof(a), f->payload, 10, false, 0,
			 0);
}

static uint64_t id_of(struct fx *f, uint16_t port)
{
	struct sockaddr_in a = v4(port);
	int idx = clients_find(&f->w.clients, (const struct sockaddr *)&a, sizeof(a));

	return idx < 0 ? 0 : worker_client_id(&f->w, (uint32_t)idx);
}

/* A worker (open admission, MAXC clients, 10 s timeout) and the fake game
 * started on it. */
static struct fx *fx_new(void)
{
	struct worker_params wp = { .max_clients = MAXC,
				    .client_timeout_s = 10,
				    .max_packet = 100,
				    .max_packets_per_tick = 8,
				    .gso_max_seg = 1472,
				    .tick_hz = 50,
				    .seed = 7,
				    .admission = RF_ADMISSION_OPEN };
	struct game_host_params gp = {
		.server = "srv",
		.args = "a=1",
		.tick_hz = 50,
		.output_budget = 100,
		.session_idle_s = 7,
		.log = sink,
	};
	struct fx *f = calloc(1, sizeof(*f));
	char why[GAME_HOST_WHY_MAX] = "";

	assert_non_null(f);
	f->slot = calloc(1, rf_slot_size(MAXC));
	assert_non_null(f->slot);
	plan_init(&f->p);
	assert_int_equal(worker_init(&f->w, f->slot, &wp), 0);
	fx_tick(f, 1 * SEC);
	assert_int_equal(game_host_load_table(&f->h, &fake_game, "fake.so", why, sizeof(why)), 0);
	assert_int_equal(game_host_start(&f->h, &f->w, &gp, why, sizeof(why)), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	game_host_unload(&f->h);
	worker_free(&f->w);
	tick_plan_free(&f->p);
	free(f->slot);
	free(f);
}

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	n_logs = 0;
	return 0;
}

static void test_table_checks(void **state)
{
	struct rf_game t = fake_game, out;
	struct {
		struct rf_game g;
		void *more[4];
	} big = { .g = fake_game };
	char why[GAME_HOST_WHY_MAX];

	(void)state;
	assert_int_equal(game_host_check_table(&t, &out, why, sizeof(why)), 0);
	assert_int_equal(game_host_check_table(NULL, &out, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "NULL"));
	t.abi_version = 2;
	assert_int_equal(game_host_check_table(&t, &out, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "ABI version 2"));
	t = fake_game;
	t.size = offsetof(struct rf_game, drain); /* the drain pointer missing */
	assert_int_equal(game_host_check_table(&t, &out, why, sizeof(why)), -EPROTO);
	t = fake_game;
	t.tick = NULL;
	assert_int_equal(game_host_check_table(&t, &out, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "tick"));
	t = fake_game;
	t.init = NULL;
	assert_int_equal(game_host_check_table(&t, &out, why, sizeof(why)), -EINVAL);
	/* A newer module's longer table: what this ABI knows of it. */
	big.g.size = sizeof(big);
	memset(big.more, 0xff, sizeof(big.more));
	assert_int_equal(game_host_check_table(&big.g, &out, why, sizeof(why)), 0);
	assert_ptr_equal(out.drain, f_drain);
	assert_int_equal(out.size, sizeof(struct rf_game));
}

static void test_load(void **state)
{
	struct game_host h;
	char why[GAME_HOST_WHY_MAX];

	(void)state;
	assert_non_null(game_host_builtin("relay"));
	assert_null(game_host_builtin("arena"));
	assert_int_equal(game_host_load(&h, "relay", why, sizeof(why)), 0);
	assert_string_equal(h.game.name, "relay");
	assert_non_null(h.game.input);
	assert_null(h.dl);
	game_host_unload(&h);
	assert_int_equal(game_host_load(&h, "/nonexistent/game.so", why, sizeof(why)), -ENOENT);
	/* The path is the caller's to print: not repeated. */
	assert_null(strstr(why, "/nonexistent"));
	assert_non_null(strstr(why, "No such file"));
}

static void test_init_and_values(void **state)
{
	struct fx *f;
	struct rf_slot_game *g;

	(void)state;
	f = fx_new();
	g = &f->slot->game;
	assert_string_equal(g->name, "fake");
	assert_int_equal(fk.in_init[0], -EPERM); /* no output from init */
	assert_int_equal(fk.in_init[1], 0);
	assert_int_equal(fk.in_init[2], -EINVAL);
	assert_int_equal(fk.in_init[3], -EINVAL);
	assert_int_equal(fk.in_init[4], -EINVAL);
	assert_int_equal(fk.in_init[5], 0);
	assert_int_equal(fk.in_init[6], -EINVAL);
	assert_int_equal(fk.in_init[7], -EPERM);
	assert_string_equal(g->value_name[0], "players");
	assert_string_equal(g->value_name[1], "");
	assert_string_equal(g->value_name[2], "abcdefghijklmno");
	worker_game_tick(&f->w);
	assert_int_equal(fk.in_tick[0], -EPERM); /* define_value: init only */
	assert_int_equal(fk.in_tick[1], 0);
	assert_int_equal(fk.in_tick[2], -EINVAL);
	assert_int_equal(fk.in_tick[3], 0);
	assert_int_equal(g->value[0], 42);
	/* Printable ASCII only, truncated to RF_GAME_STATUS_MAX - 1. */
	assert_int_equal(strlen(g->status), RF_GAME_STATUS_MAX - 1);
	assert_memory_equal(g->status, "caf?? ok 0123", 13);
	/* Outside any callback: nothing allowed. */
	assert_int_equal(rf_send(fk.e, 1, "x", 1), -EPERM);
	assert_int_equal(rf_broadcast(fk.e, RF_NO_CLIENT, "x", 1), -EPERM);
	assert_int_equal(rf_kick(fk.e, 1), -EPERM);
	assert_int_equal(rf_end_session(fk.e), -EPERM);
	assert_int_equal(rf_set_value(fk.e, 0, 1), -EPERM);
	assert_int_equal(rf_set_status(fk.e, "x"), -EPERM);
	assert_int_equal(rf_define_value(fk.e, 1, "x"), -EPERM);
	assert_int_equal(rf_set_client_data(fk.e, 1, NULL), -EPERM);
	assert_int_equal(rf_clients(fk.e, NULL, 0), 0);
	assert_int_equal(rf_tick(fk.e), f->w.st.ticks + 1);
	assert_int_equal(rf_tick_ns(fk.e), 1 * SEC);
	fx_free(f);
	assert_int_equal(fk.ev[fk.n_ev - 1].what, 'f');
}

static void test_init_failure(void **state)
{
	struct worker_params wp = { .max_clients = MAXC,
				    .client_timeout_s = 10,
				    .max_packet = 100,
				    .max_packets_per_tick = 8,
				    .tick_hz = 50,
				    .admission = RF_ADMISSION_OPEN };
	struct game_host_params gp = { .server = "srv", .args = "a=1", .tick_hz = 50, .log = sink };
	struct rf_slot *slot = calloc(1, rf_slot_size(MAXC));
	struct worker w;
	struct game_host h;
	char why[GAME_HOST_WHY_MAX];

	(void)state;
	assert_non_null(slot);
	fk.init_ret = -EINVAL;
	fk.log_lines = 1;
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	assert_int_equal(game_host_load_table(&h, &fake_game, "fake.so", why, sizeof(why)), 0);
	assert_int_equal(game_host_start(&h, &w, &gp, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "game fake: init failed: Invalid argument (bad?thing)");
	assert_null(w.host);
	game_host_unload(&h);
	assert_int_equal(fk.n_ev, 0); /* no fini after a failed init */
	worker_free(&w);
	free(slot);
}

static void test_join_input_kick(void **state)
{
	struct fx *f;
	uint64_t a;

	(void)state;
	f = fx_new();
	assert_int_equal(rx(f, 1000), 0);
	a = id_of(f, 1000);
	assert_true(a >> 32 != 0);
	assert_int_equal(fk.n_ev, 2);
	assert_int_equal(fk.ev[0].what, 'j');
	assert_int_equal(fk.ev[1].what, 'i');
	assert_int_equal(fk.ev[1].id, a);
	assert_ptr_equal(fk.data_in_input, (void *)(uintptr_t)a);
	/* Refused: not in the table, no leave, counted. */
	fk.refuse = -EBUSY;
	assert_int_equal(rx(f, 1001), -EPERM);
	assert_int_equal(id_of(f, 1001), 0);
	assert_int_equal(f->w.st.adm_refusals, 1);
	assert_int_equal(f->w.clients.n, 1);
	fk.refuse = 0;
	/* Kicked in input: there until the callback returns, then leaves. */
	fk.n_ev = 0;
	fk.kick_on_input = true;
	assert_int_equal(rx(f, 1000), 0);
	assert_int_equal(fk.clients_in_input, 1);
	assert_int_equal(fk.n_ev, 2);
	assert_int_equal(fk.ev[1].what, 'l');
	assert_int_equal(fk.ev[1].id, a);
	assert_int_equal(fk.ev[1].why, RF_LEAVE_KICKED);
	assert_int_equal(f->w.clients.n, 0);
	assert_int_equal(f->w.st.clients, 0);
	fk.kick_on_input = false;
	/* The same address again: a new client, a new id, no old data. */
	assert_int_equal(rx(f, 1000), 0);
	assert_true(id_of(f, 1000) != a);
	assert_int_equal(rf_kick(fk.e, id_of(f, 1000)), -EPERM);
	/* Kicked in its own join: refused for the engine, after its leave. */
	fk.kick_in_join = true;
	fk.n_ev = 0;
	assert_int_equal(rx(f, 1002), -EPERM);
	assert_int_equal(fk.ev[0].what, 'j');
	assert_int_equal(fk.ev[1].what, 'l');
	assert_int_equal(fk.ev[1].why, RF_LEAVE_KICKED);
	assert_int_equal(id_of(f, 1002), 0);
	fk.kick_in_join = false;
	/* A leave that kicks another: each leaves once, never nested. */
	assert_int_equal(rx(f, 1003), 0);
	fk.kick_on_leave = id_of(f, 1003);
	fk.kick_on_input = true;
	fk.n_ev = 0;
	assert_int_equal(rx(f, 1000), 0);
	assert_int_equal(fk.n_ev, 3); /* input, two leaves */
	assert_int_equal(fk.ev[1].what, 'l');
	assert_int_equal(fk.ev[2].what, 'l');
	assert_int_equal(fk.ev[2].id, fk.kick_on_leave);
	assert_int_equal(fk.ev[2].why, RF_LEAVE_KICKED);
	assert_int_equal(f->w.clients.n, 0);
	fx_free(f);
}

static void test_timeout_and_eviction(void **state)
{
	struct fx *f;
	uint64_t a, b;

	(void)state;
	f = fx_new();
	for (uint16_t p = 0; p < MAXC; p++)
		assert_int_equal(rx(f, (uint16_t)(2000 + p)), 0);
	a = id_of(f, 2000);
	/* 2 s later all are idle enough to be evicted: the oldest goes. */
	fx_tick(f, 3 * SEC);
	for (uint16_t p = 1; p < MAXC; p++)
		assert_int_equal(rx(f, (uint16_t)(2000 + p)), 0);
	fk.n_ev = 0;
	assert_int_equal(rx(f, 3000), 0);
	assert_int_equal(fk.ev[0].what, 'l');
	assert_int_equal(fk.ev[0].id, a);
	assert_int_equal(fk.ev[0].why, RF_LEAVE_EVICTED);
	assert_int_equal(fk.ev[1].what, 'j');
	assert_int_equal(f->w.st.adm_evictions, 1);
	/* The rest goes silent: 3000 keeps talking. */
	b = id_of(f, 2001);
	fx_tick(f, 14 * SEC);
	assert_int_equal(rx(f, 3000), 0);
	fk.n_ev = 0;
	worker_end_window(&f->w);
	assert_int_equal(fk.n_ev, MAXC - 1);
	for (unsigned i = 0; i < fk.n_ev; i++) {
		assert_int_equal(fk.ev[i].what, 'l');
		assert_int_equal(fk.ev[i].why, RF_LEAVE_TIMEOUT);
	}
	assert_int_equal(f->w.clients.n, 1);
	assert_int_equal(f->w.st.clients, 1);
	assert_int_equal(id_of(f, 2001), 0);
	(void)b;
	fx_free(f);
}

static void test_end_session_and_drain(void **state)
{
	struct fx *f;

	(void)state;
	f = fx_new();
	assert_int_equal(rx(f, 1000), 0);
	assert_int_equal(rx(f, 1001), 0);
	assert_false(worker_end_tick(&f->w)); /* nothing asked */
	fk.target = id_of(f, 1000);
	worker_game_tick(&f->w);
	assert_int_equal(fk.send_ret[0], 0);
	assert_int_equal(fk.send_ret[1], -EINVAL);
	assert_int_equal(fk.send_ret[2], -ENOENT);
	assert_int_equal(fk.send_ret[3], 0);
	assert_int_equal(f->p.n_out, 2); /* to 1000, and to all but 1000 */
	fk.target = 0;
	fk.end_in_tick = true;
	worker_game_tick(&f->w);
	/* Not before the end of the tick: the tick's output goes first. */
	assert_int_equal(f->w.clients.n, 2);
	fk.n_ev = 0;
	assert_true(worker_end_tick(&f->w));
	assert_int_equal(fk.n_ev, 2);
	assert_int_equal(fk.ev[0].why, RF_LEAVE_SESSION_OVER);
	assert_int_equal(fk.ev[1].why, RF_LEAVE_SESSION_OVER);
	assert_int_equal(f->w.clients.n, 0);
	assert_int_equal(f->w.st.sessions_ended, 1);
	assert_false(game_host_done(&f->h)); /* not draining: play on */
	fk.end_in_tick = false;
	assert_false(worker_end_tick(&f->w));
	/* Drain: once; the session end then stops the worker. */
	assert_int_equal(rx(f, 1000), 0);
	fk.end_in_drain = true;
	assert_true(game_host_drain(&f->h, 5 * SEC));
	assert_true(game_host_drain(&f->h, 6 * SEC));
	assert_int_equal(fk.ev[fk.n_ev - 1].what, 'd');
	assert_int_equal(fk.ev[fk.n_ev - 1].id, 5 * SEC);
	assert_true(worker_end_tick(&f->w));
	assert_true(game_host_done(&f->h));
	fx_free(f);
}

static unsigned leaves_of(uint64_t id)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fk.n_ev; i++)
		n += fk.ev[i].what == 'l' && fk.ev[i].id == id;
	return n;
}

/* Found by fuzz_game: a client whose leave runs is kicked back from the
 * leave of a client it kicked; a refused joiner is kicked from the leave
 * of a client its join kicked. Neither may get a (second) leave. */
static void test_kicks_from_leaves(void **state)
{
	struct fx *f;
	uint64_t a, b, c;

	(void)state;
	f = fx_new();
	assert_int_equal(rx(f, 1000), 0);
	assert_int_equal(rx(f, 1001), 0);
	a = id_of(f, 1000);
	b = id_of(f, 1001);
	fk.pair[0] = a;
	fk.pair[1] = b;
	fk.end_in_tick = true;
	worker_game_tick(&f->w);
	fk.n_ev = 0;
	assert_true(worker_end_tick(&f->w));
	assert_int_equal(leaves_of(a), 1);
	assert_int_equal(leaves_of(b), 1);
	assert_int_equal(fk.n_ev, 2);
	assert_int_equal(f->w.clients.n, 0);
	fk.end_in_tick = false;
	fk.pair[0] = fk.pair[1] = 0;

	assert_int_equal(rx(f, 1002), 0);
	c = id_of(f, 1002);
	fk.join_kicks = c;
	fk.refuse = -EBUSY;
	fk.kick_last_join = true;
	fk.n_ev = 0;
	assert_int_equal(rx(f, 1003), -EPERM);
	assert_int_equal(leaves_of(c), 1);
	assert_int_equal(leaves_of(fk.last_join), 0);
	assert_int_equal(fk.n_ev, 2); /* the join, c's leave */
	assert_int_equal(f->w.clients.n, 0);
	fx_free(f);
}

static void test_no_drain(void **state)
{
	struct game_host h;
	struct rf_game t = fake_game;
	char why[GAME_HOST_WHY_MAX];

	(void)state;
	t.drain = NULL;
	assert_int_equal(game_host_load_table(&h, &t, "t", why, sizeof(why)), 0);
	assert_false(game_host_drain(&h, 1));
	game_host_unload(&h);
}

static void test_log_rate(void **state)
{
	struct fx *f;

	(void)state;
	fk.log_lines = 150;
	f = fx_new();
	assert_int_equal(n_logs, GAME_HOST_LOG_PER_SEC);
	assert_string_equal(log_seen[0], "game: bad?thing");
	/* A second on: the count of what was dropped, then lines again. */
	fx_tick(f, 2 * SEC + 1);
	worker_game_tick(&f->w);
	assert_int_equal(n_logs, GAME_HOST_LOG_PER_SEC + 1);
	assert_string_equal(log_seen[GAME_HOST_LOG_PER_SEC], "game: 50 lines suppressed");
	fx_free(f);
}

/* A resumed slot's clients join the module after its init. */
static void test_resume_joins(void **state)
{
	struct worker_params wp = { .max_clients = MAXC,
				    .client_timeout_s = 10,
				    .max_packet = 100,
				    .max_packets_per_tick = 8,
				    .tick_hz = 50,
				    .admission = RF_ADMISSION_OPEN };
	struct game_host_params gp = { .server = "srv", .args = "a=1", .tick_hz = 50 };
	struct fx *f;
	struct worker w;
	struct game_host h;
	char why[GAME_HOST_WHY_MAX];

	(void)state;
	f = fx_new();
	assert_int_equal(rx(f, 1000), 0);
	assert_int_equal(rx(f, 1001), 0);
	game_host_unload(&f->h);
	worker_free(&f->w);
	/* A new worker on the same slot. */
	fk.n_ev = 0;
	fk.refuse = 0;
	assert_int_equal(worker_init(&w, f->slot, &wp), 1);
	worker_tick_start(&w, 2 * SEC, EPOCH + 2 * SEC);
	assert_int_equal(w.clients.n, 2);
	assert_int_equal(game_host_load_table(&h, &fake_game, "fake.so", why, sizeof(why)), 0);
	assert_int_equal(game_host_start(&h, &w, &gp, why, sizeof(why)), 0);
	assert_int_equal(fk.n_ev, 2);
	assert_int_equal(fk.ev[0].what, 'j');
	assert_int_equal(fk.ev[1].what, 'j');
	game_host_unload(&h);
	worker_free(&w);
	/* And one whose module refuses them: the table empties. */
	fk.refuse = -1;
	assert_int_equal(worker_init(&w, f->slot, &wp), 1);
	assert_int_equal(game_host_load_table(&h, &fake_game, "fake.so", why, sizeof(why)), 0);
	assert_int_equal(game_host_start(&h, &w, &gp, why, sizeof(why)), 0);
	assert_int_equal(w.clients.n, 0);
	game_host_unload(&h);
	worker_free(&w);
	tick_plan_free(&f->p);
	free(f->slot);
	free(f);
}

/* The supervisor's side of the seqlock: seq odd while it writes. */
static void sess_begin(struct rf_slot *s)
{
	__atomic_store_n(&s->session.seq, s->session.seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void sess_end(struct rf_slot *s)
{
	__atomic_store_n(&s->session.seq, s->session.seq + 1, __ATOMIC_RELEASE);
}

static void sess_write(struct rf_slot *s, uint32_t state, uint64_t id, const char *meta)
{
	sess_begin(s);
	s->session.state = state;
	s->session.alloc_id = id;
	snprintf(s->session.meta, sizeof(s->session.meta), "%s", meta);
	sess_end(s);
}

static unsigned allocs(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fk.n_ev; i++)
		n += fk.ev[i].what == 'a';
	return n;
}

/* allocated: once per new alloc_id, with its meta; nothing for a state
 * without one, the same one again, or a release. */
static void test_session_allocated(void **state)
{
	struct fx *f;

	(void)state;
	f = fx_new();
	assert_int_equal(fk.idle_s, 7);
	assert_int_equal(game_host_session(&f->h), 0); /* never written */
	sess_write(f->slot, RF_SESSION_READY, 0, "");
	assert_int_equal(game_host_session(&f->h), 0);
	assert_int_equal(allocs(), 0);
	sess_write(f->slot, RF_SESSION_ALLOCATED, 5, "mode=duel\nmap=dust\n");
	assert_int_equal(game_host_session(&f->h), 1);
	assert_int_equal(allocs(), 1);
	assert_string_equal(fk.meta, "mode=duel\nmap=dust\n");
	assert_int_equal(f->h.alloc_id, 5);
	/* Output needs the tick's plan: refused; status and the end are fine. */
	assert_int_equal(fk.in_alloc[0], -EPERM);
	assert_int_equal(fk.in_alloc[1], -EPERM);
	assert_int_equal(fk.in_alloc[2], -EPERM);
	assert_int_equal(fk.in_alloc[3], 0);
	assert_string_equal(f->slot->game.status, "allocated");
	assert_int_equal(game_host_session(&f->h), 0); /* unchanged */
	/* Rewritten (since, meta) with the same id: not a new allocation. */
	sess_write(f->slot, RF_SESSION_ALLOCATED, 5, "other=1\n");
	assert_int_equal(game_host_session(&f->h), 0);
	sess_write(f->slot, RF_SESSION_READY, 5, "");
	assert_int_equal(game_host_session(&f->h), 0);
	assert_int_equal(allocs(), 1);
	/* The next match; no meta is "". allocated may end the session. */
	fk.end_in_alloc = true;
	sess_write(f->slot, RF_SESSION_ALLOCATED, 6, "");
	assert_int_equal(game_host_session(&f->h), 1);
	assert_int_equal(allocs(), 2);
	assert_string_equal(fk.meta, "");
	assert_int_equal(fk.in_alloc[4], 0);
	assert_true(worker_end_tick(&f->w));
	assert_int_equal(f->w.st.sessions_ended, 1);
	fx_free(f);
}

static unsigned leaves(enum rf_leave_reason why)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fk.n_ev; i++)
		n += fk.ev[i].what == 'l' && fk.ev[i].why == (int)why;
	return n;
}

/* A match the supervisor releases (back to ready, or straight to the
 * next allocation) ends in the worker too, uncounted: a module that
 * resets itself must not carry the old match's players into the next. */
static void test_session_released(void **state)
{
	struct fx *f;

	(void)state;
	f = fx_new();
	assert_int_equal(rx(f, 1000), 0);
	assert_int_equal(rx(f, 1001), 0);
	sess_write(f->slot, RF_SESSION_ALLOCATED, 5, "");
	assert_int_equal(game_host_session(&f->h), 1);
	fk.n_ev = 0;
	sess_write(f->slot, RF_SESSION_READY, 5, "");
	assert_int_equal(game_host_session(&f->h), 0);
	assert_int_equal(leaves(RF_LEAVE_SESSION_OVER), 2);
	assert_int_equal(f->w.clients.n, 0);
	assert_int_equal(f->w.st.sessions_ended, 0);
	/* Released and allocated again before the worker looked: the old
	 * players leave before the new match is told. */
	sess_write(f->slot, RF_SESSION_ALLOCATED, 6, "");
	assert_int_equal(game_host_session(&f->h), 1);
	assert_int_equal(rx(f, 1002), 0);
	fk.n_ev = 0;
	sess_write(f->slot, RF_SESSION_ALLOCATED, 7, "");
	assert_int_equal(game_host_session(&f->h), 1);
	assert_int_equal(fk.n_ev, 2);
	assert_int_equal(fk.ev[0].what, 'l');
	assert_int_equal(fk.ev[0].why, RF_LEAVE_SESSION_OVER);
	assert_int_equal(fk.ev[1].what, 'a');
	assert_int_equal(f->w.st.sessions_ended, 0);
	/* Ended by the module: counted once, and the supervisor's ready
	 * that follows ends nothing more. */
	assert_int_equal(rx(f, 1003), 0);
	fk.end_in_tick = true;
	worker_game_tick(&f->w);
	fk.end_in_tick = false;
	assert_true(worker_end_tick(&f->w));
	assert_int_equal(f->w.st.sessions_ended, 1);
	fk.n_ev = 0;
	sess_write(f->slot, RF_SESSION_READY, 7, "");
	assert_int_equal(game_host_session(&f->h), 0);
	assert_int_equal(fk.n_ev, 0);
	assert_int_equal(f->w.st.sessions_ended, 1);
	fx_free(f);
}

/* A reader that meets the writer mid-write retries on a later tick. */
static void test_session_seqlock(void **state)
{
	struct fx *f;

	(void)state;
	f = fx_new();
	sess_begin(f->slot);
	f->slot->session.state = RF_SESSION_ALLOCATED;
	f->slot->session.alloc_id = 9;
	assert_int_equal(game_host_session(&f->h), -EAGAIN);
	assert_int_equal(allocs(), 0);
	snprintf(f->slot->session.meta, RF_SLOT_META_MAX, "k=v\n");
	assert_int_equal(game_host_session(&f->h), -EAGAIN);
	sess_end(f->slot);
	assert_int_equal(game_host_session(&f->h), 1);
	assert_int_equal(allocs(), 1);
	assert_string_equal(fk.meta, "k=v\n");
	fx_free(f);
}

/* A module whose table ends before allocated is never called for it;
 * the engine still follows the allocation. Its flags reach the slot. */
static void test_session_old_table(void **state)
{
	struct worker_params wp = { .max_clients = MAXC,
				    .client_timeout_s = 10,
				    .max_packet = 100,
				    .max_packets_per_tick = 8,
				    .tick_hz = 50,
				    .admission = RF_ADMISSION_OPEN };
	struct game_host_params gp = { .server = "srv", .args = "a=1", .tick_hz = 50 };
	struct rf_game t = fake_game;
	struct rf_slot *slot = calloc(1, rf_slot_size(MAXC));
	struct worker w;
	struct game_host h;
	char why[GAME_HOST_WHY_MAX];

	(void)state;
	assert_non_null(slot);
	t.size = offsetof(struct rf_game, allocated);
	t.flags = RF_GAME_IDLE_SLEEP | RF_GAME_SELF_RESET;
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	assert_int_equal(game_host_load_table(&h, &t, "old.so", why, sizeof(why)), 0);
	assert_null(h.game.allocated);
	assert_int_equal(game_host_start(&h, &w, &gp, why, sizeof(why)), 0);
	assert_int_equal(slot->game.flags, RF_GAME_IDLE_SLEEP | RF_GAME_SELF_RESET);
	assert_int_equal(fk.idle_s, 60); /* the default when not given */
	sess_write(slot, RF_SESSION_ALLOCATED, 3, "a=b\n");
	assert_int_equal(game_host_session(&h), 1);
	assert_int_equal(allocs(), 0);
	game_host_unload(&h);
	worker_free(&w);
	free(slot);
}

/* A worker restarted during a session tells its fresh module once; a
 * fresh slot keeps the supervisor's session area. */
static void test_session_restart(void **state)
{
	struct worker_params wp = { .max_clients = MAXC,
				    .client_timeout_s = 10,
				    .max_packet = 100,
				    .max_packets_per_tick = 8,
				    .tick_hz = 50,
				    .admission = RF_ADMISSION_OPEN };
	struct game_host_params gp = { .server = "srv", .args = "a=1", .tick_hz = 50 };
	struct fx *f;
	struct worker w;
	struct game_host h;
	char why[GAME_HOST_WHY_MAX];

	(void)state;
	f = fx_new();
	sess_write(f->slot, RF_SESSION_ALLOCATED, 11, "m=1\n");
	assert_int_equal(game_host_session(&f->h), 1);
	game_host_unload(&f->h);
	worker_free(&f->w);
	fk.n_ev = 0;
	/* Made fresh (another max_clients' layout): the session area stays. */
	f->slot->max_clients = MAXC + 1;
	assert_int_equal(worker_init(&w, f->slot, &wp), 0);
	assert_int_equal(f->slot->session.alloc_id, 11);
	assert_int_equal(game_host_load_table(&h, &fake_game, "fake.so", why, sizeof(why)), 0);
	assert_int_equal(game_host_start(&h, &w, &gp, why, sizeof(why)), 0);
	assert_int_equal(game_host_session(&h), 1);
	assert_int_equal(game_host_session(&h), 0);
	assert_int_equal(allocs(), 1);
	assert_string_equal(fk.meta, "m=1\n");
	game_host_unload(&h);
	worker_free(&w);
	tick_plan_free(&f->p);
	free(f->slot);
	free(f);
}

static void test_session_meta(void **state)
{
	static char src[RF_SLOT_META_MAX], dst[RF_SLOT_META_MAX + 1];

	(void)state;
	game_host_meta(dst, "a=1\n\n\x01"
			    "b=\xff\r\nc=3");
	assert_string_equal(dst, "a=1\n?b=??\nc=3\n");
	game_host_meta(dst, "\n\n");
	assert_string_equal(dst, "");
	/* No NUL in the area: cut at its end, the line still ended. */
	memset(src, 'x', sizeof(src));
	game_host_meta(dst, src);
	assert_int_equal(strlen(dst), RF_SLOT_META_MAX);
	assert_int_equal(dst[RF_SLOT_META_MAX - 1], '\n');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_table_checks, setup),
		cmocka_unit_test_setup(test_load, setup),
		cmocka_unit_test_setup(test_init_and_values, setup),
		cmocka_unit_test_setup(test_init_failure, setup),
		cmocka_unit_test_setup(test_join_input_kick, setup),
		cmocka_unit_test_setup(test_timeout_and_eviction, setup),
		cmocka_unit_test_setup(test_end_session_and_drain, setup),
		cmocka_unit_test_setup(test_kicks_from_leaves, setup),
		cmocka_unit_test_setup(test_no_drain, setup),
		cmocka_unit_test_setup(test_log_rate, setup),
		cmocka_unit_test_setup(test_resume_joins, setup),
		cmocka_unit_test_setup(test_session_allocated, setup),
		cmocka_unit_test_setup(test_session_released, setup),
		cmocka_unit_test_setup(test_session_seqlock, setup),
		cmocka_unit_test_setup(test_session_old_table, setup),
		cmocka_unit_test_setup(test_session_restart, setup),
		cmocka_unit_test_setup(test_session_meta, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
