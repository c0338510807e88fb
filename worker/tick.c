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

int tick_plan_init(struct tick_plan *p, uint32_t max_pkts, uint32_t max_dests)
{
	memset(p, 0, sizeof(*p));
	if (!max_pkts || !max_dests)
		return -EINVAL;
	p->cap = max_pkts;
	p->dest_cap = max_dests;
	p->iov = calloc(max_pkts, sizeof(*p->iov));
	p->cookie = calloc(max_pkts, sizeof(*p->cookie));
	p->batch = calloc(max_pkts, sizeof(*p->batch));
	p->cmsg = calloc(max_pkts, sizeof(*p->cmsg));
	p->dest = calloc(max_dests, sizeof(*p->dest));
	if (!p->iov || !p->cookie || !p->batch || !p->cmsg || !p->dest) {
		tick_plan_free(p);
		return -ENOMEM;
	}
	return 0;
}

void tick_plan_free(struct tick_plan *p)
{
	free(p->iov);
	free(p->cookie);
	free(p->batch);
	free(p->cmsg);
	free(p->dest);
	memset(p, 0, sizeof(*p));
}

void tick_plan_reset(struct tick_plan *p)
{
	p->n_pkts = 0;
	p->n_batches = 0;
	p->n_dests = 0;
}

int tick_plan_add(struct tick_plan *p, void *data, uint32_t len, uint32_t cookie)
{
	uint32_t i = p->n_pkts;

	if (i >= p->cap)
		return -ENOSPC;
	p->iov[i].iov_base = data;
	p->iov[i].iov_len = len;
	p->cookie[i] = cookie;
	p->n_pkts = i + 1;
	return 0;
}

int tick_plan_set_dests(struct tick_plan *p, const uint32_t *idx, uint32_t n)
{
	if (n > p->dest_cap)
		return -ENOSPC;
	memcpy(p->dest, idx, n * sizeof(*idx));
	p->n_dests = n;
	return 0;
}

/* Length of the GSO run starting at packet i: equal-size segments, the
 * last one possibly shorter (which ends the run), within the kernel's
 * segment and byte limits. Zero-length packets never join a run: a GSO
 * send cannot carry an empty segment. */
static uint32_t run_length(const struct tick_plan *p, uint32_t i, uint32_t seg)
{
	uint32_t n = p->n_pkts, total = seg, j = i + 1;

	while (j < n && j - i < TICK_GSO_MAX_SEGS) {
		size_t len = p->iov[j].iov_len;

		if (len == 0 || len > seg || total + len > TICK_GSO_MAX_BYTES)
			break;
		total += len;
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

void tick_plan_build(struct tick_plan *p, uint32_t gso_max_seg)
{
	uint32_t i = 0, nb = 0;

	if (gso_max_seg > TICK_GSO_MAX_BYTES)
		gso_max_seg = TICK_GSO_MAX_BYTES;
	while (i < p->n_pkts) {
		size_t len = p->iov[i].iov_len;
		struct tick_batch *b = &p->batch[nb];
		uint32_t count = 1;

		if (len > 0 && len <= gso_max_seg)
			count = run_length(p, i, (uint32_t)len);
		b->first = i;
		b->count = (uint16_t)count;
		/* A lone packet needs no GSO; keeping it plain also keeps it
		 * out of the way if the kernel rejects GSO. */
		b->seg = count > 1 ? (uint16_t)len : 0;
		if (b->seg)
			set_cmsg(&p->cmsg[nb], b->seg);
		i += count;
		nb++;
	}
	p->n_batches = nb;
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
