# SPDX-License-Identifier: Apache-2.0
# bench: ringfleet-load against the reference servers, and its accounting
# (loss, CPU, exit codes) against targets whose behaviour is known.
rf_e2e_test(bench_load_ref test_load_ref.py TIMEOUT 60)
rf_e2e_test(bench_load_accounting test_load_accounting.py TIMEOUT 60)
# --game arena against a stand-in arena with known loss and acks.
rf_e2e_test(bench_load_arena test_load_arena.py TIMEOUT 60)
# bench/run_bench.py itself, shrunk to a ~20 s smoke run, with its arena row.
rf_e2e_test(bench_run_bench test_run_bench.py TIMEOUT 180)
# bench/alloc_bench.py itself (issue 13's latency benchmark), shrunk to a smoke run.
rf_e2e_test(bench_alloc_bench test_alloc_bench.py TIMEOUT 180)
