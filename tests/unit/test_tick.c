/* test_tick.c - the per-tick logic without a ring: GSO batching, fan-out
 * to every client in order, the per-client cap and packet admission. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#include "worker/tick.h"
#include "worker/worker.h"

#define CAP 4096

static char payload[CAP * 8];

struct fx {
	struct tick_plan p;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(tick_plan_init(&fx->p, CAP, 64), 0);
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

/* Adds packets of the given sizes; each points to its own offset so that
 * order can be checked by pointer. */
static void add_sizes(struct tick_plan *p, const uint32_t *sizes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tick_plan_add(p, payload + i, sizes[i], (uint32_t)i), 0);
}

static void expect_batch(const struct tick_plan *p, uint32_t i, uint32_t first,
			 uint32_t count, uint32_t seg)
{
	assert_true(i < p->n_batches);
	assert_int_equal(p->batch[i].first, first);
	assert_int_equal(p->batch[i].count, count);
	assert_int_equal(p->batch[i].seg, seg);
}

static void test_equal_sizes_one_batch(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	uint32_t sizes[10];
	const struct cmsghdr *cm;
	uint16_t seg;

	for (int i = 0; i < 10; i++)
		sizes[i] = 100;
	add_sizes(p, sizes, 10);
	tick_plan_build(p, 1472);
	assert_int_equal(p->n_batches, 1);
	expect_batch(p, 0, 0, 10, 100);
	cm = &p->cmsg[0].align;
	assert_int_equal(cm->cmsg_level, SOL_UDP);
	assert_int_equal(cm->cmsg_type, UDP_SEGMENT);
	assert_int_equal(cm->cmsg_len, CMSG_LEN(sizeof(uint16_t)));
	memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
	assert_int_equal(seg, 100);
}

static void test_shorter_segment_ends_run(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	const uint32_t sizes[] = { 100, 100, 50, 100, 100 };

	add_sizes(p, sizes, 5);
	tick_plan_build(p, 1472);
	assert_int_equal(p->n_batches, 2);
	expect_batch(p, 0, 0, 3, 100);
	expect_batch(p, 1, 3, 2, 100);
}

static void test_longer_packet_starts_new_run(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	const uint32_t sizes[] = { 50, 100, 100, 200 };

	add_sizes(p, sizes, 4);
	tick_plan_build(p, 1472);
	assert_int_equal(p->n_batches, 3);
	expect_batch(p, 0, 0, 1, 0); /* alone: no GSO */
	expect_batch(p, 1, 1, 2, 100);
	expect_batch(p, 2, 3, 1, 0);
}

static void test_segment_cap(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	uint32_t sizes[140];

	for (int i = 0; i < 140; i++)
		sizes[i] = 10;
	add_sizes(p, sizes, 140);
	tick_plan_build(p, 1472);
	assert_int_equal(p->n_batches, 3);
	expect_batch(p, 0, 0, 64, 10);
	expect_batch(p, 1, 64, 64, 10);
	expect_batch(p, 2, 128, 12, 10);
}

static void test_byte_cap(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	uint32_t sizes[50];

	/* 46 * 1400 = 64400 fits, a 47th does not. */
	for (int i = 0; i < 50; i++)
		sizes[i] = 1400;
	add_sizes(p, sizes, 50);
	tick_plan_build(p, TICK_GSO_MAX_BYTES);
	assert_int_equal(p->n_batches, 2);
	expect_batch(p, 0, 0, 46, 1400);
	expect_batch(p, 1, 46, 4, 1400);
}

static void test_byte_cap_short_tail(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	uint32_t sizes[48];

	/* A shorter last segment joins only if the total still fits. */
	for (int i = 0; i < 46; i++)
		sizes[i] = 1400;
	sizes[46] = 1200; /* 64400 + 1200 > 65507 */
	sizes[47] = 1000;
	add_sizes(p, sizes, 48);
	tick_plan_build(p, TICK_GSO_MAX_BYTES);
	assert_int_equal(p->n_batches, 2);
	expect_batch(p, 0, 0, 46, 1400);
	expect_batch(p, 1, 46, 2, 1200);

	tick_plan_reset(p);
	sizes[46] = 1100; /* 64400 + 1100 = 65500 fits */
	add_sizes(p, sizes, 48);
	tick_plan_build(p, TICK_GSO_MAX_BYTES);
	assert_int_equal(p->n_batches, 2);
	expect_batch(p, 0, 0, 47, 1400);
	expect_batch(p, 1, 47, 1, 0);
}

