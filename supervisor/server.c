// SPDX-License-Identifier: Apache-2.0
/* server.c - see server.h. */
#include "supervisor/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"

#define BIND_RETRY_MS 1000
#define BIND_RETRY_STEP_MS 50

static int fill_addr(const struct cfg_server *cfg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, cfg->bind, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(cfg->port);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, cfg->bind, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(cfg->port);
		*len = sizeof(*v6);
		return 0;
	}
	return -EINVAL;
}

void server_set_rcvbuf(int fd, uint64_t bytes, bool privileged)
{
	int v = bytes > (uint64_t)(INT32_MAX / 2) ? INT32_MAX / 2 : (int)bytes;

	/* SO_RCVBUFFORCE goes past net.core.rmem_max; the kernel doubles v. */
	if (privileged && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) == 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

/* A worker that just exited may still hold the port for a moment: the
 * kernel tears an io_uring (and the files registered with it) down
 * asynchronously. Wait up to BIND_RETRY_MS for it before calling the port
 * taken, so a quick restart of ringfleetd does not fail. */
static int bind_retry(int fd, const struct sockaddr *sa, socklen_t len)
{
	for (int waited = 0;; waited += BIND_RETRY_STEP_MS) {
		if (bind(fd, sa, len) == 0)
			return 0;
		if (errno != EADDRINUSE || waited >= BIND_RETRY_MS)
			return -1;
		usleep(BIND_RETRY_STEP_MS * 1000);
	}
}

int server_bind_udp(const struct cfg_server *cfg, bool privileged)
{
	struct sockaddr_storage ss;
	socklen_t len;
	_cleanup_close_ int fd = -1;
	int r, one = 1;

	r = fill_addr(cfg, &ss, &len);
	if (r < 0)
		return r;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	server_set_rcvbuf(fd, cfg->socket_rcvbuf, privileged);
	if (bind_retry(fd, (struct sockaddr *)&ss, len) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int server_resolve_user(const struct cfg_server *cfg, bool privileged, bool *drop, uid_t *uid,
			gid_t *gid)
{
	struct passwd *pw;
	struct group *gr;

	*drop = false;
	if (!privileged || !cfg->user[0])
		return 0;
	pw = getpwnam(cfg->user);
	if (!pw)
		return -ESRCH;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (cfg->group[0]) {
		gr = getgrnam(cfg->group);
		if (!gr)
			return -ESRCH;
		*gid = gr->gr_gid;
	}
	*drop = true;
	return 0;
}

int server_slot_create(const char *name, uint32_t max_clients, int *fd, struct rf_slot **slot,
		       size_t *len)
{
	char label[80];
	size_t n = rf_slot_size(max_clients);
	_cleanup_close_ int mfd = -1;
	void *map;

	snprintf(label, sizeof(label), "ringfleet-slot-%s", name);
	mfd = memfd_create(label, MFD_CLOEXEC);
	if (mfd < 0)
		return -errno;
	if (ftruncate(mfd, (off_t)n) < 0)
		return -errno;
	map = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (map == MAP_FAILED)
		return -errno;
	*fd = TAKE_FD(mfd);
	*slot = map;
	*len = n;
	return 0;
}

void server_slot_release(int fd, struct rf_slot *slot, size_t len)
{
	if (slot)
		munmap(slot, len);
	if (fd >= 0)
		close(fd);
}

int server_slot_map(int fd, uint32_t max_clients, bool header, struct rf_slot **slot, size_t *len)
{
	size_t n = rf_slot_size(max_clients);
	struct stat st;
	struct rf_slot *map;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != n)
		return -EBADF;
	map = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	/* A worker writes the header at start: another layout cannot be
	 * shared with this build's workers. */
	if (header &&
	    (RF_LOAD(map->magic) != RF_SLOT_MAGIC || RF_LOAD(map->version) != RF_SLOT_VERSION)) {
		munmap(map, n);
		return -EPROTO;
	}
	*slot = map;
	*len = n;
	return 0;
}

static struct server *server_alloc(const struct cfg_server *cfg)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->cpu = -1;
	s->pidfd = -1;
	s->ready_fd = -1;
	s->slot_fd = -1;
	s->worker_udp_fd = s->worker_slot_fd = -1;
	s->pid_tag = (struct ev_tag){ EV_PIDFD, s };
	s->ready_tag = (struct ev_tag){ EV_READY, s };
	fsm_init(&s->fsm);
	return s;
}

int server_new_with_socket(const struct cfg_server *cfg, int udp_fd, struct server **out)
{
	struct server *s = server_alloc(cfg);
	int r;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	r = server_slot_create(cfg->name, cfg->max_clients, &s->slot_fd, &s->slot, &s->slot_len);
	if (r < 0) {
		free(s);
		return r;
	}
	s->udp_fd = udp_fd;
	*out = s;
	return 0;
}

int server_new_adopted(const struct cfg_server *cfg, int udp_fd, int slot_fd, struct rf_slot *slot,
		       size_t slot_len, struct server **out)
{
	struct server *s = server_alloc(cfg);

	*out = s;
	if (!s)
		return -ENOMEM;
	s->udp_fd = udp_fd;
	s->slot_fd = slot_fd;
	s->slot = slot;
	s->slot_len = slot_len;
	return 0;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	server_slot_release(s->slot_fd, s->slot, s->slot_len);
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->ready_fd >= 0)
		close(s->ready_fd);
	free(s);
}

void server_parse_labels(struct server *s)
{
	char why[160];

	if (kv_parse_list(&s->labels, s->cfg.labels, "label", why, sizeof(why)) < 0)
		memset(&s->labels, 0, sizeof(s->labels)); /* cannot happen: validated */
}
