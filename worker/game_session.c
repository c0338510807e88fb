// SPDX-License-Identifier: Apache-2.0
/* game_session.c - the slot's session area as the module sees it: allocations told, matches ended. See game_host.h. */
#include "worker/game_host.h"

#include <stdbool.h>
#include <stdio.h>

#include "common/slot.h"
#include "worker/worker.h"

void game_host_meta(char *dst, const char *src)
{
	size_t n = 0;
	bool line_start = true;

	/* The supervisor's text ends in a NUL within the area; one that
	 * does not is cut there. */
	for (size_t i = 0; i + 1 < RF_SLOT_META_MAX && src[i]; i++) {
		char c = src[i];

		if (c == '\n') {
			if (line_start)
				continue; /* an empty line */
			line_start = true;
		} else {
			if (c < ' ' || c > '~')
				c = '?';
			line_start = false;
		}
		dst[n++] = c;
	}
	if (!line_start)
		dst[n++] = '\n';
	dst[n] = '\0';
}

/* Every client leaves with SESSION_OVER. counted: the module ended it,
 * and the supervisor learns of it from sessions_ended. */
static void end_session(struct game_host *h, bool counted)
{
	struct worker *w = h->w;
	uint32_t n;

	h->live_id = 0;
	h->ending = true;
	n = w->clients.n;
	for (uint32_t i = 0; i < n; i++)
		h->ids[i] = worker_client_id(w, clients_list(&w->clients)[i]);
	for (uint32_t i = 0; i < n; i++) {
		int idx = worker_client_idx(w, h->ids[i]);

		if (idx >= 0)
			worker_drop_client(w, (uint32_t)idx, RF_LEAVE_SESSION_OVER);
	}
	h->ending = false;
	if (counted)
		w->st.sessions_ended++;
	if (h->draining)
		h->session_over = true;
}

int game_host_session(struct game_host *h)
{
	const struct rf_slot_session *s = &h->w->slot->session;
	uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), state;
	uint64_t id;
	bool news;

	/* The usual tick: nothing written since the last read. */
	if (seq == h->sess_seq)
		return 0;
	if (seq & 1)
		return -EAGAIN;
	state = RF_LOAD(s->state);
	id = RF_LOAD(s->alloc_id);
	news = state == RF_SESSION_ALLOCATED && id && id != h->alloc_id;
	/* Read racing the writer: whatever came out is thrown away below
	 * unless seq is unchanged. */
	if (news)
		game_host_meta(h->meta, s->meta);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (RF_LOAD(s->seq) != seq)
		return -EAGAIN;
	h->sess_seq = seq;
	if (h->live_id && (state != RF_SESSION_ALLOCATED || id != h->live_id))
		end_session(h, false); /* released: the supervisor knows */
	if (!news)
		return 0;
	h->alloc_id = id;
	h->live_id = id;
	if (h->game.allocated) {
		game_host_cb_enter(h, HOST_CB_ALLOCATED);
		h->game.allocated(&h->engine, h->state, h->meta);
		game_host_cb_leave(h);
	}
	return 1;
}

bool game_host_end_tick(struct game_host *h)
{
	if (!h->end_asked)
		return false;
	h->end_asked = false;
	end_session(h, true);
	return true;
}
