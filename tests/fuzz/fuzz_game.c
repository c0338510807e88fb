// SPDX-License-Identifier: Apache-2.0
/* fuzz_game - the engine's side of the game API (worker/game_host.c over
 * the worker's client table and output plan), driven by a module whose
 * every move the fuzzer picks.
 *
 * The harness module below is an ordinary struct rf_game, loaded through
 * game_host_load_table() (the path the built-in relay takes). Each of its
 * callbacks reads a few actions from the fuzzer input and performs them
 * through the public services: sends to the sender, to live, stale,
 * never-issued and malformed client ids, with sizes 0..max_packet + 1,
 * from the datagram being handled (by reference) or from a scratch buffer
 * rewritten after each call (so a payload that is not copied shows);
 * broadcasts with and without an exception; kicks (stale ones, twice);
 * session ends; values, status texts and log lines of arbitrary bytes;
 * services from the wrong callback and from outside any callback.
 *
 * Between callbacks the input drives the engine as the tick driver does:
 * datagrams from 127.0.x.y sources (admission = open, so a source's first
 * datagram makes it join), ends of tick, jumps of time (clients expire),
 * a drain. A model records every output the services accepted, and at
 * each tick's plan the harness checks:
 *  - every service's return value against the engine's rules (-EINVAL for
 *    a size over max_packet (0 is a valid datagram), -ENOENT for a client not in the
 *    table, -ENOBUFS past max_output_per_tick counting each destination,
 *    -EPERM outside a callback);
 *  - the sends: each to a client live at build time (index + generation),
 *    1..64 datagrams of <= 65,507 bytes in all, a GSO run of equal
 *    segments but a shorter last one, segments <= the GSO cap, no more
 *    datagrams in the tick than the budget;
 *  - per client, the datagrams sent are exactly those queued for it while
 *    it was in the table (broadcasts: only to clients present when they
 *    were queued), in queue order, with the bytes they had when queued;
 *  - joins get fresh ids (never reused), every client that leaves the
 *    table gets one leave with a valid reason, the model's client set is
 *    the table's after every tick, a session end empties the table;
 *  - the slot's status text stays printable and terminated.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/slot.h"
#include "common/timeutil.h"
#include "ringfleet/game.h"
#include "tests/fuzz/fuzz_input.h"
#include "worker/game_host.h"
#include "worker/worker.h"

#define MAX_CLIENTS 12
#define MAX_PACKET 1500
#define MAX_OUTPUT 200
#define SOURCES 24
#define MAX_IDS 512    /* ids the model remembers (stale ones to reuse) */
#define RX_BUFS 64     /* datagrams per tick */
#define RX_STRIDE 1536 /* > MAX_PACKET + 1, like the backends' buffers */
#define TICK_HZ 50
#define MAX_TICKS 200

enum cb { CB_NONE, CB_INIT, CB_JOIN, CB_LEAVE, CB_INPUT, CB_TICK, CB_DRAIN, CB_FINI };

/* One output the services accepted: a unicast to id, or a broadcast to
 * the n clients in the table when it was queued (dest[]). */
struct mout {
	uint32_t off, len; /* payload bytes in model.bytes */
	uint32_t n;
	rf_client_id dest[MAX_CLIENTS];
};

static struct {
	struct fuzz_in in;
	struct worker w;
	struct game_host h;
	struct tick_plan plan;
	struct rf_slot *slot;
	rf_engine *eng; /* from init, to call services outside callbacks */
	enum cb cb;
	uint32_t max_packet, max_output;
	uint64_t now;
	/* The model. */
	rf_client_id live[MAX_CLIENTS + 1];
	uint32_t n_live;
	rf_client_id ids[MAX_IDS]; /* every id ever joined */
	uint32_t n_ids;
	uint32_t last_gen[MAX_CLIENTS];
	struct mout out[MAX_OUTPUT];
	uint32_t n_out;
	rf_client_id kicked[MAX_CLIENTS * 4]; /* by the running callback */
	uint32_t n_kicked;
	uint8_t bytes[MAX_OUTPUT * MAX_PACKET];
	uint32_t n_bytes;
	bool ending; /* the session end is being applied */
	/* The datagram being delivered, for input's checks. */
	const uint8_t *rx_data;
	uint32_t rx_len;
	uint32_t inputs; /* input calls for it */
	uint8_t rx[RX_BUFS * RX_STRIDE];
	uint8_t scratch[MAX_PACKET + 1];
	uint8_t fill;
} G;