static void test_zero_length_never_gso(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	const uint32_t sizes[] = { 100, 0, 100, 100, 0, 0, 100, 100 };

	add_sizes(p, sizes, 8);
	tick_plan_build(p, 1472);
	assert_int_equal(p->n_batches, 6);
	expect_batch(p, 0, 0, 1, 0);
	expect_batch(p, 1, 1, 1, 0);
	expect_batch(p, 2, 2, 2, 100);
	expect_batch(p, 3, 4, 1, 0);
	expect_batch(p, 4, 5, 1, 0);
	expect_batch(p, 5, 6, 2, 100);
}

static void test_gso_off_and_segment_limit(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	const uint32_t sizes[] = { 1500, 1500, 1472, 1472, 1472 };

	add_sizes(p, sizes, 5);
	tick_plan_build(p, 1472);
	assert_int_equal(p->n_batches, 3);
	expect_batch(p, 0, 0, 1, 0); /* above the segment limit */
	expect_batch(p, 1, 1, 1, 0);
	expect_batch(p, 2, 2, 3, 1472);

	tick_plan_build(p, 0);
	assert_int_equal(p->n_batches, 5);
	for (uint32_t i = 0; i < 5; i++)
		expect_batch(p, i, i, 1, 0);
}

static void test_plan_limits(void **state)
{
	struct tick_plan p;
	uint32_t dests[3] = { 0, 1, 2 };

	(void)state;
	assert_int_equal(tick_plan_init(&p, 2, 2), 0);
	assert_int_equal(tick_plan_add(&p, payload, 1, 0), 0);
	assert_int_equal(tick_plan_add(&p, payload, 1, 1), 0);
	assert_int_equal(tick_plan_add(&p, payload, 1, 2), -ENOSPC);
	assert_int_equal(tick_plan_set_dests(&p, dests, 3), -ENOSPC);
	assert_int_equal(tick_plan_set_dests(&p, dests, 2), 0);
	tick_plan_build(&p, 1472);
	assert_int_equal(tick_plan_sends(&p), 2);
	tick_plan_reset(&p);
	assert_int_equal(p.n_pkts, 0);
	assert_int_equal(tick_plan_sends(&p), 0);
	tick_plan_free(&p);
}

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

/* The kernel's rules for one GSO send. */
static void check_batch_rules(const struct tick_plan *p, const struct tick_batch *b,
			      uint32_t gso_max_seg)
{
	uint32_t total = 0;

	assert_true(b->count >= 1 && b->count <= TICK_GSO_MAX_SEGS);
	if (!b->seg) {
		assert_int_equal(b->count, 1);
		return;
	}
	assert_true(b->count > 1);
	assert_true(b->seg <= gso_max_seg);
	for (uint32_t i = 0; i < b->count; i++) {
		size_t len = p->iov[b->first + i].iov_len;

		assert_true(len > 0);
		if (i + 1 < b->count)
			assert_int_equal(len, b->seg);
		else
			assert_true(len <= b->seg);
		total += (uint32_t)len;
	}
	assert_true(total <= TICK_GSO_MAX_BYTES);
}

/* Whatever the sizes, every destination receives every packet exactly
 * once, in arrival order, and every send obeys the GSO rules. */
static void test_every_client_every_packet_in_order(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	static const uint32_t menu[] = { 0, 1, 64, 100, 100, 100, 1200, 1400, 1472, 1473, 9000 };
	uint32_t dests[7] = { 5, 3, 0, 9, 1, 2, 8 };

	for (int round = 0; round < 200; round++) {
		uint32_t n = 1 + rnd() % 600, gso = round % 5 == 0 ? 0 : 1472;

		tick_plan_reset(p);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t len = menu[rnd() % (sizeof(menu) / sizeof(menu[0]))];

			/* Runs of equal sizes are the common case. */
			if (i && rnd() % 3)
				len = (uint32_t)p->iov[i - 1].iov_len;
			assert_int_equal(tick_plan_add(p, payload + i, len, i), 0);
		}
		assert_int_equal(tick_plan_set_dests(p, dests, 7), 0);
		tick_plan_build(p, gso);
		assert_int_equal(tick_plan_sends(p), 7 * p->n_batches);
		for (uint32_t d = 0; d < p->n_dests; d++) {
			uint32_t next = 0;

			for (uint32_t b = 0; b < p->n_batches; b++) {
				const struct tick_batch *bt = &p->batch[b];

				check_batch_rules(p, bt, gso);
				for (uint32_t i = 0; i < bt->count; i++, next++)
					assert_ptr_equal(p->iov[bt->first + i].iov_base,
							 payload + next);
			}
			assert_int_equal(next, n);
		}
	}
}

