// SPDX-License-Identifier: Apache-2.0
/* notify.h - systemd integration through sd_notify(3). Every call is a
 * no-op when NOTIFY_SOCKET is unset, i.e. outside systemd. */
#pragma once
#include <stdint.h>

void notify_ready(const char *status);
void notify_status(const char *status);
void notify_reloading(void);
void notify_stopping(void);
/* Watchdog interval in ns from WATCHDOG_USEC (for this pid), or 0. */
uint64_t notify_watchdog_ns(void);
void notify_watchdog(void);
