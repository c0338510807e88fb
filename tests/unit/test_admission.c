/* SPDX-License-Identifier: Apache-2.0 */
/* test_admission.c - admission before the client table (issue 10): the
 * handshake MAC and its windows, key rotation, the per-mode decision, the
 * table policy (max_clients_per_ip, eviction of idle clients) and the
 * whole path through worker_rx() with its reply queue and budgets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sodium.h>

#include "common/handshake.h"
#include "common/timeutil.h"
#include "worker/admission.h"
#include "worker/worker.h"

#define SEC RF_NSEC_PER_SEC
#define MS RF_NSEC_PER_MSEC
/* A time well inside a key epoch (window 12,000, epoch 1,000). */
#define T0 (60000ull * SEC + 2 * SEC)

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

static void install(struct rf_slot_secret *s, uint64_t now, uint8_t fill)
{
	uint8_t key[RF_HS_KEY_LEN];

	memset(key, fill, sizeof(key));
	adm_key_install(s, now, key);
}

/* What a client sends back: the CHALLENGE with the RESPONSE magic. */
static void response_of(const uint8_t *challenge, uint8_t *out)
{
	memcpy(out, challenge, RF_HS_RESPONSE_LEN);
	memcpy(out, RF_HS_RESPONSE_MAGIC, RF_HS_MAGIC_LEN);
}

static void test_mac_binds_source_and_window(void **state)
{
	struct rf_slot_secret s = { 0 };
	struct sockaddr_in a = v4("192.0.2.1", 4000), b = v4("192.0.2.1", 4001);
	struct sockaddr_in6 c = v6("2001:db8::1", 4000);
	uint8_t ch[RF_HS_CHALLENGE_LEN], rsp[RF_HS_RESPONSE_LEN], ch6[RF_HS_CHALLENGE_LEN];

	(void)state;
	/* No key yet: no challenge can be made. */
	assert_true(adm_key_due(&s, T0));
	assert_int_equal(adm_challenge(&s, T0, SA(a), sizeof(a), ch), -ENOKEY);
	install(&s, T0, 1);
	assert_false(adm_key_due(&s, T0));
	assert_int_equal(adm_challenge(&s, T0, SA(a), sizeof(a), ch), 0);
	assert_memory_equal(ch, "RFC1", 4);
	assert_int_equal(ch[4] << 24 | ch[5] << 16 | ch[6] << 8 | ch[7], adm_window(T0));
	response_of(ch, rsp);

	assert_true(adm_response_ok(&s, T0, SA(a), sizeof(a), rsp, sizeof(rsp)));
	/* The same address with another port, or another address, fails. */
	assert_false(adm_response_ok(&s, T0, SA(b), sizeof(b), rsp, sizeof(rsp)));
	assert_false(adm_response_ok(&s, T0, SA(c), sizeof(c), rsp, sizeof(rsp)));
	/* Valid in the next window, not in the one after. */
	assert_true(adm_response_ok(&s, T0 + 5 * SEC, SA(a), sizeof(a), rsp, sizeof(rsp)));
	assert_false(adm_response_ok(&s, T0 + 10 * SEC, SA(a), sizeof(a), rsp, sizeof(rsp)));
	/* Nor in a window before it was issued. */
	assert_false(adm_response_ok(&s, T0 - 5 * SEC, SA(a), sizeof(a), rsp, sizeof(rsp)));
	/* Any bit of the MAC or window, the magic, the length. */
	for (unsigned i = 4; i < RF_HS_RESPONSE_LEN; i++) {
		rsp[i] ^= 0x10;
		assert_false(adm_response_ok(&s, T0, SA(a), sizeof(a), rsp, sizeof(rsp)));
		rsp[i] ^= 0x10;
	}
	assert_false(adm_response_ok(&s, T0, SA(a), sizeof(a), ch, sizeof(ch)));
	assert_false(adm_response_ok(&s, T0, SA(a), sizeof(a), rsp, sizeof(rsp) - 1));
	/* A short address is no address. */
	assert_false(adm_response_ok(&s, T0, SA(a), sizeof(a) - 1, rsp, sizeof(rsp)));
	/* IPv6 works the same, and its MAC differs. */
	assert_int_equal(adm_challenge(&s, T0, SA(c), sizeof(c), ch6), 0);
	assert_memory_not_equal(ch6 + 8, ch + 8, RF_HS_MAC_LEN);
	response_of(ch6, rsp);
	assert_true(adm_response_ok(&s, T0, SA(c), sizeof(c), rsp, sizeof(rsp)));
}

/* The MAC is exactly BLAKE2b-128 over what handshake.h lists, so that
 * another implementation of the server could verify it. */
static void test_mac_input_layout(void **state)
{
	struct rf_slot_secret s = { 0 };
	struct sockaddr_in a = v4("192.0.2.7", 0x1234);
	uint8_t mac[RF_HS_MAC_LEN], want[RF_HS_MAC_LEN];
	uint32_t w = adm_window(T0);
	const uint8_t in[12] = {
		w >> 24, w >> 16, w >> 8, w, 0, AF_INET, 192, 0, 2, 7, 0x12, 0x34
	};

	(void)state;
	install(&s, T0, 7);
	assert_int_equal(adm_mac(&s, w, SA(a), sizeof(a), mac), 0);
	crypto_generichash(want, sizeof(want), in, sizeof(in), s.key[(w / RF_ADM_KEY_WINDOWS) & 1],
			   RF_HS_KEY_LEN);
	assert_memory_equal(mac, want, sizeof(mac));
}