/* RF_FUZZ_TRACE=1: a line per callback and engine step. */
static bool trace_on;
#define TRACE(...)                                    \
	do {                                          \
		if (trace_on)                         \
			fprintf(stderr, __VA_ARGS__); \
	} while (0)

/* ---- the model ---- */

static int live_pos(rf_client_id c)
{
	for (uint32_t i = 0; i < G.n_live; i++)
		if (G.live[i] == c)
			return (int)i;
	return -1;
}

/* Is c in the worker's table right now (kicked ones stay until their
 * callback returns)? */
static bool in_table(rf_client_id c)
{
	return c != RF_NO_CLIENT && worker_client_idx(&G.w, c) >= 0;
}

static rf_client_id pick_id(rf_client_id self)
{
	uint8_t how = fuzz_u8(&G.in);

	switch (how % 7) {
	case 0:
		return self;
	case 1:
		return G.n_live ? G.live[fuzz_u8(&G.in) % G.n_live] : self;
	case 2: /* stale, or still live: any id ever issued */
		return G.n_ids ? G.ids[fuzz_u8(&G.in) % G.n_ids] : self;
	case 3:
		return RF_NO_CLIENT;
	case 4: /* a live index with a generation never issued */
		return G.n_live ? G.live[0] + ((uint64_t)(1 + fuzz_u8(&G.in)) << 32) : 1;
	case 5: /* an index past the table */
		return ((uint64_t)1 << 32) | (MAX_CLIENTS + fuzz_u8(&G.in));
	default:
		return fuzz_u64(&G.in);
	}
}

static uint32_t pick_size(void)
{
	uint8_t how = fuzz_u8(&G.in);

	switch (how % 6) {
	case 0:
		return 0;
	case 1:
		return G.max_packet;
	case 2:
		return G.max_packet + 1;
	default:
		return 1 + fuzz_u16(&G.in) % G.max_packet;
	}
}

/* The payload of a send: a piece of the datagram being handled (sent by
 * reference) or the scratch buffer (copied), len bytes. */
static const uint8_t *pick_src(uint32_t *len)
{
	if (G.cb == CB_INPUT && G.rx_len && (fuzz_u8(&G.in) & 1)) {
		uint32_t off = fuzz_u16(&G.in) % G.rx_len;

		if (*len > G.rx_len - off)
			*len = G.rx_len - off;
		return G.rx_data + off;
	}
	G.fill++;
	for (uint32_t i = 0; i < *len; i++)
		G.scratch[i] = (uint8_t)(G.fill + i * 7);
	return G.scratch;
}

/* Sending is for the callbacks inside a tick. */
static bool may_send(void)
{
	return G.cb == CB_JOIN || G.cb == CB_LEAVE || G.cb == CB_INPUT || G.cb == CB_TICK ||
	       G.cb == CB_DRAIN;
}

static void record(const uint8_t *data, uint32_t len, const rf_client_id *dest, uint32_t n)
{
	struct mout *o;

	/* fini's output is dropped; a session end's leaves come after the
	 * plan. Neither is sent. */
	if (G.cb == CB_FINI || G.ending)
		return;
	FUZZ_CHECK(G.n_out < MAX_OUTPUT && G.n_bytes + len <= sizeof(G.bytes), "model full");
	o = &G.out[G.n_out++];
	o->off = G.n_bytes;
	o->len = len;
	o->n = n;
	memcpy(o->dest, dest, n * sizeof(*dest));
	memcpy(G.bytes + G.n_bytes, data, len);
	G.n_bytes += len;
}

