# SPDX-License-Identifier: Apache-2.0
# worker: ringfleet-worker on loopback, once per backend. The io_uring run
# exits 77 (skipped) where io_uring is unavailable.
rf_e2e_test(worker_e2e_io_uring test_worker.py TIMEOUT 240 ARGS --backend io_uring)
rf_e2e_test(worker_e2e_mmsg test_worker.py TIMEOUT 240 ARGS --backend mmsg)
# Attacks on admission (issue 10) against a standalone worker whose slot
# the test reads: 1,000 sources squatting a 64-client table, and clients
# expired or evicted that must be challenged and come back.
foreach(backend io_uring mmsg)
  rf_e2e_test(e2e_attack_squat_${backend} test_attacks.py TIMEOUT 120
    ARGS squat --backend ${backend})
  rf_e2e_test(e2e_attack_readmit_${backend} test_attacks.py TIMEOUT 120
    ARGS readmit --backend ${backend})
  set_tests_properties(e2e_attack_squat_${backend} e2e_attack_readmit_${backend}
    PROPERTIES LABELS "e2e;attack")
endforeach()
# Game modules (issue 12): the test module tests/games/echo.c and the
# built-in relay through the game host: joins, refusals, kicks, session
# end, drain, values in the slot, bad modules and --check-game.
foreach(backend io_uring mmsg)
  rf_e2e_test(game_e2e_${backend} test_game.py TIMEOUT 180 ARGS --backend ${backend})
  set_tests_properties(game_e2e_${backend} PROPERTIES LABELS "e2e;game")
endforeach()

# Sessions, the worker's side (issue 13): the session area the test writes
# as ringfleetd would, the allocated callback, the relay's session_idle_s.
# The session area is read by the tick driver, the same for both backends.
rf_e2e_test(game_session_e2e test_game_session.py TIMEOUT 120 ARGS --backend mmsg)
set_tests_properties(game_session_e2e PROPERTIES LABELS "e2e;game")

# Connect tokens (issue 13): admission = token in a worker and through
# ringfleetd (valid, expired, other server, replayed, forged, restart).
rf_e2e_test(tokens_e2e test_tokens.py TIMEOUT 180 ARGS --backend mmsg)
set_tests_properties(tokens_e2e PROPERTIES LABELS "e2e;game")

# Idle workers sleep (issue 15): no ticks and no CPU with no client and no
# match, the first datagram answered at once, an allocated server ticking,
# a hang while idle caught by ringfleetd's heartbeat rule; an orphan (no
# supervisor beat in the slot for orphan_timeout_s) stops, ticking or idle.
foreach(backend io_uring mmsg)
  rf_e2e_test(idle_e2e_${backend} test_idle.py TIMEOUT 180 ARGS --backend ${backend})
  set_tests_properties(idle_e2e_${backend} PROPERTIES LABELS "e2e;idle")
endforeach()
