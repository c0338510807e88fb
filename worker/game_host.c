// SPDX-License-Identifier: Apache-2.0
/* game_host.c - see game_host.h. */
#include "worker/game_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/slot.h"
#include "common/timeutil.h"
#include "worker/worker.h"

#if defined(__SANITIZE_ADDRESS__)
#define HOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOST_ASAN 1
#endif
#endif
#ifdef HOST_ASAN
#include <sanitizer/asan_interface.h>
#endif

static struct game_host *host_of(const rf_engine *e)
{
	/* engine is the first member: the module's handle is the host. */
	return (struct game_host *)(uintptr_t)e;
}

/* ---- the slot's game area ---- */

/* A string for the slot: printable ASCII, '?' for anything else. */
static void slot_text(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < cap; i++) {
		char c = src[i];

		if (c < ' ' || c > '~')
			c = '?';
		dst[i] = c;
	}
	memset(dst + i, 0, cap - i);
}

static struct rf_slot_game *slot_game(const struct game_host *h)
{
	return &h->w->slot->game;
}

/* ---- callbacks: one at a time, kicks applied after each ---- */

static void apply_kicks(struct game_host *h);

/* kick_flag[idx]: 0, 1 queued in kick[], or this: its leave is running. */
#define KICK_LEAVING 2

void game_host_cb_enter(struct game_host *h, enum game_host_cb cb)
{
	h->cb = cb;
}

void game_host_cb_leave(struct game_host *h)
{
	h->cb = HOST_CB_NONE;
	if (h->n_kicks && !h->applying)
		apply_kicks(h);
}

static void apply_kicks(struct game_host *h)
{
	h->applying = true;
	/* In call order; a leave may kick more, appended behind. Each live
	 * client is queued once, and none joins meanwhile: max_clients is
	 * room enough. */
	for (uint32_t i = 0; i < h->n_kicks; i++) {
		uint64_t id = h->kick[i];
		int idx = worker_client_idx(h->w, id);

		/* The low half of an id is its table index. */
		h->kick_flag[(uint32_t)id] = 0;
		if (idx >= 0)
			worker_drop_client(h->w, (uint32_t)idx, RF_LEAVE_KICKED);
	}
	h->n_kicks = 0;
	h->applying = false;
}

static void unkick(struct game_host *h, uint64_t id)
{
	for (uint32_t i = 0; i < h->n_kicks; i++)
		if (h->kick[i] == id) {
			h->kick[i] = h->kick[--h->n_kicks];
			h->kick_flag[(uint32_t)id] = 0;
			return;
		}
}

/* ---- services ---- */

/* Output is for a tick's callbacks; init has no clients to talk to and
 * fini's output would never be sent. */
static bool may_output(const struct game_host *h)
{
	return h->cb == HOST_CB_JOIN || h->cb == HOST_CB_LEAVE || h->cb == HOST_CB_INPUT ||
	       h->cb == HOST_CB_TICK || h->cb == HOST_CB_DRAIN;
}

static int svc_send(rf_engine *e, rf_client_id to, const void *data, uint32_t len)
{
	struct game_host *h = host_of(e);
	int idx;

	if (h->cb == HOST_CB_FINI)
		return 0; /* dropped, as the API says */
	if (!may_output(h))
		return -EPERM;
	/* An empty datagram is valid UDP (the relay relays it). */
	if (!data && len)
		return -EINVAL;
	idx = worker_client_idx(h->w, to);
	if (idx < 0)
		return -ENOENT;
	return worker_send(h->w, (uint32_t)idx, data, len);
}

static int svc_broadcast(rf_engine *e, rf_client_id except, const void *data, uint32_t len)
{
	struct game_host *h = host_of(e);
	int idx = -1;

	if (h->cb == HOST_CB_FINI)
		return 0;
	if (!may_output(h))
		return -EPERM;
	/* An empty datagram is valid UDP (the relay relays it). */
	if (!data && len)
		return -EINVAL;
	/* A stale except names nobody: everyone gets it. */
	if (except != RF_NO_CLIENT)
		idx = worker_client_idx(h->w, except);
	return worker_broadcast(h->w, idx < 0 ? -1 : idx, data, len);
}

static int svc_kick(rf_engine *e, rf_client_id c)
{
	struct game_host *h = host_of(e);
	int idx;

	if (!may_output(h))
		return -EPERM;
	idx = worker_client_idx(h->w, c);
	if (idx < 0)
		return -ENOENT;
	/* Leaving already: its leave must not run twice. */
	if (c == h->leaving || h->kick_flag[idx] == KICK_LEAVING)
		return 0;
	if (!h->kick_flag[idx]) {
		h->kick_flag[idx] = 1;
		h->kick[h->n_kicks++] = c;
	}
	return 0;
}

