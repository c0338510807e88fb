// SPDX-License-Identifier: Apache-2.0
/* test_placement.c - CPU placement (balance, pack, fixed pins, the
 * max_per_cpu limit) and tick-phase staggering. Pure functions, so every
 * case is a plain array in, array out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "supervisor/placement.h"

#define MS 1000000ull

static cpu_set_t cpus(const char *list)
{
	cpu_set_t set;

	assert_int_equal(cfg_parse_cpulist(list, &set), 0);
	return set;
}

static void assert_cpus(const int *got, const int *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("cpu[%zu] = %d, want %d", i, got[i], want[i]);
}

static void test_balance_round_robin(void **state)
{
	cpu_set_t set = cpus("0-1");
	int cpu[5] = { -1, -1, -1, -1, -1 };
	const int want[5] = { 0, 1, 0, 1, 0 };

	(void)state;
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 64, cpu, 5), 0);
	assert_cpus(cpu, want, 5);
}

static void test_balance_counts_fixed(void **state)
{
	cpu_set_t set = cpus("0-2");
	/* Two pinned to 0, one to 2: new ones go to 1 until it catches up,
	 * then ties go to the lowest CPU. */
	int cpu[7] = { 0, -1, 0, -1, 2, -1, -1 };
	const int want[7] = { 0, 1, 0, 1, 2, 2, 0 };

	(void)state;
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 64, cpu, 7), 0);
	assert_cpus(cpu, want, 7);
}

static void test_balance_sparse_allowed(void **state)
{
	cpu_set_t set = cpus("3,5,7");
	int cpu[4] = { -1, -1, -1, -1 };
	const int want[4] = { 3, 5, 7, 3 };

	(void)state;
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 64, cpu, 4), 0);
	assert_cpus(cpu, want, 4);
}

static void test_balance_respects_max(void **state)
{
	cpu_set_t set = cpus("0-1");
	/* CPU 0 already holds 3 (over the max of 2): everything new goes to 1. */
	int cpu[5] = { 0, 0, 0, -1, -1 };
	const int want[5] = { 0, 0, 0, 1, 1 };

	(void)state;
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 2, cpu, 5), 0);
	assert_cpus(cpu, want, 5);
}

static void test_pack(void **state)
{
	cpu_set_t set = cpus("1-3");
	int cpu[6] = { -1, -1, -1, -1, -1, -1 };
	const int want[6] = { 1, 1, 2, 2, 3, 3 };

	(void)state;
	assert_int_equal(placement_assign(CFG_PLACE_PACK, &set, 2, cpu, 6), 0);
	assert_cpus(cpu, want, 6);
}

static void test_pack_counts_fixed(void **state)
{
	cpu_set_t set = cpus("0-1");
	/* A pin on 0 leaves room for two more there; the pin on 5 (outside
	 * allowed) is kept and not counted against allowed CPUs. */
	int cpu[6] = { -1, 0, 5, -1, -1, -1 };
	const int want[6] = { 0, 0, 5, 0, 1, 1 };

	(void)state;
	assert_int_equal(placement_assign(CFG_PLACE_PACK, &set, 3, cpu, 6), 0);
	assert_cpus(cpu, want, 6);
}

static void test_enospc(void **state)
{
	cpu_set_t set = cpus("0-1");
	int cpu[5] = { -1, -1, -1, -1, -1 };
	int pinned[3] = { 0, 0, -1 };

	(void)state;
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 2, cpu, 5), -ENOSPC);
	for (int i = 0; i < 5; i++)
		cpu[i] = -1;
	assert_int_equal(placement_assign(CFG_PLACE_PACK, &set, 2, cpu, 5), -ENOSPC);
	for (int i = 0; i < 4; i++)
		cpu[i] = -1;
	assert_int_equal(placement_assign(CFG_PLACE_PACK, &set, 2, cpu, 4), 0);
	/* Fixed pins fill CPU 0; the allowed set is only CPU 0. */
	set = cpus("0");
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 2, pinned, 3), -ENOSPC);
}

