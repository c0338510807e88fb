// SPDX-License-Identifier: Apache-2.0
/* out_stub.c - TEMPORARY stand-ins for the engine's output API (branch
 * "out" provides the real ones in worker.c): ids with generation 1 and no
 * output. Deleted when "out" is merged. */
#include "worker/worker.h"

uint64_t worker_client_id(const struct worker *w, uint32_t idx)
{
	(void)w;
	return (1ull << 32) | idx;
}

int worker_client_idx(const struct worker *w, uint64_t id)
{
	uint32_t idx = (uint32_t)id;

	if (id >> 32 != 1 || idx >= w->clients.max || !w->clients.tab[idx].addr.family)
		return -ENOENT;
	return (int)idx;
}

int worker_send(struct worker *w, uint32_t idx, const void *data, uint32_t len)
{
	(void)data;
	if (!len || len > w->max_packet)
		return -EINVAL;
	return idx < w->clients.max ? 0 : -ENOENT;
}

int worker_broadcast(struct worker *w, int64_t except_idx, const void *data, uint32_t len)
{
	(void)except_idx;
	(void)data;
	return !len || len > w->max_packet ? -EINVAL : 0;
}
