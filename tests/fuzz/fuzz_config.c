// SPDX-License-Identifier: Apache-2.0
/* fuzz_config - cfg_load() on arbitrary file contents.
 *
 * The input becomes the whole INI file (through a memfd, so no disk I/O
 * and no temp file to clean up) and goes through the real loader: the line
 * reader, inih, every key setter and the resolve pass. Besides ASan/UBSan
 * and LeakSanitizer (cfg_free must release everything, and a failed load
 * must leave nothing behind), it checks the loader's contract from
 * config.h: a load either fails with one "PATH:LINE: ..." message and an
 * empty cfg, or returns a configuration in which every value is within
 * its documented range.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/slot.h"
#include "config/config.h"
#include "config/cfg_value.h"
#include "tests/fuzz/fuzz_input.h"

static int memfd = -1;
static char path[64];

static bool valid_name(const char *s)
{
	return memchr(s, '\0', CFG_NAME_MAX) && cfg_name_ok(s, CFG_NAME_MAX - 1);
}

static bool valid_account(const char *s)
{
	return memchr(s, '\0', CFG_USER_MAX) && (!*s || cfg_account_ok(s, CFG_USER_MAX - 1));
}

static void check_server(const struct cfg *cfg, size_t i)
{
	const struct cfg_server *s = &cfg->servers[i];
	char canon[CFG_ADDR_MAX];

	FUZZ_CHECK(valid_name(s->name), "server %zu: bad name", i);
	FUZZ_CHECK(!s->pool[0] || valid_name(s->pool), "server %s: bad pool name", s->name);
	FUZZ_CHECK(memchr(s->bind, '\0', CFG_ADDR_MAX) &&
			   cfg_parse_addr(s->bind, canon, sizeof(canon)) > 0 &&
			   strcmp(canon, s->bind) == 0,
		   "server %s: bind \"%.64s\" is not a canonical address", s->name, s->bind);
	FUZZ_CHECK(s->port >= 1, "server %s: port 0", s->name);
	FUZZ_CHECK(s->cpu >= -1 && s->cpu < CPU_SETSIZE, "server %s: cpu %d", s->name, s->cpu);
	FUZZ_CHECK(s->cpu < 0 || !cfg->sup.cpus_set || CPU_ISSET(s->cpu, &cfg->sup.cpus),
		   "server %s: cpu %d outside cpus", s->name, s->cpu);
	FUZZ_CHECK(s->cpu < 0 || !s->pool[0], "pool member %s pinned", s->name);
	FUZZ_CHECK(s->tick_hz >= 1 && s->tick_hz <= 1000, "tick_hz %u", s->tick_hz);
	/* Two heartbeats per hang timeout, or healthy workers get killed. */
	FUZZ_CHECK((uint64_t)s->tick_hz * cfg->sup.hang_timeout_ms >= 2000,
		   "tick_hz %u with hang_timeout_ms %u", s->tick_hz, cfg->sup.hang_timeout_ms);
	FUZZ_CHECK(s->max_clients >= 1 && s->max_clients <= RF_CLIENTS_LIMIT, "max_clients %u",
		   s->max_clients);
	FUZZ_CHECK(s->client_timeout_s >= 1 && s->client_timeout_s <= 3600, "client_timeout_s %u",
		   s->client_timeout_s);
	FUZZ_CHECK(s->max_packet >= 1 && s->max_packet <= 65507, "max_packet %u", s->max_packet);
	FUZZ_CHECK(s->session_idle_s >= 1 && s->session_idle_s <= 86400, "session_idle_s %u",
		   s->session_idle_s);
	FUZZ_CHECK(s->max_packets_per_tick >= 1 && s->max_packets_per_tick <= 1024,
		   "max_packets_per_tick %u", s->max_packets_per_tick);
	FUZZ_CHECK(s->recv_buffers >= 16 && s->recv_buffers <= 32768 &&
			   !(s->recv_buffers & (s->recv_buffers - 1)),
		   "recv_buffers %u", s->recv_buffers);
	FUZZ_CHECK(s->socket_rcvbuf >= 4096 && s->socket_rcvbuf <= (1u << 30), "socket_rcvbuf %llu",
		   (unsigned long long)s->socket_rcvbuf);
	FUZZ_CHECK(s->backend == RF_BACKEND_AUTO || s->backend == RF_BACKEND_IO_URING ||
			   s->backend == RF_BACKEND_MMSG,
		   "backend %d", (int)s->backend);
	FUZZ_CHECK(s->admission <= RF_ADMISSION_TOKEN, "admission %d", (int)s->admission);
	FUZZ_CHECK(s->max_clients_per_ip <= RF_CLIENTS_LIMIT, "max_clients_per_ip %u",
		   s->max_clients_per_ip);
	FUZZ_CHECK(valid_account(s->user) && valid_account(s->group), "server %s: account",
		   s->name);
	FUZZ_CHECK(s->line >= 1, "server %s: line %d", s->name, s->line);
	/* The name index is what ctl verbs and reload diffs look names up in. */
	FUZZ_CHECK(cfg_find_server(cfg, s->name) == (int)i,
		   "cfg_find_server(%s) = %d, expected %zu", s->name, cfg_find_server(cfg, s->name),
		   i);
}

