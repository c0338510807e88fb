// SPDX-License-Identifier: Apache-2.0
/* noentry.c - a test "module" without the entry point: a shared object
 * that loads fine but exports no ringfleet_game. ringfleetd --check must
 * refuse it at the config line that names it. */
#include "ringfleet/game.h"

/* Something to export, under the wrong name. */
const struct rf_game *not_ringfleet_game(void);

const struct rf_game *not_ringfleet_game(void)
{
	return 0;
}