/* Keys rotate per epoch of 12 windows; a RESPONSE issued in the last
 * window of an epoch still verifies in the first window of the next,
 * with the old key, and a key two epochs old is gone. */
static void test_key_rotation(void **state)
{
	struct rf_slot_secret s = { 0 };
	struct sockaddr_in a = v4("192.0.2.1", 4000);
	uint64_t epoch_ns = (uint64_t)RF_ADM_KEY_WINDOWS * RF_HS_WINDOW_S * SEC;
	uint64_t last = (T0 / epoch_ns + 1) * epoch_ns - 1 * SEC; /* last window */
	uint64_t next = last + 2 * SEC;                           /* next epoch */
	uint8_t ch[RF_HS_CHALLENGE_LEN], rsp[RF_HS_RESPONSE_LEN];

	(void)state;
	install(&s, last, 1);
	assert_int_equal(adm_challenge(&s, last, SA(a), sizeof(a), ch), 0);
	response_of(ch, rsp);
	assert_true(adm_key_due(&s, next));
	install(&s, next, 2);
	assert_false(adm_key_due(&s, next));
	assert_true(adm_response_ok(&s, next, SA(a), sizeof(a), rsp, sizeof(rsp)));
	/* A challenge of the new epoch uses the new key. */
	assert_int_equal(adm_challenge(&s, next, SA(a), sizeof(a), ch), 0);
	response_of(ch, rsp);
	assert_true(adm_response_ok(&s, next, SA(a), sizeof(a), rsp, sizeof(rsp)));
	/* Two epochs on, the first key is replaced. */
	install(&s, next + epoch_ns, 3);
	assert_int_equal(adm_mac(&s, adm_window(last), SA(a), sizeof(a), ch), -ENOKEY);
}

static void test_decide(void **state)
{
	struct rf_slot_secret s = { 0 };
	struct sockaddr_in a = v4("192.0.2.1", 4000);
	uint8_t buf[64] = { 0 }, ch[RF_HS_CHALLENGE_LEN], rsp[RF_HS_RESPONSE_LEN];

	(void)state;
	install(&s, T0, 1);
	/* Open: anything, any size. */
	assert_int_equal(adm_decide(RF_ADMISSION_OPEN, &s, T0, SA(a), sizeof(a), buf, 1),
			 ADM_ADMIT);
	/* Cookie: short datagrams get nothing (no reply may exceed them). */
	for (uint32_t len = 0; len < RF_HS_CHALLENGE_LEN; len++)
		assert_int_equal(adm_decide(RF_ADMISSION_COOKIE, &s, T0, SA(a), sizeof(a), buf,
					    len),
				 ADM_IGNORE);
	assert_int_equal(adm_decide(RF_ADMISSION_COOKIE, &s, T0, SA(a), sizeof(a), buf, 24),
			 ADM_CHALLENGE);
	memcpy(buf, "RFH1", 4);
	assert_int_equal(adm_decide(RF_ADMISSION_COOKIE, &s, T0, SA(a), sizeof(a), buf, 32),
			 ADM_CHALLENGE);
	assert_true(adm_is_hello(buf, 32));
	assert_false(adm_is_hello(buf, 31));
	assert_int_equal(adm_challenge(&s, T0, SA(a), sizeof(a), ch), 0);
	response_of(ch, rsp);
	assert_int_equal(adm_decide(RF_ADMISSION_COOKIE, &s, T0, SA(a), sizeof(a), rsp, 24),
			 ADM_ADMIT);
	/* A stale RESPONSE is invited to start over. */
	assert_int_equal(adm_decide(RF_ADMISSION_COOKIE, &s, T0 + 10 * SEC, SA(a), sizeof(a), rsp,
				    24),
			 ADM_CHALLENGE);
}

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

static int place4(struct clients *c, const char *ip, uint16_t port, uint64_t now, uint32_t per_ip,
		  bool *evicted)
{
	struct sockaddr_in a = v4(ip, port);

	return adm_place(c, SA(a), sizeof(a), now, per_ip, evicted);
}