static bool kicked(rf_client_id c)
{
	for (uint32_t i = 0; i < G.n_kicked; i++)
		if (G.kicked[i] == c)
			return true;
	return false;
}

/* The rc of a send or broadcast for destinations costing lo..hi of the
 * budget (a client kicked in this callback may count or not), against
 * the rules and the plan's budget before (used) and after the call. */
static void check_output_rc(int rc, uint32_t len, bool no_client, uint32_t lo, uint32_t hi,
			    uint32_t used, const char *what)
{
	/* An empty datagram is valid UDP: the relay relays it. */
	bool bad_len = len > G.max_packet;
	uint32_t now = G.plan.out_used;

	if (G.ending)
		return; /* leaves of a session end: after the plan, anything goes */
	if (G.cb == CB_FINI)
		return; /* accepted or not, never sent */
	if (!may_send()) {
		/* init has no tick to send in. */
		FUZZ_CHECK(rc == -EPERM && now == used, "%s outside a tick: %d", what, rc);
		return;
	}
	if (bad_len || no_client) {
		FUZZ_CHECK((bad_len && rc == -EINVAL) || (no_client && rc == -ENOENT),
			   "%s len %u, no client %d: %d", what, len, no_client, rc);
		FUZZ_CHECK(now == used, "%s refused but counted", what);
		return;
	}
	if (rc == -ENOBUFS) {
		FUZZ_CHECK(used + hi > G.max_output && now == used,
			   "%s refused for the budget: %u + %u..%u of %u", what, used, lo, hi,
			   G.max_output);
		return;
	}
	FUZZ_CHECK(rc == 0, "%s len %u cost %u..%u: %d", what, len, lo, hi, rc);
	FUZZ_CHECK(now >= used + lo && now <= used + hi && now <= G.max_output,
		   "%s: budget %u -> %u for %u..%u destinations, max %u", what, used, now, lo, hi,
		   G.max_output);
}

static void do_send(rf_engine *e, rf_client_id self)
{
	rf_client_id to = pick_id(self);
	uint32_t len = pick_size(), used = G.plan.out_used;
	const uint8_t *src = pick_src(&len);
	bool live = in_table(to), gone = live && kicked(to);
	int rc = rf_send(e, to, src, len);

	/* A client kicked in this callback is still in the table: sending
	 * to it may be refused or queued (and then dropped). */
	if (gone && rc == -ENOENT)
		FUZZ_CHECK(G.plan.out_used == used, "send refused but counted");
	else
		check_output_rc(rc, len, !live, 1, 1, used, "send");
	if (rc == 0 && !G.ending)
		record(src, len, &to, 1);
	memset(G.scratch, 0xee, sizeof(G.scratch)); /* a reference to it would show */
}

static void do_broadcast(rf_engine *e, rf_client_id self)
{
	rf_client_id except = pick_id(self), dest[MAX_CLIENTS];
	uint32_t len = pick_size(), n = 0, gone = 0, used = G.plan.out_used;
	const uint8_t *src = pick_src(&len);
	int rc;

	for (uint32_t i = 0; i < G.w.clients.n; i++) {
		rf_client_id c = worker_client_id(&G.w, clients_list(&G.w.clients)[i]);

		if (c != except) {
			dest[n++] = c;
			gone += kicked(c);
		}
	}
	rc = rf_broadcast(e, except, src, len);
	if (n - gone == 0 && may_send() && !G.ending && len <= G.max_packet)
		FUZZ_CHECK(rc == 0 || rc == -ENOBUFS, "broadcast to nobody: %d", rc);
	else
		check_output_rc(rc, len, false, n - gone, n, used, "broadcast");
	if (rc == 0 && n && !G.ending)
		record(src, len, dest, n);
	memset(G.scratch, 0xee, sizeof(G.scratch));
}

