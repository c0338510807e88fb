/* table.h - human-readable rendering of supervisor replies. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

/* Verb known and arity right for the command line. */
bool table_verb_known(const char *verb, int nargs);
void table_print_status(json_t *reply, bool color);
void table_print_result(const char *verb, json_t *reply);
bool table_all_running(json_t *reply);
