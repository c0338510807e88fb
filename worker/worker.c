// SPDX-License-Identifier: Apache-2.0
/* worker.c - see worker.h. */
#include "worker/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "worker/game_host.h"

static bool slot_matches(const struct rf_slot *s, uint32_t max_clients)
{
	return s->magic == RF_SLOT_MAGIC && s->version == RF_SLOT_VERSION &&
	       s->max_clients == max_clients;
}

static void slot_fresh(struct rf_slot *s, uint32_t max_clients)
{
	/* The session and sup areas are the supervisor's, who may have
	 * written them before this worker came (a slot made fresh for a
	 * recycled session); only another layout's bytes there are cleared. */
	bool keep = s->magic == 0 || s->version == RF_SLOT_VERSION;

	memset(s, 0, offsetof(struct rf_slot, session));
	if (!keep) {
		memset(&s->session, 0, sizeof(s->session));
		memset(&s->sup, 0, sizeof(s->sup));
	}
	memset(s->clients, 0, (size_t)max_clients * sizeof(s->clients[0]));
	s->version = RF_SLOT_VERSION;
	s->max_clients = max_clients;
	RF_STORE(s->magic, RF_SLOT_MAGIC);
}

int worker_init(struct worker *w, struct rf_slot *slot, const struct worker_params *p)
{
	bool resume = slot_matches(slot, p->max_clients);
	int ret;

	memset(w, 0, sizeof(*w));
	if (!p->max_packet || p->max_packet > TICK_GSO_MAX_BYTES ||
	    p->admission > RF_ADMISSION_TOKEN || p->max_clients_per_ip > RF_ADM_PER_IP_MAX)
		return -EINVAL;
	if (p->admission == RF_ADMISSION_TOKEN && (!p->token_key || !p->server || !p->server[0] ||
						   strlen(p->server) > RF_TOKEN_SERVER_MAX))
		return -EINVAL;
	if (!resume)
		slot_fresh(slot, p->max_clients);
	ret = clients_init(&w->clients, slot->clients, p->max_clients, p->seed);
	if (ret < 0)
		return ret;
	w->gen = calloc(p->max_clients, sizeof(*w->gen));
	w->join = calloc(p->max_clients, sizeof(*w->join));
	if (!w->gen || !w->join) {
		worker_free(w);
		return -ENOMEM;
	}
	ret = tick_clock_init(&w->clock, p->tick_hz, p->tick_phase_ns);
	if (ret == 0)
		ret = tick_flood_init(&w->flood, p->max_clients, p->max_packets_per_tick);
	w->gone = calloc(p->max_clients, sizeof(*w->gone));
	w->gone_id = calloc(p->max_clients, sizeof(*w->gone_id));
	if (ret == 0 && (!w->gone || !w->gone_id))
		ret = -ENOMEM;
	if (ret < 0) {
		worker_free(w);
		return ret;
	}
	w->slot = slot;
	w->timeout_ns = (uint64_t)p->client_timeout_s * RF_NSEC_PER_SEC;
	w->max_packet = p->max_packet;
	w->gso_max_seg = p->gso_max_seg;
	w->admission = p->admission;
	if (p->token_key) {
		memcpy(w->token_key, p->token_key, RF_TOKEN_KEY_LEN);
		snprintf(w->server, sizeof(w->server), "%s", p->server);
	}
	w->per_ip = p->max_clients_per_ip;
	w->max_output = p->max_output_per_tick ? p->max_output_per_tick : RF_MAX_OUTPUT_DEFAULT;
	if (resume) {
		/* Counters continue where the previous worker left them. */
		memcpy(&w->st, (const void *)&slot->stats, sizeof(w->st));
		clients_rebuild(&w->clients);
		/* Resumed clients are new to this worker: fresh ids. */
		for (uint32_t i = 0; i < w->clients.n; i++)
			w->gen[clients_list(&w->clients)[i]] = 1;
	}
	w->st.ready = 0;
	w->st.idle = 0; /* a predecessor may have died asleep */
	w->st.gso = w->gso_max_seg != 0;
	w->st.clients = w->clients.n;
	return resume;
}

