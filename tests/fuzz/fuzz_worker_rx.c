// SPDX-License-Identifier: Apache-2.0
/* fuzz_worker_rx - a worker's admission and tick planning against a model.
 *
 * The input is a small program: a header with the worker's parameters
 * (and optionally a resumed slot full of arbitrary client entries, as a
 * crashed predecessor may leave it), then operations until the input ends:
 * datagrams (and bursts of one) from a pool of addresses or with raw
 * address bytes, time passing, GSO failures, ends of tick, and datagrams delivered as a
 * multishot-recvmsg buffer the way worker/ring.c parses them. Datagrams
 * carry a kernel receive time: by default "now", or one the input picks
 * (long past, as after a stall; future; missing; nonsense), and the ring
 * op puts it into the buffer as an SCM_TIMESTAMPNS control message.
 *
 * Every step is checked against a plain reference model (linear search
 * over an array, no hashing): the verdict of each worker_rx() call (the
 * per-client cap counting per arrival tick on the tick grid), the
 * counters, which clients exist and at which index, expiry, and at every
 * tick the plan: the relay (the built-in game, run through the game host
 * as in ringfleet-worker) broadcasts each kept datagram to the clients in
 * the table at that moment, within the output budget, so each live client
 * gets exactly the kept datagrams since it joined, once and in order, in
 * sends to it alone; no send exceeds 64 segments or 65,507 bytes, GSO runs
 * follow the kernel's rules and are as long as they may be. A final
 * "restart" attaches a second worker to the slot, which must find the
 * same clients and counters.
 *
 * Without header flag 0x80 the worker admits in open mode. With it, an
 * admission byte picks cookie or open mode and max_clients_per_ip 0..4,
 * and the model also decides the handshake (HELLO, RESPONSE, stale
 * RESPONSE, game data from unknown sources), the table policy (per-address
 * cap, probation, eviction of clients idle past the grace period, the scan
 * budget), every reply with its per-tick budget, and the key rotation
 * after each tick start; in cookie mode op 1 becomes "a pooled source
 * answers the CHALLENGE of some recent window". A newcomer, also one in
 * an evicted client's entry, starts with a fresh allowance of the cap.
 * (Header flag 0x40 sets the real-time clock behind the monotonic one.)
 *
 * The ring's parsing lives in a static function of ring.c (on_recv), so
 * the ring op below mirrors its dozen lines over the real liburing
 * helpers and buffer layout; keep the two in step.
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/handshake.h"
#include "common/slot.h"
#include "common/timeutil.h"
#include "tests/fuzz/fuzz_input.h"
#include "worker/game_host.h"
#include "worker/worker.h"

/* Room for a source address in both backends' receive buffers. */
#define NAME_ROOM ((uint32_t)sizeof(struct sockaddr_in6))
#define ARENA_SLACK 512
/* ring.c's receive buffer layout: name room rounded up for cmsghdr
 * alignment, then room for two timestamps' worth of control messages. */
#define RING_NAME_ROOM ((uint32_t)CMSG_ALIGN(sizeof(struct sockaddr_in6)))
#define RING_CTL_ROOM ((uint32_t)(2 * CMSG_SPACE(sizeof(struct timespec))))

struct key {
	sa_family_t family;
	uint16_t port;
	uint32_t scope;
	uint8_t addr[16];
};

struct mclient {
	struct key k;
	uint64_t seen;
	uint64_t tick;  /* arrival tick of the last counted packet */
	uint32_t count; /* packets counted in that tick */
	int idx;        /* the worker's entry */
	bool probation; /* admitted by handshake, no game data yet */
	uint32_t from;  /* the first of this tick's packets it gets */
};

struct mpkt {
	void *base;
	uint32_t len;
	uint32_t cookie;
	uint64_t hash; /* of the bytes when received, for a copy in the plan */
	bool sent;     /* broadcast within the output budget */
};

/* The reference model and the harness state around one worker. */
struct fx {
	struct worker w;
	struct game_host host; /* the relay */
	struct tick_plan plan;
	uint32_t max_out;  /* the plan's output budget */
	uint32_t out_used; /* the model's count of it this tick */
	uint64_t drop_output;
	struct rf_slot *slot;
	struct worker_params wp;
	uint32_t cap;
	uint64_t now;
	int64_t real_off;       /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t period, phase; /* the model's tick grid */
	uint32_t gso;           /* the model's gso_max_seg */
	struct mclient *c;
	uint32_t n;
	struct mpkt *pkts; /* admitted this window, in order */
	uint32_t n_pkts;
	void **held; /* ring buffers the plan points into */
	uint32_t n_held;
	uint32_t cookie;
	uint8_t *mark;             /* [max_clients] scratch */
	struct rf_slot_stats base; /* counters when the run started */
	uint64_t pkts_in, bytes_in, truncated, max_clients, flood, no_buffer, admitted;
	uint64_t unadmitted, evictions;
	uint64_t evict_seen; /* last_seen of the client the next rx may evict */
	bool may_evict;
	uint32_t scans;               /* table scans this tick (RF_ADM_PLACE_MAX) */
	bool cookie_mode;             /* admission = cookie */
	uint32_t replies, challenges; /* queued this tick */
	uint64_t hs, refusals, n_challenges, replies_dropped, adm_admitted;
};

static uint8_t arena[65536 + ARENA_SLACK];

/* ---- the model ---- */

/* What identifies a client, by the rules clients.h documents: a complete
 * IPv4/IPv6 address; port, address and (IPv6) scope, nothing else. */
static bool key_of(const uint8_t *name, uint32_t namelen, struct key *k)
{
	struct sockaddr_in6 sa6;
	struct sockaddr_in sa4;
	sa_family_t fam;

	memset(k, 0, sizeof(*k));
	memcpy(&fam, name, sizeof(fam));
	if (fam == AF_INET && namelen >= sizeof(sa4)) {
		memcpy(&sa4, name, sizeof(sa4));
		k->port = sa4.sin_port;
		memcpy(k->addr, &sa4.sin_addr, 4);
	} else if (fam == AF_INET6 && namelen >= sizeof(sa6)) {
		memcpy(&sa6, name, sizeof(sa6));
		k->port = sa6.sin6_port;
		k->scope = sa6.sin6_scope_id;
		memcpy(k->addr, &sa6.sin6_addr, 16);
	} else {
		return false;
	}
	k->family = fam;
	return true;
}

static bool key_eq(const struct key *a, const struct key *b)
{
	return a->family == b->family && a->port == b->port && a->scope == b->scope &&
	       memcmp(a->addr, b->addr, 16) == 0;
}

