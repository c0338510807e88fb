// SPDX-License-Identifier: Apache-2.0
/* test_worker_out.c - the engine between admission and the plan: client
 * ids (generation per entry), worker_send()/worker_broadcast() with their
 * errors, budget and zero copy, the relay through worker_rx(), a game
 * other than the relay, the arrival-tick flood cap over a backlog, and GSO
 * failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/timeutil.h"
#include "worker/game_host.h"
#include "worker/tick.h"
#include "worker/worker.h"

/* The relay, run on w through the game host as ringfleet-worker does. */
static void relay_start(struct worker *w, struct game_host *h)
{
	struct game_host_params gp = { .server = "t", .args = "", .tick_hz = 50 };
	char why[GAME_HOST_WHY_MAX];

	assert_int_equal(game_host_load(h, "relay", why, sizeof(why)), 0);
	assert_int_equal(game_host_start(h, w, &gp, why, sizeof(why)), 0);
}

#define NB 256     /* receive buffers */
#define STRIDE 128 /* bytes between them: max_packet 100 + 1, rounded */
#define MS RF_NSEC_PER_MSEC
#define SEC RF_NSEC_PER_SEC
#define EPOCH (1700000000ull * SEC) /* CLOCK_REALTIME - CLOCK_MONOTONIC */

static uint8_t bufs[NB * STRIDE];
static char payload[4096];

struct fx {
	struct tick_plan p;
};

static uint8_t *buf(uint32_t i)
{
	return bufs + (size_t)i * STRIDE;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct tick_plan_cfg cfg = {
		.max_in = NB, .max_out = 65536, .max_clients = 16, .max_packet = 100
	};

	assert_non_null(fx);
	assert_int_equal(tick_plan_init(&fx->p, &cfg), 0);
	tick_plan_rx_region(&fx->p, bufs, STRIDE);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	tick_plan_free(&fx->p);
	free(fx);
	return 0;
}

static struct sockaddr_in v4(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static struct worker_params params(uint32_t max_clients, uint32_t per_tick)
{
	return (struct worker_params){ .max_clients = max_clients,
				       .client_timeout_s = 10,
				       .max_packet = 100,
				       .max_packets_per_tick = per_tick,
				       .gso_max_seg = 1472,
				       .tick_hz = 50,
				       .seed = 7,
				       .admission = RF_ADMISSION_OPEN };
}

/* Datagrams the plan sends to client idx. */
static uint32_t sent_to(const struct tick_plan *p, uint32_t idx)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < p->n_sends; k++)
		if (p->send[k].idx == idx)
			n += p->send[k].count;
	return n;
}

/* A tick's admission over decoded input, and the relay's broadcast of
 * what it keeps: by reference, to the clients in the table at the time. */
