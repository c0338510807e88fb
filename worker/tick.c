/* tick.c - see tick.h. */
#include "worker/tick.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>

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
	f->seen = calloc(clients, sizeof(*f->seen));
	f->count = calloc(clients, sizeof(*f->count));
	if (!f->seen || !f->count) {
		tick_flood_free(f);
		return -ENOMEM;
	}
	f->n = clients;
	f->limit = limit;
	f->gen = 1;
	return 0;
}

void tick_flood_free(struct tick_flood *f)
{
	free(f->seen);
	free(f->count);
	memset(f, 0, sizeof(*f));
}

void tick_flood_next(struct tick_flood *f)
{
	/* A generation stamp makes a new tick O(1) instead of clearing every
	 * counter; only its wrap (after 2^32 ticks) needs the clear. */
	if (++f->gen == 0) {
		memset(f->seen, 0, f->n * sizeof(*f->seen));
		f->gen = 1;
	}
}

void tick_flood_forget(struct tick_flood *f, uint32_t client)
{
	if (client < f->n)
		f->seen[client] = 0;
}

bool tick_flood_admit(struct tick_flood *f, uint32_t client)
{
	if (client >= f->n)
		return false;
	if (f->seen[client] != f->gen) {
		f->seen[client] = f->gen;
		f->count[client] = 0;
	}
	if (f->count[client] >= f->limit)
		return false;
	f->count[client]++;
	return true;
}