/* The key as a clean sockaddr, to ask the worker's table about it. */
static uint32_t key_sockaddr(const struct key *k, struct sockaddr_in6 *out)
{
	memset(out, 0, sizeof(*out));
	if (k->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)out;

		in->sin_family = AF_INET;
		in->sin_port = k->port;
		memcpy(&in->sin_addr, k->addr, 4);
		return sizeof(*in);
	}
	out->sin6_family = AF_INET6;
	out->sin6_port = k->port;
	out->sin6_scope_id = k->scope;
	memcpy(&out->sin6_addr, k->addr, 16);
	return sizeof(*out);
}

/* What max_clients_per_ip counts by: an IPv4 address, also IPv4-mapped,
 * or an IPv6 /64 (the scope does not count). */
static void prefix(const struct key *k, uint8_t out[9])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(out, 0, 9);
	if (k->family == AF_INET || memcmp(k->addr, mapped, 12) == 0) {
		out[0] = 4;
		memcpy(out + 1, k->family == AF_INET ? k->addr : k->addr + 12, 4);
	} else {
		out[0] = 6;
		memcpy(out + 1, k->addr, 8);
	}
}

static bool same_prefix(const struct key *a, const struct key *b)
{
	uint8_t pa[9], pb[9];

	prefix(a, pa);
	prefix(b, pb);
	return memcmp(pa, pb, 9) == 0;
}

static struct mclient *model_find(struct fx *f, const struct key *k)
{
	for (uint32_t i = 0; i < f->n; i++)
		if (key_eq(&f->c[i].k, k))
			return &f->c[i];
	return NULL;
}

static int worker_index(struct fx *f, const struct key *k)
{
	struct sockaddr_in6 sa;
	uint32_t len = key_sockaddr(k, &sa);

	return clients_find(&f->w.clients, (struct sockaddr *)&sa, len);
}

static uint64_t model_tick_of(const struct fx *f, uint64_t mono)
{
	return mono < f->phase ? 0 : (mono - f->phase) / f->period;
}

/* The tick a datagram stamped real arrived in: its own, or the current one
 * when it has no stamp or one no arrival can have (before boot, after
 * this tick's window). */
static uint64_t model_arrival(const struct fx *f, uint64_t real)
{
	__int128 mono = (__int128)real - f->real_off;

	if (real == 0 || real > INT64_MAX || mono < 0 || mono > (__int128)(f->now + f->period))
		return model_tick_of(f, f->now);
	return model_tick_of(f, (uint64_t)mono);
}

/* The receive time of a datagram that arrived at mono time t. */
static uint64_t real_at(const struct fx *f, uint64_t t)
{
	return (uint64_t)((int64_t)t + f->real_off);
}

/* What main.c does after each worker_tick_start(): a new handshake key
 * once per epoch. */
static void rotate_key(struct fx *f, uint8_t fill)
{
	uint8_t key[RF_HS_KEY_LEN];

	if (!worker_key_due(&f->w))
		return;
	memset(key, fill, sizeof(key));
	worker_key_install(&f->w, key);
	FUZZ_CHECK(!worker_key_due(&f->w), "key installed");
}

/* The worker's clocks at the model's now, as main.c starts a tick. */
static void set_now(struct fx *f)
{
	worker_tick_start(&f->w, f->now, real_at(f, f->now));
	rotate_key(f, (uint8_t)(f->now >> 20));
}

/* One reply to a source namelen long queued, if the tick's budget has
 * room (CHALLENGEs have less). A name longer than any address (the ring's
 * name area is 32 bytes; the kernel never reports more than 28) gets no
 * reply: it would not fit the queue entry. */
static void model_reply(struct fx *f, bool challenge, uint32_t namelen)
{
	if (f->replies >= RF_ADM_REPLY_MAX ||
	    (challenge && f->challenges >= RF_ADM_CHALLENGE_MAX) ||
	    namelen > sizeof(struct sockaddr_in6)) {
		f->replies_dropped++;
		return;
	}
	f->replies++;
	if (challenge) {
		f->challenges++;
		f->n_challenges++;
	}
}

/* The table policy of worker/admission.h for newcomer k: 0 and the entry
 * to evict (-1: none), or -EUSERS / -ENOSPC. */
static int model_place(struct fx *f, const struct key *k, int *victim)
{
	uint64_t old = UINT64_MAX, old_same = UINT64_MAX;
	uint32_t per_ip = f->wp.max_clients_per_ip, same = 0;
	int o = -1, os = -1;

	*victim = -1;
	for (uint32_t i = 0; i < f->n; i++) {
		const struct mclient *c = &f->c[i];
		/* On probation, or silent past the grace period. */
		bool can_go = c->probation ||
			      (f->now > c->seen && f->now - c->seen > RF_ADM_EVICT_GRACE_NS);

		if (can_go && c->seen < old) {
			old = c->seen;
			o = (int)i;
		}
		if (per_ip && same_prefix(&c->k, k)) {
			same++;
			if (can_go && c->seen < old_same) {
				old_same = c->seen;
				os = (int)i;
			}
		}
	}
	if (per_ip && same >= per_ip)
		o = os;
	else if (f->n < f->wp.max_clients)
		return 0;
	if (o < 0)
		return per_ip && same >= per_ip ? -EUSERS : -ENOSPC;
	*victim = o;
	return 0;
}

/* A source that earned admission, as worker.c's admit(): placed (the
 * newcomer is the model's entry n, the evicted one found by rx()), or
 * refused. */
static int model_admit(struct fx *f, const struct key *k, uint32_t namelen, struct mclient **out)
{
	uint32_t same = 0;
	bool scans;

	for (uint32_t i = 0; i < f->n; i++)
		same += same_prefix(&f->c[i].k, k);
	scans = f->n >= f->wp.max_clients ||
		(f->wp.max_clients_per_ip && same >= f->wp.max_clients_per_ip);
	int victim, ret;

	if (scans &&
	    (f->scans >= RF_ADM_PLACE_MAX || (f->cookie_mode && f->replies >= RF_ADM_REPLY_MAX))) {
		f->replies_dropped += f->cookie_mode;
		return -ENOSPC;
	}
	f->scans += scans;
	ret = scans ? model_place(f, k, &victim) : (victim = -1, 0);
	if (ret < 0) {
		f->refusals++;
		if (f->cookie_mode)
			model_reply(f, false, namelen);
		return ret;
	}
	if (victim >= 0) {
		f->may_evict = true;
		f->evict_seen = f->c[victim].seen;
		f->evictions++;
	}
	*out = &f->c[f->n++];
	**out = (struct mclient){
		.k = *k, .seen = f->now, .idx = -1, .probation = f->cookie_mode, .from = f->n_pkts
	};
	f->adm_admitted++;
	if (f->cookie_mode)
		model_reply(f, false, namelen);
	return 0;
}

