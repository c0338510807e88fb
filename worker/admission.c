/* SPDX-License-Identifier: Apache-2.0 */
/* admission.c - see admission.h. */
#include "worker/admission.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

static uint64_t key_epoch(uint32_t window)
{
	return window / RF_ADM_KEY_WINDOWS;
}

bool adm_key_due(const struct rf_slot_secret *s, uint64_t now_ns)
{
	uint64_t e = key_epoch(adm_window(now_ns));

	return s->epoch1[e & 1] != e + 1;
}

void adm_key_install(struct rf_slot_secret *s, uint64_t now_ns, const uint8_t *key)
{
	uint64_t e = key_epoch(adm_window(now_ns));

	memcpy(s->key[e & 1], key, RF_HS_KEY_LEN);
	s->epoch1[e & 1] = e + 1;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* u32 window | u16 family | address | u16 port, as handshake.h fixes it.
 * Returns the length, or 0 for an unusable address. */
static size_t mac_input(uint8_t *buf, uint32_t window, const struct sockaddr *sa, uint32_t salen)
{
	size_t n = 0;

	put_be32(buf, window);
	buf[4] = (uint8_t)(sa->sa_family >> 8);
	buf[5] = (uint8_t)sa->sa_family;
	if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;

		memcpy(buf + 6, &in->sin_addr, 4);
		memcpy(buf + 10, &in->sin_port, 2); /* already big-endian */
		n = 12;
	} else if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		memcpy(buf + 6, &in6->sin6_addr, 16);
		memcpy(buf + 22, &in6->sin6_port, 2);
		n = 24;
	}
	return n;
}

int adm_mac(const struct rf_slot_secret *s, uint32_t window, const struct sockaddr *sa,
	    uint32_t salen, uint8_t mac[RF_HS_MAC_LEN])
{
	uint64_t e = key_epoch(window);
	uint8_t in[24];
	size_t n = mac_input(in, window, sa, salen);

	if (!n)
		return -EAFNOSUPPORT;
	if (s->epoch1[e & 1] != e + 1)
		return -ENOKEY;
	crypto_generichash(mac, RF_HS_MAC_LEN, in, n, s->key[e & 1], RF_HS_KEY_LEN);
	return 0;
}

int adm_challenge(const struct rf_slot_secret *s, uint64_t now_ns, const struct sockaddr *sa,
		  uint32_t salen, uint8_t *out)
{
	uint32_t window = adm_window(now_ns);

	memcpy(out, RF_HS_CHALLENGE_MAGIC, RF_HS_MAGIC_LEN);
	put_be32(out + RF_HS_WINDOW_OFF, window);
	return adm_mac(s, window, sa, salen, out + RF_HS_MAC_OFF);
}

bool adm_is_response(const uint8_t *data, uint32_t len)
{
	return len == RF_HS_RESPONSE_LEN &&
	       memcmp(data, RF_HS_RESPONSE_MAGIC, RF_HS_MAGIC_LEN) == 0;
}

bool adm_is_hello(const uint8_t *data, uint32_t len)
{
	return len >= RF_HS_HELLO_MIN && memcmp(data, RF_HS_HELLO_MAGIC, RF_HS_MAGIC_LEN) == 0;
}

bool adm_response_ok(const struct rf_slot_secret *s, uint64_t now_ns, const struct sockaddr *sa,
		     uint32_t salen, const uint8_t *data, uint32_t len)
{
	uint32_t now_w = adm_window(now_ns), window;
	uint8_t mac[RF_HS_MAC_LEN];

	if (!adm_is_response(data, len))
		return false;
	window = get_be32(data + RF_HS_WINDOW_OFF);
	/* The current window or the one before: 5 to 10 s to answer. */
	if (window != now_w && window + 1 != now_w)
		return false;
	if (adm_mac(s, window, sa, salen, mac) < 0)
		return false;
	return sodium_memcmp(mac, data + RF_HS_MAC_OFF, RF_HS_MAC_LEN) == 0;
}