static void test_worker_admission(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	struct worker_params wp = params(2, 2);
	struct rf_slot *slot = calloc(1, rf_slot_size(2));
	struct worker w;
	struct game_host h;
	struct sockaddr_in a = v4(1000), b = v4(1001), c = v4(1002);
	const struct sockaddr *sa = (void *)&a, *sb = (void *)&b, *sc = (void *)&c;
	int ia, ib;

	assert_non_null(slot);
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	relay_start(&w, &h);
	worker_set_plan(&w, p);
	worker_tick_start(&w, 1 * SEC, EPOCH + 1 * SEC);
	assert_int_equal(worker_rx(&w, sa, sizeof(a), buf(0), 10, false, 0, 0), 0);
	assert_int_equal(worker_rx(&w, sb, sizeof(b), buf(1), 100, false, 1, 0), 0);
	assert_int_equal(worker_rx(&w, sa, sizeof(a), buf(2), 101, false, 2, 0), -EMSGSIZE);
	assert_int_equal(worker_rx(&w, sa, sizeof(a), buf(3), 5, true, 3, 0), -EMSGSIZE);
	assert_int_equal(worker_rx(&w, sa, sizeof(a), buf(4), 0, false, 4, 0), 0);
	assert_int_equal(worker_rx(&w, sa, sizeof(a), buf(5), 10, false, 5, 0), -EDQUOT);
	assert_int_equal(worker_rx(&w, sc, sizeof(c), buf(6), 10, false, 6, 0), -ENOSPC);
	assert_int_equal(worker_rx(&w, sb, sizeof(b), buf(7), 0, false, 7, 0), 0);

	assert_int_equal(w.st.pkts_in, 8);
	assert_int_equal(w.st.drop_truncated, 2);
	assert_int_equal(w.st.drop_flood, 1);
	assert_int_equal(w.st.drop_max_clients, 1);
	assert_int_equal(p->n_in, 4);
	assert_int_equal(p->cookie[0], 0);
	assert_int_equal(p->cookie[1], 1);
	assert_int_equal(p->cookie[2], 4);
	assert_int_equal(p->cookie[3], 7);
	/* The relay broadcast each by reference: a joined before all four,
	 * b after the first. */
	assert_int_equal(p->n_out, 4);
	assert_ptr_equal(p->iov[0].iov_base, buf(0));
	assert_ptr_equal(p->iov[1].iov_base, buf(1));
	assert_int_equal(p->out_used, 1 + 2 + 2 + 2);
	assert_int_equal(p->arena_used, 0);

	worker_end_window(&w);
	worker_plan(&w);
	ia = clients_find(&w.clients, sa, sizeof(a));
	ib = clients_find(&w.clients, sb, sizeof(b));
	assert_true(ia >= 0 && ib >= 0);
	assert_int_equal(sent_to(p, (uint32_t)ia), 4);
	assert_int_equal(sent_to(p, (uint32_t)ib), 3);
	assert_int_equal(slot->stats.clients, 0); /* published per tick only */
	worker_publish(&w);
	assert_int_equal(slot->stats.clients, 2);
	/* The next tick gives the flooder its allowance back. */
	tick_plan_reset(p);
	worker_tick_start(&w, 1 * SEC + 20 * MS, EPOCH + 1 * SEC + 20 * MS);
	assert_int_equal(worker_rx(&w, sa, sizeof(a), buf(0), 10, false, 0, 0), 0);
	assert_int_equal(worker_rx(&w, sa, sizeof(a), buf(1), 10, false, 1, 0), 0);
	assert_int_equal(worker_rx(&w, sa, sizeof(a), buf(2), 10, false, 2, 0), -EDQUOT);
	/* No plan to take it: dropped, the buffer back to the backend. */
	worker_set_plan(&w, NULL);
	assert_int_equal(worker_rx(&w, sb, sizeof(b), buf(3), 10, false, 3, 0), -ENOBUFS);
	assert_int_equal(w.st.drop_no_buffer, 1);
	game_host_unload(&h);
	worker_free(&w);
	free(slot);
}

/* Ids: generation << 32 | index, a new generation per new client of an
 * entry, stale ids refused; a resumed worker gives fresh ids. */
static void test_client_ids(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	struct worker_params wp = params(2, 8);
	struct rf_slot *slot = calloc(1, rf_slot_size(2));
	struct worker w;
	struct sockaddr_in a = v4(1000), b = v4(1001), c = v4(1002);
	uint64_t ida, idb, idc;
	int ia, ib, ic;

	assert_non_null(slot);
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	worker_set_plan(&w, p);
	assert_int_equal(worker_client_id(&w, 0), 0);
	assert_int_equal(worker_client_id(&w, 2), 0); /* out of range */
	assert_int_equal(worker_client_idx(&w, 0), -ENOENT);
	worker_tick_start(&w, 1 * SEC, EPOCH + 1 * SEC);
	assert_int_equal(worker_rx(&w, (void *)&a, sizeof(a), buf(0), 10, false, 0, 0), 0);
	ia = clients_find(&w.clients, (void *)&a, sizeof(a));
	assert_true(ia >= 0);
	ida = worker_client_id(&w, (uint32_t)ia);
	assert_int_equal(ida, (1ull << 32) | (uint32_t)ia);
	assert_int_equal(worker_client_idx(&w, ida), ia);
	assert_int_equal(worker_client_idx(&w, ida + (1ull << 32)), -ENOENT);
	assert_int_equal(worker_client_idx(&w, (1ull << 32) | 7), -ENOENT);
	assert_int_equal(worker_client_idx(&w, (uint32_t)ia), -ENOENT); /* gen 0 */
	/* a expires; c takes its entry: a new generation, a's id is dead. */
	tick_plan_reset(p);
	worker_tick_start(&w, 12 * SEC, EPOCH + 12 * SEC);
	worker_end_window(&w);
	assert_int_equal(w.clients.n, 0);
	assert_int_equal(worker_client_idx(&w, ida), -ENOENT);
	assert_int_equal(worker_client_id(&w, (uint32_t)ia), 0);
	assert_int_equal(worker_rx(&w, (void *)&c, sizeof(c), buf(0), 10, false, 0, 0), 0);
	assert_int_equal(worker_rx(&w, (void *)&b, sizeof(b), buf(1), 10, false, 1, 0), 0);
	ic = clients_find(&w.clients, (void *)&c, sizeof(c));
	ib = clients_find(&w.clients, (void *)&b, sizeof(b));
	assert_int_equal(ic, ia);
	idc = worker_client_id(&w, (uint32_t)ic);
	idb = worker_client_id(&w, (uint32_t)ib);
	assert_int_equal(idc >> 32, 2);
	assert_int_not_equal(idc, ida);
	assert_int_equal(worker_client_idx(&w, idc), ic);
	assert_int_equal(worker_client_idx(&w, ida), -ENOENT);
	assert_int_equal(worker_client_idx(&w, idb), ib);
	assert_true(worker_client_live(&w, (uint32_t)ic, 2));
	assert_false(worker_client_live(&w, (uint32_t)ic, 1));
	worker_free(&w);
	/* A resumed worker: the same clients, generation 1 again. */
	assert_int_equal(worker_init(&w, slot, &wp), 1);
	assert_int_equal(worker_client_id(&w, (uint32_t)ic), (1ull << 32) | (uint32_t)ic);
	assert_int_equal(worker_client_id(&w, (uint32_t)ib), (1ull << 32) | (uint32_t)ib);
	worker_free(&w);
	free(slot);
}

