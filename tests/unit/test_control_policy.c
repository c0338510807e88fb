/* SPDX-License-Identifier: Apache-2.0 */
/* test_control_policy.c - who may take a control-socket slot, and which
 * directories may hold the socket (issue 10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "supervisor/control.h"

#define STRANGER 1000u
#define SELF 999u

static void test_admit_per_uid_and_reserve(void **state)
{
	const unsigned open_slots = CONTROL_MAX_CONNS - CONTROL_RESERVED;

	(void)state;
	/* An ordinary peer: its uid's cap, then only below the reserve. */
	assert_true(control_admit(0, 0, false, false));
	assert_true(control_admit(10, CONTROL_MAX_PER_UID - 1, false, false));
	assert_false(control_admit(10, CONTROL_MAX_PER_UID, false, false));
	assert_true(control_admit(open_slots - 1, 0, false, false));
	assert_false(control_admit(open_slots, 0, false, false));
	/* A control_group member: the reserve, but still its uid's cap. */
	assert_true(control_admit(open_slots, 0, true, false));
	assert_false(control_admit(open_slots, CONTROL_MAX_PER_UID, true, false));
	/* Root or the daemon's uid: no per-uid cap, only the total. */
	assert_true(control_admit(CONTROL_MAX_CONNS - 1, CONTROL_MAX_CONNS - 1, true, true));
	assert_false(control_admit(CONTROL_MAX_CONNS, 0, true, true));
}

static void test_dir_safe(void **state)
{
	(void)state;
	assert_true(control_dir_safe(0, S_IFDIR | 0755, 0));
	assert_true(control_dir_safe(SELF, S_IFDIR | 0700, SELF));
	assert_true(control_dir_safe(0, S_IFDIR | 0755, SELF));
	/* Another user's directory: it could swap the socket. */
	assert_false(control_dir_safe(STRANGER, S_IFDIR | 0755, 0));
	assert_false(control_dir_safe(STRANGER, S_IFDIR | 0700, SELF));
	/* Writable by a group or everyone, unless sticky (like /tmp). */
	assert_false(control_dir_safe(0, S_IFDIR | 0775, 0));
	assert_false(control_dir_safe(0, S_IFDIR | 0777, 0));
	assert_false(control_dir_safe(SELF, S_IFDIR | 0757, SELF));
	assert_true(control_dir_safe(0, S_IFDIR | 01777, 0));
	assert_false(control_dir_safe(STRANGER, S_IFDIR | 01777, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admit_per_uid_and_reserve),
		cmocka_unit_test(test_dir_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