static void random_text(char *buf, size_t cap)
{
	size_t n = fuzz_u16(&G.in) % cap;

	fuzz_bytes(&G.in, buf, n);
	buf[n] = '\0';
}

/* A few actions, read from the input, from inside callback G.cb. */
static void act(rf_engine *e, rf_client_id self, uint32_t max)
{
	uint32_t n = fuzz_u8(&G.in) % (max + 1);
	rf_client_id ids[MAX_CLIENTS + 1];
	char text[320];
	int rc;

	for (uint32_t k = 0; k < n && fuzz_more(&G.in); k++) {
		uint8_t op = fuzz_u8(&G.in);

		switch (op % 13) {
		case 0:
		case 1:
			do_send(e, self);
			break;
		case 2:
			do_broadcast(e, self);
			break;
		case 3: {
			rf_client_id c = pick_id(self);
			bool live = in_table(c);

			rc = rf_kick(e, c);
			/* A second kick of the same client may succeed
			 * again or find it gone. */
			if (kicked(c))
				FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -EPERM,
					   "kick again: %d", rc);
			else if (may_send() && !G.ending)
				FUZZ_CHECK(rc == (live ? 0 : -ENOENT), "kick of %s: %d",
					   live ? "a client" : "no client", rc);
			TRACE("  kick %llx: %d\n", (unsigned long long)c, rc);
			if (rc == 0 && G.n_kicked < MAX_CLIENTS * 4)
				G.kicked[G.n_kicked++] = c;
			break;
		}
		case 4:
			rc = rf_end_session(e);
			FUZZ_CHECK(rc == 0 || rc == -EPERM, "end_session: %d", rc);
			break;
		case 5:
			rc = rf_set_value(e, fuzz_u8(&G.in) % (RF_GAME_VALUES + 2),
					  (int64_t)fuzz_u64(&G.in));
			break;
		case 6:
			random_text(text, RF_GAME_STATUS_MAX + 16);
			rc = rf_set_status(e, text);
			break;
		case 7:
			random_text(text, sizeof(text));
			rf_log(e, (int)(int8_t)fuzz_u8(&G.in), text);
			break;
		case 8:
			random_text(text, RF_GAME_VALUE_NAME_MAX + 4);
			rc = rf_define_value(e, fuzz_u8(&G.in) % (RF_GAME_VALUES + 1), text);
			FUZZ_CHECK(G.cb == CB_INIT || rc == -EPERM, "define_value after init: %d",
				   rc);
			break;
		case 9: {
			rf_client_id c = pick_id(self);
			void *p = (void *)(uintptr_t)fuzz_u64(&G.in);

			if (rf_set_client_data(e, c, p) == 0)
				FUZZ_CHECK(rf_client_data(e, c) == p, "client data lost");
			break;
		}
		case 10: {
			uint32_t cap = fuzz_u8(&G.in) % (MAX_CLIENTS + 1);
			uint32_t m = rf_clients(e, ids, cap);

			FUZZ_CHECK(m <= G.w.clients.n, "rf_clients %u, table %u", m, G.w.clients.n);
			for (uint32_t i = 0; i < m && i < cap; i++)
				FUZZ_CHECK(in_table(ids[i]), "rf_clients: %llx not a client",
					   (unsigned long long)ids[i]);
			break;
		}
		case 11: { /* a run of equal sizes to one client: GSO's limits */
			rf_client_id to = pick_id(self);
			uint32_t runs = fuzz_u8(&G.in) % 80, len = pick_size();

			for (uint32_t r = 0; r < runs; r++) {
				uint32_t used = G.plan.out_used;
				const uint8_t *src = pick_src(&len);

				rc = rf_send(e, to, src, len);
				if (!kicked(to))
					check_output_rc(rc, len, !in_table(to), 1, 1, used, "run");
				if (rc == 0 && !G.ending)
					record(src, len, &to, 1);
			}
			break;
		}
		default:
			(void)rf_tick(e);
			(void)rf_tick_ns(e);
			break;
		}
	}
}

