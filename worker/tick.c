// SPDX-License-Identifier: Apache-2.0
/* tick.c - see tick.h. */
#include "worker/tick.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/timeutil.h"

int tick_plan_init(struct tick_plan *p, const struct tick_plan_cfg *cfg)
{
	uint32_t arena_pkts;

	memset(p, 0, sizeof(*p));
	if (!cfg->max_in || !cfg->max_out || !cfg->max_clients || !cfg->max_packet)
		return -EINVAL;
	arena_pkts = cfg->max_out < TICK_ARENA_PKTS ? cfg->max_out : TICK_ARENA_PKTS;
	p->in_cap = cfg->max_in;
	p->out_cap = cfg->max_out;
	p->clients_cap = cfg->max_clients;
	/* Rounded to a cache line per datagram's worth, as the buffers are. */
	p->arena_cap = arena_pkts * ((cfg->max_packet + 63) & ~63u);
	p->stamp = 1;
	p->in_iov = calloc(p->in_cap, sizeof(*p->in_iov));
	p->cookie = calloc(p->in_cap, sizeof(*p->cookie));
	p->mark = calloc(p->in_cap, sizeof(*p->mark));
	p->out = calloc(p->out_cap, sizeof(*p->out));
	p->iov = calloc(2 * (size_t)p->out_cap, sizeof(*p->iov));
	p->arena = malloc(p->arena_cap);
	p->send = calloc(p->out_cap, sizeof(*p->send));
	p->cmsg = calloc(p->out_cap, sizeof(*p->cmsg));
	p->head = malloc(p->clients_cap * sizeof(*p->head));
	p->tail = calloc(p->clients_cap, sizeof(*p->tail));
	p->excepted = calloc(p->clients_cap, sizeof(*p->excepted));
	p->next = calloc(p->out_cap, sizeof(*p->next));
	p->bcast = calloc(p->out_cap, sizeof(*p->bcast));
	if (!p->in_iov || !p->cookie || !p->mark || !p->out || !p->iov || !p->arena || !p->send ||
	    !p->cmsg || !p->head || !p->tail || !p->excepted || !p->next || !p->bcast) {
		tick_plan_free(p);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < p->clients_cap; i++)
		p->head[i] = TICK_NONE;
	return 0;
}

void tick_plan_free(struct tick_plan *p)
{
	free(p->in_iov);
	free(p->cookie);
	free(p->mark);
	free(p->out);
	free(p->iov);
	free(p->arena);
	free(p->send);
	free(p->cmsg);
	free(p->head);
	free(p->tail);
	free(p->excepted);
	free(p->next);
	free(p->bcast);
	memset(p, 0, sizeof(*p));
}

void tick_plan_reset(struct tick_plan *p)
{
	p->n_in = 0;
	p->n_out = 0;
	p->out_used = 0;
	p->arena_used = 0;
	p->n_sends = 0;
	/* A new stamp releases every buffer mark at once. */
	if (++p->stamp == 0) {
		memset(p->mark, 0, p->in_cap * sizeof(*p->mark));
		p->stamp = 1;
	}
}

void tick_plan_rx_region(struct tick_plan *p, const void *base, uint32_t stride)
{
	p->rx_base = (uintptr_t)base;
	p->rx_stride = stride;
}

int tick_plan_input(struct tick_plan *p, void *data, uint32_t len, uint32_t cookie)
{
	uint32_t i = p->n_in;

	if (i >= p->in_cap)
		return -ENOSPC;
	p->in_iov[i].iov_base = data;
	p->in_iov[i].iov_len = len;
	p->cookie[i] = cookie;
	if (cookie < p->in_cap)
		p->mark[cookie] = p->stamp;
	p->n_in = i + 1;
	return 0;
}

bool tick_plan_holds(const struct tick_plan *p, const void *data, uint32_t len)
{
	uintptr_t a = (uintptr_t)data, off;
	uint64_t i;

	if (!len)
		return false;
	/* The usual case, a game forwarding what it was just handed: the
	 * last input, no division. */
	if (p->n_in) {
		uintptr_t last = (uintptr_t)p->in_iov[p->n_in - 1].iov_base;

		if (a >= last && a - last + len <= p->in_iov[p->n_in - 1].iov_len)
			return true;
	}
	if (!p->rx_stride || a < p->rx_base)
		return false;
	off = a - p->rx_base;
	i = off / p->rx_stride;
	/* Within one buffer: the buffer after it may be anyone's. */
	return i < p->in_cap && (off + len - 1) / p->rx_stride == i && p->mark[i] == p->stamp;
}

int tick_plan_output(struct tick_plan *p, const struct tick_out *o, uint32_t cost, const void *data,
		     uint32_t len)
{
	uint32_t i = p->n_out;
	void *base = (void *)(uintptr_t)data;

	if (p->out_used + (uint64_t)cost > p->out_cap || i >= p->out_cap)
		return -ENOBUFS;
	if (!tick_plan_holds(p, data, len)) {
		if (len > p->arena_cap - p->arena_used)
			return -ENOBUFS;
		base = p->arena + p->arena_used;
		if (len) /* data may be NULL then */
			memcpy(base, data, len);
		p->arena_used += len;
	}
	p->out[i] = *o;
	p->iov[i].iov_base = base;
	p->iov[i].iov_len = len;
	p->out_used += cost;
	p->n_out = i + 1;
	return 0;
}