/* A datagram from a source not in the table. */
static int model_unknown(struct fx *f, const struct key *k, const uint8_t *name, uint32_t namelen,
			 const uint8_t *data, uint32_t len, struct mclient **c)
{
	const struct sockaddr *sa = (const struct sockaddr *)name;
	int ret;

	if (!f->cookie_mode) {
		ret = model_admit(f, k, namelen, c);
		if (ret < 0) {
			f->max_clients++;
			return -ENOSPC;
		}
		return 0;
	}
	if (adm_response_ok(&f->slot->secret, f->now, sa, namelen, data, len))
		model_admit(f, k, namelen, c);
	else if (len >= RF_HS_CHALLENGE_LEN)
		model_reply(f, true, namelen);
	f->unadmitted++;
	return -ENOTCONN;
}

static uint64_t fnv(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* The verdict worker_rx() must give, updating the model as it would. */
static int model_rx(struct fx *f, const uint8_t *name, uint32_t namelen, void *data, uint32_t len,
		    bool trunc, uint64_t stamp, struct mclient **who)
{
	uint64_t tick;
	struct mclient *c;
	struct key k;

	*who = NULL;
	f->pkts_in++;
	f->bytes_in += len;
	if (trunc || len > f->wp.max_packet) {
		f->truncated++;
		return -EMSGSIZE;
	}
	if (!key_of(name, namelen, &k)) {
		f->unadmitted++;
		return -ENOTCONN;
	}
	c = model_find(f, &k);
	f->may_evict = false;
	if (c) {
		c->seen = f->now;
		if (f->cookie_mode && (adm_is_response(data, len) || adm_is_hello(data, len))) {
			model_reply(f, !adm_is_response(data, len), namelen);
			f->hs++;
			return -EALREADY;
		}
		c->probation = false;
	} else {
		int ret;

		c = NULL;
		ret = model_unknown(f, &k, name, namelen, data, len, &c);
		if (ret < 0) {
			*who = c; /* admitted by its RESPONSE, which is not relayed */
			return ret;
		}
	}
	*who = c;
	/* Per arrival tick; an earlier one counts against the latest. */
	tick = model_arrival(f, stamp);
	if (tick > c->tick) {
		c->tick = tick;
		c->count = 0;
	}
	/* The allowance is spent even when the plan then has no room. */
	if (c->count >= f->wp.max_packets_per_tick) {
		f->flood++;
		return -EDQUOT;
	}
	c->count++;
	if (f->n_pkts >= f->cap) {
		f->no_buffer++;
		return -ENOBUFS;
	}
	f->pkts[f->n_pkts++] = (struct mpkt){ data, len, f->cookie, fnv(data, len), false };
	f->admitted++;
	return 0;
}

static void check_counters(struct fx *f)
{
	const struct rf_slot_stats *s = &f->w.st, *b = &f->base;

	FUZZ_CHECK(s->pkts_in - b->pkts_in == f->pkts_in, "pkts_in");
	FUZZ_CHECK(s->bytes_in - b->bytes_in == f->bytes_in, "bytes_in");
	FUZZ_CHECK(s->drop_truncated - b->drop_truncated == f->truncated, "drop_truncated");
	FUZZ_CHECK(s->drop_max_clients - b->drop_max_clients == f->max_clients, "drop_max_clients");
	FUZZ_CHECK(s->drop_flood - b->drop_flood == f->flood, "drop_flood");
	FUZZ_CHECK(s->drop_no_buffer - b->drop_no_buffer == f->no_buffer, "drop_no_buffer");
	FUZZ_CHECK(s->drop_unadmitted - b->drop_unadmitted == f->unadmitted, "drop_unadmitted");
	FUZZ_CHECK(s->adm_evictions - b->adm_evictions == f->evictions, "adm_evictions");
	FUZZ_CHECK(s->adm_admitted - b->adm_admitted == f->adm_admitted, "adm_admitted");
	FUZZ_CHECK(s->adm_refusals - b->adm_refusals == f->refusals, "adm_refusals");
	FUZZ_CHECK(s->adm_challenges - b->adm_challenges == f->n_challenges, "adm_challenges");
	FUZZ_CHECK(s->drop_replies - b->drop_replies == f->replies_dropped, "drop_replies");
	FUZZ_CHECK(s->drop_output - b->drop_output == f->drop_output, "drop_output");
	FUZZ_CHECK(f->w.n_replies == f->replies && f->w.n_challenges == f->challenges,
		   "replies %u (%u challenges), model %u (%u)", f->w.n_replies, f->w.n_challenges,
		   f->replies, f->challenges);
	/* Every datagram is either in a plan or counted as one drop. */
	FUZZ_CHECK(f->pkts_in == f->admitted + f->truncated + f->max_clients + f->flood +
					 f->no_buffer + f->unadmitted + f->hs,
		   "counters do not add up");
}

/* Each live model client has one worker entry, and no two share one. */
static void check_clients(struct fx *f)
{
	FUZZ_CHECK(f->w.clients.n == f->n, "worker has %u clients, model %u", f->w.clients.n, f->n);
	memset(f->mark, 0, f->wp.max_clients);
	for (uint32_t i = 0; i < f->n; i++) {
		int idx = worker_index(f, &f->c[i].k);

		FUZZ_CHECK(idx >= 0 && idx == f->c[i].idx, "client %u at %d, expected %d", i, idx,
			   f->c[i].idx);
		FUZZ_CHECK(!f->mark[idx], "entry %d used twice", idx);
		f->mark[idx] = 1;
		FUZZ_CHECK(f->w.clients.tab[idx].last_seen_ns == f->c[i].seen, "last_seen of %d",
			   idx);
		FUZZ_CHECK(f->w.clients.tab[idx].flags ==
				   (f->c[i].probation ? RF_CLIENT_PROBATION : 0),
			   "flags of %d", idx);
		/* O(n) each: a sample keeps big tables fast to fuzz. */
		if (i < 32) {
			struct sockaddr_in6 sa;
			uint32_t same = 0;

			key_sockaddr(&f->c[i].k, &sa);
			for (uint32_t j = 0; j < f->n; j++)
				same += same_prefix(&f->c[j].k, &f->c[i].k);
			FUZZ_CHECK(clients_per_prefix(&f->w.clients, (struct sockaddr *)&sa) ==
					   same,
				   "prefix count of client %u: %u, model %u", i,
				   clients_per_prefix(&f->w.clients, (struct sockaddr *)&sa), same);
		}
	}
}

/* The worker evicted one of the clients idle longest for the newcomer
 * (the model's last entry): drop it from the model too. */
static void model_evicted(struct fx *f, struct mclient **who)
{
	for (uint32_t j = 0; j + 1 < f->n; j++) {
		if (f->c[j].seen != f->evict_seen || worker_index(f, &f->c[j].k) >= 0)
			continue;
		memmove(&f->c[j], &f->c[j + 1], (f->n - j - 1) * sizeof(f->c[0]));
		f->n--;
		*who = &f->c[f->n - 1];
		f->may_evict = false;
		return;
	}
	FUZZ_CHECK(false, "no client idle since %llu was evicted",
		   (unsigned long long)f->evict_seen);
}

static void rx(struct fx *f, const uint8_t *name, uint32_t namelen, void *data, uint32_t len,
	       bool trunc, uint64_t stamp, void *held)
{
	struct mclient *who;
	int want, got;

	f->cookie++;
	want = model_rx(f, name, namelen, data, len, trunc, stamp, &who);
	got = worker_rx(&f->w, (const struct sockaddr *)name, namelen, data, len, trunc, f->cookie,
			stamp);
	FUZZ_CHECK(got == want, "worker_rx = %d, model %d (len %u, namelen %u, trunc %d)", got,
		   want, len, namelen, trunc);
	if (f->may_evict)
		model_evicted(f, &who);
	/* The relay's broadcast: every client in the table now, counted
	 * against the budget, or refused whole. */
	if (got == 0) {
		if (f->out_used + f->n <= f->max_out) {
			f->out_used += f->n;
			f->pkts[f->n_pkts - 1].sent = true;
		} else {
			f->drop_output++;
		}
	}
	if (who) {
		int idx = worker_index(f, &who->k);

		FUZZ_CHECK(idx >= 0, "admitted client not in the table");
		if (who->idx < 0)
			who->idx = idx;
		FUZZ_CHECK(idx == who->idx, "client moved from %d to %d", who->idx, idx);
		FUZZ_CHECK(f->w.clients.tab[idx].last_seen_ns == f->now, "not stamped");
	}
	if (held) {
		/* Like the ring: a dropped packet's buffer goes back at once. */
		if (got == 0)
			f->held[f->n_held++] = held;
		else
			free(held);
	}
	check_counters(f);
}

/* ---- the plan ---- */

/* RF_FUZZ_TRACE=1: one line per tick, to see what a seed exercises. */
static bool trace;

static void trace_plan(const struct fx *f)
{
	const struct tick_plan *p = &f->plan;

	fprintf(stderr, "tick: %u clients, %u packets, %u outputs, gso %u, sends:", f->n, p->n_in,
		p->n_out, f->gso);
	for (uint32_t i = 0; i < p->n_sends; i++)
		fprintf(stderr, " %u:%ux%u", p->send[i].idx, p->send[i].count,
			p->send[i].seg ? p->send[i].seg
				       : (unsigned)p->iov[p->send[i].first].iov_len);
	fprintf(stderr, " | in %llu drops trunc %llu clients %llu flood %llu nobuf %llu out %llu",
		(unsigned long long)f->pkts_in, (unsigned long long)f->truncated,
		(unsigned long long)f->max_clients, (unsigned long long)f->flood,
		(unsigned long long)f->no_buffer, (unsigned long long)f->drop_output);
	fprintf(stderr,
		" unadmitted %llu hs %llu | admitted %llu evicted %llu refused %llu"
		" challenges %llu replies %u dropped %llu\n",
		(unsigned long long)f->unadmitted, (unsigned long long)f->hs,
		(unsigned long long)f->adm_admitted, (unsigned long long)f->evictions,
		(unsigned long long)f->refusals, (unsigned long long)f->n_challenges, f->replies,
		(unsigned long long)f->replies_dropped);
}

/* Send s to a client, followed by send t to the same client: t's first
 * datagram could have joined s as a segment? A missed GSO run costs one
 * more send. */
static void check_send_maximal(const struct fx *f, const struct tick_send *s,
			       const struct tick_send *t, uint64_t bytes, uint32_t gso)
{
	const struct tick_plan *p = &f->plan;
	size_t first = p->iov[s->first].iov_len, last = p->iov[s->first + s->count - 1].iov_len;
	size_t len = p->iov[t->first].iov_len;

	if (first == 0 || first > gso)
		return;
	FUZZ_CHECK(!(last == first && s->count < TICK_GSO_MAX_SEGS && len > 0 && len <= first &&
		     bytes + len <= TICK_GSO_MAX_BYTES),
		   "send to %u (%u x %zu) stops before a datagram of %zu bytes", s->idx, s->count,
		   first, len);
}

/* One send's own rules: size, segments, the UDP_SEGMENT cmsg. */
static uint64_t check_send(const struct fx *f, uint32_t i, uint32_t gso)
{
	const struct tick_plan *p = &f->plan;
	const struct tick_send *s = &p->send[i];
	uint64_t bytes = 0;

	FUZZ_CHECK(s->count >= 1 && s->count <= TICK_GSO_MAX_SEGS, "send %u has %u datagrams", i,
		   s->count);
	for (uint32_t j = s->first; j < s->first + s->count; j++)
		bytes += p->iov[j].iov_len;
	FUZZ_CHECK(bytes <= TICK_GSO_MAX_BYTES, "send %u carries %llu bytes", i,
		   (unsigned long long)bytes);
	if (s->count == 1) {
		FUZZ_CHECK(s->seg == 0, "lone datagram sent with GSO");
	} else {
		const struct cmsghdr *cm = &p->cmsg[i].align;
		uint16_t seg;

		FUZZ_CHECK(s->seg > 0 && s->seg <= gso && s->seg == p->iov[s->first].iov_len,
			   "send %u: segment %u with GSO cap %u", i, s->seg, gso);
		for (uint32_t j = s->first; j + 1 < s->first + s->count; j++)
			FUZZ_CHECK(p->iov[j].iov_len == s->seg, "unequal segment %u", j);
		FUZZ_CHECK(p->iov[s->first + s->count - 1].iov_len > 0, "empty segment");
		FUZZ_CHECK(cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_SEGMENT &&
				   cm->cmsg_len == CMSG_LEN(sizeof(uint16_t)),
			   "send %u: cmsg", i);
		memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
		FUZZ_CHECK(seg == s->seg, "send %u: cmsg says %u, send %u", i, seg, s->seg);
	}
	return bytes;
}

/* The datagrams of client c, in send order, against the model's: every
 * packet broadcast since it joined, once, in order. */
static void check_client_sends(const struct fx *f, const struct mclient *c, uint32_t gso)
{
	const struct tick_plan *p = &f->plan;
	uint32_t want = c->from, prev = UINT32_MAX;
	uint64_t prev_bytes = 0;

	for (uint32_t i = 0; i < p->n_sends; i++) {
		const struct tick_send *s = &p->send[i];
		uint64_t bytes;

		if (s->idx != (uint32_t)c->idx)
			continue;
		FUZZ_CHECK(s->gen == f->w.gen[c->idx], "send %u to an older client of entry %d", i,
			   c->idx);
		bytes = check_send(f, i, gso);
		if (prev != UINT32_MAX)
			check_send_maximal(f, &p->send[prev], s, prev_bytes, gso);
		for (uint32_t j = s->first; j < s->first + s->count; j++) {
			while (want < f->n_pkts && !f->pkts[want].sent)
				want++;
			FUZZ_CHECK(want < f->n_pkts, "client %d gets more than was sent", c->idx);
			/* By reference (the input it was), or a copy. */
			FUZZ_CHECK(
				p->iov[j].iov_len == f->pkts[want].len &&
					(p->iov[j].iov_base == f->pkts[want].base ||
					 fnv(p->iov[j].iov_base, p->iov[j].iov_len) ==
						 f->pkts[want].hash),
				"client %d: datagram %u (%zu bytes) is not packet %u (%u bytes, of %u)",
				c->idx, j, p->iov[j].iov_len, want, f->pkts[want].len, f->n_pkts);
			want++;
		}
		prev = i;
		prev_bytes = bytes;
	}
	while (want < f->n_pkts && !f->pkts[want].sent)
		want++;
	FUZZ_CHECK(want == f->n_pkts, "client %d misses packet %u of %u", c->idx, want, f->n_pkts);
}

static void check_plan(struct fx *f)
{
	const struct tick_plan *p = &f->plan;
	uint32_t gso = f->gso < TICK_GSO_MAX_BYTES ? f->gso : TICK_GSO_MAX_BYTES;

	/* The input, held by reference. */
	FUZZ_CHECK(p->n_in == f->n_pkts, "plan holds %u packets, model %u", p->n_in, f->n_pkts);
	for (uint32_t i = 0; i < p->n_in; i++)
		FUZZ_CHECK(p->in_iov[i].iov_base == f->pkts[i].base &&
				   p->in_iov[i].iov_len == f->pkts[i].len &&
				   p->cookie[i] == f->pkts[i].cookie,
			   "packet %u of the plan", i);
	FUZZ_CHECK(p->out_used == f->out_used, "output budget used %u, model %u", p->out_used,
		   f->out_used);
	/* Sends only to live clients. */
	memset(f->mark, 0, f->wp.max_clients);
	for (uint32_t i = 0; i < f->n; i++)
		f->mark[f->c[i].idx] = 1;
	for (uint32_t i = 0; i < p->n_sends; i++)
		FUZZ_CHECK(p->send[i].idx < f->wp.max_clients && f->mark[p->send[i].idx],
			   "send %u to %u, not a live client", i, p->send[i].idx);
	for (uint32_t i = 0; i < f->n; i++)
		check_client_sends(f, &f->c[i], gso);
	if (trace)
		trace_plan(f);
}

static void end_tick(struct fx *f, uint64_t work_ns)
{
	const struct rf_slot_stats *s;
	uint32_t kept = 0;

	worker_end_window(&f->w);
	f->scans = 0;
	for (uint32_t i = 0; i < f->n; i++) {
		struct mclient *c = &f->c[i];

		if (f->now > c->seen &&
		    f->now - c->seen > f->wp.client_timeout_s * (uint64_t)RF_NSEC_PER_SEC)
			continue;
		f->c[kept++] = *c;
	}
	f->n = kept;
	check_clients(f);
	FUZZ_CHECK(f->w.st.clients == f->n, "st.clients");
	worker_game_tick(&f->w);
	worker_plan(&f->w);
	check_plan(f);
	FUZZ_CHECK(!worker_end_tick(&f->w), "the relay ended a session");
	/* Everyone here now gets the whole next tick. */
	for (uint32_t i = 0; i < f->n; i++)
		f->c[i].from = 0;

	worker_tick_done(&f->w, work_ns, f->now);
	worker_publish(&f->w);
	s = &f->slot->stats;
	FUZZ_CHECK(s->ticks == f->w.st.ticks && s->pkts_in == f->w.st.pkts_in &&
			   s->clients == f->w.st.clients && s->drop_flood == f->w.st.drop_flood,
		   "published counters differ");

	/* The sends are done: buffers go back, the next window starts. */
	worker_replies_sent(&f->w, 0);
	f->replies = f->challenges = 0;
	FUZZ_CHECK(f->w.n_replies == 0, "replies kept over a tick");
	for (uint32_t i = 0; i < f->n_held; i++)
		free(f->held[i]);
	f->n_held = 0;
	tick_plan_reset(&f->plan);
	worker_set_plan(&f->w, &f->plan);
	f->n_pkts = 0;
	f->out_used = 0;
	/* The next tick starts a period later. */
	f->now += f->period;
	set_now(f);
}

/* ---- operations ---- */

/* One of 64 sources per family, so that the same client comes back. The
 * bytes that do not identify a client (sin_zero, flowinfo) vary with
 * noise: the table must ignore them. */
static uint32_t pooled_name(uint8_t *name, uint8_t sel, uint8_t noise)
{
	unsigned id = sel & 63;

	memset(name, noise, NAME_ROOM);
	switch (sel >> 6) {
	case 0:
	case 1: {
		struct sockaddr_in in = {
			.sin_family = AF_INET,
			.sin_port = htons((uint16_t)(40000 + id / 8)),
			.sin_addr.s_addr = htonl(0x7f000001u + id % 8),
		};

		memset(in.sin_zero, noise, sizeof(in.sin_zero));
		memcpy(name, &in, sizeof(in));
		return sizeof(in);
	}
	case 2: {
		struct sockaddr_in6 in6 = {
			.sin6_family = AF_INET6,
			.sin6_port = htons((uint16_t)(50000 + id / 16)),
			.sin6_flowinfo = noise,
			.sin6_scope_id = (id / 8) & 1,
		};

		in6.sin6_addr.s6_addr[0] = 0xfe;
		in6.sin6_addr.s6_addr[1] = 0x80;
		in6.sin6_addr.s6_addr[15] = (uint8_t)(1 + id % 8);
		memcpy(name, &in6, sizeof(in6));
		return sizeof(in6);
	}
	default: {
		/* Not a client: another family, or an address cut short. */
		sa_family_t fam = id & 1 ? AF_INET6 : id & 2 ? AF_INET : AF_UNIX;

		memcpy(name, &fam, sizeof(fam));
		return id % 16;
	}
	}
}

/* The receive time of a datagram. Flag 0x80 lets the input pick one: none,
 * long past (a backlog after a stall), a little ahead (taken during the
 * drain, or no arrival time at all), or any 64-bit value. */
static uint64_t datagram_stamp(struct fx *f, struct fuzz_in *in, uint8_t flags)
{
	uint8_t kind;
	uint16_t v;

	if (!(flags & 0x80))
		return real_at(f, f->now);
	kind = fuzz_u8(in);
	v = fuzz_u16(in);
	switch (kind % 4) {
	case 0:
		return 0;
	case 1:
		return real_at(f,
			       f->now > v * RF_NSEC_PER_MSEC ? f->now - v * RF_NSEC_PER_MSEC : 0);
	case 2:
		return real_at(f, f->now + v * 1000ull);
	default:
		return fuzz_u64(in);
	}
}

/* Flags byte shared by the datagram ops. */
static void datagram_shape(struct fx *f, struct fuzz_in *in, uint8_t flags, uint32_t *len,
			   bool *trunc, uint32_t *namelen)
{
	uint16_t raw = fuzz_u16(in);

	*trunc = (flags & 0x07) == 0x07;
	if ((flags & 0x18) == 0x18)
		*namelen = fuzz_u8(in) % (NAME_ROOM + 1);
	/* Mostly sizes the worker accepts; sometimes anything. */
	*len = (flags & 0x60) == 0x60 ? raw : raw % (f->wp.max_packet + 1);
}

/* copies > 1: a burst of the same datagram, as a game client sends every
 * tick; long equal runs are what the GSO limits are about, and a mutator
 * would rarely write them out one by one. */
static void op_datagram(struct fx *f, struct fuzz_in *in, bool raw_name, uint32_t copies)
{
	uint8_t name[NAME_ROOM];
	uint8_t sel = fuzz_u8(in), flags = fuzz_u8(in);
	uint32_t namelen, len;
	uint64_t stamp;
	bool trunc;

	if (raw_name) {
		fuzz_bytes(in, name, sizeof(name));
		namelen = sel % (NAME_ROOM + 1);
	} else {
		namelen = pooled_name(name, sel, flags);
	}
	datagram_shape(f, in, flags, &len, &trunc, &namelen);
	stamp = datagram_stamp(f, in, flags);
	while (copies--)
		rx(f, name, namelen, arena + f->cookie % ARENA_SLACK, len, trunc, stamp, NULL);
}

/* ring.c rx_stamp(), verbatim. */
static uint64_t ring_stamp(struct io_uring_recvmsg_out *out, struct msghdr *msg)
{
	struct cmsghdr *cm;
	const uint8_t *end;

	if (out->controllen > msg->msg_controllen)
		return 0;
	end = (const uint8_t *)io_uring_recvmsg_name(out) + msg->msg_namelen + out->controllen;
	for (cm = io_uring_recvmsg_cmsg_firsthdr(out, msg); cm;
	     cm = io_uring_recvmsg_cmsg_nexthdr(out, msg, cm)) {
		uint64_t ns = tick_stamp_ns(cm, end);

		if (ns)
			return ns;
	}
	return 0;
}

/* The control area the kernel writes for a datagram stamped real: the
 * SCM_TIMESTAMPNS message, after another message when how & 16. Returns
 * its length. */
static uint32_t put_control(uint8_t *ctl, uint64_t real, uint8_t how)
{
	struct timespec ts = { .tv_sec = (time_t)(real / RF_NSEC_PER_SEC),
			       .tv_nsec = (long)(real % RF_NSEC_PER_SEC) };
	struct cmsghdr cm = { .cmsg_level = SOL_SOCKET,
			      .cmsg_type = SCM_TIMESTAMPNS,
			      .cmsg_len = CMSG_LEN(sizeof(ts)) };
	uint32_t off = 0;

	if (how & 16) {
		struct cmsghdr other = { .cmsg_level = SOL_IP,
					 .cmsg_type = 8 /* IP_PKTINFO */,
					 .cmsg_len = CMSG_LEN(12) };

		memcpy(ctl, &other, sizeof(other));
		off = (uint32_t)CMSG_SPACE(12);
	}
	memcpy(ctl + off, &cm, sizeof(cm));
	memcpy(ctl + off + CMSG_LEN(0), &ts, sizeof(ts));
	return off + (uint32_t)CMSG_SPACE(sizeof(ts));
}

/* A datagram as the kernel leaves it in a provided buffer of the ring:
 * io_uring_recvmsg_out, the name area (msg_namelen bytes), the control area
 * (msg_controllen bytes: the receive timestamp when how & 8), then the
 * payload, in a buffer of ring.c's size. The header's fields and the
 * completion's length come from the input, within what the kernel can
 * produce: it never reports more bytes than the buffer holds. */
static void op_ring(struct fx *f, struct fuzz_in *in)
{
	struct msghdr msg = { .msg_namelen = RING_NAME_ROOM, .msg_controllen = RING_CTL_ROOM };
	uint32_t hdr = sizeof(struct io_uring_recvmsg_out);
	uint32_t front = hdr + RING_NAME_ROOM + RING_CTL_ROOM;
	uint32_t buf_len = front + f->wp.max_packet + 1;
	uint8_t sel = fuzz_u8(in), flags = fuzz_u8(in), how = fuzz_u8(in);
	struct io_uring_recvmsg_out *out, head = { 0 };
	uint32_t namelen, len, room, copied, ctl_len = 0;
	uint8_t *buf = malloc(buf_len), *name, *payload;
	uint64_t stamp, want_stamp = 0;
	bool trunc;
	int res;

	FUZZ_CHECK(buf, "malloc");
	memset(buf, 0xbd, buf_len);
	namelen = pooled_name(buf + hdr, sel, flags);
	datagram_shape(f, in, flags, &len, &trunc, &namelen);
	stamp = datagram_stamp(f, in, flags);
	if ((how & 8) && stamp && stamp <= INT64_MAX) {
		ctl_len = put_control(buf + hdr + RING_NAME_ROOM, stamp, how);
		want_stamp = stamp;
	}
	room = f->wp.max_packet + 1;
	copied = len < room ? len : room;
	head.namelen = how & 1 ? fuzz_u32(in) : namelen;
	head.controllen = how & 2 ? fuzz_u32(in) : ctl_len;
	head.payloadlen = len;
	head.flags = trunc || len > room ? MSG_TRUNC : 0;
	memcpy(buf, &head, sizeof(head));
	res = (int)(front + copied);
	if (how & 4)
		res = (int)(fuzz_u32(in) % (buf_len + 1));

	/* ring.c on_recv(), from io_uring_recvmsg_validate() on. */
	out = io_uring_recvmsg_validate(buf, res, &msg);
	if (!out) {
		FUZZ_CHECK((uint32_t)res < front, "valid buffer of %d bytes refused", res);
		free(buf);
		return;
	}
	room = io_uring_recvmsg_payload_length(out, res, &msg);
	len = out->payloadlen < room ? out->payloadlen : room;
	namelen = out->namelen < msg.msg_namelen ? out->namelen : msg.msg_namelen;
	name = io_uring_recvmsg_name(out);
	payload = io_uring_recvmsg_payload(out, &msg);
	/* What worker_rx() and the sends will read lies inside the part of
	 * the buffer the completion covers. */
	FUZZ_CHECK(name >= buf + hdr && name + namelen <= buf + res, "name outside the buffer");
	FUZZ_CHECK(payload >= buf && payload + len <= buf + res,
		   "payload [%td, +%u) outside %d bytes", payload - buf, len, res);
	stamp = ring_stamp(out, &msg);
	/* The stamp the kernel wrote is found; a header the kernel did not
	 * write may lose it, never invent one. */
	FUZZ_CHECK(stamp == want_stamp || (stamp == 0 && (how & 2)), "stamp %llu, wrote %llu",
		   (unsigned long long)stamp, (unsigned long long)want_stamp);
	rx(f, name, namelen, payload, len, out->flags & MSG_TRUNC, stamp, buf);
}

static void op_gso_failed(struct fx *f, struct fuzz_in *in)
{
	static const int errs[] = { -EINVAL, -EIO, -ENOPROTOOPT, -EMSGSIZE };
	int err = errs[fuzz_u8(in) % 4];
	uint32_t seg = fuzz_u16(in);

	FUZZ_CHECK(worker_gso_error(err), "%d is a GSO error", err);
	worker_gso_failed(&f->w, err, seg);
	/* EMSGSIZE lowers the cap below the refused segment; the rest end
	 * GSO for good. */
	if (f->gso && err == -EMSGSIZE) {
		if (seg > 1 && seg - 1 < f->gso)
			f->gso = seg - 1;
	} else {
		f->gso = 0;
	}
	FUZZ_CHECK(f->w.gso_max_seg == f->gso, "gso_max_seg %u, model %u", f->w.gso_max_seg,
		   f->gso);
	FUZZ_CHECK(f->w.st.gso == (f->gso != 0), "st.gso");
}

/* Cookie mode: a pooled source answers the CHALLENGE the server sent it
 * 0-15 s ago (from 10 s on it is stale), sometimes with a bit flipped;
 * or (how & 0x80) sends a HELLO. */
static void op_respond(struct fx *f, struct fuzz_in *in)
{
	uint8_t name[NAME_ROOM], rsp[RF_HS_CHALLENGE_LEN];
	uint8_t sel = fuzz_u8(in), how = fuzz_u8(in);
	uint32_t namelen = pooled_name(name, sel, how);
	uint64_t ago = (how & 3) * (uint64_t)RF_HS_WINDOW_S * RF_NSEC_PER_SEC;

	memset(rsp, 0, sizeof(rsp));
	if (f->now >= ago)
		adm_challenge(&f->slot->secret, f->now - ago, (const struct sockaddr *)name,
			      namelen, rsp);
	memcpy(rsp, RF_HS_RESPONSE_MAGIC, RF_HS_MAGIC_LEN);
	if (how & 4)
		rsp[4 + (how >> 3) % 20] ^= 1;
	if (how & 0x80) {
		memset(arena, 0, RF_HS_HELLO_MIN);
		memcpy(arena, RF_HS_HELLO_MAGIC, RF_HS_MAGIC_LEN);
		rx(f, name, namelen, arena, RF_HS_HELLO_MIN + (how & 3), false, real_at(f, f->now),
		   NULL);
		return;
	}
	memcpy(arena, rsp, sizeof(rsp));
	rx(f, name, namelen, arena, sizeof(rsp), false, real_at(f, f->now), NULL);
}

/* ---- set-up ---- */

/* A slot some earlier worker left: arbitrary entries (and counters), in a
 * layout that matches, so worker_init() resumes from it. */
static void fill_resumed_slot(struct fx *f, struct fuzz_in *in, uint8_t hdr)
{
	uint32_t k = fuzz_u8(in) % (f->wp.max_clients + 1);

	f->slot->magic = RF_SLOT_MAGIC;
	f->slot->version = RF_SLOT_VERSION;
	f->slot->max_clients = f->wp.max_clients;
	if (hdr & 0x10)
		fuzz_bytes(in, &f->slot->stats, sizeof(f->slot->stats));
	for (uint32_t i = 0; i < k; i++) {
		struct rf_slot_client *e = &f->slot->clients[i];

		if (fuzz_u8(in) & 1) {
			fuzz_bytes(in, e, sizeof(*e));
		} else {
			/* A plausible entry: a pooled source, seen at some time. */
			uint8_t name[NAME_ROOM];
			uint32_t len = pooled_name(name, fuzz_u8(in), 0);

			memcpy(&e->addr, name, sizeof(e->addr));
			e->addrlen = len;
			e->last_seen_ns = fuzz_u32(in) * (uint64_t)RF_NSEC_PER_MSEC;
		}
	}
}

/* What clients_rebuild() must keep of the resumed entries: complete
 * addresses of the exact size, first of each duplicate. */
static void model_resume(struct fx *f, const struct rf_slot_client *snap)
{
	for (uint32_t i = 0; i < f->wp.max_clients; i++) {
		const struct rf_slot_client *e = &snap[i];
		uint8_t name[NAME_ROOM] = { 0 };
		bool exact;
		struct key k;

		memcpy(name, &e->addr, sizeof(e->addr));
		if (e->addr.family == 0)
			continue;
		exact = (e->addr.family == AF_INET && e->addrlen == sizeof(struct sockaddr_in)) ||
			(e->addr.family == AF_INET6 && e->addrlen == sizeof(struct sockaddr_in6));
		if (!exact || !key_of(name, e->addrlen, &k) || model_find(f, &k)) {
			FUZZ_CHECK(f->slot->clients[i].addr.family == 0, "bad entry %u kept", i);
			continue;
		}
		f->c[f->n++] = (struct mclient){ .k = k,
						 .seen = e->last_seen_ns,
						 .idx = (int)i,
						 .probation = e->flags & RF_CLIENT_PROBATION };
	}
}

static void setup(struct fx *f, struct fuzz_in *in)
{
	uint8_t hdr = fuzz_u8(in), gsel;
	struct rf_slot_client *snap;
	int ret, want = 0;

	f->wp.max_clients = hdr & 1 ? 1 + fuzz_u16(in) % RF_CLIENTS_LIMIT : 1 + fuzz_u8(in) % 16;
	f->wp.max_packets_per_tick = hdr & 2 ? 1 + fuzz_u16(in) % 1024 : 1 + fuzz_u8(in) % 4;
	f->wp.max_packet = hdr & 4 ? 1 + fuzz_u16(in) % 65507 : 1 + fuzz_u16(in) % 2048;
	f->wp.client_timeout_s = 1 + fuzz_u8(in) % 3;
	f->cap = 1 + fuzz_u8(in);
	gsel = fuzz_u8(in) % 5;
	/* The worker's real caps (IPv4, IPv6), none, or anything. */
	f->wp.gso_max_seg = gsel == 0   ? 0
			    : gsel == 1 ? 1472
			    : gsel == 2 ? 1452
			    : gsel == 3 ? fuzz_u16(in)
					: fuzz_u32(in);
	f->wp.seed = fuzz_u64(in);
	f->wp.admission = RF_ADMISSION_OPEN;
	f->now = fuzz_u32(in) * (uint64_t)RF_NSEC_PER_MSEC;
	if (hdr & 0x80) {
		uint8_t asel = fuzz_u8(in);

		f->wp.admission = asel & 1 ? RF_ADMISSION_OPEN : RF_ADMISSION_COOKIE;
		f->wp.max_clients_per_ip = (asel >> 1) % 5;
		f->cookie_mode = f->wp.admission == RF_ADMISSION_COOKIE;
	}
	f->gso = f->wp.gso_max_seg;
	/* The tick grid and the real-time clock's offset, from the seed. */
	f->wp.tick_hz = 1 + (uint32_t)(f->wp.seed % 1000);
	f->wp.tick_phase_ns = f->wp.seed >> 20;
	f->period = RF_NSEC_PER_SEC / f->wp.tick_hz;
	f->phase = f->wp.tick_phase_ns % f->period;
	f->real_off = (int64_t)(f->wp.seed >> 3);

	f->slot = calloc(1, rf_slot_size(f->wp.max_clients));
	f->c = calloc(f->wp.max_clients + 1, sizeof(*f->c)); /* + a newcomer */
	f->mark = calloc(f->wp.max_clients, 1);
	f->pkts = calloc(f->cap, sizeof(*f->pkts));
	f->held = calloc(f->cap, sizeof(*f->held));
	snap = calloc(f->wp.max_clients, sizeof(*snap));
	FUZZ_CHECK(f->slot && f->c && f->mark && f->pkts && f->held && snap, "calloc");
	if (hdr & 8) {
		fill_resumed_slot(f, in, hdr);
		want = 1;
		if (hdr & 0x20) {
			/* A slot for another table size starts afresh. */
			f->slot->max_clients++;
			want = 0;
		}
	}
	memcpy(snap, f->slot->clients, f->wp.max_clients * sizeof(*snap));
	/* A budget the relay may exceed with many clients: refusals are
	 * part of the model. The payloads are copies (the harness's buffers
	 * are not a backend's receive region); the arena holds cap of them. */
	f->max_out = f->cap * f->wp.max_clients < 65536 ? f->cap * f->wp.max_clients : 65536;
	f->wp.max_output_per_tick = f->max_out;
	FUZZ_CHECK(tick_plan_init(&f->plan,
				  &(struct tick_plan_cfg){ .max_in = f->cap,
							   .max_out = f->max_out,
							   .max_clients = f->wp.max_clients,
							   .max_packet = f->wp.max_packet }) == 0,
		   "tick_plan_init");
	ret = worker_init(&f->w, f->slot, &f->wp);
	FUZZ_CHECK(ret == want, "worker_init = %d, expected %d", ret, want);
	{
		struct game_host_params gp = { .server = "fuzz", .args = "", .tick_hz = 50 };
		char why[GAME_HOST_WHY_MAX];

		FUZZ_CHECK(game_host_load(&f->host, "relay", why, sizeof(why)) == 0 &&
				   game_host_start(&f->host, &f->w, &gp, why, sizeof(why)) == 0,
			   "relay: %s", why);
	}
	worker_set_plan(&f->w, &f->plan);
	if (want)
		model_resume(f, snap);
	free(snap);
	/* A real-time clock behind the monotonic one (an unset RTC). */
	if (hdr & 0x40)
		f->real_off = -(int64_t)(fuzz_u8(in) * (uint64_t)RF_NSEC_PER_MSEC);
	set_now(f);
	f->base = f->w.st;
	check_clients(f);
}

/* A restarted worker resumes from the slot: same clients, same counters. */
static void check_restart(struct fx *f)
{
	struct worker_params wp = f->wp;
	struct rf_slot_stats st = f->w.st;

	game_host_unload(&f->host);
	worker_free(&f->w);
	wp.seed = ~wp.seed;
	FUZZ_CHECK(worker_init(&f->w, f->slot, &wp) == 1, "restart did not resume");
	set_now(f);
	check_clients(f);
	FUZZ_CHECK(f->w.st.pkts_in == st.pkts_in && f->w.st.ticks == st.ticks &&
			   f->w.st.drop_max_clients == st.drop_max_clients,
		   "counters lost in a restart");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fx f = { 0 };

	trace = getenv("RF_FUZZ_TRACE") != NULL;

	setup(&f, &in);
	while (fuzz_more(&in)) {
		switch (fuzz_u8(&in) % 8) {
		case 0:
			op_datagram(&f, &in, false, 1);
			break;
		case 1:
			/* Cookie mode: the handshake, as op 0 would rarely
			 * write a valid RESPONSE. */
			if (f.cookie_mode)
				op_respond(&f, &in);
			else
				op_datagram(&f, &in, false, 1);
			break;
		case 2:
			op_datagram(&f, &in, true, 1);
			break;
		case 3:
			op_ring(&f, &in);
			break;
		case 4:
			/* Time passes, up to a minute: clients expire. */
			f.now += fuzz_u16(&in) * (uint64_t)RF_NSEC_PER_MSEC;
			set_now(&f);
			break;
		case 5:
			end_tick(&f, fuzz_u32(&in));
			break;
		case 6:
			op_gso_failed(&f, &in);
			break;
		case 7:
			op_datagram(&f, &in, false, 1 + fuzz_u8(&in) % 128);
			break;
		}
	}
	end_tick(&f, 0);
	check_restart(&f);

	worker_free(&f.w);
	tick_plan_free(&f.plan);
	free(f.slot);
	free(f.c);
	free(f.mark);
	free(f.pkts);
	free(f.held);
	return 0;
}
