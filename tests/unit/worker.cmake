# SPDX-License-Identifier: Apache-2.0
# worker: the per-tick logic and the client table, without a ring.
rf_unit_test(test_tick SOURCES unit/test_tick.c LIBS rf_worker_core)
rf_unit_test(test_clients SOURCES unit/test_clients.c LIBS rf_worker_core)
# Admission before the client table: handshake, table policy, budgets.
rf_unit_test(test_admission SOURCES unit/test_admission.c LIBS rf_worker_core)
# The game host over the engine, with a fake game table (issue 12).
rf_unit_test(test_game_host SOURCES unit/test_game_host.c LIBS rf_worker_core)
# The engine's output: client ids, worker_send()/worker_broadcast(), games.
rf_unit_test(test_worker_out SOURCES unit/test_worker_out.c LIBS rf_worker_core)
# Connect tokens (issue 13): seal/open, expiry, other server, forgery.
rf_unit_test(test_token SOURCES unit/test_token.c LIBS rf_token)
# The orphan rule (worker/orphan.h): when a worker stops on its own.
rf_unit_test(test_orphan SOURCES unit/test_orphan.c LIBS rf_worker_core)
