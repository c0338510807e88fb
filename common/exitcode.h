// SPDX-License-Identifier: Apache-2.0
/* exitcode.h - the exit statuses a worker process ends with, as both the
 * worker and the supervisor read them: the supervisor retries a failure
 * with backoff, but not a bad configuration, which a restart cannot fix.
 */
#pragma once

#define RF_EXIT_OK 0
#define RF_EXIT_FAILURE 1 /* runtime failure: retried with backoff */
#define RF_EXIT_CONFIG 2  /* bad argument or configuration: not retried */
#define RF_EXIT_EXEC 127  /* the spawned child could not set up or exec */