/* ---- the harness module ---- */

static void enter(enum cb cb)
{
	enum cb was = G.cb;

	FUZZ_CHECK(was == CB_NONE, "callback %d inside callback %d", cb, was);
	G.cb = cb;
	G.n_kicked = 0;
	TRACE("cb %d\n", cb);
}

static int fz_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	char name[RF_GAME_VALUE_NAME_MAX + 4];
	int fail;

	enter(CB_INIT);
	G.eng = e;
	FUZZ_CHECK(info->max_packet == G.max_packet && info->output_budget == G.max_output &&
			   info->max_clients == G.w.clients.max && info->args && info->server,
		   "init info");
	for (unsigned i = 0; i < RF_GAME_VALUES + 1; i++) {
		random_text(name, sizeof(name));
		(void)rf_define_value(e, i, name);
	}
	act(e, RF_NO_CLIENT, 4);
	*state = &G;
	fail = (fuzz_u8(&G.in) & 0x3f) == 0x3f;
	G.cb = CB_NONE;
	return fail ? -EINVAL : 0;
}

static void fz_fini(rf_engine *e, void *state)
{
	FUZZ_CHECK(state == &G, "fini state");
	enter(CB_FINI);
	act(e, RF_NO_CLIENT, 4);
	G.cb = CB_NONE;
}

static int fz_join(rf_engine *e, void *state, rf_client_id c)
{
	uint32_t idx = (uint32_t)c, gen = (uint32_t)(c >> 32);
	int refuse;

	FUZZ_CHECK(state == &G, "join state");
	enter(CB_JOIN);
	FUZZ_CHECK(c != RF_NO_CLIENT && idx < MAX_CLIENTS && live_pos(c) < 0, "join %llx",
		   (unsigned long long)c);
	FUZZ_CHECK(gen > G.last_gen[idx], "id %llx reused (gen %u after %u)", (unsigned long long)c,
		   gen, G.last_gen[idx]);
	G.last_gen[idx] = gen;
	G.live[G.n_live++] = c;
	if (G.n_ids < MAX_IDS)
		G.ids[G.n_ids++] = c;
	act(e, c, 3);
	refuse = (fuzz_u8(&G.in) & 7) == 7;
	TRACE("  join %llx%s\n", (unsigned long long)c, refuse ? ": refused" : "");
	if (refuse) {
		int p = live_pos(c);

		/* Refused: not added, no leave follows. */
		if (p >= 0)
			G.live[p] = G.live[--G.n_live];
	}
	G.cb = CB_NONE;
	return refuse ? -EPERM : 0;
}

static void fz_leave(rf_engine *e, void *state, rf_client_id c, enum rf_leave_reason why)
{
	int p = live_pos(c);

	FUZZ_CHECK(state == &G, "leave state");
	enter(CB_LEAVE);
	TRACE("  leave %llx why %d\n", (unsigned long long)c, why);
	FUZZ_CHECK(p >= 0, "leave of %llx, not a client", (unsigned long long)c);
	FUZZ_CHECK(why >= RF_LEAVE_TIMEOUT && why <= RF_LEAVE_EVICTED, "leave reason %d", why);
	FUZZ_CHECK(why != RF_LEAVE_SESSION_OVER || G.ending, "SESSION_OVER outside a session end");
	G.live[p] = G.live[--G.n_live];
	act(e, c, 2);
	G.cb = CB_NONE;
}

static void fz_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	FUZZ_CHECK(state == &G, "input state");
	enter(CB_INPUT);
	FUZZ_CHECK(live_pos(c) >= 0 && in_table(c), "input from %llx, not a client",
		   (unsigned long long)c);
	FUZZ_CHECK(data == G.rx_data && len == G.rx_len && G.inputs++ == 0,
		   "input is not the datagram delivered");
	act(e, c, 6);
	G.cb = CB_NONE;
}

