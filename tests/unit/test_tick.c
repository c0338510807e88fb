// SPDX-License-Identifier: Apache-2.0
/* test_tick.c - the per-tick logic without a ring: the output plan
 * (per-client grouping, broadcasts with an exception and the join
 * sequence, stale clients, budget and arena, zero copy, GSO runs), the
 * per-client cap by arrival tick and receive timestamps on the tick grid. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <time.h>

#include "common/timeutil.h"
#include "worker/tick.h"

#define NB 1024     /* receive buffers */
#define STRIDE 9024 /* bytes between them */
#define NCLI 64

static uint8_t bufs[(size_t)NB * STRIDE];
static uint32_t gen[NCLI];
static uint64_t join[NCLI];

struct fx {
	struct tick_plan p;
};

static uint8_t *buf(uint32_t i)
{
	return bufs + (size_t)i * STRIDE;
}

static int plan_init(struct tick_plan *p, uint32_t max_out, uint32_t max_packet)
{
	struct tick_plan_cfg cfg = {
		.max_in = NB, .max_out = max_out, .max_clients = NCLI, .max_packet = max_packet
	};
	int ret = tick_plan_init(p, &cfg);

	if (ret == 0)
		tick_plan_rx_region(p, bufs, STRIDE);
	return ret;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(plan_init(&fx->p, 65536, 9000), 0);
	for (uint32_t i = 0; i < NCLI; i++) {
		gen[i] = 1;
		join[i] = 0;
	}
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

static const struct tick_out BCAST = { .target = TICK_NONE, .except = TICK_NONE };

/* Received datagram i, in buffer i, broadcast by reference. */
static void add_bcast(struct tick_plan *p, uint32_t i, uint32_t len)
{
	assert_int_equal(tick_plan_input(p, buf(i), len, i), 0);
	assert_int_equal(tick_plan_output(p, &BCAST, 1, buf(i), len), 0);
	if (len) /* an empty one is nowhere: "copied" */
		assert_ptr_equal(p->iov[p->n_out - 1].iov_base, buf(i));
}

static void add_sizes(struct tick_plan *p, const uint32_t *sizes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add_bcast(p, (uint32_t)i, sizes[i]);
}

/* The plan for client 0 alone. */
static void build1(struct tick_plan *p, uint32_t gso)
{
	static const uint32_t one[1] = { 0 };

	tick_plan_build(p, gso, one, 1, gen, join);
}

static void expect_send(const struct tick_plan *p, uint32_t k, uint32_t first, uint32_t count,
			uint32_t seg)
{
	assert_true(k < p->n_sends);
	assert_int_equal(p->send[k].first, first);
	assert_int_equal(p->send[k].count, count);
	assert_int_equal(p->send[k].seg, seg);
}

static void test_equal_sizes_one_send(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	uint32_t sizes[10];
	const struct cmsghdr *cm;
	uint16_t seg;

	for (int i = 0; i < 10; i++)
		sizes[i] = 100;
	add_sizes(p, sizes, 10);
	build1(p, 1472);
	assert_int_equal(p->n_sends, 1);
	expect_send(p, 0, 0, 10, 100);
	assert_int_equal(p->send[0].idx, 0);
	assert_int_equal(p->send[0].gen, 1);
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
	build1(p, 1472);
	assert_int_equal(p->n_sends, 2);
	expect_send(p, 0, 0, 3, 100);
	expect_send(p, 1, 3, 2, 100);
}

static void test_longer_packet_starts_new_run(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	const uint32_t sizes[] = { 50, 100, 100, 200 };

	add_sizes(p, sizes, 4);
	build1(p, 1472);
	assert_int_equal(p->n_sends, 3);
	expect_send(p, 0, 0, 1, 0); /* alone: no GSO */
	expect_send(p, 1, 1, 2, 100);
	expect_send(p, 2, 3, 1, 0);
}

static void test_segment_cap(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	uint32_t sizes[140];

	for (int i = 0; i < 140; i++)
		sizes[i] = 10;
	add_sizes(p, sizes, 140);
	build1(p, 1472);
	assert_int_equal(p->n_sends, 3);
	expect_send(p, 0, 0, 64, 10);
	expect_send(p, 1, 64, 64, 10);
	expect_send(p, 2, 128, 12, 10);
}

static void test_byte_cap(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	uint32_t sizes[50];

	/* 46 * 1400 = 64400 fits, a 47th does not. */
	for (int i = 0; i < 50; i++)
		sizes[i] = 1400;
	add_sizes(p, sizes, 50);
	build1(p, TICK_GSO_MAX_BYTES);
	assert_int_equal(p->n_sends, 2);
	expect_send(p, 0, 0, 46, 1400);
	expect_send(p, 1, 46, 4, 1400);
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
	build1(p, TICK_GSO_MAX_BYTES);
	assert_int_equal(p->n_sends, 2);
	expect_send(p, 0, 0, 46, 1400);
	expect_send(p, 1, 46, 2, 1200);

	tick_plan_reset(p);
	sizes[46] = 1100; /* 64400 + 1100 = 65500 fits */
	add_sizes(p, sizes, 48);
	build1(p, TICK_GSO_MAX_BYTES);
	assert_int_equal(p->n_sends, 2);
	expect_send(p, 0, 0, 47, 1400);
	expect_send(p, 1, 47, 1, 0);
}

static void test_zero_length_never_gso(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	const uint32_t sizes[] = { 100, 0, 100, 100, 0, 0, 100, 100 };

	add_sizes(p, sizes, 8);
	build1(p, 1472);
	assert_int_equal(p->n_sends, 6);
	expect_send(p, 0, 0, 1, 0);
	expect_send(p, 1, 1, 1, 0);
	expect_send(p, 2, 2, 2, 100);
	expect_send(p, 3, 4, 1, 0);
	expect_send(p, 4, 5, 1, 0);
	expect_send(p, 5, 6, 2, 100);
}

static void test_gso_off_and_segment_limit(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	const uint32_t sizes[] = { 1500, 1500, 1472, 1472, 1472 };

	add_sizes(p, sizes, 5);
	build1(p, 1472);
	assert_int_equal(p->n_sends, 3);
	expect_send(p, 0, 0, 1, 0); /* above the segment limit */
	expect_send(p, 1, 1, 1, 0);
	expect_send(p, 2, 2, 3, 1472);

	build1(p, 0);
	assert_int_equal(p->n_sends, 5);
	for (uint32_t i = 0; i < 5; i++)
		expect_send(p, i, i, 1, 0);
}

static void test_plan_limits(void **state)
{
	struct tick_plan p;
	struct tick_plan_cfg cfg = {
		.max_in = 2, .max_out = 4, .max_clients = 4, .max_packet = 100
	};
	static const uint32_t all[3] = { 0, 1, 2 };

	(void)state;
	assert_int_equal(tick_plan_init(&p, &cfg), 0);
	assert_int_equal(tick_plan_input(&p, buf(0), 1, 0), 0);
	assert_int_equal(tick_plan_input(&p, buf(1), 1, 1), 0);
	assert_int_equal(tick_plan_input(&p, buf(2), 1, 2), -ENOSPC);
	/* The budget counts destinations: 3 + 2 > 4, refused whole. */
	assert_int_equal(tick_plan_output(&p, &BCAST, 3, "abc", 3), 0);
	assert_int_equal(tick_plan_output(&p, &BCAST, 2, "abc", 3), -ENOBUFS);
	assert_int_equal(p.n_out, 1);
	assert_int_equal(p.out_used, 3);
	assert_int_equal(tick_plan_output(&p, &BCAST, 1, "abc", 3), 0);
	assert_int_equal(tick_plan_output(&p, &BCAST, 1, "abc", 3), -ENOBUFS);
	tick_plan_build(&p, 1472, all, 2, gen, join);
	assert_int_equal(tick_plan_sends(&p), 2); /* one GSO send each */
	tick_plan_reset(&p);
	assert_int_equal(p.n_in, 0);
	assert_int_equal(p.n_out, 0);
	assert_int_equal(p.out_used, 0);
	assert_int_equal(tick_plan_sends(&p), 0);
	tick_plan_free(&p);
	cfg.max_out = 0;
	assert_int_equal(tick_plan_init(&p, &cfg), -EINVAL);
}

/* The arena holds min(max_out, 1024) datagrams of max_packet (rounded to
 * 64 bytes); a copy that does not fit is refused, nothing queued. */
static void test_arena_full(void **state)
{
	struct tick_plan p;
	static uint8_t data[256];

	(void)state;
	for (uint32_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	assert_int_equal(plan_init(&p, 3, 100), 0);
	assert_int_equal(p.arena_cap, 3 * 128);
	assert_int_equal(tick_plan_output(&p, &BCAST, 1, data, 200), 0);
	assert_int_equal(tick_plan_output(&p, &BCAST, 1, data, 185), -ENOBUFS);
	assert_int_equal(p.n_out, 1);
	assert_int_equal(p.out_used, 1);
	assert_int_equal(tick_plan_output(&p, &BCAST, 1, data + 1, 184), 0);
	assert_int_equal(p.arena_used, 384);
	assert_memory_equal(p.iov[1].iov_base, data + 1, 184);
	/* A reference needs no arena room. */
	assert_int_equal(tick_plan_input(&p, buf(5), 100, 5), 0);
	assert_int_equal(tick_plan_output(&p, &BCAST, 1, buf(5), 100), 0);
	assert_ptr_equal(p.iov[2].iov_base, buf(5));
	tick_plan_reset(&p);
	assert_int_equal(p.arena_used, 0);
	tick_plan_free(&p);
	/* Big budgets cap the arena at 1024 datagrams. */
	assert_int_equal(plan_init(&p, 65536, 1400), 0);
	assert_int_equal(p.arena_cap, 1024 * 1408);
	tick_plan_free(&p);
}

/* Zero copy only for bytes in one buffer this plan holds now. */
static void test_zero_copy_vs_copy(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	struct tick_plan bare;

	memset(buf(3), 'x', STRIDE);
	memset(buf(4), 'y', STRIDE);
	assert_int_equal(tick_plan_input(p, buf(3), 100, 3), 0);
	assert_true(tick_plan_holds(p, buf(3), 100));
	assert_true(tick_plan_holds(p, buf(3) + 10, 50));
	assert_true(tick_plan_holds(p, buf(3) + STRIDE - 1, 1));
	assert_false(tick_plan_holds(p, buf(3) + STRIDE - 1, 2)); /* into buffer 4 */
	assert_false(tick_plan_holds(p, buf(4), 10));             /* not this plan's */
	assert_false(tick_plan_holds(p, (uint8_t *)((uintptr_t)bufs - 1), 1));
	assert_false(tick_plan_holds(p, buf(NB), 1)); /* past the region */
	assert_false(tick_plan_holds(p, "abc", 3));
	assert_false(tick_plan_holds(p, buf(3), 0));

	assert_int_equal(tick_plan_output(p, &BCAST, 1, buf(3) + 10, 50), 0);
	assert_ptr_equal(p->iov[0].iov_base, buf(3) + 10);
	assert_int_equal(p->arena_used, 0);
	assert_int_equal(tick_plan_output(p, &BCAST, 1, buf(4), 10), 0);
	assert_ptr_equal(p->iov[1].iov_base, p->arena);
	assert_memory_equal(p->iov[1].iov_base, buf(4), 10);
	assert_int_equal(tick_plan_output(p, &BCAST, 1, buf(3) + STRIDE - 5, 10), 0);
	assert_ptr_equal(p->iov[2].iov_base, p->arena + 10);
	assert_int_equal(p->iov[2].iov_len, 10);
	/* The next tick's plan no longer holds buffer 3. */
	tick_plan_reset(p);
	assert_false(tick_plan_holds(p, buf(3), 100));
	assert_int_equal(tick_plan_input(p, buf(3), 100, 3), 0);
	assert_true(tick_plan_holds(p, buf(3), 100));
	/* A plan never told where the buffers are knows only its last
	 * input's bytes. */
	assert_int_equal(tick_plan_init(&bare, &(struct tick_plan_cfg){ NB, 16, NCLI, 100 }), 0);
	assert_int_equal(tick_plan_input(&bare, buf(3), 100, 3), 0);
	assert_int_equal(tick_plan_input(&bare, buf(4), 100, 4), 0);
	assert_true(tick_plan_holds(&bare, buf(4), 100));
	assert_true(tick_plan_holds(&bare, buf(4) + 99, 1));
	assert_false(tick_plan_holds(&bare, buf(4) + 99, 2));
	assert_false(tick_plan_holds(&bare, buf(3), 100));
	tick_plan_free(&bare);
}

static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

/* The kernel's rules for one GSO send. */
static void check_send_rules(const struct tick_plan *p, const struct tick_send *s,
			     uint32_t gso_max_seg)
{
	uint32_t total = 0;

	assert_true(s->count >= 1 && s->count <= TICK_GSO_MAX_SEGS);
	if (!s->seg) {
		assert_int_equal(s->count, 1);
		return;
	}
	assert_true(s->count > 1);
	assert_true(s->seg <= gso_max_seg);
	for (uint32_t i = 0; i < s->count; i++) {
		size_t len = p->iov[s->first + i].iov_len;

		assert_true(len > 0);
		if (i + 1 < s->count)
			assert_int_equal(len, s->seg);
		else
			assert_true(len <= s->seg);
		total += (uint32_t)len;
	}
	assert_true(total <= TICK_GSO_MAX_BYTES);
}

/* Checks that client c's sends are the contiguous sends [*k, ...) and
 * carry exactly want[0..n) in order. */
static void expect_client(const struct tick_plan *p, uint32_t *k, uint32_t c, uint32_t gso,
			  void *const *want, uint32_t n)
{
	uint32_t got = 0;

	while (*k < p->n_sends && p->send[*k].idx == c) {
		const struct tick_send *s = &p->send[*k];

		assert_int_equal(s->gen, gen[c]);
		check_send_rules(p, s, gso);
		for (uint32_t i = 0; i < s->count; i++, got++) {
			assert_true(got < n);
			if (got >= n) /* unreachable; tells the analyzer */
				return;
			assert_ptr_equal(p->iov[s->first + i].iov_base, want[got]);
		}
		(*k)++;
	}
	assert_int_equal(got, n);
}

/* Whatever the sizes, every client receives every broadcast exactly once,
 * in order, every send obeys the GSO rules, and a client's sends are
 * together. */
static void test_every_client_every_packet_in_order(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	static const uint32_t menu[] = { 1, 64, 100, 100, 100, 1200, 1400, 1472, 1473, 9000 };
	static const uint32_t dests[7] = { 5, 3, 0, 9, 1, 2, 8 };
	static void *want[NB];

	for (int round = 0; round < 200; round++) {
		uint32_t n = 1 + rnd() % 600, gso = round % 5 == 0 ? 0 : 1472, k = 0;

		tick_plan_reset(p);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t len = menu[rnd() % (sizeof(menu) / sizeof(menu[0]))];

			/* Runs of equal sizes are the common case. */
			if (i && rnd() % 3)
				len = (uint32_t)p->iov[i - 1].iov_len;
			add_bcast(p, i, len);
			want[i] = buf(i);
		}
		tick_plan_build(p, gso, dests, 7, gen, join);
		for (uint32_t d = 0; d < 7; d++)
			expect_client(p, &k, dests[d], gso, want, n);
		assert_int_equal(k, p->n_sends);
	}
}

static void uni(struct tick_plan *p, uint32_t target, uint32_t g, uint32_t i, uint32_t len)
{
	struct tick_out o = { .target = target, .gen = g, .except = TICK_NONE };

	assert_int_equal(tick_plan_input(p, buf(i), len, i), 0);
	assert_int_equal(tick_plan_output(p, &o, 1, buf(i), len), 0);
}

static void bcast(struct tick_plan *p, uint64_t seq, uint32_t except, uint32_t i, uint32_t len)
{
	struct tick_out o = { .seq = seq, .target = TICK_NONE, .except = except };

	assert_int_equal(tick_plan_input(p, buf(i), len, i), 0);
	assert_int_equal(tick_plan_output(p, &o, 1, buf(i), len), 0);
}

/* Unicasts and broadcasts interleaved: each client gets its own in queue
 * order, its sends together, in the order of the client list. */
static void test_per_client_grouping(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	static const uint32_t list[3] = { 3, 1, 2 };
	uint32_t k = 0;

	uni(p, 1, 1, 0, 100);
	bcast(p, 0, TICK_NONE, 1, 100);
	uni(p, 3, 1, 2, 100);
	uni(p, 1, 1, 3, 100);
	bcast(p, 0, TICK_NONE, 4, 100);
	uni(p, 1, 1, 5, 60); /* shorter: ends client 1's run */
	tick_plan_build(p, 1472, list, 3, gen, join);
	expect_client(p, &k, 3, 1472, (void *[]){ buf(1), buf(2), buf(4) }, 3);
	expect_client(p, &k, 1, 1472, (void *[]){ buf(0), buf(1), buf(3), buf(4), buf(5) }, 5);
	expect_client(p, &k, 2, 1472, (void *[]){ buf(1), buf(4) }, 2);
	assert_int_equal(k, p->n_sends);
	assert_int_equal(p->n_sends, 3); /* each client's run is one GSO send */
	assert_int_equal(p->send[1].count, 5);
	assert_int_equal(p->send[1].seg, 100);
	/* The scratch is clean for the next build: unicasts only. */
	tick_plan_reset(p);
	uni(p, 2, 1, 0, 100);
	k = 0;
	tick_plan_build(p, 1472, list, 3, gen, join);
	expect_client(p, &k, 2, 1472, (void *[]){ buf(0) }, 1);
	assert_int_equal(k, p->n_sends);
}

static void test_broadcast_except(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	static const uint32_t list[3] = { 0, 1, 2 };
	uint32_t k = 0;

	bcast(p, 0, 1, 0, 100);
	bcast(p, 0, TICK_NONE, 1, 100);
	bcast(p, 0, 2, 2, 100);
	tick_plan_build(p, 1472, list, 3, gen, join);
	expect_client(p, &k, 0, 1472, (void *[]){ buf(0), buf(1), buf(2) }, 3);
	expect_client(p, &k, 1, 1472, (void *[]){ buf(1), buf(2) }, 2);
	expect_client(p, &k, 2, 1472, (void *[]){ buf(0), buf(1) }, 2);
	assert_int_equal(k, p->n_sends);
}

/* A client that joined after a broadcast was queued does not get it. */
static void test_join_sequence(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	static const uint32_t list[3] = { 0, 5, 6 };
	uint32_t k = 0;

	join[5] = 3; /* the 3rd join of the worker's life */
	join[6] = 4;
	bcast(p, 2, TICK_NONE, 0, 100);
	bcast(p, 3, TICK_NONE, 1, 100);
	bcast(p, 4, TICK_NONE, 2, 100);
	uni(p, 6, 1, 3, 100);
	tick_plan_build(p, 1472, list, 3, gen, join);
	expect_client(p, &k, 0, 1472, (void *[]){ buf(0), buf(1), buf(2) }, 3);
	expect_client(p, &k, 5, 1472, (void *[]){ buf(1), buf(2) }, 2);
	expect_client(p, &k, 6, 1472, (void *[]){ buf(2), buf(3) }, 2);
	assert_int_equal(k, p->n_sends);
}

/* Output for a client gone before the build, or whose index a newcomer
 * took (another generation), goes nowhere. */
static void test_removed_and_reused(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	static const uint32_t list[2] = { 0, 4 };
	uint32_t k = 0;

	uni(p, 4, 1, 0, 100); /* for the old client of entry 4 */
	uni(p, 7, 1, 1, 100); /* entry 7 left */
	bcast(p, 0, TICK_NONE, 2, 100);
	uni(p, 4, 2, 3, 100); /* the newcomer's */
	gen[4] = 2;
	join[4] = 1;
	tick_plan_build(p, 1472, list, 2, gen, join);
	expect_client(p, &k, 0, 1472, (void *[]){ buf(2) }, 1);
	expect_client(p, &k, 4, 1472, (void *[]){ buf(3) }, 1);
	assert_int_equal(k, p->n_sends);
}

/* Any mix of unicasts (some stale), broadcasts with exceptions and
 * joins: every client gets exactly what a direct reading of the rules
 * gives it, in order, in GSO sends that obey the kernel's rules. */
static void test_random_mix(void **state)
{
	struct tick_plan *p = &((struct fx *)*state)->p;
	static const uint32_t menu[] = { 1, 100, 100, 100, 1200, 1472, 1473 };
	static void *want[NB];
	uint32_t list[16];

	for (int round = 0; round < 300; round++) {
		uint32_t n = 1 + rnd() % 300, nl = 0, k = 0, gso = round % 7 == 0 ? 0 : 1472;
		uint64_t seq = 0;

		tick_plan_reset(p);
		for (uint32_t c = 0; c < 16; c++) {
			gen[c] = 1 + rnd() % 2;
			join[c] = rnd() % 4 ? 0 : 1 + rnd() % 20;
			if (rnd() % 5)
				list[nl++] = c;
		}
		for (uint32_t i = 0; i < n; i++) {
			uint32_t len = menu[rnd() % (sizeof(menu) / sizeof(menu[0]))];

			if (i && rnd() % 3)
				len = (uint32_t)p->iov[i - 1].iov_len;
			seq += rnd() % 8 == 0;
			if (rnd() % 2)
				bcast(p, seq, rnd() % 3 ? TICK_NONE : rnd() % 17, i, len);
			else
				uni(p, rnd() % 17, 1 + rnd() % 2, i, len);
		}
		tick_plan_build(p, gso, list, nl, gen, join);
		for (uint32_t l = 0; l < nl; l++) {
			uint32_t c = list[l], m = 0;

			for (uint32_t i = 0; i < n; i++) {
				const struct tick_out *o = &p->out[i];

				if (o->target == TICK_NONE ? o->except != c && join[c] <= o->seq
							   : o->target == c && o->gen == gen[c])
					want[m++] = buf(i);
			}
			expect_client(p, &k, c, gso, want, m);
		}
		assert_int_equal(k, p->n_sends);
	}
}

static void test_flood_cap(void **state)
{
	struct tick_flood f;

	(void)state;
	assert_int_equal(tick_flood_init(&f, 4, 3), 0);
	for (int i = 0; i < 3; i++)
		assert_true(tick_flood_admit(&f, 0, 10));
	assert_false(tick_flood_admit(&f, 0, 10));
	assert_false(tick_flood_admit(&f, 0, 10));
	/* Others keep their own allowance. */
	assert_true(tick_flood_admit(&f, 1, 10));
	assert_true(tick_flood_admit(&f, 3, 10));
	assert_false(tick_flood_admit(&f, 4, 10)); /* out of range */
	/* The next arrival tick has a full allowance. */
	for (int i = 0; i < 3; i++)
		assert_true(tick_flood_admit(&f, 0, 11));
	assert_false(tick_flood_admit(&f, 0, 11));
	/* Going back (a clock step) counts against the latest tick. */
	assert_false(tick_flood_admit(&f, 0, 9));
	assert_false(tick_flood_admit(&f, 0, 0));
	/* A new client in the entry starts afresh. */
	tick_flood_forget(&f, 0);
	assert_true(tick_flood_admit(&f, 0, 11));
	tick_flood_forget(&f, 4); /* out of range: ignored */
	tick_flood_free(&f);
	assert_int_equal(tick_flood_init(&f, 0, 3), -EINVAL);
	assert_int_equal(tick_flood_init(&f, 3, 0), -EINVAL);
}

/* A backlog spanning many arrival ticks, drained at once, is the cap per
 * arrival tick: a client at the allowed rate loses nothing, one at 20x
 * that rate still gets exactly the cap of each tick it sent in. */
static void test_flood_backlog_by_arrival(void **state)
{
	struct tick_flood f;
	uint32_t ok = 0, flood_ok = 0;

	(void)state;
	assert_int_equal(tick_flood_init(&f, 2, 4), 0);
	for (uint64_t t = 1000; t < 1150; t++) {
		for (int i = 0; i < 4; i++)
			ok += tick_flood_admit(&f, 0, t);
		for (int i = 0; i < 80; i++)
			flood_ok += tick_flood_admit(&f, 1, t);
	}
	assert_int_equal(ok, 150 * 4);
	assert_int_equal(flood_ok, 150 * 4);
	/* Ticks near the top of the range work like any other. */
	assert_true(tick_flood_admit(&f, 0, UINT64_MAX - 1));
	assert_true(tick_flood_admit(&f, 0, UINT64_MAX));
	tick_flood_free(&f);
}

#define MS RF_NSEC_PER_MSEC
#define SEC RF_NSEC_PER_SEC
#define EPOCH (1700000000ull * SEC) /* CLOCK_REALTIME - CLOCK_MONOTONIC */

static void test_clock_arrival(void **state)
{
	struct tick_clock c;
	uint64_t now = 1000 * SEC + 5 * MS + 3 * MS; /* tick 50000 + 3 ms */

	(void)state;
	assert_int_equal(tick_clock_init(&c, 0, 0), -EINVAL);
	/* 50 Hz, phase 25 ms = 5 ms into each 20 ms period. */
	assert_int_equal(tick_clock_init(&c, 50, 25 * MS), 0);
	assert_int_equal(c.period_ns, 20 * MS);
	assert_int_equal(c.phase_ns, 5 * MS);
	tick_clock_set(&c, now, now + EPOCH);
	assert_int_equal(c.now_tick, 50000);
	/* Arrivals in this tick, the one before, 3 s before. */
	assert_int_equal(tick_clock_arrival(&c, now + EPOCH - 1 * MS), 50000);
	assert_int_equal(tick_clock_arrival(&c, now + EPOCH - 3 * MS), 50000);
	assert_int_equal(tick_clock_arrival(&c, now + EPOCH - 3 * MS - 1), 49999);
	assert_int_equal(tick_clock_arrival(&c, now + EPOCH - 3 * SEC), 50000 - 150);
	/* During the drain, after the tick started: the next tick. */
	assert_int_equal(tick_clock_arrival(&c, now + EPOCH + 17 * MS), 50001);
	/* No stamp, a future one, one before boot, one that overflows: the
	 * current tick. */
	assert_int_equal(tick_clock_arrival(&c, 0), 50000);
	assert_int_equal(tick_clock_arrival(&c, now + EPOCH + 21 * MS), 50000);
	assert_int_equal(tick_clock_arrival(&c, now + EPOCH + 3600 * SEC), 50000);
	assert_int_equal(tick_clock_arrival(&c, EPOCH - 1), 50000);
	assert_int_equal(tick_clock_arrival(&c, UINT64_MAX), 50000);
	/* Right after boot, before the first phase: tick 0. */
	assert_int_equal(tick_clock_arrival(&c, EPOCH + 1 * MS), 0);
	/* A real-time clock behind the monotonic one (an unset RTC). */
	tick_clock_set(&c, now, 2 * SEC);
	assert_int_equal(tick_clock_arrival(&c, 2 * SEC - 40 * MS), 49998);
	/* A step of the real-time clock is followed at the next tick. */
	tick_clock_set(&c, now + 20 * MS, now + 20 * MS + EPOCH + 3600 * SEC);
	assert_int_equal(tick_clock_arrival(&c, now + EPOCH + 3600 * SEC), 50000);
}

union ctl {
	char b[64];
	struct cmsghdr a;
};

/* Builds one control message of level/type with data in u. */
static struct cmsghdr *cmsg_put(union ctl *u, int level, int type, const void *data, size_t len)
{
	struct cmsghdr *cm = &u->a;

	memset(u, 0, sizeof(*u));
	cm->cmsg_level = level;
	cm->cmsg_type = type;
	cm->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cm), data, len);
	return cm;
}