static void test_flood_cap(void **state)
{
	struct tick_flood f;

	(void)state;
	assert_int_equal(tick_flood_init(&f, 4, 3), 0);
	for (int i = 0; i < 3; i++)
		assert_true(tick_flood_admit(&f, 0));
	assert_false(tick_flood_admit(&f, 0));
	assert_false(tick_flood_admit(&f, 0));
	/* Others keep their own allowance. */
	assert_true(tick_flood_admit(&f, 1));
	assert_true(tick_flood_admit(&f, 3));
	assert_false(tick_flood_admit(&f, 4)); /* out of range */
	tick_flood_next(&f);
	for (int i = 0; i < 3; i++)
		assert_true(tick_flood_admit(&f, 0));
	assert_false(tick_flood_admit(&f, 0));
	/* The generation wrap must not leave stale counts behind. */
	f.gen = UINT32_MAX;
	f.seen[2] = 1;
	f.count[2] = 3;
	tick_flood_next(&f);
	assert_int_equal(f.gen, 1);
	assert_true(tick_flood_admit(&f, 2));
	tick_flood_free(&f);
}

static struct sockaddr_in v4(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A tick's admission over decoded input: sources, sizes, limits. */
static void test_worker_admission(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	struct worker_params wp = { .max_clients = 2, .client_timeout_s = 10,
				    .max_packet = 100, .max_packets_per_tick = 2,
				    .gso_max_seg = 1472, .seed = 7,
				    .admission = RF_ADMISSION_OPEN };
	struct rf_slot *slot = calloc(1, rf_slot_size(2));
	struct worker w;
	struct sockaddr_in a = v4(1000), b = v4(1001), c = v4(1002);
	const struct sockaddr *sa = (void *)&a, *sb = (void *)&b, *sc = (void *)&c;

	assert_non_null(slot);
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	w.now_ns = 1;
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload, 10, false, 0), 0);
	assert_int_equal(worker_rx(&w, p, sb, sizeof(b), payload + 1, 100, false, 1), 0);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload + 2, 101, false, 2), -EMSGSIZE);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload + 3, 5, true, 3), -EMSGSIZE);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload + 4, 0, false, 4), 0);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload + 5, 10, false, 5), -EDQUOT);
	assert_int_equal(worker_rx(&w, p, sc, sizeof(c), payload + 6, 10, false, 6), -ENOSPC);
	assert_int_equal(worker_rx(&w, p, sb, sizeof(b), payload + 7, 0, false, 7), 0);

	assert_int_equal(w.st.pkts_in, 8);
	assert_int_equal(w.st.drop_truncated, 2);
	assert_int_equal(w.st.drop_flood, 1);
	assert_int_equal(w.st.drop_max_clients, 1);
	assert_int_equal(p->n_pkts, 4);
	assert_int_equal(p->cookie[0], 0);
	assert_int_equal(p->cookie[1], 1);
	assert_int_equal(p->cookie[2], 4);
	assert_int_equal(p->cookie[3], 7);

	worker_end_window(&w);
	worker_plan(&w, p);
	assert_int_equal(p->n_dests, 2);
	assert_int_equal(slot->stats.clients, 0); /* published per tick only */
	worker_publish(&w);
	assert_int_equal(slot->stats.clients, 2);
	/* A new window gives the flooder its allowance back. */
	tick_plan_reset(p);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload, 10, false, 0), 0);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload, 10, false, 0), 0);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload, 10, false, 0), -EDQUOT);
	worker_free(&w);
	free(slot);
}

static void test_worker_gso_failures(void **state)
{
	struct worker_params wp = { .max_clients = 2, .client_timeout_s = 10,
				    .max_packet = 1400, .max_packets_per_tick = 2,
				    .gso_max_seg = 1472, .seed = 7,
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
		cmocka_unit_test_setup_teardown(test_equal_sizes_one_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shorter_segment_ends_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longer_packet_starts_new_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_cap_short_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_never_gso, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gso_off_and_segment_limit, setup, teardown),
		cmocka_unit_test(test_plan_limits),
		cmocka_unit_test_setup_teardown(test_every_client_every_packet_in_order, setup,
						teardown),
		cmocka_unit_test(test_flood_cap),
		cmocka_unit_test_setup_teardown(test_worker_admission, setup, teardown),
		cmocka_unit_test(test_worker_gso_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