static int svc_end_session(rf_engine *e)
{
	struct game_host *h = host_of(e);

	/* allocated may end the session it is told of (a match it cannot
	 * host): that needs no output. */
	if (!may_output(h) && h->cb != HOST_CB_ALLOCATED)
		return -EPERM;
	/* Leaves of the ending session do not end the next one. */
	if (!h->ending)
		h->end_asked = true;
	return 0;
}

static void log_line(struct game_host *h, int level, const char *text)
{
	char line[240];

	if (!h->log)
		return;
	snprintf(line, sizeof(line), "game: %s", text);
	h->log(level, line);
}

/* At most GAME_HOST_LOG_PER_SEC lines per second (tick time): a module
 * logging per datagram must not turn the journal into the bottleneck. */
static void log_window(struct game_host *h)
{
	uint64_t now = h->w->now_ns;
	char note[64];

	if (now - h->log_window_ns < RF_NSEC_PER_SEC)
		return;
	if (h->log_dropped) {
		snprintf(note, sizeof(note), "%u lines suppressed", h->log_dropped);
		log_line(h, RF_GAME_LOG_WARNING, note);
	}
	h->log_window_ns = now;
	h->log_lines = 0;
	h->log_dropped = 0;
}

static void svc_log(rf_engine *e, int level, const char *msg)
{
	struct game_host *h = host_of(e);
	char text[200];

	if (h->cb == HOST_CB_NONE || !msg)
		return;
	if (level < RF_GAME_LOG_ERR)
		level = RF_GAME_LOG_ERR;
	if (level > RF_GAME_LOG_DEBUG)
		level = RF_GAME_LOG_DEBUG;
	slot_text(text, sizeof(text), msg);
	if (level == RF_GAME_LOG_ERR)
		snprintf(h->last_err, sizeof(h->last_err), "%.*s", (int)sizeof(h->last_err) - 1,
			 text);
	log_window(h);
	if (h->log_lines >= GAME_HOST_LOG_PER_SEC) {
		h->log_dropped++;
		return;
	}
	h->log_lines++;
	log_line(h, level, text);
}

static uint64_t svc_tick(const rf_engine *e)
{
	/* Ticks counts the finished ones; the running one is next. */
	return host_of(e)->w->st.ticks + 1;
}

static uint64_t svc_now_ns(const rf_engine *e)
{
	return host_of(e)->w->now_ns;
}

static void *svc_client_data(const rf_engine *e, rf_client_id c)
{
	const struct game_host *h = host_of(e);
	int idx;

	if (h->cb == HOST_CB_NONE)
		return NULL;
	idx = worker_client_idx(h->w, c);
	return idx < 0 ? NULL : h->client_data[idx];
}

static int svc_set_client_data(rf_engine *e, rf_client_id c, void *data)
{
	struct game_host *h = host_of(e);
	int idx;

	if (h->cb == HOST_CB_NONE)
		return -EPERM;
	idx = worker_client_idx(h->w, c);
	if (idx < 0)
		return -ENOENT;
	h->client_data[idx] = data;
	return 0;
}

/* [a-z][a-z0-9_]*, shorter than RF_GAME_VALUE_NAME_MAX. */
static bool value_name_ok(const char *s)
{
	size_t n = 0;

	if (!s || s[0] < 'a' || s[0] > 'z')
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
		      s[n] == '_') ||
		    n + 1 >= RF_GAME_VALUE_NAME_MAX)
			return false;
	return true;
}

static int svc_define_value(rf_engine *e, unsigned idx, const char *name)
{
	struct game_host *h = host_of(e);
	struct rf_slot_game *g;

	if (h->cb != HOST_CB_INIT)
		return -EPERM;
	if (idx >= RF_GAME_VALUES || !value_name_ok(name))
		return -EINVAL;
	g = slot_game(h);
	/* One name, one value: /metrics labels must not repeat. */
	for (unsigned i = 0; i < RF_GAME_VALUES; i++)
		if (i != idx && (h->value_used & (1u << i)) && strcmp(g->value_name[i], name) == 0)
			return -EINVAL;
	slot_text(g->value_name[idx], sizeof(g->value_name[idx]), name);
	RF_STORE(g->value[idx], 0);
	h->value_used |= 1u << idx;
	return 0;
}

static int svc_set_value(rf_engine *e, unsigned idx, int64_t v)
{
	struct game_host *h = host_of(e);

	if (h->cb == HOST_CB_NONE)
		return -EPERM;
	if (idx >= RF_GAME_VALUES || !(h->value_used & (1u << idx)))
		return -EINVAL;
	RF_STORE(slot_game(h)->value[idx], v);
	return 0;
}

static int svc_set_status(rf_engine *e, const char *text)
{
	struct game_host *h = host_of(e);

	if (h->cb == HOST_CB_NONE)
		return -EPERM;
	if (!text)
		return -EINVAL;
	slot_text(slot_game(h)->status, RF_GAME_STATUS_MAX, text);
	return 0;
}