void worker_free(struct worker *w)
{
	clients_free(&w->clients);
	tick_flood_free(&w->flood);
	free(w->gen);
	free(w->join);
	free(w->gone);
	free(w->gone_id);
	w->gen = NULL;
	w->join = NULL;
	w->gone = NULL;
	w->gone_id = NULL;
}

uint64_t worker_client_id(const struct worker *w, uint32_t idx)
{
	if (idx >= w->clients.max || w->clients.pos[idx] >= w->clients.n)
		return 0;
	return (uint64_t)w->gen[idx] << 32 | idx;
}

int worker_client_idx(const struct worker *w, uint64_t id)
{
	uint32_t idx = (uint32_t)id, gen = (uint32_t)(id >> 32);

	if (!gen || !worker_client_live(w, idx, gen))
		return -ENOENT;
	return (int)idx;
}

/* Entry idx takes a new client: a new id, and a join after every output
 * queued so far. */
static void client_assigned(struct worker *w, uint32_t idx)
{
	if (++w->gen[idx] == 0)
		w->gen[idx] = 1;
	w->join[idx] = ++w->joins;
}

/* Queues o for cost destinations into the current plan. */
static int output(struct worker *w, const struct tick_out *o, uint32_t cost, const void *data,
		  uint32_t len)
{
	if (!w->plan || tick_plan_output(w->plan, o, cost, data, len) < 0) {
		w->st.drop_output++;
		return -ENOBUFS;
	}
	return 0;
}

int worker_send(struct worker *w, uint32_t idx, const void *data, uint32_t len)
{
	struct tick_out o;

	if (len > w->max_packet)
		return -EINVAL;
	if (idx >= w->clients.max || w->clients.pos[idx] >= w->clients.n)
		return -ENOENT;
	o = (struct tick_out){ .target = idx, .gen = w->gen[idx], .except = TICK_NONE };
	return output(w, &o, 1, data, len);
}

int worker_broadcast(struct worker *w, int64_t except_idx, const void *data, uint32_t len)
{
	struct tick_out o = { .seq = w->joins, .target = TICK_NONE, .except = TICK_NONE };
	uint32_t cost = w->clients.n;

	if (len > w->max_packet || except_idx < -1 || except_idx >= w->clients.max)
		return -EINVAL;
	/* An exception that is no client leaves nobody out. */
	if (except_idx >= 0 && w->clients.pos[except_idx] < w->clients.n) {
		o.except = (uint32_t)except_idx;
		cost--;
	}
	if (!cost)
		return 0; /* nobody to send it to */
	return output(w, &o, cost, data, len);
}

void worker_drop_client(struct worker *w, uint32_t idx, enum rf_leave_reason why)
{
	if (w->host)
		game_host_leave(w->host, idx, why);
	clients_remove(&w->clients, idx);
	w->st.clients = w->clients.n;
}

void worker_refuse_client(struct worker *w, uint32_t idx)
{
	clients_remove(&w->clients, idx);
	w->st.clients = w->clients.n;
}

/* The table policy's choice, with the evicted client's leave told to the
 * game before its entry goes. */
static int place(struct worker *w, const struct sockaddr *sa, uint32_t salen, bool *evicted)
{
	int victim = adm_victim(&w->clients, sa, salen, w->now_ns, w->per_ip);

	*evicted = victim >= 0;
	if (victim >= 0)
		worker_drop_client(w, (uint32_t)victim, RF_LEAVE_EVICTED);
	else if (victim != -ENOENT)
		return victim;
	return clients_touch(&w->clients, sa, salen, w->now_ns);
}