/* Length of the GSO run starting at datagram i of iov[i, end): equal-size
 * segments, the last one possibly shorter (which ends the run), within the
 * kernel's segment and byte limits. Zero-length datagrams never join a
 * run: a GSO send cannot carry an empty segment. */
static uint32_t run_length(const struct iovec *iov, uint32_t i, uint32_t end, uint32_t seg)
{
	uint32_t total = seg, j = i + 1;

	while (j < end && j - i < TICK_GSO_MAX_SEGS) {
		size_t len = iov[j].iov_len;

		if (len == 0 || len > seg || total + len > TICK_GSO_MAX_BYTES)
			break;
		total += (uint32_t)len;
		j++;
		if (len < seg)
			break;
	}
	return j - i;
}

static void set_cmsg(union tick_cmsg *c, uint16_t seg)
{
	struct cmsghdr *cm = &c->align;

	memset(c, 0, sizeof(*c));
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
}

/* Appends the sends of iov[first, first + n) to client idx. */
static void cut_runs(struct tick_plan *p, uint32_t first, uint32_t n, uint32_t gso, uint32_t idx,
		     uint32_t gen)
{
	uint32_t i = first, end = first + n;

	while (i < end && p->n_sends < p->out_cap) {
		size_t len = p->iov[i].iov_len;
		struct tick_send *s = &p->send[p->n_sends];
		uint32_t count = 1;

		if (len > 0 && len <= gso)
			count = run_length(p->iov, i, end, (uint32_t)len);
		s->idx = idx;
		s->gen = gen;
		s->first = i;
		s->count = (uint16_t)count;
		/* A lone datagram needs no GSO; keeping it plain also keeps
		 * it out of the way if the kernel rejects GSO. */
		s->seg = count > 1 ? (uint16_t)len : 0;
		if (s->seg)
			set_cmsg(&p->cmsg[p->n_sends], s->seg);
		p->n_sends++;
		i += count;
	}
}

/* Copies sends [first, first + n) for client idx: the same datagrams. */
static void copy_runs(struct tick_plan *p, uint32_t first, uint32_t n, uint32_t idx, uint32_t gen)
{
	for (uint32_t k = first; k < first + n && p->n_sends < p->out_cap; k++) {
		uint32_t to = p->n_sends++;

		p->send[to] = p->send[k];
		p->send[to].idx = idx;
		p->send[to].gen = gen;
		if (p->send[k].seg)
			p->cmsg[to] = p->cmsg[k];
	}
}

/* The first scan: broadcasts listed, unicasts chained per target. */
static void index_output(struct tick_plan *p, uint32_t *n_bc)
{
	*n_bc = 0;
	for (uint32_t i = 0; i < p->n_out; i++) {
		const struct tick_out *o = &p->out[i];
		uint32_t t = o->target;

		if (t == TICK_NONE) {
			p->bcast[(*n_bc)++] = i;
			if (o->except < p->clients_cap)
				p->excepted[o->except] = 1;
		} else if (t < p->clients_cap) {
			p->next[i] = TICK_NONE;
			if (p->head[t] == TICK_NONE)
				p->head[t] = i;
			else
				p->next[p->tail[t]] = i;
			p->tail[t] = i;
		}
	}
}

static void unindex_output(struct tick_plan *p)
{
	for (uint32_t i = 0; i < p->n_out; i++) {
		const struct tick_out *o = &p->out[i];

		if (o->target == TICK_NONE) {
			if (o->except < p->clients_cap)
				p->excepted[o->except] = 0;
		} else if (o->target < p->clients_cap) {
			p->head[o->target] = TICK_NONE;
		}
	}
}

/* Gathers client c's datagrams, in queue order, at iov[*at...): the
 * broadcasts it gets merged with its own unicasts. Returns how many. */
static uint32_t gather(struct tick_plan *p, uint32_t *at, uint32_t n_bc, uint32_t c, uint32_t gen,
		       uint64_t join)
{
	uint32_t u = p->head[c], b = 0, start = *at, end = 2 * p->out_cap;

	while (*at < end) {
		uint32_t pick = TICK_NONE;

		while (b < n_bc) {
			const struct tick_out *o = &p->out[p->bcast[b]];

			if (o->except != c && join <= o->seq) {
				pick = p->bcast[b];
				break;
			}
			b++;
		}
		while (u != TICK_NONE && p->out[u].gen != gen)
			u = p->next[u];
		if (u != TICK_NONE && (pick == TICK_NONE || u < pick)) {
			pick = u;
			u = p->next[u];
		} else if (pick != TICK_NONE) {
			b++;
		} else {
			break;
		}
		p->iov[(*at)++] = p->iov[pick];
	}
	return *at - start;
}