static uint32_t svc_clients(const rf_engine *e, rf_client_id *out, uint32_t cap)
{
	const struct game_host *h = host_of(e);
	const struct clients *c = &h->w->clients;
	const uint32_t *list = clients_list(c);

	if (h->cb == HOST_CB_NONE)
		return 0;
	for (uint32_t i = 0; i < c->n && i < cap && out; i++)
		out[i] = worker_client_id(h->w, list[i]);
	return c->n;
}

static const char *svc_client_player(const rf_engine *e, rf_client_id c)
{
	const struct game_host *h = host_of(e);
	int idx;

	if (h->cb == HOST_CB_NONE)
		return NULL;
	idx = worker_client_idx(h->w, c);
	return idx < 0 ? NULL : worker_client_player(h->w, (uint32_t)idx);
}

static const struct rf_services host_services = {
	.size = sizeof(struct rf_services),
	.send = svc_send,
	.broadcast = svc_broadcast,
	.kick = svc_kick,
	.end_session = svc_end_session,
	.log = svc_log,
	.tick = svc_tick,
	.now_ns = svc_now_ns,
	.client_data = svc_client_data,
	.set_client_data = svc_set_client_data,
	.define_value = svc_define_value,
	.set_value = svc_set_value,
	.set_status = svc_set_status,
	.clients = svc_clients,
	.client_player = svc_client_player,
};

/* ---- lifecycle ---- */

static void free_tables(struct game_host *h)
{
	free(h->client_data);
	free(h->kick);
	free(h->kick_flag);
	free(h->ids);
	h->client_data = NULL;
	h->kick = NULL;
	h->kick_flag = NULL;
	h->ids = NULL;
}

/* The clients a resumed slot holds join the new module. */
static void join_resumed(struct game_host *h)
{
	const struct clients *c = &h->w->clients;
	uint32_t n = c->n;

	for (uint32_t i = 0; i < n; i++)
		h->ids[i] = worker_client_id(h->w, clients_list(c)[i]);
	for (uint32_t i = 0; i < n; i++) {
		int idx = worker_client_idx(h->w, h->ids[i]);

		if (idx >= 0 && game_host_join(h, (uint32_t)idx) < 0 &&
		    worker_client_idx(h->w, h->ids[i]) >= 0)
			worker_refuse_client(h->w, (uint32_t)idx);
	}
}

int game_host_start(struct game_host *h, struct worker *w, const struct game_host_params *p,
		    char *why, size_t len)
{
	struct rf_slot_game *g = &w->slot->game;
	const char *name = h->game.name && *h->game.name ? h->game.name : h->what;
	struct rf_game_info info = {
		.size = sizeof(info),
		.tick_hz = p->tick_hz,
		.server = p->server ? p->server : "",
		.args = p->args ? p->args : "",
		.max_clients = w->clients.max,
		.max_packet = w->max_packet,
		.output_budget = p->output_budget,
		.session_idle_s = p->session_idle_s ? p->session_idle_s : 60,
	};
	int ret;

	h->engine.svc = &host_services;
	h->w = w;
	h->log = p->log;
	h->max_clients = w->clients.max;
	h->log_window_ns = w->now_ns;
	h->client_data = calloc(h->max_clients, sizeof(*h->client_data));
	h->kick = calloc(h->max_clients, sizeof(*h->kick));
	h->kick_flag = calloc(h->max_clients, sizeof(*h->kick_flag));
	h->ids = calloc(h->max_clients, sizeof(*h->ids));
	if (!h->client_data || !h->kick || !h->kick_flag || !h->ids) {
		free_tables(h);
		snprintf(why, len, "game %s: %s", name, strerror(ENOMEM));
		return -ENOMEM;
	}
	/* What a previous worker's module showed is not this one's. */
	memset(g, 0, offsetof(struct rf_slot_game, exit_reason));
	slot_text(g->name, sizeof(g->name), name);
	/* Whether the supervisor recycles a finished session or leaves it to
	 * the module (RF_GAME_SELF_RESET). */
	RF_STORE(g->flags, h->game.flags);
	w->host = h;
	game_host_cb_enter(h, HOST_CB_INIT);
	ret = h->game.init(&h->engine, &info, &h->state);
	game_host_cb_leave(h);
	if (ret < 0) {
		w->host = NULL;
		free_tables(h);
		if (h->last_err[0])
			snprintf(why, len, "game %s: init failed: %s (%s)", name, strerror(-ret),
				 h->last_err);
		else
			snprintf(why, len, "game %s: init failed: %s", name, strerror(-ret));
		return ret;
	}
	h->started = true;
	/* Running: a previous worker's failure is history. */
	memset(g->exit_reason, 0, sizeof(g->exit_reason));
	join_resumed(h);
	return 0;
}