/* Queues a reply to sa; false when the tick's budget is used up. */
static bool reply_add(struct worker *w, const struct sockaddr *sa, uint32_t salen, const void *data,
		      uint32_t len)
{
	struct worker_reply *r;

	if (w->n_replies >= RF_ADM_REPLY_MAX || salen > sizeof(r->name) || len > sizeof(r->data)) {
		w->st.drop_replies++;
		return false;
	}
	r = &w->reply[w->n_replies++];
	memcpy(&r->name, sa, salen);
	r->namelen = salen;
	memcpy(r->data, data, len);
	r->len = len;
	return true;
}

static void reply_challenge(struct worker *w, const struct sockaddr *sa, uint32_t salen)
{
	uint8_t buf[RF_HS_CHALLENGE_LEN];

	/* The last slots stay for WELCOME and REFUSED. */
	if (w->n_challenges >= RF_ADM_CHALLENGE_MAX ||
	    adm_challenge(&w->slot->secret, w->now_ns, sa, salen, buf) < 0) {
		w->st.drop_replies++;
		return;
	}
	if (reply_add(w, sa, salen, buf, sizeof(buf))) {
		w->n_challenges++;
		w->st.adm_challenges++;
	}
}

static void reply_word(struct worker *w, const struct sockaddr *sa, uint32_t salen,
		       const char *magic, uint32_t word)
{
	uint8_t buf[8];

	memcpy(buf, magic, RF_HS_MAGIC_LEN);
	buf[4] = (uint8_t)(word >> 24);
	buf[5] = (uint8_t)(word >> 16);
	buf[6] = (uint8_t)(word >> 8);
	buf[7] = (uint8_t)word;
	reply_add(w, sa, salen, buf, sizeof(buf));
}

const char *worker_client_player(const struct worker *w, uint32_t idx)
{
	const char *p;

	if (idx >= w->clients.max || w->clients.pos[idx] >= w->clients.n)
		return NULL;
	p = rf_slot_players(w->slot)[idx];
	return p[0] ? p : NULL;
}

/* A source that earned admission: into the table, or refused. player:
 * the token's player id, NULL when not admitted by token; the game's join
 * already sees it. */
static int admit(struct worker *w, const struct sockaddr *sa, uint32_t salen, const char *player)
{
	bool cookie = w->admission != RF_ADMISSION_OPEN, evicted;
	bool scans = adm_place_scans(&w->clients, sa, w->per_ip);
	int idx;

	/* A scan is O(max_clients): bounded per tick, and with the cookie
	 * there must be room to answer. */
	if (scans &&
	    (w->n_places >= RF_ADM_PLACE_MAX || (cookie && w->n_replies >= RF_ADM_REPLY_MAX))) {
		w->st.drop_replies += cookie;
		return -ENOSPC;
	}
	w->n_places += scans;
	idx = place(w, sa, salen, &evicted);
	w->st.adm_evictions += evicted;
	w->st.clients = w->clients.n;
	if (idx >= 0) {
		/* An evicted client's allowance is not the newcomer's. */
		tick_flood_forget(&w->flood, (uint32_t)idx);
		client_assigned(w, (uint32_t)idx);
		/* Open admits on game data: no probation there. */
		if (cookie)
			w->clients.tab[idx].flags = RF_CLIENT_PROBATION;
		snprintf(rf_slot_players(w->slot)[idx], RF_SLOT_PLAYER_MAX, "%s",
			 player ? player : "");
		if (w->host && game_host_join(w->host, (uint32_t)idx) < 0) {
			/* Refused, or kicked in its own join (then gone). */
			if (clients_find(&w->clients, sa, salen) == idx)
				worker_refuse_client(w, (uint32_t)idx);
			w->st.adm_refusals++;
			if (cookie)
				reply_word(w, sa, salen, RF_HS_REFUSED_MAGIC, RF_HS_REFUSED_GAME);
			return -EPERM;
		}
		w->st.adm_admitted++;
		if (cookie)
			reply_word(w, sa, salen, RF_HS_WELCOME_MAGIC, 0);
		return idx;
	}
	if (idx == -ENOSPC || idx == -EUSERS) {
		w->st.adm_refusals++;
		if (cookie)
			reply_word(w, sa, salen, RF_HS_REFUSED_MAGIC,
				   idx == -EUSERS ? RF_HS_REFUSED_PER_IP : RF_HS_REFUSED_FULL);
	}
	return idx;
}