static void test_per_ip_limit(void **state)
{
	struct clients *c = &((struct fx *)*state)->c;
	struct sockaddr_in6 m = v6("::ffff:192.0.2.1", 9), o = v6("2001:db8:0:1::1", 1);
	struct sockaddr_in6 p = v6("2001:db8:0:1:ffff::2", 2), q = v6("2001:db8:0:2::1", 3);
	bool ev;

	for (uint16_t i = 0; i < 3; i++)
		assert_true(place4(c, "192.0.2.1", 1000 + i, T0, 3, &ev) >= 0);
	/* The fourth port of the same address, while the three are active. */
	assert_int_equal(place4(c, "192.0.2.1", 1003, T0 + 1 * SEC, 3, &ev), -EUSERS);
	/* The same address mapped into IPv6 counts as the same. */
	assert_int_equal(adm_place(c, SA(m), sizeof(m), T0 + 1 * SEC, 3, &ev), -EUSERS);
	/* Another address is not affected. */
	assert_true(place4(c, "192.0.2.2", 1000, T0 + 1 * SEC, 3, &ev) >= 0);
	assert_false(ev);
	/* Once one of its entries is idle past the grace, it is replaced:
	 * a NAT'd client that came back on a new port. */
	{
		struct sockaddr_in a0 = v4("192.0.2.1", 1000), a1 = v4("192.0.2.1", 1001);
		struct sockaddr_in a2 = v4("192.0.2.1", 1002);
		int i1 = clients_find(c, SA(a1), sizeof(a1));

		assert_true(i1 >= 0);
		/* 1000 and 1002 stay active, 1001 fell silent at T0. */
		assert_true(clients_touch(c, SA(a0), sizeof(a0), T0 + 2 * SEC) >= 0);
		assert_true(clients_touch(c, SA(a2), sizeof(a2), T0 + 2 * SEC) >= 0);
		assert_int_equal(place4(c, "192.0.2.1", 1003, T0 + 2 * SEC, 3, &ev),
				 i1); /* its entry, reused */
		assert_true(ev);
		assert_int_equal(clients_find(c, SA(a1), sizeof(a1)), -ENOENT);
	}
	/* IPv6: one /64 shares the limit, the next /64 does not. */
	assert_true(adm_place(c, SA(o), sizeof(o), T0 + 3 * SEC, 1, &ev) >= 0);
	assert_int_equal(adm_place(c, SA(p), sizeof(p), T0 + 3 * SEC, 1, &ev), -EUSERS);
	assert_true(adm_place(c, SA(q), sizeof(q), T0 + 3 * SEC, 1, &ev) >= 0);
	/* 0 = unlimited. */
	assert_true(adm_place(c, SA(p), sizeof(p), T0 + 3 * SEC, 0, &ev) >= 0);
}

/* The per-prefix counts follow inserts, removals, expiry and a rebuild,
 * through hash collisions of a full 8-entry table. */
static void test_prefix_counts(void **state)
{
	struct clients *c = &((struct fx *)*state)->c;
	struct sockaddr_in a = v4("192.0.2.1", 1), b = v4("192.0.2.1", 2), d = v4("192.0.2.2", 1);
	struct sockaddr_in6 m = v6("::ffff:192.0.2.1", 3), x = v6("2001:db8:0:1::1", 1);
	struct sockaddr_in6 y = v6("2001:db8:0:1:1::1", 1), z = v6("2001:db8:0:2::1", 1);

	assert_int_equal(clients_per_prefix(c, SA(a)), 0);
	assert_true(clients_touch(c, SA(a), sizeof(a), 1) >= 0);
	assert_true(clients_touch(c, SA(b), sizeof(b), 2) >= 0);
	assert_true(clients_touch(c, SA(m), sizeof(m), 3) >= 0);
	assert_true(clients_touch(c, SA(d), sizeof(d), 4) >= 0);
	assert_true(clients_touch(c, SA(x), sizeof(x), 5) >= 0);
	assert_true(clients_touch(c, SA(y), sizeof(y), 6) >= 0);
	assert_true(clients_touch(c, SA(z), sizeof(z), 7) >= 0);
	assert_true(clients_touch(c, SA(a), sizeof(a), 8) >= 0); /* not new */
	assert_int_equal(clients_per_prefix(c, SA(a)), 3);
	assert_int_equal(clients_per_prefix(c, SA(m)), 3);
	assert_int_equal(clients_per_prefix(c, SA(d)), 1);
	assert_int_equal(clients_per_prefix(c, SA(x)), 2);
	assert_int_equal(clients_per_prefix(c, SA(z)), 1);
	clients_remove(c, (uint32_t)clients_find(c, SA(b), sizeof(b)));
	assert_int_equal(clients_per_prefix(c, SA(a)), 2);
	clients_remove(c, (uint32_t)clients_find(c, SA(d), sizeof(d)));
	assert_int_equal(clients_per_prefix(c, SA(d)), 0);
	/* Expiry: everything seen before 5 goes (a was seen at 8). */
	assert_int_equal(clients_expire(c, 10, 5), 1);
	assert_int_equal(clients_per_prefix(c, SA(a)), 1);
	assert_int_equal(clients_per_prefix(c, SA(x)), 2);
	clients_rebuild(c);
	assert_int_equal(clients_per_prefix(c, SA(a)), 1);
	assert_int_equal(clients_per_prefix(c, SA(y)), 2);
	assert_int_equal(clients_per_prefix(c, SA(z)), 1);
	clients_clear(c);
	assert_int_equal(clients_per_prefix(c, SA(x)), 0);
}

/* A full table: a newcomer takes the place of the client idle longest if
 * it has been silent past the grace period; a client sending at 20 Hz is
 * never evicted. */
