// SPDX-License-Identifier: Apache-2.0
/* config.c - loads a ringfleet INI file (see config.h).
 *
 * The file is read whole first (cfg_file.c: regular files of at most
 * 16 MiB only), so a line can be checked for NUL bytes, which a C string
 * would silently cut it at.
 *
 * Two passes. The parse pass feeds inih through our own line reader,
 * which counts lines, strips comments and leading blanks, and takes the
 * [section] headers itself: the Debian build of inih passes no line
 * numbers to handlers, never reports a section without keys, reads an
 * indented line as the continuation of the previous value, only knows
 * ';' inline comments and splits lines longer than 200 bytes. The key
 * handler then checks each key and parses its value into the section it
 * belongs to (cfg_keys.c).
 *
 * The resolve pass (cfg_resolve.c) applies [defaults] wherever it was in
 * the file, expands pools and runs the checks that span sections, and
 * for cfg_load_host() those against this host (cfg_host.c).
 */
#include "config/config.h"
#include "config/cfg_load.h"
#include "config/cfg_file.h"
#include "config/cfg_names.h"
#include "config/cfg_value.h"
#include "common/log.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAW_LINE_MAX 1024 /* longer lines are an error, not a realloc */

const char *const cfg_sect_kinds[] = {
	[SK_SUPERVISOR] = "supervisor",
	[SK_DEFAULTS] = "defaults",
	[SK_SERVER] = "server",
	[SK_POOL] = "pool",
};

/* ---- errors ---- */

void cfg_fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err_code)
		return; /* the first error is the one worth reading */
	p->err_code = -EINVAL;
	if (!p->errlen)
		return;
	n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, line);
	if (n < 0 || (size_t)n >= p->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

void cfg_fail_errno(struct parser *p, int err)
{
	if (p->err_code)
		return;
	p->err_code = -err;
	if (p->errlen)
		snprintf(p->err, p->errlen, "%s: %s", p->path, strerror(err));
}

/* ---- keys ---- */

/* inih's handler: called for each "key = value" line read_line() passed on. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;

	(void)section; /* inih never sees our headers; p->cur is the section */
	if (p->err_code)
		return 0;
	if (!p->in_section)
		cfg_fail(p, p->lineno,
			 "%s: key outside any section, expected a [section] line before it", name);
	else if (p->cur_kind == SK_SUPERVISOR)
		cfg_on_sup_key(p, name, value);
	else
		cfg_on_server_key(p, name, value);
	return p->err_code == 0;
}

/* ---- section headers ---- */

const char *cfg_sect_title(const struct sect *s, char *buf, size_t len)
{
	snprintf(buf, len, "[%s %s]", cfg_sect_kinds[s->kind], s->v.name);
	return buf;
}

static bool singleton_header(struct parser *p, enum sect_kind kind, const char *name)
{
	int *line = kind == SK_SUPERVISOR ? &p->sup_line : &p->dflt.line;

	if (*name) {
		cfg_fail(p, p->lineno, "[%s %s]: expected [%s] without a name",
			 cfg_sect_kinds[kind], name, cfg_sect_kinds[kind]);
		return false;
	}
	if (*line) {
		cfg_fail(p, p->lineno, "[%s]: duplicate section, first on line %d",
			 cfg_sect_kinds[kind], *line);
		return false;
	}
	*line = p->lineno;
	p->cur = kind == SK_DEFAULTS ? &p->dflt : NULL;
	return true;
}

static struct sect *add_sect(struct parser *p)
{
	struct sect *grown;
	size_t cap;

	if (p->n_sects == p->cap_sects) {
		cap = p->cap_sects ? 2 * p->cap_sects : 64;
		grown = realloc(p->sects, cap * sizeof(*grown));
		if (!grown) {
			cfg_fail_errno(p, ENOMEM);
			return NULL;
		}
		p->sects = grown;
		p->cap_sects = cap;
	}
	return memset(&p->sects[p->n_sects++], 0, sizeof(struct sect));
}

