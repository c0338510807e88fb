// SPDX-License-Identifier: Apache-2.0
/* cfg_secret.h - reading a secret from a file an operator provides (the
 * HTTP API's bearer token, api_token_file): the file itself must say that
 * only the daemon can read it. The rules, as sshd's for host keys:
 *   - a regular file, opened without following a symbolic link (a link
 *     is refused: its target's rights are not what ls -l shows);
 *   - mode 0600 or 0640 exactly (no one else reads it, no one but the
 *     owner writes it, nothing executable or setuid);
 *   - owned by root or by the trusted uid (ringfleetd's effective user).
 * Pure of side effects beyond reading; no logging.
 */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Reads path (at most max bytes) into *buf (malloc'd, NUL-terminated,
 * *len bytes before the NUL) if it passes the rules above. Returns 0, or
 * -errno with why set to a sentence naming path and what to do:
 * -ELOOP a link, -EISDIR/-EINVAL not a regular file, -EPERM mode or
 * owner, -EFBIG over max bytes, or open/read's own error. */
int cfg_secret_read(const char *path, uid_t trusted, size_t max, char **buf, size_t *len, char *why,
		    size_t whylen);
/* Wipes and frees what cfg_secret_read() returned (NULL is fine). */
void cfg_secret_free(char *buf, size_t len);
