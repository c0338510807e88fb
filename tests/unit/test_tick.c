// SPDX-License-Identifier: Apache-2.0
/* test_tick.c - the per-tick logic without a ring: GSO batching, fan-out
 * to every client in order, the per-client cap by arrival tick, receive
 * timestamps on the tick grid, and packet admission. */
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

static void expect_batch(const struct tick_plan *p, uint32_t i, uint32_t first, uint32_t count,
			 uint32_t seg)
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
	struct worker_params wp = { .max_clients = 2,
				    .client_timeout_s = 10,
				    .max_packet = 100,
				    .max_packets_per_tick = 2,
				    .gso_max_seg = 1472,
				    .tick_hz = 50,
				    .seed = 7,
				    .admission = RF_ADMISSION_OPEN };
	struct rf_slot *slot = calloc(1, rf_slot_size(2));
	struct worker w;
	struct sockaddr_in a = v4(1000), b = v4(1001), c = v4(1002);
	const struct sockaddr *sa = (void *)&a, *sb = (void *)&b, *sc = (void *)&c;

	assert_non_null(slot);
	assert_int_equal(worker_init(&w, slot, &wp), 0);
	worker_tick_start(&w, 1 * SEC, EPOCH + 1 * SEC);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload, 10, false, 0, 0), 0);
	assert_int_equal(worker_rx(&w, p, sb, sizeof(b), payload + 1, 100, false, 1, 0), 0);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload + 2, 101, false, 2, 0), -EMSGSIZE);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload + 3, 5, true, 3, 0), -EMSGSIZE);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload + 4, 0, false, 4, 0), 0);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload + 5, 10, false, 5, 0), -EDQUOT);
	assert_int_equal(worker_rx(&w, p, sc, sizeof(c), payload + 6, 10, false, 6, 0), -ENOSPC);
	assert_int_equal(worker_rx(&w, p, sb, sizeof(b), payload + 7, 0, false, 7, 0), 0);

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
	/* The next tick gives the flooder its allowance back. */
	tick_plan_reset(p);
	worker_tick_start(&w, 1 * SEC + 20 * MS, EPOCH + 1 * SEC + 20 * MS);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload, 10, false, 0, 0), 0);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload, 10, false, 0, 0), 0);
	assert_int_equal(worker_rx(&w, p, sa, sizeof(a), payload, 10, false, 0, 0), -EDQUOT);
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
	worker_tick_start(&w, now, now + EPOCH);
	for (uint64_t t = 0; t < 150; t++) {
		for (uint16_t c = 0; c < 11; c++) {
			struct sockaddr_in a = v4((uint16_t)(2000 + c));
			uint64_t at = start + t * 20 * MS + c * MS + EPOCH;
			int n = c == 10 ? 40 : 2;

			for (int i = 0; i < n; i++)
				worker_rx(&w, p, (void *)&a, sizeof(a), payload, 10, false,
					  cookie++ % CAP, at + (uint64_t)i);
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
			admitted += worker_rx(&w, p, (void *)&a, sizeof(a), payload, 10, false,
					      cookie++ % CAP, 0) == 0;
		assert_int_equal(admitted, 0); /* table full: 11 clients */
		tick_plan_reset(p);
		worker_tick_start(&w, now + 11 * SEC, now + 11 * SEC + EPOCH);
		worker_end_window(&w); /* all 11 expire */
		assert_int_equal(w.clients.n, 0);
		for (int i = 0; i < 300; i++)
			admitted += worker_rx(&w, p, (void *)&a, sizeof(a), payload, 10, false,
					      cookie++ % CAP, 0) == 0;
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
		cmocka_unit_test(test_flood_backlog_by_arrival),
		cmocka_unit_test(test_clock_arrival),
		cmocka_unit_test(test_stamp_parse),
		cmocka_unit_test_setup_teardown(test_worker_backlog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_admission, setup, teardown),
		cmocka_unit_test(test_worker_gso_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