static void fz_tick(rf_engine *e, void *state)
{
	FUZZ_CHECK(state == &G, "tick state");
	enter(CB_TICK);
	act(e, RF_NO_CLIENT, 10);
	G.cb = CB_NONE;
}

static void fz_drain(rf_engine *e, void *state, uint64_t deadline_ns)
{
	FUZZ_CHECK(state == &G && deadline_ns >= G.now, "drain");
	enter(CB_DRAIN);
	act(e, RF_NO_CLIENT, 6);
	G.cb = CB_NONE;
}

static const struct rf_game fuzz_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "fuzz",
	.init = fz_init,
	.fini = fz_fini,
	.join = fz_join,
	.leave = fz_leave,
	.input = fz_input,
	.tick = fz_tick,
	.drain = fz_drain,
};

/* ---- the engine, driven as driver.c does ---- */

static void check_plan(void)
{
	const struct tick_plan *p = &G.plan;
	uint32_t total = 0, cursor[MAX_CLIENTS] = { 0 };
	bool seen[MAX_CLIENTS] = { false };

	for (uint32_t s = 0; s < p->n_sends; s++) {
		const struct tick_send *sd = &p->send[s];
		rf_client_id c = (uint64_t)sd->gen << 32 | sd->idx;
		uint32_t bytes = 0;

		FUZZ_CHECK(worker_client_live(&G.w, sd->idx, sd->gen),
			   "send %u to %u gen %u, not live", s, sd->idx, sd->gen);
		FUZZ_CHECK(sd->count >= 1 && sd->count <= TICK_GSO_MAX_SEGS, "send %u: %u segs", s,
			   sd->count);
		FUZZ_CHECK(sd->count == 1 || sd->seg, "send %u: %u datagrams, no GSO", s,
			   sd->count);
		FUZZ_CHECK(!sd->seg || sd->seg <= G.w.gso_max_seg || sd->count == 1,
			   "send %u: segment %u over the cap %u", s, sd->seg, G.w.gso_max_seg);
		seen[sd->idx] = true;
		for (uint32_t k = 0; k < sd->count; k++) {
			const struct iovec *v = &p->iov[sd->first + k];
			const struct mout *o;
			bool mine = false;

			/* An empty segment would vanish from a GSO send. */
			FUZZ_CHECK(v->iov_len <= G.max_packet && (v->iov_len || sd->count == 1),
				   "send %u: datagram of %zu in a run of %u", s, v->iov_len,
				   sd->count);
			if (sd->seg)
				FUZZ_CHECK(k + 1 == sd->count ? v->iov_len <= sd->seg
							      : v->iov_len == sd->seg,
					   "send %u: segment %u of %zu, seg %u", s, k, v->iov_len,
					   sd->seg);
			bytes += (uint32_t)v->iov_len;
			/* The next output the model queued for c. */
			for (; cursor[sd->idx] < G.n_out && !mine; cursor[sd->idx]++) {
				o = &G.out[cursor[sd->idx]];
				for (uint32_t d = 0; d < o->n; d++)
					mine |= o->dest[d] == c;
			}
			FUZZ_CHECK(mine, "client %llx got a datagram nobody queued for it",
				   (unsigned long long)c);
			o = &G.out[cursor[sd->idx] - 1];
			FUZZ_CHECK(
				o->len == v->iov_len &&
					memcmp(G.bytes + o->off, v->iov_base, o->len) == 0,
				"client %llx: datagram %u of send %u differs from what was queued",
				(unsigned long long)c, k, s);
		}
		FUZZ_CHECK(bytes <= TICK_GSO_MAX_BYTES, "send %u: %u bytes", s, bytes);
		TRACE("  send to %llx: %u x %u, %u bytes\n", (unsigned long long)c, sd->count,
		      sd->seg, bytes);
		total += sd->count;
	}
	FUZZ_CHECK(total <= G.max_output, "%u datagrams sent, budget %u", total, G.max_output);
	TRACE("plan: %u sends, %u datagrams, %u outputs queued, %u clients\n", p->n_sends, total,
	      G.n_out, G.w.clients.n);
	/* Every live client got everything queued for it. */
	for (uint32_t i = 0; i < G.w.clients.n; i++) {
		uint32_t idx = clients_list(&G.w.clients)[i];
		rf_client_id c = worker_client_id(&G.w, idx);

		for (uint32_t j = cursor[idx]; j < G.n_out; j++)
			for (uint32_t d = 0; d < G.out[j].n; d++)
				FUZZ_CHECK(G.out[j].dest[d] != c,
					   "client %llx (%s) lost output %u of the tick",
					   (unsigned long long)c, seen[idx] ? "sent to" : "no send",
					   j);
	}
}

