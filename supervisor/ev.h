// SPDX-License-Identifier: Apache-2.0
/* ev.h - the vocabulary of ringfleetd's event loop (daemon.c): what an
 * epoll event's data.ptr points at. Owners embed a tag and register its
 * address with epoll; the loop dispatches on the tag's kind.
 */
#pragma once

/* An owner freed while a batch of events is being dispatched would leave
 * later events of that batch pointing at freed memory, so owners are
 * retired instead: their tags become EV_DEAD (the loop skips those) and
 * the memory is freed once the batch is done. */
enum ev_kind {
	EV_SIGNAL,
	EV_TIMER,
	EV_LISTEN,
	EV_CONN,
	EV_PIDFD,
	EV_READY,
	EV_HTTP,
	EV_UPGRADE, /* the upgrade check's child exited (upgrade.c) */
	EV_DEAD
};
struct ev_tag {
	enum ev_kind kind;
	void *owner;
};
