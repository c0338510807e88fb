// SPDX-License-Identifier: Apache-2.0
/* worker.c - see worker.h. */
#include "worker/worker.h"

#include <string.h>

#include "common/timeutil.h"

static bool slot_matches(const struct rf_slot *s, uint32_t max_clients)
{
	return s->magic == RF_SLOT_MAGIC && s->version == RF_SLOT_VERSION &&
	       s->max_clients == max_clients;
}

static void slot_fresh(struct rf_slot *s, uint32_t max_clients)
{
	memset(s, 0, rf_slot_size(max_clients));
	s->version = RF_SLOT_VERSION;
	s->max_clients = max_clients;
	RF_STORE(s->magic, RF_SLOT_MAGIC);
}

int worker_init(struct worker *w, struct rf_slot *slot, const struct worker_params *p)
{
	bool resume = slot_matches(slot, p->max_clients);
	int ret;

	memset(w, 0, sizeof(*w));
	if (!p->max_packet || p->max_packet > TICK_GSO_MAX_BYTES)
		return -EINVAL;
	if (!resume)
		slot_fresh(slot, p->max_clients);
	ret = clients_init(&w->clients, slot->clients, p->max_clients, p->seed);
	if (ret < 0)
		return ret;
	ret = tick_clock_init(&w->clock, p->tick_hz, p->tick_phase_ns);
	if (ret == 0)
		ret = tick_flood_init(&w->flood, p->max_clients, p->max_packets_per_tick);
	if (ret < 0) {
		clients_free(&w->clients);
		return ret;
	}
	w->slot = slot;
	w->timeout_ns = (uint64_t)p->client_timeout_s * RF_NSEC_PER_SEC;
	w->max_packet = p->max_packet;
	w->gso_max_seg = p->gso_max_seg;
	if (resume) {
		/* Counters continue where the previous worker left them. */
		memcpy(&w->st, (const void *)&slot->stats, sizeof(w->st));
		clients_rebuild(&w->clients);
	}
	w->st.ready = 0;
	w->st.gso = w->gso_max_seg != 0;
	w->st.clients = w->clients.n;
	return resume;
}

void worker_free(struct worker *w)
{
	clients_free(&w->clients);
	tick_flood_free(&w->flood);
}

void worker_tick_start(struct worker *w, uint64_t mono_ns, uint64_t real_ns)
{
	w->now_ns = mono_ns;
	tick_clock_set(&w->clock, mono_ns, real_ns);
}

int worker_rx(struct worker *w, struct tick_plan *p, const struct sockaddr *name,
	      uint32_t namelen, void *data, uint32_t len, bool trunc, uint32_t cookie,
	      uint64_t rx_real_ns)
{
	uint32_t n = w->clients.n;
	int idx;

	w->st.pkts_in++;
	w->st.bytes_in += len;
	if (trunc || len > w->max_packet) {
		w->st.drop_truncated++;
		return -EMSGSIZE;
	}
	idx = clients_touch(&w->clients, name, namelen, w->now_ns);
	if (idx < 0) {
		/* Full table, or an address that cannot be a client. */
		w->st.drop_max_clients++;
		return -ENOSPC;
	}
	if (w->clients.n != n)
		tick_flood_forget(&w->flood, (uint32_t)idx);
	if (!tick_flood_admit(&w->flood, (uint32_t)idx,
			      tick_clock_arrival(&w->clock, rx_real_ns))) {
		w->st.drop_flood++;
		return -EDQUOT;
	}
	if (tick_plan_add(p, data, len, cookie) < 0) {
		w->st.drop_no_buffer++;
		return -ENOBUFS;
	}
	return 0;
}

void worker_end_window(struct worker *w)
{
	clients_expire(&w->clients, w->now_ns, w->timeout_ns);
	w->st.clients = w->clients.n;
}

void worker_plan(struct worker *w, struct tick_plan *p)
{
	tick_plan_set_dests(p, clients_list(&w->clients), w->clients.n);
	tick_plan_build(p, w->gso_max_seg);
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
		if (ns < (16000ull << i))
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
	RF_STORE(d->drop_flood, s->drop_flood);
	RF_STORE(d->tick_ns_sum, s->tick_ns_sum);
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