/* worker_send()/worker_broadcast(): errors, the budget counted per
 * destination and refused whole, copies of what no buffer holds. */
static void test_send_and_broadcast(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	struct tick_plan small;
	struct tick_plan_cfg cfg = {
		.max_in = NB, .max_out = 5, .max_clients = 4, .max_packet = 100
	};
	struct worker_params wp = params(4, 8);
	struct rf_slot *slot = calloc(1, rf_slot_size(4));
	struct worker w;
	int idx[3];

	assert_non_null(slot);
	wp.max_output_per_tick = 5;
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	assert_int_equal(w.max_output, 5);
	assert_int_equal(tick_plan_init(&small, &cfg), 0);
	tick_plan_rx_region(&small, bufs, STRIDE);
	/* Nothing to send to yet: a broadcast to nobody is no output. */
	worker_set_plan(&w, &small);
	assert_int_equal(worker_broadcast(&w, -1, "x", 1), 0);
	assert_int_equal(small.n_out, 0);
	/* Three clients, their datagrams in the big plan. */
	worker_set_plan(&w, p);
	worker_tick_start(&w, 1 * SEC, EPOCH + 1 * SEC);
	for (uint16_t i = 0; i < 3; i++) {
		struct sockaddr_in a = v4((uint16_t)(1000 + i));

		assert_int_equal(worker_rx(&w, (void *)&a, sizeof(a), buf(i), 10, false, i, 0), 0);
		idx[i] = clients_find(&w.clients, (void *)&a, sizeof(a));
	}
	worker_set_plan(&w, &small);
	assert_int_equal(worker_send(&w, 3, "x", 1), -ENOENT); /* empty entry */
	assert_int_equal(worker_send(&w, 9, "x", 1), -ENOENT);
	assert_int_equal(worker_send(&w, (uint32_t)idx[0], payload, 101), -EINVAL);
	assert_int_equal(worker_broadcast(&w, -1, payload, 101), -EINVAL);
	assert_int_equal(worker_broadcast(&w, -2, "x", 1), -EINVAL);
	assert_int_equal(worker_broadcast(&w, 4, "x", 1), -EINVAL);
	assert_int_equal(w.st.drop_output, 0);
	/* 3 of 5, then 3 more do not fit: refused whole. */
	assert_int_equal(worker_broadcast(&w, -1, "hello", 5), 0);
	assert_int_equal(worker_broadcast(&w, -1, "hello", 5), -ENOBUFS);
	assert_int_equal(w.st.drop_output, 1);
	/* Leaving one out costs one less: 2 more fit exactly. */
	assert_int_equal(worker_broadcast(&w, idx[1], "hi", 2), 0);
	assert_int_equal(small.out_used, 5);
	assert_int_equal(worker_send(&w, (uint32_t)idx[0], "x", 1), -ENOBUFS);
	assert_int_equal(w.st.drop_output, 2);
	/* Both were copies; the plan does not hold someone else's buffer. */
	assert_memory_equal(small.iov[0].iov_base, "hello", 5);
	assert_ptr_not_equal(small.iov[0].iov_base, (void *)"hello");
	worker_end_window(&w);
	worker_plan(&w);
	assert_int_equal(sent_to(&small, (uint32_t)idx[0]), 2);
	assert_int_equal(sent_to(&small, (uint32_t)idx[1]), 1);
	assert_int_equal(sent_to(&small, (uint32_t)idx[2]), 2);
	/* Unicast by reference from a buffer of this tick. */
	tick_plan_reset(&small);
	assert_int_equal(tick_plan_input(&small, buf(9), 50, 9), 0);
	assert_int_equal(worker_send(&w, (uint32_t)idx[2], buf(9) + 5, 20), 0);
	assert_ptr_equal(small.iov[0].iov_base, buf(9) + 5);
	/* No plan (every flight busy): refused and counted. */
	worker_set_plan(&w, NULL);
	assert_int_equal(worker_send(&w, (uint32_t)idx[0], "x", 1), -ENOBUFS);
	assert_int_equal(worker_broadcast(&w, -1, "x", 1), -ENOBUFS);
	assert_int_equal(w.st.drop_output, 4);
	worker_publish(&w);
	assert_int_equal(slot->stats.drop_output, 4);
	tick_plan_free(&small);
	worker_free(&w);
	free(slot);
}

