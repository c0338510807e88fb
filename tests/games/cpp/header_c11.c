/* SPDX-License-Identifier: Apache-2.0 */
/* The public header alone, under -std=c11 -pedantic -Wall -Wextra -Werror. */
#include <ringfleet/game.h>

int main(void)
{
	return RF_GAME_ABI_VERSION == 1u ? 0 : 1;
}