void game_host_unload(struct game_host *h)
{
	if (h->started && h->game.fini) {
		game_host_cb_enter(h, HOST_CB_FINI);
		h->game.fini(&h->engine, h->state);
		h->cb = HOST_CB_NONE;
	}
	if (h->w && h->w->host == h)
		h->w->host = NULL;
	h->started = false;
	free_tables(h);
	if (h->dl)
		dlclose(h->dl);
	h->dl = NULL;
}

int game_host_join(struct game_host *h, uint32_t idx)
{
	uint64_t id = worker_client_id(h->w, idx);
	int ret = 0;

	h->client_data[idx] = NULL;
	if (h->game.join) {
		game_host_cb_enter(h, HOST_CB_JOIN);
		ret = h->game.join(&h->engine, h->state, id);
		h->cb = HOST_CB_NONE;
		/* Refused: it never joined, so it does not leave either.
		 * Out of the table before the kicks of this join apply:
		 * their leaves must not see it (fuzz_game found one
		 * kicking it, which gave it a leave). */
		if (ret < 0) {
			unkick(h, id);
			worker_refuse_client(h->w, idx);
		}
		game_host_cb_leave(h);
	}
	if (ret < 0) {
		h->client_data[idx] = NULL;
		return ret;
	}
	/* Kicked in its own join: it left already. */
	return worker_client_idx(h->w, id) == (int)idx ? 0 : -ECONNRESET;
}

void game_host_leave(struct game_host *h, uint32_t idx, enum rf_leave_reason why)
{
	if (h->game.leave) {
		enum game_host_cb outer = h->cb;

		/* A leave inside the applying of kicks or of a session end
		 * runs between callbacks, never inside one. */
		uint8_t queued = h->kick_flag[idx];

		h->cb = HOST_CB_LEAVE;
		h->leaving = worker_client_id(h->w, idx);
		/* Until its entry goes (after this returns), idx is leaving:
		 * a kick of it, also from the leave of a client this leave
		 * kicked, must not give it a second leave (fuzz_game). */
		h->kick_flag[idx] = KICK_LEAVING;
		h->game.leave(&h->engine, h->state, h->leaving, why);
		h->leaving = 0;
		h->cb = outer;
		if (outer == HOST_CB_NONE && h->n_kicks && !h->applying)
			apply_kicks(h);
		h->kick_flag[idx] = queued;
	}
	h->client_data[idx] = NULL;
}

/* A datagram lies in a receive buffer a good deal larger (max_packet + 1
 * bytes of payload room, and the backend's headers), so a module that
 * reads or writes past len touches memory AddressSanitizer considers
 * fine. In a sanitizer build the rest of that buffer is poisoned while
 * input runs: such a module is caught. Nothing in other builds. */
static void rx_tail_poison(const struct game_host *h, const void *data, uint32_t len, bool on)
{
#ifdef HOST_ASAN
	const struct tick_plan *p = h->w->plan;
	uintptr_t a = (uintptr_t)data + len, end;

	/* Only a buffer of the plan's receive region has a known end. */
	if (!p || !p->rx_stride || (uintptr_t)data < p->rx_base ||
	    ((uintptr_t)data - p->rx_base) / p->rx_stride >= p->in_cap ||
	    !tick_plan_holds(p, data, len ? len : 1))
		return;
	end = p->rx_base + ((uintptr_t)data - p->rx_base) / p->rx_stride * p->rx_stride +
	      p->rx_stride;
	if (a >= end)
		return;
	if (on)
		ASAN_POISON_MEMORY_REGION((void *)a, end - a);
	else
		ASAN_UNPOISON_MEMORY_REGION((void *)a, end - a);
#else
	(void)h;
	(void)data;
	(void)len;
	(void)on;
#endif
}

void game_host_input(struct game_host *h, uint32_t idx, const void *data, uint32_t len)
{
	if (!h->game.input)
		return;
	game_host_cb_enter(h, HOST_CB_INPUT);
	rx_tail_poison(h, data, len, true);
	h->game.input(&h->engine, h->state, worker_client_id(h->w, idx), data, len);
	rx_tail_poison(h, data, len, false);
	game_host_cb_leave(h);
}

void game_host_tick(struct game_host *h)
{
	log_window(h);
	game_host_cb_enter(h, HOST_CB_TICK);
	h->game.tick(&h->engine, h->state);
	game_host_cb_leave(h);
}

bool game_host_drain(struct game_host *h, uint64_t deadline_ns)
{
	if (!h->game.drain || h->draining)
		return h->draining;
	h->draining = true;
	game_host_cb_enter(h, HOST_CB_DRAIN);
	h->game.drain(&h->engine, h->state, deadline_ns);
	game_host_cb_leave(h);
	return true;
}
