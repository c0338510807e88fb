// SPDX-License-Identifier: Apache-2.0
/* test_clients.c - the client table: insert and lookup, full table,
 * expiry, index integrity under churn, and resuming from a slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "common/timeutil.h"
#include "worker/clients.h"
#include "worker/worker.h"

#define SEC RF_NSEC_PER_SEC

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return a;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return a;
}

#define SA(x) ((const struct sockaddr *)&(x))

struct fx {
	struct rf_slot_client tab[8];
	struct clients c;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(clients_init(&fx->c, fx->tab, 8, 42), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	clients_free(&fx->c);
	free(fx);
	return 0;
}

static void test_insert_lookup(void **state)
{
	struct fx *fx = *state;
	struct clients *c = &fx->c;
	struct sockaddr_in a = v4("10.0.0.1", 5000), a2 = v4("10.0.0.1", 5001);
	struct sockaddr_in6 b = v6("2001:db8::1", 5000), b2 = v6("2001:db8::1", 5000);
	int ia, ia2, ib;

	assert_int_equal(clients_find(c, SA(a), sizeof(a)), -ENOENT);
	ia = clients_touch(c, SA(a), sizeof(a), 1 * SEC);
	assert_true(ia >= 0);
	assert_int_equal(clients_touch(c, SA(a), sizeof(a), 2 * SEC), ia);
	assert_int_equal(fx->tab[ia].last_seen_ns, 2 * SEC);
	ia2 = clients_touch(c, SA(a2), sizeof(a2), 1 * SEC);
	ib = clients_touch(c, SA(b), sizeof(b), 1 * SEC);
	assert_true(ia2 >= 0 && ib >= 0 && ia2 != ia && ib != ia && ib != ia2);
	assert_int_equal(c->n, 3);
	/* The slot entry holds a clean, sendable address. */
	assert_int_equal(fx->tab[ia].addr.family, AF_INET);
	assert_int_equal(fx->tab[ia].addrlen, sizeof(struct sockaddr_in));
	assert_int_equal(fx->tab[ia].addr.v4.sin_port, htons(5000));
	assert_int_equal(fx->tab[ib].addrlen, sizeof(struct sockaddr_in6));
	/* Flow info is not part of the identity, the scope is. */
	b2.sin6_flowinfo = 77;
	assert_int_equal(clients_find(c, SA(b2), sizeof(b2)), ib);
	b2.sin6_scope_id = 3;
	assert_int_equal(clients_find(c, SA(b2), sizeof(b2)), -ENOENT);
}

static void test_bad_addresses(void **state)
{
	struct clients *c = &((struct fx *)*state)->c;
	struct sockaddr_in a = v4("10.0.0.1", 1);
	struct sockaddr_in6 b = v6("::1", 1);
	struct sockaddr un = { .sa_family = AF_UNIX };

	assert_int_equal(clients_touch(c, &un, sizeof(un), 0), -EAFNOSUPPORT);
	assert_int_equal(clients_touch(c, SA(a), sizeof(a) - 1, 0), -EAFNOSUPPORT);
	assert_int_equal(clients_touch(c, SA(b), sizeof(struct sockaddr_in), 0), -EAFNOSUPPORT);
	assert_int_equal(c->n, 0);
}

static void test_full_table(void **state)
{
	struct clients *c = &((struct fx *)*state)->c;
	struct sockaddr_in a;

	for (uint16_t i = 0; i < 8; i++) {
		a = v4("192.0.2.7", (uint16_t)(100 + i));
		assert_true(clients_touch(c, SA(a), sizeof(a), 0) >= 0);
	}
	a = v4("192.0.2.7", 99);
	assert_int_equal(clients_touch(c, SA(a), sizeof(a), 0), -ENOSPC);
	assert_int_equal(c->n, 8);
	/* Known clients are still found and refreshed. */
	a = v4("192.0.2.7", 103);
	assert_true(clients_touch(c, SA(a), sizeof(a), 5) >= 0);
}

static void test_expiry(void **state)
{
	struct fx *fx = *state;
	struct clients *c = &fx->c;
	struct sockaddr_in a = v4("10.0.0.1", 1), b = v4("10.0.0.2", 2), d = v4("10.0.0.3", 3);
	int ia, ib;

	ia = clients_touch(c, SA(a), sizeof(a), 1 * SEC);
	ib = clients_touch(c, SA(b), sizeof(b), 5 * SEC);
	assert_int_equal(clients_expire(c, 11 * SEC, 10 * SEC), 0); /* exactly 10 s */
	assert_int_equal(clients_expire(c, 11 * SEC + 1, 10 * SEC), 1);
	assert_int_equal(c->n, 1);
	assert_int_equal(clients_find(c, SA(a), sizeof(a)), -ENOENT);
	assert_int_equal(clients_find(c, SA(b), sizeof(b)), ib);
	assert_int_equal(fx->tab[ia].addr.family, 0);
	assert_int_equal(clients_list(c)[0], (uint32_t)ib);
	/* The freed entry is reused. */
	assert_int_equal(clients_touch(c, SA(d), sizeof(d), 12 * SEC), ia);
	/* A client seen "after" now (a resumed slot) is kept. */
	assert_int_equal(clients_expire(c, 11 * SEC, 1), 1);
	assert_int_equal(clients_find(c, SA(d), sizeof(d)), ia);
}

/* Random inserts and removals on a small, crowded table against a plain
 * model: every present address is found at its entry, absent ones not. */