/* A game other than the relay, on the public API through the host:
 * worker_rx() hands it what admission kept, worker_game_tick() runs its
 * tick, worker_plan() cuts what it queued into sends. */
struct odd {
	uint32_t inputs;
	uint32_t ticks;
	rf_client_id first; /* the first client to send, the only one to hear */
};

static int odd_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	static struct odd g;

	(void)e;
	(void)info;
	memset(&g, 0, sizeof(g));
	*state = &g;
	return 0;
}

static void odd_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	struct odd *g = state;

	g->inputs++;
	if (!g->first)
		g->first = c;
	if (len % 2)
		assert_int_equal(rf_send(e, g->first, data, len), 0);
}

static void odd_tick(rf_engine *e, void *state)
{
	struct odd *g = state;

	g->ticks++;
	assert_int_equal(rf_send(e, g->first, "tick", 3), 0);
}

static const struct rf_game odd_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "odd",
	.init = odd_init,
	.input = odd_input,
	.tick = odd_tick,
};

static void test_worker_game(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	struct game_host_params gp = { .server = "t", .args = "", .tick_hz = 50 };
	struct worker_params wp = params(2, 8);
	struct rf_slot *slot = calloc(1, rf_slot_size(2));
	struct worker w;
	struct game_host h;
	struct odd *g;
	struct sockaddr_in a = v4(1000), b = v4(1001);
	const struct sockaddr *sa = (void *)&a, *sb = (void *)&b;
	char why[GAME_HOST_WHY_MAX];

	assert_non_null(slot);
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	assert_int_equal(game_host_load_table(&h, &odd_game, "odd", why, sizeof(why)), 0);
	assert_int_equal(game_host_start(&h, &w, &gp, why, sizeof(why)), 0);
	g = h.state;
	worker_set_plan(&w, p);
	worker_tick_start(&w, 1 * SEC, EPOCH + 1 * SEC);
	assert_int_equal(worker_rx(&w, sa, sizeof(a), buf(0), 11, false, 0, 0), 0);
	assert_int_equal(worker_rx(&w, sb, sizeof(b), buf(1), 10, false, 1, 0), 0);
	assert_int_equal(worker_rx(&w, sb, sizeof(b), buf(2), 101, false, 2, 0), -EMSGSIZE);
	assert_int_equal(worker_rx(&w, sb, sizeof(b), buf(3), 11, false, 3, 0), 0);
	assert_int_equal(g->inputs, 3);
	assert_int_equal(p->n_in, 3); /* every kept datagram is held */
	assert_int_equal(p->n_out, 2);
	worker_end_window(&w);
	worker_game_tick(&w);
	worker_plan(&w);
	assert_int_equal(g->ticks, 1);
	/* 11 + 11 + 3 bytes to a: one GSO run; nothing to b. */
	assert_int_equal(tick_plan_sends(p), 1);
	assert_int_equal(p->send[0].idx, (uint32_t)g->first);
	assert_int_equal(p->send[0].count, 3);
	assert_int_equal(p->send[0].seg, 11);
	assert_ptr_equal(p->iov[p->send[0].first].iov_base, buf(0));
	assert_ptr_equal(p->iov[p->send[0].first + 1].iov_base, buf(3));
	game_host_unload(&h);
	worker_free(&w);
	free(slot);
}

