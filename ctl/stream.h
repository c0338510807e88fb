// SPDX-License-Identifier: Apache-2.0
/* stream.h - `ringfleetctl events`: subscribes on the control socket and
 * prints every event line until interrupted or the supervisor closes. */
#pragma once
#include <stdbool.h>

/* Returns the exit status: 0 after SIGINT/SIGTERM, 1 when ringfleetd
 * refused, closed the stream or dropped this reader, 4 when it cannot be
 * reached. */
int stream_events(const char *socket_path, bool json);
/* One event as a table line: TIME SERVER KIND FROM -> TO REASON. Returns
 * -1 if line is not an event. */
int stream_format_event(const char *line, char *out, unsigned outlen);
