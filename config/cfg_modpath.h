// SPDX-License-Identifier: Apache-2.0
/* cfg_modpath.h - is a game module path safe to load? The checks sudo and
 * sshd make before they trust a file: the module and every directory
 * above it must be writable by nobody but root and the trusted user
 * (ringfleetd's effective uid), since whoever can write any of them can
 * make ringfleet run their code.
 *
 * The path is resolved first (realpath): a symlink is followed, and what
 * is checked, and then loaded, is the file it points to, with the
 * directories of that file. The caller keeps the resolved path so the
 * worker opens exactly the file that passed, never the link again.
 *
 * Part of rf_config (it reads the file system); the schema's setter
 * reaches it through cfg_key_ctx.check_module, so rf_schema stays free of
 * I/O and a plain cfg_load() (ringfleetctl, other hosts' files) skips it.
 */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Checks path (absolute) for a module that trusted (and root) may load.
 * Returns 0 with the resolved path in real, or -errno with why set to a
 * message that names the path and what to fix, without the "game: "
 * prefix, e.g. `/srv/g.so is writable by group 1000 (chmod g-w /srv/g.so)`:
 * -ENOENT etc. (resolving or stat failed), -EINVAL (not absolute, not a
 * regular file, a directory that is not one), -EPERM (an owner or a mode
 * lets someone else write), -ENAMETOOLONG (resolves beyond reallen). */
int cfg_modpath_check(const char *path, uid_t trusted, char *real, size_t reallen, char *why,
		      size_t len);