static void test_full_table_eviction(void **state)
{
	struct clients *c = &((struct fx *)*state)->c;
	uint64_t now = T0;
	bool ev;
	char ip[32];

	for (int i = 0; i < 8; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		assert_true(place4(c, ip, 5000, now, 4, &ev) >= 0);
	}
	/* Everyone active: refused. */
	assert_int_equal(place4(c, "203.0.113.1", 5000, now + RF_ADM_EVICT_GRACE_NS, 4, &ev),
			 -ENOSPC);
	assert_false(ev);
	/* 3 s pass; all but 198.51.100.5 keep sending at 20 Hz. */
	for (uint64_t t = now; t <= now + 3 * SEC; t += 50 * MS) {
		for (int i = 0; i < 8; i++) {
			struct sockaddr_in a;

			if (i == 4)
				continue;
			snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
			a = v4(ip, 5000);
			assert_true(clients_touch(c, SA(a), sizeof(a), t) >= 0);
		}
	}
	now += 3 * SEC;
	assert_true(place4(c, "203.0.113.1", 5000, now, 4, &ev) >= 0);
	assert_true(ev);
	{
		struct sockaddr_in gone = v4("198.51.100.5", 5000);

		assert_int_equal(clients_find(c, SA(gone), sizeof(gone)), -ENOENT);
	}
	/* The next newcomer finds only active clients. */
	assert_int_equal(place4(c, "203.0.113.2", 5000, now, 4, &ev), -ENOSPC);
	assert_int_equal(c->n, 8);
}

/* ---- the whole path through worker_rx() ---- */

struct wfx {
	struct rf_slot *slot;
	struct worker w;
	struct tick_plan p;
	struct worker_params wp;
};

static void wfx_init(struct wfx *f, uint32_t max_clients, uint32_t per_ip)
{
	f->wp = (struct worker_params){ .max_clients = max_clients,
					.client_timeout_s = 10,
					.max_packet = 1400,
					.max_packets_per_tick = 64,
					.gso_max_seg = 1472,
					.tick_hz = 50,
					.seed = 3,
					.admission = RF_ADMISSION_COOKIE,
					.max_clients_per_ip = per_ip };
	f->slot = calloc(1, rf_slot_size(max_clients));
	assert_non_null(f->slot);
	assert_int_equal(worker_init(&f->w, f->slot, &f->wp), 0);
	assert_int_equal(tick_plan_init(&f->p, &(struct tick_plan_cfg){ .max_in = 4096,
									.max_out = 65536,
									.max_clients = max_clients,
									.max_packet = 1400 }),
			 0);
	worker_set_plan(&f->w, &f->p);
	worker_tick_start(&f->w, T0, T0);
	assert_true(worker_key_due(&f->w));
	{
		uint8_t key[RF_HS_KEY_LEN];

		memset(key, 0x5a, sizeof(key));
		worker_key_install(&f->w, key);
	}
	assert_false(worker_key_due(&f->w));
}

static void wfx_free(struct wfx *f)
{
	worker_free(&f->w);
	tick_plan_free(&f->p);
	free(f->slot);
}

static int rx(struct wfx *f, const void *sa, uint32_t salen, const void *data, uint32_t len)
{
	static uint8_t buf[1500];

	memcpy(buf, data, len);
	return worker_rx(&f->w, sa, salen, buf, len, false, 0, 0);
}

/* The last queued reply, which must be to sa. */
static const struct worker_reply *last_reply(struct wfx *f, const void *sa, uint32_t salen)
{
	const struct worker_reply *r;

	assert_true(f->w.n_replies > 0);
	r = &f->w.reply[f->w.n_replies - 1];
	assert_int_equal(r->namelen, salen);
	assert_memory_equal(&r->name, sa, salen);
	return r;
}

/* A client's handshake, as handshake.md describes it. */
static void handshake(struct wfx *f, const void *sa, uint32_t salen, const char *want)
{
	uint8_t hello[RF_HS_HELLO_MIN] = "RFH1", rsp[RF_HS_RESPONSE_LEN];
	const struct worker_reply *r;

	assert_int_equal(rx(f, sa, salen, hello, sizeof(hello)), -ENOTCONN);
	r = last_reply(f, sa, salen);
	assert_int_equal(r->len, RF_HS_CHALLENGE_LEN);
	assert_memory_equal(r->data, "RFC1", 4);
	response_of(r->data, rsp);
	rx(f, sa, salen, rsp, sizeof(rsp));
	r = last_reply(f, sa, salen);
	assert_int_equal(r->len, 8);
	if (want)
		assert_memory_equal(r->data, want, 8);
}