static bool named_header(struct parser *p, enum sect_kind kind, const char *name)
{
	const char *k = cfg_sect_kinds[kind];
	struct sect *s;

	if (!*name) {
		cfg_fail(p, p->lineno, "[%s]: expected a name, as in [%s NAME]", k, k);
		return false;
	}
	if (!cfg_name_ok(name, CFG_NAME_MAX - 1)) {
		cfg_fail(p, p->lineno,
			 "[%s %s]: expected a name of 1..%d characters [A-Za-z0-9._-], got \"%s\"",
			 k, name, CFG_NAME_MAX - 1, name);
		return false;
	}
	/* Each section makes at least one server. */
	if (p->n_sects >= CFG_MAX_SERVERS) {
		cfg_fail(p, p->lineno, "[%s %s]: too many servers, expected at most %d in total", k,
			 name, CFG_MAX_SERVERS);
		return false;
	}
	s = add_sect(p);
	if (!s)
		return false;
	s->kind = kind;
	s->line = p->lineno;
	strcpy(s->v.name, name);
	p->cur = s;
	return true;
}

static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* line is a whole "[...]" (comments and blanks already gone). */
static void on_header(struct parser *p, char *line)
{
	size_t n = strlen(line);
	char *kind, *name;
	int k;

	if (line[n - 1] != ']' || memchr(line, ']', n - 1)) {
		cfg_fail(p, p->lineno, "expected [SECTION] or KEY = VALUE, got \"%s\"", line);
		return;
	}
	line[n - 1] = '\0';
	kind = trim(line + 1);
	name = kind + strcspn(kind, " \t");
	if (*name) {
		*name++ = '\0';
		name = trim(name);
	}
	for (k = 0; k <= SK_POOL; k++)
		if (strcmp(kind, cfg_sect_kinds[k]) == 0)
			break;
	if (k > SK_POOL) {
		cfg_fail(
			p, p->lineno,
			"[%s%s%s]: unknown section, expected [supervisor], [defaults], [server NAME] or [pool NAME]",
			kind, *name ? " " : "", name);
		return;
	}
	p->cur_kind = k;
	p->in_section = k <= SK_DEFAULTS ? singleton_header(p, k, name) : named_header(p, k, name);
}

/* ---- the line reader ---- */

/* Drops a BOM, leading/trailing blanks and a comment: ';' or '#' at the
 * start or after a blank, so "a;b" stays a value. */