/* The model's clients are the table's. */
static void check_clients(void)
{
	FUZZ_CHECK(G.n_live == G.w.clients.n, "model %u clients, table %u", G.n_live,
		   G.w.clients.n);
	for (uint32_t i = 0; i < G.n_live; i++)
		FUZZ_CHECK(in_table(G.live[i]), "client %llx left without a leave",
			   (unsigned long long)G.live[i]);
}

static void check_slot(void)
{
	const char *s = (const char *)G.slot->game.status;
	size_t n = strnlen(s, RF_GAME_STATUS_MAX);

	FUZZ_CHECK(n < RF_GAME_STATUS_MAX, "status not terminated");
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(s[i] >= 0x20 && s[i] < 0x7f, "status byte %#x", (unsigned char)s[i]);
}

static void tick_begin(void)
{
	G.now += RF_NSEC_PER_SEC / TICK_HZ;
	worker_tick_start(&G.w, G.now, G.now + 1700000000ull * RF_NSEC_PER_SEC);
	tick_plan_reset(&G.plan);
	worker_set_plan(&G.w, &G.plan);
	G.n_out = G.n_bytes = 0;
}

static void deliver(uint32_t *next_buf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint8_t src = fuzz_u8(&G.in) % SOURCES;
	uint32_t len = fuzz_u16(&G.in) % (G.max_packet + 2), cookie;
	uint8_t *buf;

	if (*next_buf == RX_BUFS)
		return; /* the backend is out of buffers until the tick ends */
	cookie = (*next_buf)++;
	buf = G.rx + (size_t)cookie * RX_STRIDE;
	sa.sin_port = htons((uint16_t)(4000 + src));
	sa.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(src / 8) << 8 | (1 + src % 8));
	fuzz_bytes(&G.in, buf, len < 16 ? len : 16);
	for (uint32_t i = 16; i < len; i++)
		buf[i] = (uint8_t)(i ^ src);
	G.rx_data = buf;
	G.rx_len = len;
	G.inputs = 0;
	TRACE("datagram from source %u, %u bytes\n", src, len);
	(void)worker_rx(&G.w, (const struct sockaddr *)&sa, sizeof(sa), buf, len,
			len > G.max_packet, cookie, 0);
	G.rx_data = NULL;
	G.rx_len = 0;
}

/* The end of a tick as driver.c's tick_work() runs it, drain first when
 * asked. */
static void tick_end(bool drain)
{
	TRACE("tick end%s\n", drain ? ", drain" : "");
	worker_end_window(&G.w);
	if (drain)
		(void)game_host_drain(&G.h, G.now + RF_NSEC_PER_SEC);
	worker_game_tick(&G.w);
	worker_plan(&G.w);
	check_plan();
	G.ending = true;
	(void)worker_end_tick(&G.w);
	G.ending = false;
	check_clients();
	check_slot();
	worker_set_plan(&G.w, NULL);
}