static void test_worker_cookie_flow(void **state)
{
	struct wfx f;
	struct sockaddr_in a = v4("192.0.2.1", 4000), spoof = v4("192.0.2.66", 4000);
	uint8_t game[120], rsp[RF_HS_RESPONSE_LEN];
	uint32_t sent = 0, replied = 0;

	(void)state;
	wfx_init(&f, 4, 4);
	memset(game, 'g', sizeof(game));
	/* A forged source's game data: never relayed, never in the table;
	 * one CHALLENGE no larger than what it sent, and nothing at all
	 * for a short datagram. */
	assert_int_equal(rx(&f, &spoof, sizeof(spoof), game, sizeof(game)), -ENOTCONN);
	assert_int_equal(rx(&f, &spoof, sizeof(spoof), game, 23), -ENOTCONN);
	assert_int_equal(f.w.n_replies, 1);
	assert_int_equal(f.w.reply[0].len, RF_HS_CHALLENGE_LEN);
	assert_int_equal(f.p.n_in, 0);
	assert_int_equal(f.w.clients.n, 0);
	assert_int_equal(f.w.st.drop_unadmitted, 2);
	assert_int_equal(f.w.st.adm_challenges, 1);

	handshake(&f, &a, sizeof(a), "RFW1\0\0\0\0");
	assert_int_equal(f.w.clients.n, 1);
	assert_int_equal(f.w.st.adm_admitted, 1);
	assert_int_equal(f.p.n_in, 0); /* the RESPONSE was not relayed */
	/* Its WELCOME was lost: the RESPONSE again gets WELCOME again. */
	memcpy(rsp, f.w.reply[f.w.n_replies - 2].data, sizeof(rsp));
	memcpy(rsp, "RFR1", 4);
	assert_int_equal(rx(&f, &a, sizeof(a), rsp, sizeof(rsp)), -EALREADY);
	assert_memory_equal(last_reply(&f, &a, sizeof(a))->data, "RFW1", 4);
	/* A HELLO from an admitted client restarts its handshake. */
	{
		uint8_t hello[40] = "RFH1";

		assert_int_equal(rx(&f, &a, sizeof(a), hello, sizeof(hello)), -EALREADY);
		assert_memory_equal(last_reply(&f, &a, sizeof(a))->data, "RFC1", 4);
	}
	/* Game data, including data that merely starts like a handshake
	 * message, is relayed as before. */
	assert_int_equal(rx(&f, &a, sizeof(a), game, sizeof(game)), 0);
	memcpy(game, "RFR1", 4);
	assert_int_equal(rx(&f, &a, sizeof(a), game, 25), 0);
	assert_int_equal(rx(&f, &a, sizeof(a), game, 8), 0);
	assert_int_equal(f.p.n_in, 3);
	/* No reply was longer than the datagram that caused it. */
	assert_int_equal(f.w.st.adm_refusals, 0);
	for (uint32_t i = 0; i < f.w.n_replies; i++) {
		replied += f.w.reply[i].len;
		assert_true(f.w.reply[i].len <= RF_HS_CHALLENGE_LEN);
	}
	sent = 120 + 23 + 2 * RF_HS_HELLO_MIN;
	assert_true(replied <= sent);
	worker_replies_sent(&f.w, 1);
	assert_int_equal(f.w.n_replies, 0);
	assert_int_equal(f.w.st.drop_replies, 1);
	worker_publish(&f.w);
	assert_int_equal(f.slot->stats.adm_challenges, 3);
	assert_int_equal(f.slot->stats.adm_admitted, 1);
	assert_int_equal(f.slot->stats.drop_unadmitted, 4);
	assert_int_equal(f.slot->stats.drop_replies, 1);
	wfx_free(&f);
}

/* A HELLO flood uses at most RF_ADM_CHALLENGE_MAX replies of a tick: a
 * client that proved its address still gets its WELCOME. */
static void test_hello_flood_does_not_starve_welcome(void **state)
{
	struct wfx f;
	struct sockaddr_in a = v4("192.0.2.1", 4000);
	uint8_t hello[RF_HS_HELLO_MIN] = "RFH1", ch[RF_HS_CHALLENGE_LEN], rsp[RF_HS_RESPONSE_LEN];

	(void)state;
	wfx_init(&f, 4, 4);
	/* The client got its CHALLENGE in an earlier tick. */
	assert_int_equal(adm_challenge(&f.slot->secret, T0, SA(a), sizeof(a), ch), 0);
	response_of(ch, rsp);
	for (uint32_t i = 0; i < 1000; i++) {
		struct sockaddr_in s = v4("10.0.0.0", (uint16_t)(1000 + i));

		s.sin_addr.s_addr = htonl(0x0a000000u + i);
		rx(&f, &s, sizeof(s), hello, sizeof(hello));
	}
	assert_int_equal(f.w.n_replies, RF_ADM_CHALLENGE_MAX);
	assert_int_equal(f.w.st.adm_challenges, RF_ADM_CHALLENGE_MAX);
	assert_int_equal(f.w.st.drop_replies, 1000 - RF_ADM_CHALLENGE_MAX);
	rx(&f, &a, sizeof(a), rsp, sizeof(rsp));
	assert_memory_equal(last_reply(&f, &a, sizeof(a))->data, "RFW1", 4);
	assert_int_equal(f.w.clients.n, 1);
	/* The next tick has a fresh budget. */
	worker_replies_sent(&f.w, 0);
	rx(&f, &a, sizeof(a), hello, sizeof(hello));
	assert_int_equal(f.w.n_replies, 1);
	wfx_free(&f);
}

/* Finding 2 in miniature: a full table of sources that each send once
 * every 5 s cannot keep out a proven newcomer, but a table of players
 * that just sent refuses it (REFUSED, reason 1); a second port of one
 * address gets reason 2. A probationer (admitted, silent since) is
 * replaced at once. */