static char *clean_line(char *s, bool first)
{
	if (first && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	s = trim(s);
	for (char *c = s; *c; c++) {
		if ((*c == ';' || *c == '#') && (c == s || c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			break;
		}
	}
	return trim(s);
}

/* Copies the next line of the file (without its '\n') into raw, or
 * fails on a line that is too long or holds a NUL byte, which a string
 * would silently cut short. Returns false at the end or on failure. */
static bool next_line(struct parser *p, char *raw)
{
	const char *start = p->buf + p->pos, *nl, *nul;
	size_t n;

	if (p->err_code || p->pos >= p->len)
		return false;
	nl = memchr(start, '\n', p->len - p->pos);
	n = nl ? (size_t)(nl - start) : p->len - p->pos;
	p->pos += nl ? n + 1 : n;
	p->lineno++;
	if (n > RAW_LINE_MAX - 2) {
		cfg_fail(p, p->lineno, "line too long, expected at most %d characters",
			 RAW_LINE_MAX - 2);
		return false;
	}
	nul = memchr(start, '\0', n);
	if (nul) {
		cfg_fail(p, p->lineno, "NUL byte in column %zu, expected text",
			 (size_t)(nul - start) + 1);
		return false;
	}
	memcpy(raw, start, n);
	raw[n] = '\0';
	return true;
}

/* inih's fgets-style reader. Reads one whole line and hands inih only a
 * "key = value" line (or an empty one); returning NULL ends the parse,
 * which is how the first error stops it. */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	char raw[RAW_LINE_MAX];
	char *line;

	if (!next_line(p, raw))
		return NULL;
	line = clean_line(raw, p->lineno == 1);
	if (*line == '[') {
		on_header(p, line);
		line = "";
	} else if (*line && (!strpbrk(line, "=:") || *line == '=' || *line == ':')) {
		cfg_fail(p, p->lineno, "expected [SECTION] or KEY = VALUE, got \"%s\"", line);
	} else if (strlen(line) >= (size_t)num) {
		cfg_fail(p, p->lineno,
			 "line too long, expected at most %d characters besides comments", num - 1);
	}
	if (p->err_code)
		return NULL;
	memcpy(str, line, strlen(line) + 1);
	return str;
}

/* A failure about the file as a whole: "PATH: message". */
static void __attribute__((format(printf, 3, 4)))
fail_file(struct parser *p, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err_code)
		return;
	p->err_code = code;
	if (!p->errlen)
		return;
	n = snprintf(p->err, p->errlen, "%s: ", p->path);
	if (n < 0 || (size_t)n >= p->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool read_file(struct parser *p, char **buf)
{
	mode_t mode;
	int r = cfg_read_file(p->path, CFG_FILE_MAX, buf, &p->len, &mode);

	if (r == -EINVAL || r == -EISDIR)
		fail_file(p, r, "%s, expected a regular file", cfg_file_kind(mode));
	else if (r == -EFBIG)
		fail_file(p, r, "file too large, expected at most %u MiB", CFG_FILE_MAX >> 20);
	else if (r < 0)
		cfg_fail_errno(p, -r);
	p->buf = *buf;
	return r == 0;
}

static void parse_file(struct parser *p)
{
	char *buf;
	int ret;

	if (!read_file(p, &buf))
		return;
	ret = ini_parse_stream(read_line, p, on_key, p);
	free(buf);
	p->buf = NULL;
	if (ret == -2)
		cfg_fail_errno(p, ENOMEM);
	else if (ret > 0)
		cfg_fail(p, ret, "syntax error"); /* read_line() vets lines first */
}

/* ---- public API ---- */

void cfg_supervisor_init(struct cfg_supervisor *sup)
{
	memset(sup, 0, sizeof(*sup));
	strcpy(sup->control_socket, CFG_DEFAULT_CONTROL_SOCKET);
	CPU_ZERO(&sup->cpus);
	sup->placement = CFG_PLACE_BALANCE;
	sup->max_per_cpu = 64;
	sup->hang_timeout_ms = 2000;
	sup->stop_timeout_ms = 5000;
	sup->restart_delay_ms = 100;
	sup->restart_delay_max_ms = 30000;
	sup->stable_after_s = 10;
	sup->crash_limit = 5;
	sup->control_mode = 0660;
	sup->crash_window_s = 60;
	sup->log_level = RF_LOG_INFO;
	sup->token_ttl_s = 60;
	sup->orphan_timeout_s = 300;
	sup->realtime = true;
}

static int machine_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	if (n < 1)
		return 1;
	return n > CPU_SETSIZE ? CPU_SETSIZE : (int)n;
}

static int load(const char *path, struct cfg *out, bool check_host, char *err, size_t errlen)
{
	struct parser p = { .path = path,
			    .err = err,
			    .errlen = errlen,
			    .sup = &out->sup,
			    .ncpus = machine_cpus(),
			    .check_host = check_host };

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	cfg_supervisor_init(&out->sup);
	p.dflt.kind = SK_DEFAULTS;
	if (strlen(path) >= sizeof(out->path))
		cfg_fail_errno(&p, ENAMETOOLONG);
	else
		strcpy(out->path, path);
	if (!p.err_code)
		parse_file(&p);
	if (!p.err_code)
		cfg_resolve(&p, out);
	free(p.sects);
	if (p.err_code)
		cfg_free(out);
	return p.err_code;
}

int cfg_load(const char *path, struct cfg *out, char *err, size_t errlen)
{
	return load(path, out, false, err, errlen);
}

int cfg_load_host(const char *path, struct cfg *out, char *err, size_t errlen)
{
	return load(path, out, true, err, errlen);
}

void cfg_free(struct cfg *cfg)
{
	if (cfg->index) {
		cfg_names_free(cfg->index);
		free(cfg->index);
	}
	free(cfg->servers);
	free(cfg->api.tls_cert);
	if (cfg->api.tls_key)
		memset(cfg->api.tls_key, 0, strlen(cfg->api.tls_key));
	free(cfg->api.tls_key);
	memset(cfg, 0, sizeof(*cfg));
}

int cfg_find_server(const struct cfg *cfg, const char *name)
{
	const struct cfg_names *t = cfg->index;

	/* Trust the hash only for the array it was built over. */
	if (t && cfg->n_servers && t->n == cfg->n_servers && t->base == cfg->servers[0].name)
		return (int)cfg_names_find(t, name);
	for (size_t i = 0; i < cfg->n_servers; i++)
		if (strcmp(cfg->servers[i].name, name) == 0)
			return (int)i;
	return -1;
}
