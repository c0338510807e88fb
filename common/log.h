// SPDX-License-Identifier: Apache-2.0
/* log.h - stderr logging with sd-daemon priority prefixes ("<3>...") so
 * journald records each line's priority. Only binaries' main paths log;
 * library code returns -errno instead. */
#pragma once
#include <stdarg.h>

enum rf_log_level {
	RF_LOG_ERR = 3,
	RF_LOG_WARNING = 4,
	RF_LOG_NOTICE = 5,
	RF_LOG_INFO = 6,
	RF_LOG_DEBUG = 7,
};

void log_set_level(int level);
int log_get_level(void);
/* Parses "err|warning|notice|info|debug"; returns the level or -EINVAL. */
int log_level_from_string(const char *s);
const char *log_level_name(int level);
void log_set_ident(const char *ident);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(RF_LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(RF_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(RF_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(RF_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(RF_LOG_DEBUG, __VA_ARGS__)
