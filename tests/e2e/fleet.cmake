# SPDX-License-Identifier: Apache-2.0
# Supervisor end-to-end tests: real ringfleetd, workers and ringfleetctl.
rf_e2e_test(e2e_fleet_basic test_fleet_basic.py TIMEOUT 90)
rf_e2e_test(e2e_check_config test_check_config.py TIMEOUT 60)
rf_e2e_test(e2e_lifecycle test_lifecycle.py TIMEOUT 120)
rf_e2e_test(e2e_reload test_reload.py TIMEOUT 120)
rf_e2e_test(e2e_notify test_notify.py TIMEOUT 60)
rf_e2e_test(e2e_placement test_placement.py TIMEOUT 120)
rf_e2e_test(e2e_control test_control.py TIMEOUT 120)
rf_e2e_test(e2e_zero_loss_restart test_zero_loss_restart.py TIMEOUT 90)
rf_e2e_test(e2e_abuse test_abuse.py TIMEOUT 120)
# N servers under one ringfleetd (issue 15): N = RF_SCALE_SERVERS, else 200
# (100 sanitized); `RF_SCALE_SERVERS=1000 ctest -L scale` for the full size.
# Alone: hundreds of workers would skew the tests that time their own.
rf_e2e_test(e2e_scale test_scale.py TIMEOUT 600)
set_tests_properties(e2e_scale PROPERTIES LABELS "e2e;scale" RUN_SERIAL TRUE)
# Soak: skipped unless RF_SOAK_MINUTES is set; select with `ctest -L soak`.
rf_e2e_test(soak soak.py TIMEOUT 7200)
set_tests_properties(soak PROPERTIES LABELS soak)
rf_e2e_test(e2e_privileges test_privileges.py TIMEOUT 60)
# A worker stalled (SIGSTOP) with a backlog in its socket, continued and
# replaced, once per backend: nothing the socket held is lost.
rf_e2e_test(e2e_stall_io_uring test_stall.py TIMEOUT 90 ARGS --backend io_uring)
rf_e2e_test(e2e_stall_mmsg test_stall.py TIMEOUT 90 ARGS --backend mmsg)

# Attacks on admission (issue 10): forged source addresses (a raw socket:
# skipped without root) against servers with admission = cookie, one
# server per backend, and the same attack on admission = open.
rf_e2e_test(e2e_attack_reflection test_attacks.py TIMEOUT 120 ARGS reflection)
set_tests_properties(e2e_attack_reflection PROPERTIES LABELS "e2e;attack")

# Attacks on the control socket (issue 10), one test per attack.
foreach(t uaf flood sockdir lockout timeout emfile)
  rf_e2e_test(e2e_control_${t} test_control_attacks.py TIMEOUT 180 ARGS ${t})
endforeach()

rf_e2e_test(e2e_supervisor_death test_supervisor_death.py TIMEOUT 120)
rf_e2e_test(e2e_spawn_resources test_spawn_resources.py TIMEOUT 60)
rf_e2e_test(e2e_spawn_pacing test_spawn_pacing.py TIMEOUT 240)
rf_e2e_test(e2e_fd_budget test_fd_budget.py TIMEOUT 90)
# 400 workers at once: not beside other tests that time their workers' start.
set_tests_properties(e2e_spawn_pacing PROPERTIES RUN_SERIAL TRUE)

# Game modules in the configuration (issue 12): path safety, the --check
# module probe (a stand-in worker plays the verdicts), a reload refused.
rf_e2e_test(e2e_game_config test_game_config.py TIMEOUT 120)
# The same with real modules (tests/games): status, table and /metrics of
# the echo module, bad modules refused by --check and reload, fatal at start.
rf_e2e_test(e2e_game_fleet test_game_fleet.py TIMEOUT 120)

# Issue 13: the event stream and draining a host.
rf_e2e_test(e2e_events test_events.py TIMEOUT 240)
rf_e2e_test(e2e_drain test_drain.py TIMEOUT 180)
# Sessions and allocation (issue 13).
rf_e2e_test(e2e_sessions_basic test_sessions.py TIMEOUT 180 ARGS basic)
rf_e2e_test(e2e_sessions_self_reset test_sessions.py TIMEOUT 120 ARGS self_reset)
rf_e2e_test(e2e_sessions_concurrent test_sessions.py TIMEOUT 240 ARGS concurrent)
# 100 workers at once, as e2e_api: alone.
set_tests_properties(e2e_sessions_concurrent PROPERTIES RUN_SERIAL TRUE)
# Hitless supervisor: upgrade in place, crash take-over (issue 14).
foreach(scenario upgrade repeat refused crash reuse stray)
  rf_e2e_test(e2e_hitless_${scenario} test_hitless.py TIMEOUT 120 ARGS ${scenario})
endforeach()
# Issue 14, part 4: `ringfleetctl roll`, one server at a time, never under a match.
rf_e2e_test(e2e_roll_basic test_roll.py TIMEOUT 180 ARGS basic)
rf_e2e_test(e2e_roll_glob test_roll.py TIMEOUT 180 ARGS glob)
rf_e2e_test(e2e_roll_self_reset test_roll.py TIMEOUT 120 ARGS self_reset)
# Issue 13's latency: ringfleetd waits at realtime priority, on a leash.
foreach(scenario policy leash behind outside denied)
  rf_e2e_test(e2e_realtime_${scenario} test_realtime.py TIMEOUT 60 ARGS ${scenario})
endforeach()
