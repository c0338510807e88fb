// SPDX-License-Identifier: Apache-2.0
/* test_cpp_module.c - the C++ module (cpp_module.cpp) loaded with dlopen into
 * the fake engine, as the worker would: its entry point, ABI version and
 * name, init and its value, an input echoed to its sender, fini. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "tests/unit/fake_engine.h"

static struct fake_engine fe;

static void test_entry(void **state)
{
	(void)state;
	assert_int_equal(fe.game->abi_version, RF_GAME_ABI_VERSION);
	assert_int_equal(fe.game->size, sizeof(struct rf_game));
	assert_string_equal(fe.game->name, "cpp-echo");
	assert_non_null(fe.game->init);
	assert_non_null(fe.game->tick);
	assert_null(fe.game->drain);
}

static void test_echo(void **state)
{
	rf_client_id a, b;

	(void)state;
	fe_reset(&fe);
	assert_int_equal(fe_init(&fe, "", 8), 0);
	assert_string_equal(fe.value_name[0], "echoes");
	assert_string_equal(fe.status, "echo on test");
	a = fe_join(&fe);
	b = fe_join(&fe);
	fe_input(&fe, b, "hello", 5);
	assert_int_equal(fe.nsends, 1);
	assert_true(fe.sends[0].to == b);
	assert_int_equal(fe.sends[0].len, 5);
	assert_memory_equal(fe.sends[0].data, "hello", 5);
	assert_null(fe_last_to(&fe, a));
	assert_int_equal(fe.value[0], 1);
	fe_tick(&fe, 20000000);
	fe_leave(&fe, a, RF_LEAVE_TIMEOUT);
	fe_fini(&fe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry),
		cmocka_unit_test(test_echo),
	};
	int ret;

	fe_load(&fe, CPP_MODULE_SO);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	fe_unload(&fe);
	return ret;
}