void tick_plan_build(struct tick_plan *p, uint32_t gso_max_seg, const uint32_t *clients, uint32_t n,
		     const uint32_t *gen, const uint64_t *join)
{
	uint32_t n_bc, at = p->out_cap, shared = TICK_NONE, n_shared = 0;
	uint64_t first_seq;

	p->n_sends = 0;
	if (!p->n_out)
		return;
	if (gso_max_seg > TICK_GSO_MAX_BYTES)
		gso_max_seg = TICK_GSO_MAX_BYTES;
	index_output(p, &n_bc);
	first_seq = n_bc ? p->out[p->bcast[0]].seq : 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t c = clients[k], cnt, base;

		if (c >= p->clients_cap)
			continue;
		/* The usual case (the relay's): a client that gets every
		 * broadcast and nothing else. Its sends are everyone's, cut
		 * once and copied. */
		if (n_bc && p->head[c] == TICK_NONE && !p->excepted[c] && join[c] <= first_seq) {
			if (shared != TICK_NONE) {
				copy_runs(p, shared, n_shared, c, gen[c]);
				continue;
			}
			base = 0;
			if (n_bc != p->n_out) { /* not the whole queue */
				base = at;
				for (uint32_t j = 0; j < n_bc && at < 2 * p->out_cap; j++)
					p->iov[at++] = p->iov[p->bcast[j]];
			}
			shared = p->n_sends;
			cut_runs(p, base, n_bc, gso_max_seg, c, gen[c]);
			n_shared = p->n_sends - shared;
			continue;
		}
		cnt = gather(p, &at, n_bc, c, gen[c], join[c]);
		cut_runs(p, at - cnt, cnt, gso_max_seg, c, gen[c]);
	}
	unindex_output(p);
}

int tick_flood_init(struct tick_flood *f, uint32_t clients, uint32_t limit)
{
	memset(f, 0, sizeof(*f));
	if (!clients || !limit)
		return -EINVAL;
	f->tick = calloc(clients, sizeof(*f->tick));
	f->count = calloc(clients, sizeof(*f->count));
	if (!f->tick || !f->count) {
		tick_flood_free(f);
		return -ENOMEM;
	}
	f->n = clients;
	f->limit = limit;
	return 0;
}

void tick_flood_free(struct tick_flood *f)
{
	free(f->tick);
	free(f->count);
	memset(f, 0, sizeof(*f));
}

void tick_flood_forget(struct tick_flood *f, uint32_t client)
{
	if (client < f->n) {
		f->tick[client] = 0;
		f->count[client] = 0;
	}
}

bool tick_flood_admit(struct tick_flood *f, uint32_t client, uint64_t tick)
{
	if (client >= f->n)
		return false;
	if (tick > f->tick[client]) {
		f->tick[client] = tick;
		f->count[client] = 0;
	}
	if (f->count[client] >= f->limit)
		return false;
	f->count[client]++;
	return true;
}

int tick_clock_init(struct tick_clock *c, uint32_t hz, uint64_t phase_ns)
{
	memset(c, 0, sizeof(*c));
	if (!hz || hz > RF_NSEC_PER_SEC)
		return -EINVAL;
	c->period_ns = RF_NSEC_PER_SEC / hz;
	c->phase_ns = phase_ns % c->period_ns;
	return 0;
}

static uint64_t tick_of(const struct tick_clock *c, uint64_t mono_ns)
{
	return mono_ns < c->phase_ns ? 0 : (mono_ns - c->phase_ns) / c->period_ns;
}

void tick_clock_set(struct tick_clock *c, uint64_t mono_ns, uint64_t real_ns)
{
	c->now_ns = mono_ns;
	c->now_tick = tick_of(c, mono_ns);
	c->real_off_ns = (int64_t)(real_ns - mono_ns);
}

uint64_t tick_clock_arrival(const struct tick_clock *c, uint64_t real_ns)
{
	int64_t mono;

	if (!real_ns || real_ns > INT64_MAX ||
	    __builtin_sub_overflow((int64_t)real_ns, c->real_off_ns, &mono))
		return c->now_tick;
	/* Datagrams taken during this tick's drain arrived after now_ns;
	 * later than a period after it is no arrival time at all. */
	if (mono < 0 || (uint64_t)mono > c->now_ns + c->period_ns)
		return c->now_tick;
	return tick_of(c, (uint64_t)mono);
}

uint64_t tick_stamp_ns(const struct cmsghdr *cm, const void *end)
{
	const char *p = (const char *)cm;
	struct timespec ts;

	if ((const char *)end - p < (ptrdiff_t)CMSG_LEN(sizeof(ts)) ||
	    cm->cmsg_len < CMSG_LEN(sizeof(ts)) || cm->cmsg_len > (size_t)((const char *)end - p) ||
	    cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS)
		return 0;
	memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= (long)RF_NSEC_PER_SEC ||
	    (uint64_t)ts.tv_sec >= INT64_MAX / RF_NSEC_PER_SEC)
		return 0;
	return (uint64_t)ts.tv_sec * RF_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}
