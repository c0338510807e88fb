// SPDX-License-Identifier: Apache-2.0
/* table.h - human-readable rendering of supervisor replies. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

/* Verb known and arity right for the command line. */
bool table_verb_known(const char *verb, int nargs);
void table_print_status(json_t *reply, bool color);
/* The one server of a status reply when arg named it exactly (not a glob,
 * not "all"), else NULL: that reply gets the detail view. */
json_t *table_detail_server(const char *arg, json_t *reply);
/* Every field of one server, one "key: value" per line. */
void table_print_detail(json_t *server, bool color);
void table_print_result(const char *verb, json_t *reply);
/* An allocated (or released) server: name, address, port, labels, meta,
 * then the rest of its fields (tokens, when the reply has them). */
void table_print_allocation(json_t *reply);
bool table_all_running(json_t *reply);