/* A TOKEN from a source not in the table: admitted once per player and
 * allocation, else REFUSED with the reason. The reply budget is checked
 * first, so a flood of tokens costs at most RF_ADM_REPLY_MAX opens a
 * tick. */
/* The allocation tokens must be for, from the slot's session area (a
 * seqlock the supervisor writes): 0 with *alloc_id (0: no session known,
 * e.g. a standalone worker: any allocation), -EAGAIN while it is being
 * written, -EPERM when the server waits for a match (READY): a token can
 * only be of a match that is over. */
static int token_session(const struct worker *w, uint64_t *alloc_id)
{
	const struct rf_slot_session *a = &w->slot->session;
	uint32_t seq = __atomic_load_n(&a->seq, __ATOMIC_ACQUIRE), state;

	state = RF_LOAD(a->state);
	*alloc_id = RF_LOAD(a->alloc_id);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if ((seq & 1) || RF_LOAD(a->seq) != seq)
		return -EAGAIN;
	if (state == RF_SESSION_READY)
		return -EPERM;
	if (state != RF_SESSION_ALLOCATED)
		*alloc_id = 0;
	return 0;
}

static void token_source(struct worker *w, const struct sockaddr *sa, uint32_t salen,
			 const uint8_t *data, uint32_t len)
{
	uint64_t alloc_id = 0;
	struct rf_token t;
	uint32_t why;
	int ses;

	if (w->n_replies >= RF_ADM_REPLY_MAX) {
		w->st.drop_replies++;
		return;
	}
	ses = token_session(w, &alloc_id);
	if (ses == -EAGAIN)
		return; /* the client resends in 250 ms */
	adm_used_sync(w->slot, alloc_id);
	why = adm_token(w->token_key, w->server, w->real_s, alloc_id, data, len, &t);
	if (!why && ses == -EPERM)
		why = RF_HS_REFUSED_TOKEN;
	if (!why && adm_used_has(w->slot, &t))
		why = RF_HS_REFUSED_REPLAY;
	/* 2 * max_clients players a session, no more. */
	if (!why && adm_used_full(w->slot))
		why = RF_HS_REFUSED_FULL;
	if (why) {
		w->st.adm_refusals++;
		reply_word(w, sa, salen, RF_HS_REFUSED_MAGIC, why);
		return;
	}
	/* Recorded only once in: a player refused for a full table may try
	 * again with the same token. */
	if (admit(w, sa, salen, t.player) >= 0)
		adm_used_add(w->slot, &t);
}

/* A datagram from a source not in the table. Returns the new client's
 * index (open mode: its datagram is relayed) or a negative errno. */
static int unknown_source(struct worker *w, const struct sockaddr *sa, uint32_t salen,
			  const uint8_t *data, uint32_t len)
{
	enum adm_verdict v =
		adm_decide(w->admission, &w->slot->secret, w->now_ns, sa, salen, data, len);
	int idx;

	if (v == ADM_TOKEN) {
		token_source(w, sa, salen, data, len);
	} else if (v == ADM_ADMIT) {
		idx = admit(w, sa, salen, NULL);
		/* Open: the first datagram is game data. Cookie: it was the
		 * RESPONSE, never relayed. */
		if (w->admission == RF_ADMISSION_OPEN) {
			if (idx == -EPERM) {
				w->st.drop_unadmitted++;
				return -EPERM;
			}
			if (idx < 0)
				w->st.drop_max_clients++;
			return idx < 0 ? -ENOSPC : idx;
		}
	} else if (v == ADM_CHALLENGE) {
		reply_challenge(w, sa, salen);
	}
	w->st.drop_unadmitted++;
	return -ENOTCONN;
}

/* A handshake message from an admitted client: its WELCOME was lost, or it
 * restarted its handshake. Answered, not relayed. */
