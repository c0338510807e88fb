// SPDX-License-Identifier: Apache-2.0
/* daemon_verbs.h - what each control verb does, reloads, and answering
 * requests that wait for the fleet to settle. The dependency runs one way:
 * daemon.c's loop calls these; they use struct daemon (daemon.h) and the
 * modules it holds, never daemon.c's functions. */
#pragma once
#include "supervisor/daemon.h"

char *daemon_handle_request(void *ctx, uint64_t conn_id, const struct ucred *peer,
			    const struct ctl_request *req);
/* Re-reads the configuration. For a control request (conn_id != 0)
 * returns the reply line or CONTROL_DEFER; from SIGHUP (conn_id 0) the
 * caller frees what it returns. */
char *daemon_reload(struct daemon *d, uint64_t conn_id);
/* Stops every server; the loop exits once all have stopped. */
void daemon_begin_shutdown(struct daemon *d, const char *why);
/* Answers settled waiters, sends readiness and status to systemd. */
void daemon_after_events(struct daemon *d);
