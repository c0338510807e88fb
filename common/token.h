/* SPDX-License-Identifier: Apache-2.0 */
/* token.h - connect tokens (issue 13): a matchmaker gets one per player
 * at allocation; the player hands it to the game server in a TOKEN
 * message and is admitted without the cookie handshake.
 *
 * Binary form, version 1 (docs/protocol.md, "Connect tokens"):
 *
 *   header (public, 33 bytes): u8 version = 1 | u64 expiry (unix seconds,
 *                              big-endian) | 24-byte nonce
 *   sealed body:  crypto_aead_xchacha20poly1305_ietf with the host key
 *                 (32 bytes) and that nonce over
 *                   u8 player_len | player | u64 alloc_id | u8 server_len | server
 *                 followed by its 16-byte tag.
 *
 * The additional data is the header followed by the server's identity
 * (its configured name), so a token for another server, or with its
 * expiry or nonce changed, does not open. Player ids are 1..64 bytes of
 * printable ASCII without space (0x21..0x7e). The text form handed to
 * matchmakers is base64url without padding.
 *
 * Pure logic over memory: the caller brings the nonce (randombytes_buf)
 * and the time.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RF_TOKEN_VERSION 1u
#define RF_TOKEN_KEY_LEN 32u
#define RF_TOKEN_KEY_HEX_LEN 64u /* the key as hex digits */
#define RF_TOKEN_NONCE_LEN 24u
#define RF_TOKEN_HDR_LEN 33u /* version, expiry, nonce */
#define RF_TOKEN_TAG_LEN 16u
#define RF_TOKEN_PLAYER_MAX 64u
#define RF_TOKEN_SERVER_MAX 63u /* a server name, CFG_NAME_MAX - 1 */
#define RF_TOKEN_BODY_MAX (1u + RF_TOKEN_PLAYER_MAX + 8u + 1u + RF_TOKEN_SERVER_MAX)
#define RF_TOKEN_MIN (RF_TOKEN_HDR_LEN + 1u + 1u + 8u + 1u + 1u + RF_TOKEN_TAG_LEN)
#define RF_TOKEN_MAX (RF_TOKEN_HDR_LEN + RF_TOKEN_BODY_MAX + RF_TOKEN_TAG_LEN)
/* Base64url without padding of RF_TOKEN_MAX bytes, with its NUL. */
#define RF_TOKEN_TEXT_MAX ((RF_TOKEN_MAX * 4u + 2u) / 3u + 1u)

struct rf_token {
	uint64_t expiry_s; /* unix seconds; the token is refused from then on */
	uint64_t alloc_id; /* the allocation it was issued for */
	char player[RF_TOKEN_PLAYER_MAX + 1];
	char server[RF_TOKEN_SERVER_MAX + 1];
};

/* True for a valid player id: 1..64 bytes of 0x21..0x7e. */
bool token_player_ok(const char *player);

/* Seals t for key with nonce into out (cap bytes). Returns the token's
 * length, -EINVAL (bad player id or server name), -ENOSPC (cap). */
int token_seal(const uint8_t key[RF_TOKEN_KEY_LEN], const struct rf_token *t,
	       const uint8_t nonce[RF_TOKEN_NONCE_LEN], uint8_t *out, size_t cap);

/* Opens the token in buf for the server named server at unix time now_s
 * into *t. 0, -EINVAL (malformed: length, version, body fields),
 * -EBADMSG (forged, another key, or another server), -ETIMEDOUT
 * (authentic but expired). */
int token_open(const uint8_t key[RF_TOKEN_KEY_LEN], const char *server, uint64_t now_s,
	       const uint8_t *buf, size_t len, struct rf_token *t);

/* Text form: base64url without padding. token_to_text returns the text's
 * length or -ENOSPC; token_from_text the token's length or -EINVAL. */
int token_to_text(const uint8_t *buf, size_t len, char *text, size_t cap);
int token_from_text(const char *text, uint8_t *buf, size_t cap);

/* A host key file's content: exactly 32 raw bytes, or 64 hex digits
 * optionally followed by one newline. 0 or -EINVAL. */
int token_key_parse(const uint8_t *data, size_t len, uint8_t key[RF_TOKEN_KEY_LEN]);
