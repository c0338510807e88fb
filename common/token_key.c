// SPDX-License-Identifier: Apache-2.0
/* token_key.c - see token_key.h. */
#include "common/token_key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int token_key_generate(const char *path)
{
	uint8_t key[RF_TOKEN_KEY_LEN];
	char hex[RF_TOKEN_KEY_HEX_LEN + 2];
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	hex[RF_TOKEN_KEY_HEX_LEN] = '\n';
	if (write(fd, hex, sizeof(hex) - 1) != (ssize_t)sizeof(hex) - 1)
		ret = errno ? -errno : -EIO;
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	sodium_memzero(key, sizeof(key));
	sodium_memzero(hex, sizeof(hex));
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		unlink(path);
	return ret;
}

int token_key_memfd(const uint8_t key[RF_TOKEN_KEY_LEN])
{
	int fd = memfd_create("rf-token-key", MFD_CLOEXEC | MFD_ALLOW_SEALING), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, key, RF_TOKEN_KEY_LEN) != RF_TOKEN_KEY_LEN)
		ret = errno ? -errno : -EIO;
	/* Immutable from here: a worker cannot change what its siblings
	 * read. */
	if (ret == 0 &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		ret = -errno;
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}