static void test_stamp_parse(void **state)
{
	union ctl u;
	struct timespec ts = { .tv_sec = 1700000000, .tv_nsec = 123456789 };
	struct cmsghdr *cm;
	const char *end;

	(void)state;
	cm = cmsg_put(&u, SOL_SOCKET, SCM_TIMESTAMPNS, &ts, sizeof(ts));
	end = u.b + CMSG_SPACE(sizeof(ts));
	assert_int_equal(tick_stamp_ns(cm, end), 1700000000ull * SEC + 123456789);
	assert_int_equal(tick_stamp_ns(cm, u.b + CMSG_LEN(sizeof(ts))),
			 1700000000ull * SEC + 123456789);
	/* Cut short by the end of the control area. */
	assert_int_equal(tick_stamp_ns(cm, u.b + CMSG_LEN(sizeof(ts)) - 1), 0);
	assert_int_equal(tick_stamp_ns(cm, u.b + 4), 0);
	/* A length that claims more than there is, or too little. */
	cm->cmsg_len = sizeof(u) + 1;
	assert_int_equal(tick_stamp_ns(cm, u.b + sizeof(u)), 0);
	cm->cmsg_len = CMSG_LEN(sizeof(ts)) - 1;
	assert_int_equal(tick_stamp_ns(cm, end), 0);
	/* Another message. */
	cm = cmsg_put(&u, SOL_SOCKET, SCM_TIMESTAMP, &ts, sizeof(ts));
	assert_int_equal(tick_stamp_ns(cm, end), 0);
	cm = cmsg_put(&u, SOL_IP, SCM_TIMESTAMPNS, &ts, sizeof(ts));
	assert_int_equal(tick_stamp_ns(cm, end), 0);
	/* Times no clock gives. */
	ts.tv_nsec = 1000000000;
	cm = cmsg_put(&u, SOL_SOCKET, SCM_TIMESTAMPNS, &ts, sizeof(ts));
	assert_int_equal(tick_stamp_ns(cm, end), 0);
	ts = (struct timespec){ .tv_sec = -1 };
	cm = cmsg_put(&u, SOL_SOCKET, SCM_TIMESTAMPNS, &ts, sizeof(ts));
	assert_int_equal(tick_stamp_ns(cm, end), 0);
	ts = (struct timespec){ .tv_sec = INT64_MAX / 1000000000 };
	cm = cmsg_put(&u, SOL_SOCKET, SCM_TIMESTAMPNS, &ts, sizeof(ts));
	assert_int_equal(tick_stamp_ns(cm, end), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_equal_sizes_one_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shorter_segment_ends_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longer_packet_starts_new_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_cap_short_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_never_gso, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gso_off_and_segment_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_limits, setup, teardown),
		cmocka_unit_test(test_arena_full),
		cmocka_unit_test_setup_teardown(test_zero_copy_vs_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_client_every_packet_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_per_client_grouping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broadcast_except, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_and_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_mix, setup, teardown),
		cmocka_unit_test(test_flood_cap),
		cmocka_unit_test(test_flood_backlog_by_arrival),
		cmocka_unit_test(test_clock_arrival),
		cmocka_unit_test(test_stamp_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