/* Two servers may share a port only on distinct, non-wildcard addresses. */
static void check_ports(const struct cfg *cfg)
{
	/* Pairwise is quadratic: only for files of ordinary size. */
	if (cfg->n_servers > 512)
		return;
	for (size_t i = 0; i < cfg->n_servers; i++) {
		for (size_t j = i + 1; j < cfg->n_servers; j++) {
			const struct cfg_server *a = &cfg->servers[i], *b = &cfg->servers[j];

			if (a->port != b->port)
				continue;
			FUZZ_CHECK(!cfg_addr_is_any(a->bind) && !cfg_addr_is_any(b->bind) &&
					   strcmp(a->bind, b->bind) != 0,
				   "%s and %s collide on port %u", a->name, b->name, a->port);
		}
	}
}

static void check_supervisor(const struct cfg_supervisor *sup)
{
	char list[4 * CPU_SETSIZE];
	cpu_set_t again;

	FUZZ_CHECK(memchr(sup->control_socket, '\0', sizeof(sup->control_socket)) &&
			   sup->control_socket[0],
		   "control_socket");
	FUZZ_CHECK(valid_account(sup->control_group), "control_group");
	FUZZ_CHECK(sup->control_mode <= 0777 && (sup->control_mode & 0600) == 0600,
		   "control_mode %o", sup->control_mode);
	FUZZ_CHECK(sup->placement == CFG_PLACE_BALANCE || sup->placement == CFG_PLACE_PACK,
		   "placement");
	FUZZ_CHECK(sup->max_per_cpu >= 1 && sup->max_per_cpu <= 4096, "max_per_cpu");
	FUZZ_CHECK(!sup->metrics_listen[0] || cfg_parse_listen(sup->metrics_listen) == 0,
		   "metrics_listen \"%s\"", sup->metrics_listen);
	FUZZ_CHECK(sup->hang_timeout_ms >= 100 && sup->hang_timeout_ms <= 600000, "hang");
	FUZZ_CHECK(sup->stop_timeout_ms >= 100 && sup->stop_timeout_ms <= 600000, "stop");
	FUZZ_CHECK(sup->restart_delay_ms >= 1 && sup->restart_delay_max_ms >= sup->restart_delay_ms,
		   "restart delays %u..%u", sup->restart_delay_ms, sup->restart_delay_max_ms);
	FUZZ_CHECK(sup->crash_limit >= 1 && sup->crash_limit <= 60, "crash_limit");
	FUZZ_CHECK(sup->log_level >= RF_LOG_ERR && sup->log_level <= RF_LOG_DEBUG, "log_level %d",
		   sup->log_level);
	if (sup->cpus_set) {
		/* status and --check print the set back; it must read the same. */
		FUZZ_CHECK(CPU_COUNT(&sup->cpus) > 0, "empty cpus");
		FUZZ_CHECK(cfg_format_cpulist(&sup->cpus, list, sizeof(list)) == 0, "format cpus");
		FUZZ_CHECK(cfg_parse_cpulist(list, &again) == 0 && CPU_EQUAL(&again, &sup->cpus),
			   "cpus \"%s\" does not round-trip", list);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CFG_ERR_MAX];
	struct cfg cfg;
	int ret;

	if (memfd < 0) {
		memfd = memfd_create("fuzz.ini", MFD_CLOEXEC);
		FUZZ_CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
		/* cfg_load() opens by path: the memfd's /proc link is one. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate");
	FUZZ_CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite");

	memset(err, 'X', sizeof(err));
	ret = cfg_load(path, &cfg, err, sizeof(err));
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)), "err is not terminated");
	if (ret < 0) {
		/* Content is never an I/O problem: every failure is -EINVAL
		 * (or -ENOMEM), with one "PATH:LINE: ..." line to show. */
		FUZZ_CHECK(ret == -EINVAL || ret == -ENOMEM, "cfg_load = %d (%s)", ret, err);
		FUZZ_CHECK(ret != -EINVAL || (strncmp(err, path, strlen(path)) == 0 &&
					      err[strlen(path)] == ':'),
			   "error without file:line: \"%s\"", err);
		FUZZ_CHECK(!strchr(err, '\n'), "multi-line error \"%s\"", err);
		FUZZ_CHECK(!cfg.servers && !cfg.n_servers && !cfg.index,
			   "failed load left servers behind");
	} else {
		FUZZ_CHECK(ret == 0, "cfg_load = %d", ret);
		FUZZ_CHECK(err[0] == '\0', "success with an error \"%s\"", err);
		FUZZ_CHECK(strcmp(cfg.path, path) == 0, "path");
		FUZZ_CHECK(cfg.n_servers <= CFG_MAX_SERVERS, "%zu servers", cfg.n_servers);
		FUZZ_CHECK(cfg.n_servers == 0 || cfg.servers, "servers missing");
		check_supervisor(&cfg.sup);
		for (size_t i = 0; i < cfg.n_servers; i++)
			check_server(&cfg, i);
		check_ports(&cfg);
		FUZZ_CHECK(cfg_find_server(&cfg, "") == -1, "empty name found");
	}
	cfg_free(&cfg);
	return 0;
}