static void test_worker_squatters_and_refusals(void **state)
{
	struct wfx f;
	struct sockaddr_in n = v4("203.0.113.9", 7000), same = v4("198.51.100.1", 6000);
	uint8_t game[64];
	char ip[32];

	(void)state;
	memset(game, 'g', sizeof(game));
	wfx_init(&f, 4, 1);
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in s;

		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		s = v4(ip, 5000);
		handshake(&f, &s, sizeof(s), "RFW1\0\0\0\0");
		/* On probation until its first game datagram: evictable. */
		assert_int_equal(f.w.clients.tab[clients_find(&f.w.clients, SA(s), sizeof(s))]
					 .flags,
				 RF_CLIENT_PROBATION);
		assert_int_equal(rx(&f, &s, sizeof(s), game, sizeof(game)), 0);
		assert_int_equal(
			f.w.clients.tab[clients_find(&f.w.clients, SA(s), sizeof(s))].flags, 0);
	}
	assert_int_equal(f.w.clients.n, 4);
	/* Per IP first: a second port of 198.51.100.1. */
	handshake(&f, &same, sizeof(same), "RFX1\0\0\0\2");
	/* All active: the newcomer is refused, table full. */
	handshake(&f, &n, sizeof(n), "RFX1\0\0\0\1");
	assert_int_equal(f.w.st.adm_refusals, 2);
	assert_int_equal(f.w.clients.n, 4);
	/* 4 s later the squatters have each been silent since: the newcomer
	 * gets in at once. */
	worker_replies_sent(&f.w, 0);
	f.w.now_ns += 4 * SEC;
	handshake(&f, &n, sizeof(n), "RFW1\0\0\0\0");
	assert_int_equal(f.w.st.adm_evictions, 1);
	/* The other three play again; n has not played yet: the next
	 * newcomer takes its place. */
	for (int i = 0; i < 4; i++) {
		struct sockaddr_in s;

		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		s = v4(ip, 5000);
		rx(&f, &s, sizeof(s), game, sizeof(game));
	}
	{
		struct sockaddr_in m = v4("203.0.113.10", 7000);

		handshake(&f, &m, sizeof(m), "RFW1\0\0\0\0");
		assert_int_equal(clients_find(&f.w.clients, SA(n), sizeof(n)), -ENOENT);
		assert_int_equal(f.w.st.adm_evictions, 2);
		assert_int_equal(rx(&f, &m, sizeof(m), game, sizeof(game)), 0);
	}
	wfx_free(&f);
}

/* Finding 2 at scale: 1,000 sources that each send once every 5 s and
 * answer every CHALLENGE at once (so they are re-admitted as fast as they
 * are evicted, ~200 admissions a second) try to hold a 64-entry table
 * beside 10 players at 50 Hz, for 20 simulated seconds. Every second a
 * new player arrives: it must be WELCOMEd in the tick its RESPONSE
 * arrives, and no player is ever evicted. */
static void test_squatter_churn(void **state)
{
	enum { SQUATTERS = 1000, PLAYERS = 10, NEWCOMERS = 20, TICK_MS = 20 };
	struct wfx f;
	struct sockaddr_in sq[SQUATTERS], pl[PLAYERS + NEWCOMERS];
	uint8_t game[100];
	uint32_t players = PLAYERS;

	(void)state;
	memset(game, 'g', sizeof(game));
	wfx_init(&f, 64, 0);
	for (uint32_t i = 0; i < SQUATTERS; i++) {
		sq[i] = v4("10.0.0.0", (uint16_t)(1000 + i));
		sq[i].sin_addr.s_addr = htonl(0x0a000000u + i);
	}
	for (uint32_t i = 0; i < PLAYERS + NEWCOMERS; i++) {
		pl[i] = v4("192.0.2.0", 7000);
		pl[i].sin_addr.s_addr = htonl(0xc0000200u + i);
	}
	for (uint32_t i = 0; i < PLAYERS; i++)
		handshake(&f, &pl[i], sizeof(pl[i]), "RFW1\0\0\0\0");
	for (uint64_t ms = 0; ms < 20000; ms += TICK_MS) {
		worker_tick_start(&f.w, T0 + ms * MS, T0 + ms * MS);
		/* Squatter i's datagram falls at i * 5 ms into each 5 s. */
		for (uint32_t i = 0; i < SQUATTERS; i++) {
			uint64_t at = (uint64_t)i * 5;

			if ((ms + 5000 - at % 5000) % 5000 >= TICK_MS)
				continue;
			if (clients_find(&f.w.clients, SA(sq[i]), sizeof(sq[i])) >= 0)
				rx(&f, &sq[i], sizeof(sq[i]), game, sizeof(game));
			else
				handshake(&f, &sq[i], sizeof(sq[i]), NULL);
		}
		if (ms % 1000 == 500 && players < PLAYERS + NEWCOMERS) {
			handshake(&f, &pl[players], sizeof(pl[players]), "RFW1\0\0\0\0");
			players++;
		}
		for (uint32_t i = 0; i < players; i++)
			assert_int_equal(rx(&f, &pl[i], sizeof(pl[i]), game, sizeof(game)), 0);
		worker_end_window(&f.w);
		worker_plan(&f.w);
		tick_plan_reset(&f.p);
		worker_replies_sent(&f.w, 0);
	}
	assert_int_equal(players, PLAYERS + NEWCOMERS);
	/* The squatters churned: far more admissions than entries. */
	assert_true(f.w.st.adm_admitted > 2000);
	assert_true(f.w.st.adm_evictions > 2000);
	wfx_free(&f);
}

