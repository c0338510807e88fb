/* SPDX-License-Identifier: Apache-2.0 */
/* token_key.h - the host key of connect tokens ([supervisor]
 * token_key_file): creating a key file (ringfleetd --gen-token-key) and
 * the sealed memfd that hands the key to workers. Reading a key file, under
 * the rules of every secret file ringfleetd trusts, is the configuration's
 * (config.h token_key_read(), config/cfg_secret.h).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/token.h"

/* Creates path (O_EXCL, mode 0600) holding a fresh random key as 64 hex
 * digits and a newline. 0 or -errno (-EEXIST: never overwrites). */
int token_key_generate(const char *path);

/* A sealed memfd holding the 32 raw key bytes, O_CLOEXEC: what a worker
 * inherits (--token-key-fd) instead of seeing the key in argv. fd or
 * -errno. */
int token_key_memfd(const uint8_t key[RF_TOKEN_KEY_LEN]);