static void test_empty_allowed(void **state)
{
	cpu_set_t set;
	int cpu[2] = { -1, -1 };
	int fixed[2] = { 0, 1 };

	(void)state;
	CPU_ZERO(&set);
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 64, cpu, 2), -ENOSPC);
	assert_int_equal(placement_assign(CFG_PLACE_PACK, &set, 64, cpu, 2), -ENOSPC);
	/* Nothing to place: fine, and fixed CPUs are untouched. */
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 64, fixed, 2), 0);
	assert_int_equal(fixed[0], 0);
	assert_int_equal(fixed[1], 1);
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 64, NULL, 0), 0);
}

static void test_bad_input(void **state)
{
	cpu_set_t set = cpus("0");
	int low[1] = { -2 }, high[1] = { CPU_SETSIZE };

	(void)state;
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 64, low, 1), -EINVAL);
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, 64, high, 1), -EINVAL);
}

static void test_10k_balance(void **state)
{
	enum { N = 10000 };
	cpu_set_t set = cpus("0-7");
	int *cpu = malloc(N * sizeof(*cpu));
	unsigned load[8] = { 0 };

	(void)state;
	assert_non_null(cpu);
	for (int i = 0; i < N; i++)
		cpu[i] = -1;
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, N / 8, cpu, N), 0);
	for (int i = 0; i < N; i++)
		load[cpu[i]]++;
	for (int c = 0; c < 8; c++)
		assert_int_equal(load[c], N / 8);
	cpu[0] = -1;
	assert_int_equal(placement_assign(CFG_PLACE_BALANCE, &set, N / 8, cpu, N), 0);
	cpu[0] = cpu[1] = -1;
	cpu[N - 1] = -1;
	assert_int_equal(placement_assign(CFG_PLACE_PACK, &set, N / 8, cpu, N), 0);
	free(cpu);
}

static void test_phase_ns(void **state)
{
	(void)state;
	assert_int_equal(placement_phase_ns(20 * MS, 0, 4), 0);
	assert_int_equal(placement_phase_ns(20 * MS, 1, 4), 5 * MS);
	assert_int_equal(placement_phase_ns(20 * MS, 3, 4), 15 * MS);
	assert_int_equal(placement_phase_ns(20 * MS, 0, 0), 0);
	assert_int_equal(placement_phase_ns(10, 1, 3), 3);
	/* No overflow in period * index. */
	assert_int_equal(placement_phase_ns(UINT64_MAX / 2, 4095, 4096),
			 (uint64_t)((unsigned __int128)(UINT64_MAX / 2) * 4095 / 4096));
}

static void test_phases(void **state)
{
	const int cpu[6] = { 0, 1, 0, 0, -1, 1 };
	const uint32_t hz[6] = { 50, 50, 50, 100, 50, 0 };
	uint64_t phase[6];

	(void)state;
	placement_phases(cpu, 6, hz, phase);
	/* CPU 0: three servers, ranks 0, 1, 2 of 3, each over its own period. */
	assert_int_equal(phase[0], 0);
	assert_int_equal(phase[2], 20 * MS / 3);
	assert_int_equal(phase[3], 10 * MS * 2 / 3);
	/* CPU 1: ranks 0 and 1 of 2; a tick_hz of 0 gets no phase. */
	assert_int_equal(phase[1], 0);
	assert_int_equal(phase[5], 0);
	/* Unplaced. */
	assert_int_equal(phase[4], 0);
}

static void test_phases_two_on_cpu(void **state)
{
	const int cpu[2] = { 3, 3 };
	const uint32_t hz[2] = { 50, 50 };
	uint64_t phase[2];

	(void)state;
	placement_phases(cpu, 2, hz, phase);
	assert_int_equal(phase[0], 0);
	assert_int_equal(phase[1], 10 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_balance_round_robin),
		cmocka_unit_test(test_balance_counts_fixed),
		cmocka_unit_test(test_balance_sparse_allowed),
		cmocka_unit_test(test_balance_respects_max),
		cmocka_unit_test(test_pack),
		cmocka_unit_test(test_pack_counts_fixed),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_empty_allowed),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_10k_balance),
		cmocka_unit_test(test_phase_ns),
		cmocka_unit_test(test_phases),
		cmocka_unit_test(test_phases_two_on_cpu),
	};

	return cmocka_run_group_tests_name("placement", tests, NULL, NULL);
}
