/* SPDX-License-Identifier: Apache-2.0 */
/* token_key.h - the host key file of connect tokens ([supervisor]
 * token_key_file): reading it under the same rules as any secret file
 * ringfleetd trusts, and creating one (ringfleetd --gen-token-key).
 *
 * A key file must be a regular file (not a symlink), mode 0600 or 0640
 * (nothing for others, no write or execute for the group), owned by root
 * or by ringfleetd's effective user, holding 32 raw bytes or 64 hex
 * digits with an optional newline (token_key_parse()).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/token.h"

/* Reads the key at path into key, the file's ownership checked against
 * euid. 0 or -errno with a reason in why: -ELOOP (a symlink), -EINVAL
 * (not a regular file, or bad content), -EPERM (mode or owner), or the
 * error of open/read. */
int token_key_load(const char *path, uid_t euid, uint8_t key[RF_TOKEN_KEY_LEN], char *why,
		   size_t len);

/* Creates path (O_EXCL, mode 0600) holding a fresh random key as 64 hex
 * digits and a newline. 0 or -errno (-EEXIST: never overwrites). */
int token_key_generate(const char *path);

/* A sealed memfd holding the 32 raw key bytes, O_CLOEXEC: what a worker
 * inherits (--token-key-fd) instead of seeing the key in argv. fd or
 * -errno. */
int token_key_memfd(const uint8_t key[RF_TOKEN_KEY_LEN]);