/* Issue 10, finding 7: a worker that stalled 3 s drains a backlog of 10
 * clients x 150 ticks x 2 datagrams in one tick. Stamped, nothing is a
 * flood; a client that sent 20x the cap in every tick of the stall still
 * gets only the cap per tick; unstamped datagrams fall back to the draining
 * tick. A client new in a reused entry starts afresh. */
static void test_worker_backlog(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	struct worker_params wp = { .max_clients = 11,
				    .client_timeout_s = 10,
				    .max_packet = 100,
				    .max_packets_per_tick = 2,
				    .gso_max_seg = 1472,
				    .tick_hz = 50,
				    .seed = 7,
				    .admission = RF_ADMISSION_OPEN };
	struct rf_slot *slot = calloc(1, rf_slot_size(11));
	uint64_t now = 100 * SEC, start = now - 3 * SEC;
	uint32_t cookie = 0;
	struct worker w;

	assert_non_null(slot);
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	worker_set_plan(&w, p);
	worker_tick_start(&w, now, now + EPOCH);
	for (uint64_t t = 0; t < 150; t++) {
		for (uint16_t c = 0; c < 11; c++) {
			struct sockaddr_in a = v4((uint16_t)(2000 + c));
			uint64_t at = start + t * 20 * MS + c * MS + EPOCH;
			int n = c == 10 ? 40 : 2;

			for (int i = 0; i < n; i++)
				worker_rx(&w, (void *)&a, sizeof(a), payload, 10, false,
					  cookie++ % NB, at + (uint64_t)i);
			tick_plan_reset(p); /* room: only the counts matter here */
		}
	}
	assert_int_equal(w.st.pkts_in, 150 * (10 * 2 + 40));
	assert_int_equal(w.st.drop_flood, 150 * 38);
	assert_int_equal(w.st.drop_no_buffer, 0);
	/* Unstamped, the same backlog is all one tick's. */
	{
		struct sockaddr_in a = v4(3000);
		int admitted = 0;

		for (int i = 0; i < 300; i++)
			admitted += worker_rx(&w, (void *)&a, sizeof(a), payload, 10, false,
					      cookie++ % NB, 0) == 0;
		assert_int_equal(admitted, 0); /* table full: 11 clients */
		tick_plan_reset(p);
		worker_tick_start(&w, now + 11 * SEC, now + 11 * SEC + EPOCH);
		worker_end_window(&w); /* all 11 expire */
		assert_int_equal(w.clients.n, 0);
		for (int i = 0; i < 300; i++)
			admitted += worker_rx(&w, (void *)&a, sizeof(a), payload, 10, false,
					      cookie++ % NB, 0) == 0;
		assert_int_equal(admitted, 2);
	}
	worker_free(&w);
	free(slot);
}

static void test_worker_gso_failures(void **state)
{
	struct worker_params wp = { .max_clients = 2,
				    .client_timeout_s = 10,
				    .max_packet = 1400,
				    .max_packets_per_tick = 2,
				    .gso_max_seg = 1472,
				    .tick_hz = 50,
				    .seed = 7,
				    .admission = RF_ADMISSION_OPEN };
	struct rf_slot *slot = calloc(1, rf_slot_size(2));
	struct worker w;

	(void)state;
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	assert_int_equal(w.st.gso, 1);
	assert_true(worker_gso_error(-EINVAL) && worker_gso_error(-EIO) &&
		    worker_gso_error(-ENOPROTOOPT) && worker_gso_error(-EMSGSIZE));
	assert_false(worker_gso_error(-EAGAIN) || worker_gso_error(-ECONNREFUSED));
	/* A path MTU below the segment lowers the cap only. */
	worker_gso_failed(&w, -EMSGSIZE, 1400);
	assert_int_equal(w.gso_max_seg, 1399);
	assert_int_equal(w.st.gso, 1);
	worker_gso_failed(&w, -EINVAL, 1000);
	assert_int_equal(w.gso_max_seg, 0);
	assert_int_equal(w.st.gso, 0);
	assert_int_equal(w.gso_events, 2);
	worker_free(&w);
	free(slot);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_worker_admission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_and_broadcast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_game, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_backlog, setup, teardown),
		cmocka_unit_test(test_worker_gso_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
