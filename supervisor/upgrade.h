// SPDX-License-Identifier: Apache-2.0
/* upgrade.h - the ringfleetd after this one (issue 14): in-place upgrade
 * by re-exec, and taking over after a crash.
 *
 * Upgrade (`ringfleetctl upgrade`, nginx's binary upgrade and systemd's
 * daemon-reexec in one process): the state (state.h) goes into a memfd;
 * the binary now at ringfleetd's path is run once as
 * `ringfleetd --upgrade-check` on that memfd, in a child, and must say it
 * reads it; only then does this process exec it, keeping its pid (so
 * workers stay its children), the control listener, the requesting
 * connection, and every server's socket, slot, pidfd and readiness pipe,
 * whose numbers the state lists. The new image adopts them (adopt.h),
 * applies the configuration on disk as a reload would, and answers the
 * request. When the check fails, nothing happens and the request gets the
 * reason. The HTTP listeners are opened again by the new image.
 *
 * Crash: the state is also kept in a file next to the control socket,
 * rewritten (atomically) at the end of every loop turn that changed it,
 * and removed when ringfleetd stops its fleet and exits. A ringfleetd that
 * finds one at start takes over the workers it names that are still alive.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;

/* The `upgrade` verb: starts the check and returns CONTROL_DEFER, or the
 * error reply when it cannot happen. */
char *upgrade_start(struct daemon *d, uint64_t conn_id);
/* The check's child exited (EV_UPGRADE), or its deadline passed
 * (timed_out): answers the request with the refusal, or execs the new
 * image, which answers it. */
void upgrade_on_check(struct daemon *d, bool timed_out);
/* When the check must be given up, or UINT64_MAX. */
uint64_t upgrade_deadline(const struct daemon *d);

/* `ringfleetd --upgrade-check FD`: 0 when this binary takes over the state
 * in fd, else 1 with the reason on stderr. */
int upgrade_check(int fd);

/* At start: takes over from the state handed over in upgrade_fd (>= 0),
 * else from a state file a crashed ringfleetd left. Opens (or inherits)
 * the control socket. Returns 0 or -errno with err set. */
int upgrade_resume(struct daemon *d, int upgrade_fd, char *err, size_t errlen);

/* After the configuration is applied: answers the upgrade request. */
void upgrade_finish(struct daemon *d);

/* Rewrites the state file if the fleet changed since the last write: at
 * once after a worker started or a process state changed, else (sessions)
 * at most twice a second. */
void upgrade_save_state(struct daemon *d, uint64_t now);
/* When upgrade_save_state() has work, or UINT64_MAX. */
uint64_t upgrade_state_deadline(const struct daemon *d);
/* A clean exit: nothing is left to take over. */
void upgrade_remove_state(struct daemon *d);