static void setup(void)
{
	struct worker_params wp = { 0 };
	struct tick_plan_cfg pc = { 0 };
	char why[GAME_HOST_WHY_MAX];
	uint8_t gso = fuzz_u8(&G.in);

	wp.max_clients = 1 + fuzz_u8(&G.in) % MAX_CLIENTS;
	wp.client_timeout_s = 1;
	wp.max_packet = G.max_packet = 1 + fuzz_u16(&G.in) % MAX_PACKET;
	wp.max_packets_per_tick = 1 + fuzz_u8(&G.in) % 8;
	wp.max_output_per_tick = G.max_output = 1 + fuzz_u8(&G.in) % MAX_OUTPUT;
	wp.gso_max_seg = gso % 4 == 0   ? 0
			 : gso % 4 == 1 ? G.max_packet
			 : gso % 4 == 2 ? RF_GSO_SEG_IPV4
					: 1 + gso % G.max_packet;
	wp.tick_hz = TICK_HZ;
	wp.seed = 42;
	wp.admission = RF_ADMISSION_OPEN;

	G.slot = calloc(1, rf_slot_size(wp.max_clients));
	FUZZ_CHECK(G.slot, "calloc");
	FUZZ_CHECK(worker_init(&G.w, G.slot, &wp) == 0, "worker_init");
	pc.max_in = RX_BUFS;
	pc.max_out = G.max_output;
	pc.max_clients = wp.max_clients;
	pc.max_packet = G.max_packet;
	FUZZ_CHECK(tick_plan_init(&G.plan, &pc) == 0, "tick_plan_init");
	tick_plan_rx_region(&G.plan, G.rx, RX_STRIDE);
	FUZZ_CHECK(game_host_load_table(&G.h, &fuzz_game, "fuzz", why, sizeof(why)) == 0,
		   "load: %s", why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct game_host_params hp = { .server = "fuzz", .args = "", .tick_hz = TICK_HZ };
	char why[GAME_HOST_WHY_MAX];
	uint32_t next_buf = 0, ticks = 0;
	bool drained = false;
	int rc;

	memset(&G, 0, offsetof(__typeof__(G), rx));
	G.in = (struct fuzz_in){ data, size };
	trace_on = getenv("RF_FUZZ_TRACE") != NULL;
	G.now = RF_NSEC_PER_SEC;
	setup();
	hp.output_budget = G.max_output;
	rc = game_host_start(&G.h, &G.w, &hp, why, sizeof(why));
	if (rc < 0) {
		/* main.c copies why into the slot's exit_reason. */
		FUZZ_CHECK(why[0], "init failed without a reason");
		goto out;
	}
	/* Outside any callback, every service refuses. */
	FUZZ_CHECK(G.eng && rf_send(G.eng, 1, "x", 1) == -EPERM && rf_kick(G.eng, 1) == -EPERM &&
			   rf_broadcast(G.eng, RF_NO_CLIENT, "x", 1) == -EPERM,
		   "a service worked outside a callback");
	tick_begin();
	while (fuzz_more(&G.in) && ticks < MAX_TICKS && !game_host_done(&G.h)) {
		uint8_t op = fuzz_u8(&G.in);

		switch (op % 8) {
		case 0:
		case 1:
		case 2:
		case 3:
			deliver(&next_buf);
			break;
		case 4: /* the tick ends; the next begins */
			tick_end(false);
			tick_begin();
			next_buf = 0;
			ticks++;
			break;
		case 5: /* silence: clients expire at the next window's end */
			G.now += (uint64_t)(fuzz_u8(&G.in) % 3) * RF_NSEC_PER_SEC;
			break;
		case 6: /* SIGTERM: this tick drains */
			tick_end(!drained);
			drained = true;
			tick_begin();
			next_buf = 0;
			ticks++;
			break;
		default:
			rc = rf_send(G.eng, G.n_live ? G.live[0] : 1, "x", 1);
			FUZZ_CHECK(rc == -EPERM, "send between callbacks: %d", rc);
			break;
		}
	}
	tick_end(false);
out:
	game_host_unload(&G.h);
	tick_plan_free(&G.plan);
	worker_free(&G.w);
	free(G.slot);
	return 0;
}