/* Open mode is today's behaviour: first datagram admitted and relayed,
 * no reply ever. */
static void test_worker_open(void **state)
{
	struct wfx f;
	struct sockaddr_in a = v4("192.0.2.1", 4000);
	uint8_t hello[RF_HS_HELLO_MIN] = "RFH1";

	(void)state;
	wfx_init(&f, 4, 0);
	f.w.admission = RF_ADMISSION_OPEN;
	assert_int_equal(rx(&f, &a, sizeof(a), "x", 1), 0);
	assert_int_equal(rx(&f, &a, sizeof(a), hello, sizeof(hello)), 0);
	assert_int_equal(f.w.n_replies, 0);
	assert_int_equal(f.p.n_in, 2);
	assert_int_equal(f.w.st.adm_admitted, 1);
	wfx_free(&f);
}

/* admission = token: one TOKEN datagram, once per player and allocation. */
static const uint8_t tkey[RF_TOKEN_KEY_LEN] = { 7, 7, 7 };

static uint32_t token_msg(uint8_t *out, const char *player, const char *server, uint64_t alloc_id,
			  uint64_t expiry_s)
{
	struct rf_token t = { .expiry_s = expiry_s, .alloc_id = alloc_id };
	uint8_t nonce[RF_TOKEN_NONCE_LEN];
	int n;

	snprintf(t.player, sizeof(t.player), "%s", player);
	snprintf(t.server, sizeof(t.server), "%s", server);
	randombytes_buf(nonce, sizeof(nonce));
	memcpy(out, RF_HS_TOKEN_MAGIC, RF_HS_MAGIC_LEN);
	n = token_seal(tkey, &t, nonce, out + RF_HS_MAGIC_LEN, RF_TOKEN_MAX);
	assert_true(n > 0);
	return RF_HS_MAGIC_LEN + (uint32_t)n;
}

/* The reply to sa's TOKEN: 0 for WELCOME, else the REFUSED reason. */
static uint32_t token_reply(struct wfx *f, const struct sockaddr_in *sa, const char *player,
			    const char *server, uint64_t alloc_id, uint64_t expiry_s)
{
	uint8_t msg[RF_HS_MAGIC_LEN + RF_TOKEN_MAX];
	uint32_t len = token_msg(msg, player, server, alloc_id, expiry_s);
	const struct worker_reply *r;
	uint32_t n = f->w.n_replies;

	rx(f, sa, sizeof(*sa), msg, len);
	assert_int_equal(f->w.n_replies, n + 1);
	r = last_reply(f, sa, sizeof(*sa));
	assert_true(r->len < len); /* never more than it sent */
	if (memcmp(r->data, RF_HS_WELCOME_MAGIC, 4) == 0)
		return 0;
	assert_memory_equal(r->data, RF_HS_REFUSED_MAGIC, 4);
	return (uint32_t)r->data[7];
}

static void set_session(struct rf_slot *s, uint32_t state, uint64_t alloc_id)
{
	s->session.seq++;
	s->session.state = state;
	s->session.alloc_id = alloc_id;
	s->session.seq++;
}

