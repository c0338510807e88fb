// SPDX-License-Identifier: Apache-2.0
/* help.h - ringfleetctl's usage texts: the whole tool and one per verb. */
#pragma once
#include <stdio.h>

void help_usage(FILE *out, const char *default_socket);
/* Prints the usage of one verb ("help" included). Returns 0, or -ENOENT
 * for a verb ringfleetctl does not know. */
int help_verb(FILE *out, const char *verb);
