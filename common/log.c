// SPDX-License-Identifier: Apache-2.0
/* log.c - see log.h. */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int log_level = RF_LOG_INFO;
static const char *log_ident = "";

void log_set_level(int level)
{
	log_level = level;
}
int log_get_level(void)
{
	return log_level;
}
void log_set_ident(const char *ident)
{
	log_ident = ident ? ident : "";
}

static const char *const names[] = { [RF_LOG_ERR] = "err",
				     [RF_LOG_WARNING] = "warning",
				     [RF_LOG_NOTICE] = "notice",
				     [RF_LOG_INFO] = "info",
				     [RF_LOG_DEBUG] = "debug" };

const char *log_level_name(int level)
{
	return level >= RF_LOG_ERR && level <= RF_LOG_DEBUG ? names[level] : "info";
}

int log_level_from_string(const char *s)
{
	for (int i = RF_LOG_ERR; i <= RF_LOG_DEBUG; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

void log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* One fprintf per line keeps lines whole when workers share stderr. */
	fprintf(stderr, "<%d>%s%s%s\n", level, log_ident, *log_ident ? ": " : "", line);
}
