// SPDX-License-Identifier: Apache-2.0
/* notify.c - see notify.h. */
#include "supervisor/notify.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "common/timeutil.h"

void notify_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void notify_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void notify_reloading(void)
{
	/* MONOTONIC_USEC lets Type=notify-reload (systemd >= 253) match the
	 * reload to this message; older systemd ignores it. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(rf_now_ns() / 1000));
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

uint64_t notify_watchdog_ns(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec * 1000;
}

void notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}