static int admitted_handshake(struct worker *w, const struct sockaddr *sa, uint32_t salen,
			      const uint8_t *data, uint32_t len)
{
	if (adm_is_response(data, len) || adm_is_token(data, len))
		reply_word(w, sa, salen, RF_HS_WELCOME_MAGIC, 0);
	else
		reply_challenge(w, sa, salen);
	return -EALREADY;
}

static bool maybe_handshake(const struct worker *w, const uint8_t *data, uint32_t len)
{
	/* The admitted client's fast path pays this length test, and the
	 * magic test only for datagrams that start like one. */
	if (len < RF_HS_RESPONSE_LEN || w->admission == RF_ADMISSION_OPEN || data[0] != 'R' ||
	    data[1] != 'F')
		return false;
	if (w->admission == RF_ADMISSION_TOKEN)
		return adm_is_token(data, len);
	return adm_is_response(data, len) || adm_is_hello(data, len);
}

void worker_tick_start(struct worker *w, uint64_t mono_ns, uint64_t real_ns)
{
	w->now_ns = mono_ns;
	w->real_s = real_ns / RF_NSEC_PER_SEC;
	tick_clock_set(&w->clock, mono_ns, real_ns);
}

int worker_rx(struct worker *w, const struct sockaddr *name, uint32_t namelen, void *data,
	      uint32_t len, bool trunc, uint32_t cookie, uint64_t rx_real_ns)
{
	int idx;

	w->st.pkts_in++;
	w->st.bytes_in += len;
	if (trunc || len > w->max_packet) {
		w->st.drop_truncated++;
		return -EMSGSIZE;
	}
	idx = clients_find(&w->clients, name, namelen);
	if (idx >= 0) {
		struct rf_slot_client *e = &w->clients.tab[idx];

		RF_STORE(e->last_seen_ns, w->now_ns);
		if (maybe_handshake(w, data, len))
			return admitted_handshake(w, name, namelen, data, len);
		if (e->flags)
			e->flags = 0; /* game data: a player, not a probationer */
	} else if (idx == -ENOENT) {
		idx = unknown_source(w, name, namelen, data, len);
		if (idx < 0)
			return idx;
	} else {
		/* An address that cannot be a client. */
		w->st.drop_unadmitted++;
		return -ENOTCONN;
	}
	if (!tick_flood_admit(&w->flood, (uint32_t)idx,
			      tick_clock_arrival(&w->clock, rx_real_ns))) {
		w->st.drop_flood++;
		return -EDQUOT;
	}
	/* Held by the plan from here: the game may send it as is. */
	if (!w->plan || tick_plan_input(w->plan, data, len, cookie) < 0) {
		w->st.drop_no_buffer++;
		return -ENOBUFS;
	}
	if (w->host)
		game_host_input(w->host, (uint32_t)idx, data, len);
	return 0;
}

void worker_end_window(struct worker *w)
{
	uint32_t n = clients_silent(&w->clients, w->now_ns, w->timeout_ns, w->gone, w->clients.max);

	/* By id: a leave may kick others, and kicks apply at once. */
	for (uint32_t i = 0; i < n; i++)
		w->gone_id[i] = worker_client_id(w, w->gone[i]);
	for (uint32_t i = 0; i < n; i++) {
		int idx = worker_client_idx(w, w->gone_id[i]);

		if (idx >= 0)
			worker_drop_client(w, (uint32_t)idx, RF_LEAVE_TIMEOUT);
	}
	w->st.clients = w->clients.n;
}

void worker_game_tick(struct worker *w)
{
	if (w->host)
		game_host_tick(w->host);
}

void worker_plan(struct worker *w)
{
	if (w->plan)
		tick_plan_build(w->plan, w->gso_max_seg, clients_list(&w->clients), w->clients.n,
				w->gen, w->join);
}

bool worker_end_tick(struct worker *w)
{
	return w->host && game_host_end_tick(w->host);
}

