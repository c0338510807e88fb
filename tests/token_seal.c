// SPDX-License-Identifier: Apache-2.0
/* token_seal.c - a test aid: seals one connect token (common/token.h) with
 * the key of a token_key_file, for e2e tests that need tokens ringfleetd
 * would never issue (expired, for another server, another allocation).
 *
 *   token_seal KEYFILE SERVER PLAYER ALLOC_ID EXPIRY_UNIX_S
 *
 * prints the token's text form (base64url) and a newline.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/token.h"

int main(int argc, char **argv)
{
	uint8_t key[RF_TOKEN_KEY_LEN], raw[80], buf[RF_TOKEN_MAX], nonce[RF_TOKEN_NONCE_LEN];
	char text[RF_TOKEN_TEXT_MAX];
	struct rf_token t = { 0 };
	ssize_t n;
	int fd, len;

	if (argc != 6 || sodium_init() < 0) {
		fprintf(stderr, "usage: token_seal KEYFILE SERVER PLAYER ALLOC_ID EXPIRY_UNIX_S\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, raw, sizeof(raw));
	if (n < 0 || token_key_parse(raw, (size_t)n, key) < 0) {
		fprintf(stderr, "token_seal: %s: not a key file\n", argv[1]);
		return 1;
	}
	close(fd);
	snprintf(t.server, sizeof(t.server), "%s", argv[2]);
	snprintf(t.player, sizeof(t.player), "%s", argv[3]);
	t.alloc_id = strtoull(argv[4], NULL, 10);
	t.expiry_s = strtoull(argv[5], NULL, 10);
	randombytes_buf(nonce, sizeof(nonce));
	len = token_seal(key, &t, nonce, buf, sizeof(buf));
	if (len < 0 || token_to_text(buf, (size_t)len, text, sizeof(text)) < 0) {
		fprintf(stderr, "token_seal: %s\n", strerror(len < 0 ? -len : ENOSPC));
		return 1;
	}
	printf("%s\n", text);
	return 0;
}