static void test_churn(void **state)
{
	struct clients *c = &((struct fx *)*state)->c;
	int model[64];
	uint32_t seed = 99;

	for (int i = 0; i < 64; i++)
		model[i] = -1;
	for (int step = 0; step < 20000; step++) {
		struct sockaddr_in a;
		int k, ret;

		seed = seed * 1103515245u + 12345u;
		k = (int)((seed >> 8) % 64);
		a = v4("198.51.100.1", (uint16_t)(1000 + k));
		if (model[k] >= 0 && (seed & 0x10000)) {
			clients_remove(c, (uint32_t)model[k]);
			model[k] = -1;
		} else {
			ret = clients_touch(c, SA(a), sizeof(a), 0);
			if (model[k] >= 0)
				assert_int_equal(ret, model[k]);
			else if (c->n == 8 && ret == -ENOSPC)
				continue;
			else
				model[k] = ret;
			assert_true(ret >= 0);
		}
		if (step % 97)
			continue;
		uint32_t present = 0;

		for (int j = 0; j < 64; j++) {
			struct sockaddr_in q = v4("198.51.100.1", (uint16_t)(1000 + j));

			assert_int_equal(clients_find(c, SA(q), sizeof(q)),
					 model[j] >= 0 ? model[j] : -ENOENT);
			present += model[j] >= 0;
		}
		assert_int_equal(c->n, present);
	}
}

static void test_rebuild_from_slot(void **state)
{
	struct fx *fx = *state;
	struct clients fresh;
	struct sockaddr_in a = v4("10.1.1.1", 7), b = v4("10.1.1.2", 8);
	struct sockaddr_in6 d = v6("fe80::1", 9);
	int ia, ib, id;

	ia = clients_touch(&fx->c, SA(a), sizeof(a), 3 * SEC);
	ib = clients_touch(&fx->c, SA(b), sizeof(b), 4 * SEC);
	id = clients_touch(&fx->c, SA(d), sizeof(d), 5 * SEC);
	/* Damage the slot: a duplicate, a bad family, a bad length. */
	fx->tab[6] = fx->tab[ib];
	fx->tab[7].addr.family = AF_UNIX;
	fx->tab[5] = fx->tab[ia];
	fx->tab[5].addr.v4.sin_port = htons(1234);
	fx->tab[5].addrlen = 3;

	/* A restarted worker: new index, new hash key, same slot. */
	assert_int_equal(clients_init(&fresh, fx->tab, 8, 4242), 0);
	assert_int_equal(clients_rebuild(&fresh), 3);
	assert_int_equal(clients_find(&fresh, SA(a), sizeof(a)), ia);
	assert_int_equal(clients_find(&fresh, SA(b), sizeof(b)), ib);
	assert_int_equal(clients_find(&fresh, SA(d), sizeof(d)), id);
	assert_int_equal(fresh.tab[id].last_seen_ns, 5 * SEC);
	for (int i = 5; i < 8; i++)
		assert_int_equal(fx->tab[i].addr.family, 0);
	/* It keeps working: expiry and insertion. */
	assert_int_equal(clients_expire(&fresh, 13 * SEC + 1, 10 * SEC), 1);
	assert_int_equal(clients_find(&fresh, SA(a), sizeof(a)), -ENOENT);
	assert_true(clients_touch(&fresh, SA(a), sizeof(a), 14 * SEC) >= 0);
	assert_int_equal(fresh.n, 3);
	clients_free(&fresh);
}

/* The whole resume: a worker on a slot it filled before keeps counters
 * and clients; a slot of another layout starts over. */
static void test_worker_resume(void **state)
{
	struct worker_params wp = { .max_clients = 4,
				    .client_timeout_s = 10,
				    .max_packet = 100,
				    .max_packets_per_tick = 8,
				    .gso_max_seg = 1472,
				    .tick_hz = 50,
				    .seed = 1,
				    .admission = RF_ADMISSION_OPEN };
	struct rf_slot *slot = calloc(1, rf_slot_size(4));
	struct sockaddr_in a = v4("10.9.9.9", 77);
	char buf[4];
	struct tick_plan p;
	struct worker w;

	(void)state;
	assert_non_null(slot);
	assert_int_equal(tick_plan_init(&p, &(struct tick_plan_cfg){ .max_in = 16,
								     .max_out = 64,
								     .max_clients = 4,
								     .max_packet = 100 }),
			 0);
	memset(slot, 0xa5, rf_slot_size(4)); /* garbage: not a slot */
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	assert_int_equal(slot->magic, RF_SLOT_MAGIC);
	assert_int_equal(slot->max_clients, 4);
	assert_int_equal(w.clients.n, 0);
	worker_tick_start(&w, 1 * SEC, 1 * SEC);
	worker_set_plan(&w, &p);
	assert_int_equal(worker_rx(&w, SA(a), sizeof(a), buf, 4, false, 0, 0), 0);
	worker_tick_done(&w, 1000, 2 * SEC);
	worker_publish(&w);
	worker_free(&w);

	wp.seed = 2;
	assert_int_equal(worker_init(&w, slot, &wp), 1);
	assert_int_equal(w.clients.n, 1);
	assert_int_equal(w.st.pkts_in, 1);
	assert_int_equal(w.st.ticks, 1);
	assert_int_equal(w.st.tick_hist[0], 1);
	assert_true(clients_find(&w.clients, SA(a), sizeof(a)) >= 0);
	worker_free(&w);

	wp.max_clients = 2; /* another layout: start over */
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	assert_int_equal(w.clients.n, 0);
	assert_int_equal(w.st.pkts_in, 0);
	assert_int_equal(slot->stats.ticks, 0);
	worker_free(&w);
	tick_plan_free(&p);
	free(slot);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_churn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_from_slot, setup, teardown),
		cmocka_unit_test(test_worker_resume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
