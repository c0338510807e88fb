# SPDX-License-Identifier: Apache-2.0
# Supervisor and control-protocol unit tests.
rf_unit_test(test_fsm SOURCES unit/test_fsm.c LIBS rf_fsm)
rf_unit_test(test_hang SOURCES unit/test_hang.c LIBS rf_fsm)
rf_unit_test(test_latency SOURCES unit/test_latency.c LIBS rf_supervisor)
rf_unit_test(test_ctlproto SOURCES unit/test_ctlproto.c LIBS rf_common)
rf_unit_test(test_jsonw SOURCES unit/test_jsonw.c LIBS rf_common m)
rf_unit_test(test_control_policy SOURCES unit/test_control_policy.c LIBS rf_supervisor)
rf_unit_test(test_events SOURCES unit/test_events.c LIBS rf_supervisor)
rf_unit_test(test_session SOURCES unit/test_session.c LIBS rf_supervisor)
rf_unit_test(test_api SOURCES unit/test_api.c LIBS rf_supervisor)
rf_unit_test(test_status SOURCES unit/test_status.c unit/status_ref.c LIBS rf_supervisor)
rf_unit_test(test_state SOURCES unit/test_state.c LIBS rf_supervisor)
rf_unit_test(test_roll SOURCES unit/test_roll.c LIBS rf_supervisor)