void worker_replies_sent(struct worker *w, uint32_t failed)
{
	w->st.drop_replies += failed;
	w->n_replies = 0;
	w->n_challenges = 0;
	w->n_places = 0;
}

bool worker_key_due(const struct worker *w)
{
	return w->admission == RF_ADMISSION_COOKIE && adm_key_due(&w->slot->secret, w->now_ns);
}

void worker_key_install(struct worker *w, const uint8_t *key)
{
	adm_key_install(&w->slot->secret, w->now_ns, key);
}

void worker_gso_failed(struct worker *w, int err, uint32_t seg)
{
	if (!w->gso_max_seg)
		return;
	w->gso_events++;
	if (err == -EMSGSIZE && seg > 1 && seg - 1 < w->gso_max_seg)
		w->gso_max_seg = seg - 1;
	else if (err != -EMSGSIZE)
		w->gso_max_seg = 0;
	w->st.gso = w->gso_max_seg != 0;
}

static unsigned hist_bucket(uint64_t ns)
{
	for (unsigned i = 0; i < RF_TICK_HIST_BUCKETS - 1; i++)
		if (ns < ((uint64_t)RF_TICK_HIST_BASE_NS << i))
			return i;
	return RF_TICK_HIST_BUCKETS - 1;
}

void worker_tick_done(struct worker *w, uint64_t work_ns, uint64_t end_ns)
{
	w->st.ticks++;
	w->st.last_tick_ns = end_ns;
	w->st.tick_ns_sum += work_ns;
	w->st.tick_hist[hist_bucket(work_ns)]++;
}

void worker_publish(struct worker *w)
{
	struct rf_slot_stats *d = &w->slot->stats;
	const struct rf_slot_stats *s = &w->st;

	RF_STORE(d->tick_overruns, s->tick_overruns);
	RF_STORE(d->pkts_in, s->pkts_in);
	RF_STORE(d->pkts_out, s->pkts_out);
	RF_STORE(d->bytes_in, s->bytes_in);
	RF_STORE(d->bytes_out, s->bytes_out);
	RF_STORE(d->drop_truncated, s->drop_truncated);
	RF_STORE(d->drop_max_clients, s->drop_max_clients);
	RF_STORE(d->drop_no_buffer, s->drop_no_buffer);
	RF_STORE(d->drop_send, s->drop_send);
	RF_STORE(d->drop_output, s->drop_output);
	RF_STORE(d->sessions_ended, s->sessions_ended);
	RF_STORE(d->idle_wakeups, s->idle_wakeups);
	RF_STORE(d->idle_ns, s->idle_ns);
	/* Release: a supervisor that reads idle = 0 (acquire) sees the
	 * heartbeat published before it, i.e. the wake's (driver.c). */
	__atomic_store_n(&d->idle, s->idle, __ATOMIC_RELEASE);
	RF_STORE(d->drop_flood, s->drop_flood);
	RF_STORE(d->tick_ns_sum, s->tick_ns_sum);
	RF_STORE(d->adm_challenges, s->adm_challenges);
	RF_STORE(d->adm_admitted, s->adm_admitted);
	RF_STORE(d->adm_evictions, s->adm_evictions);
	RF_STORE(d->adm_refusals, s->adm_refusals);
	RF_STORE(d->drop_unadmitted, s->drop_unadmitted);
	RF_STORE(d->drop_replies, s->drop_replies);
	for (unsigned i = 0; i < RF_TICK_HIST_BUCKETS; i++)
		RF_STORE(d->tick_hist[i], s->tick_hist[i]);
	RF_STORE(d->clients, s->clients);
	RF_STORE(d->backend, s->backend);
	RF_STORE(d->gso, s->gso);
	RF_STORE(d->worker_pid, s->worker_pid);
	RF_STORE(d->ready, s->ready);
	/* The heartbeat goes last, with release order: a reader that sees a
	 * new tick sees this tick's counters. */
	RF_STORE(d->last_tick_ns, s->last_tick_ns);
	__atomic_store_n(&d->ticks, s->ticks, __ATOMIC_RELEASE);
}