/* One function per mode: a new mode is one more case below. */
static enum adm_verdict decide_open(void)
{
	return ADM_ADMIT;
}

static enum adm_verdict decide_cookie(const struct rf_slot_secret *s, uint64_t now_ns,
				      const struct sockaddr *sa, uint32_t salen,
				      const uint8_t *data, uint32_t len)
{
	if (adm_response_ok(s, now_ns, sa, salen, data, len))
		return ADM_ADMIT;
	/* A HELLO, a stale RESPONSE, or game data from a client that was
	 * expired or evicted: invite it (back) in. Never more bytes than it
	 * sent, so no amplification. */
	if (len >= RF_HS_CHALLENGE_LEN)
		return ADM_CHALLENGE;
	return ADM_IGNORE;
}

bool adm_is_token(const uint8_t *data, uint32_t len)
{
	return len >= RF_HS_MAGIC_LEN + RF_TOKEN_MIN && len <= RF_HS_MAGIC_LEN + RF_TOKEN_MAX &&
	       memcmp(data, RF_HS_TOKEN_MAGIC, RF_HS_MAGIC_LEN) == 0;
}

_Static_assert(RF_HS_MAGIC_LEN + RF_TOKEN_MAX <= RF_HS_TOKEN_MAX, "a TOKEN fits one datagram");
_Static_assert(RF_HS_MAGIC_LEN + RF_TOKEN_MIN > RF_HS_REPLY_MAX, "no amplification");

/* Only a TOKEN is worth opening; anything else from an unknown source
 * gets nothing, which is never more than it sent. */
static enum adm_verdict decide_token(const uint8_t *data, uint32_t len)
{
	return adm_is_token(data, len) ? ADM_TOKEN : ADM_IGNORE;
}

uint32_t adm_token(const uint8_t key[RF_TOKEN_KEY_LEN], const char *server, uint64_t now_s,
		   uint64_t alloc_id, const uint8_t *data, uint32_t len, struct rf_token *t)
{
	int ret;

	if (!adm_is_token(data, len))
		return RF_HS_REFUSED_TOKEN;
	ret = token_open(key, server, now_s, data + RF_HS_MAGIC_LEN, len - RF_HS_MAGIC_LEN, t);
	if (ret == -ETIMEDOUT)
		return RF_HS_REFUSED_EXPIRED;
	if (ret < 0)
		return RF_HS_REFUSED_TOKEN;
	/* A leftover token of this server's previous match is not one for
	 * the match on it now. */
	if (alloc_id && t->alloc_id != alloc_id)
		return RF_HS_REFUSED_TOKEN;
	return 0;
}

static void used_hash(const struct rf_token *t, uint8_t out[16])
{
	crypto_generichash_state st;
	uint8_t id[8];

	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)(t->alloc_id >> (56 - 8 * i));
	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, id, sizeof(id));
	crypto_generichash_update(&st, (const uint8_t *)t->player, strlen(t->player));
	crypto_generichash_final(&st, out, 16);
}

void adm_used_sync(struct rf_slot *s, uint64_t alloc_id)
{
	struct rf_slot_tokens *tk = rf_slot_tokens(s);

	if (tk->alloc_id == alloc_id)
		return;
	tk->alloc_id = alloc_id;
	tk->used = 0;
}

bool adm_used_has(struct rf_slot *s, const struct rf_token *t)
{
	const struct rf_slot_tokens *tk = rf_slot_tokens(s);
	const struct rf_slot_used *u = rf_slot_used(s);
	uint32_t n = tk->used < 2 * s->max_clients ? tk->used : 2 * s->max_clients;
	uint8_t h[16];

	used_hash(t, h);
	for (uint32_t i = 0; i < n; i++)
		if (memcmp(u[i].hash, h, sizeof(h)) == 0)
			return true;
	return false;
}

bool adm_used_full(struct rf_slot *s)
{
	return rf_slot_tokens(s)->used >= 2 * s->max_clients;
}