static void test_worker_token(void **state)
{
	struct wfx f;
	struct sockaddr_in a[6];
	uint8_t hello[RF_HS_HELLO_MIN] = "RFH1";
	const uint64_t now = T0 / SEC, later = now + 60;
	int idx;

	(void)state;
	for (int i = 0; i < 6; i++) {
		char ip[16];

		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		a[i] = v4(ip, 4000);
	}
	wfx_init(&f, 2, 0);
	worker_free(&f.w);
	f.wp.admission = RF_ADMISSION_TOKEN;
	assert_int_equal(worker_init(&f.w, f.slot, &f.wp), -EINVAL); /* no key */
	f.wp.token_key = tkey;
	f.wp.server = "eu-1";
	assert_int_equal(worker_init(&f.w, f.slot, &f.wp), 1);
	worker_tick_start(&f.w, T0, T0);
	assert_false(worker_key_due(&f.w)); /* no cookie secret to rotate */

	/* Nothing but a TOKEN is answered. */
	assert_int_equal(rx(&f, &a[0], sizeof(a[0]), hello, sizeof(hello)), -ENOTCONN);
	assert_int_equal(rx(&f, &a[0], sizeof(a[0]), "game data", 9), -ENOTCONN);
	assert_int_equal(f.w.n_replies, 0);

	assert_int_equal(token_reply(&f, &a[0], "alice", "eu-1", 0, later), 0);
	idx = clients_find(&f.w.clients, (const struct sockaddr *)&a[0], sizeof(a[0]));
	assert_true(idx >= 0);
	assert_string_equal(worker_client_player(&f.w, (uint32_t)idx), "alice");
	/* Its WELCOME was lost: the same player from the same address. */
	assert_int_equal(token_reply(&f, &a[0], "alice", "eu-1", 0, later), 0);
	assert_int_equal(token_reply(&f, &a[1], "alice", "eu-1", 0, later), RF_HS_REFUSED_REPLAY);
	assert_int_equal(token_reply(&f, &a[1], "bob", "eu-1", 0, now), RF_HS_REFUSED_EXPIRED);
	assert_int_equal(token_reply(&f, &a[1], "bob", "eu-2", 0, later), RF_HS_REFUSED_TOKEN);
	worker_replies_sent(&f.w, 0);

	/* 2 * max_clients players a session: the fifth is refused, though
	 * probationers make room in the table. */
	assert_int_equal(token_reply(&f, &a[1], "bob", "eu-1", 0, later), 0);
	assert_int_equal(token_reply(&f, &a[2], "carol", "eu-1", 0, later), 0);
	assert_int_equal(token_reply(&f, &a[3], "dave", "eu-1", 0, later), 0);
	assert_int_equal(token_reply(&f, &a[4], "erin", "eu-1", 0, later), RF_HS_REFUSED_FULL);
	worker_replies_sent(&f.w, 0);

	/* The supervisor's session area: ready refuses every token; an
	 * allocation wants its own, and starts a fresh used table. */
	set_session(f.slot, RF_SESSION_READY, 0);
	assert_int_equal(token_reply(&f, &a[4], "erin", "eu-1", 0, later), RF_HS_REFUSED_TOKEN);
	set_session(f.slot, RF_SESSION_ALLOCATED, 9);
	assert_int_equal(token_reply(&f, &a[4], "erin", "eu-1", 8, later), RF_HS_REFUSED_TOKEN);
	assert_int_equal(token_reply(&f, &a[4], "alice", "eu-1", 9, later), 0);
	worker_replies_sent(&f.w, 0);
	/* While the supervisor writes it (odd seq): no answer, the client
	 * resends. */
	f.slot->session.seq++;
	{
		uint8_t msg[RF_HS_MAGIC_LEN + RF_TOKEN_MAX];
		uint32_t len = token_msg(msg, "frank", "eu-1", 9, later);

		assert_int_equal(rx(&f, &a[5], sizeof(a[5]), msg, len), -ENOTCONN);
		assert_int_equal(f.w.n_replies, 0);
	}
	f.slot->session.seq++;

	/* A restarted worker remembers: the used table is in the slot. */
	worker_free(&f.w);
	assert_int_equal(worker_init(&f.w, f.slot, &f.wp), 1);
	worker_tick_start(&f.w, T0 + SEC, T0 + SEC);
	assert_int_equal(token_reply(&f, &a[5], "alice", "eu-1", 9, later), RF_HS_REFUSED_REPLAY);
	idx = clients_find(&f.w.clients, (const struct sockaddr *)&a[4], sizeof(a[4]));
	assert_true(idx >= 0);
	assert_string_equal(worker_client_player(&f.w, (uint32_t)idx), "alice");
	wfx_free(&f);
}

/* A restarted worker keeps the secret (it lives in the slot): a
 * handshake its predecessor started completes. */
static void test_secret_survives_restart(void **state)
{
	struct wfx f;
	struct sockaddr_in a = v4("192.0.2.1", 4000);
	uint8_t hello[RF_HS_HELLO_MIN] = "RFH1", rsp[RF_HS_RESPONSE_LEN];

	(void)state;
	wfx_init(&f, 4, 4);
	rx(&f, &a, sizeof(a), hello, sizeof(hello));
	response_of(last_reply(&f, &a, sizeof(a))->data, rsp);
	worker_free(&f.w);
	f.wp.seed = 99;
	assert_int_equal(worker_init(&f.w, f.slot, &f.wp), 1);
	worker_tick_start(&f.w, T0 + 1 * SEC, T0 + 1 * SEC);
	assert_false(worker_key_due(&f.w));
	assert_int_equal(rx(&f, &a, sizeof(a), rsp, sizeof(rsp)), -ENOTCONN);
	assert_memory_equal(last_reply(&f, &a, sizeof(a))->data, "RFW1", 4);
	assert_int_equal(f.w.clients.n, 1);
	/* Bad parameters are refused. */
	worker_free(&f.w);
	f.wp.admission = 7;
	assert_int_equal(worker_init(&f.w, f.slot, &f.wp), -EINVAL);
	f.wp.admission = RF_ADMISSION_COOKIE;
	f.wp.max_clients_per_ip = RF_CLIENTS_LIMIT + 1;
	assert_int_equal(worker_init(&f.w, f.slot, &f.wp), -EINVAL);
	f.wp.max_clients_per_ip = 4;
	assert_int_equal(worker_init(&f.w, f.slot, &f.wp), 1);
	wfx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac_binds_source_and_window),
		cmocka_unit_test(test_mac_input_layout),
		cmocka_unit_test(test_key_rotation),
		cmocka_unit_test(test_decide),
		cmocka_unit_test_setup_teardown(test_prefix_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_ip_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_table_eviction, setup, teardown),
		cmocka_unit_test(test_worker_cookie_flow),
		cmocka_unit_test(test_hello_flood_does_not_starve_welcome),
		cmocka_unit_test(test_worker_squatters_and_refusals),
		cmocka_unit_test(test_squatter_churn),
		cmocka_unit_test(test_worker_open),
		cmocka_unit_test(test_worker_token),
		cmocka_unit_test(test_secret_survives_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