int adm_used_add(struct rf_slot *s, const struct rf_token *t)
{
	struct rf_slot_tokens *tk = rf_slot_tokens(s);

	if (tk->used >= 2 * s->max_clients)
		return -ENOSPC;
	used_hash(t, rf_slot_used(s)[tk->used].hash);
	tk->used++;
	return 0;
}

enum adm_verdict adm_decide(enum rf_admission mode, const struct rf_slot_secret *s, uint64_t now_ns,
			    const struct sockaddr *sa, uint32_t salen, const uint8_t *data,
			    uint32_t len)
{
	switch (mode) {
	case RF_ADMISSION_OPEN:
		return decide_open();
	case RF_ADMISSION_COOKIE:
		return decide_cookie(s, now_ns, sa, salen, data, len);
	case RF_ADMISSION_TOKEN:
		return decide_token(data, len);
	}
	return ADM_IGNORE;
}

struct scan {
	uint32_t same;   /* entries of the newcomer's prefix */
	int oldest;      /* evictable entry idle longest, -1 if none */
	int oldest_same; /* the same among the newcomer's prefix */
};

static bool evictable(const struct rf_slot_client *e, uint64_t now_ns)
{
	uint64_t seen = e->last_seen_ns;

	return (e->flags & RF_CLIENT_PROBATION) ||
	       (now_ns > seen && now_ns - seen > RF_ADM_EVICT_GRACE_NS);
}

static void scan_table(const struct clients *c, const struct sockaddr *sa, bool per_ip,
		       uint64_t now_ns, struct scan *sc)
{
	const uint32_t *list = clients_list(c);
	struct clients_prefix want = clients_prefix_of(sa);
	uint64_t old = UINT64_MAX, old_same = UINT64_MAX;

	*sc = (struct scan){ .oldest = -1, .oldest_same = -1 };
	for (uint32_t i = 0; i < c->n; i++) {
		const struct rf_slot_client *e = &c->tab[list[i]];
		uint64_t seen = e->last_seen_ns;
		bool can_go = evictable(e, now_ns);

		if (can_go && seen < old) {
			old = seen;
			sc->oldest = (int)list[i];
		}
		if (!per_ip)
			continue;
		struct clients_prefix p = clients_prefix_of((const struct sockaddr *)&e->addr);

		if (memcmp(&p, &want, sizeof(p)) != 0)
			continue;
		sc->same++;
		if (can_go && seen < old_same) {
			old_same = seen;
			sc->oldest_same = (int)list[i];
		}
	}
}

bool adm_place_scans(const struct clients *c, const struct sockaddr *sa, uint32_t per_ip)
{
	return c->n >= c->max || (per_ip && clients_per_prefix(c, sa) >= per_ip);
}

int adm_victim(const struct clients *c, const struct sockaddr *sa, uint32_t salen, uint64_t now_ns,
	       uint32_t per_ip)
{
	struct scan sc;

	if (clients_find(c, sa, salen) == -EAFNOSUPPORT)
		return -EAFNOSUPPORT;
	if (!adm_place_scans(c, sa, per_ip))
		return -ENOENT;
	scan_table(c, sa, per_ip != 0, now_ns, &sc);
	if (per_ip && sc.same >= per_ip)
		return sc.oldest_same < 0 ? -EUSERS : sc.oldest_same;
	if (c->n >= c->max)
		return sc.oldest < 0 ? -ENOSPC : sc.oldest;
	return -ENOENT;
}

int adm_place(struct clients *c, const struct sockaddr *sa, uint32_t salen, uint64_t now_ns,
	      uint32_t per_ip, bool *evicted)
{
	int victim = adm_victim(c, sa, salen, now_ns, per_ip);

	*evicted = false;
	if (victim >= 0) {
		clients_remove(c, (uint32_t)victim);
		*evicted = true;
	} else if (victim != -ENOENT) {
		return victim;
	}
	return clients_touch(c, sa, salen, now_ns);
}
