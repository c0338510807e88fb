# SPDX-License-Identifier: Apache-2.0
# Game modules that fail (issue 12, item 5): each fault under ringfleetd,
# with its outcome in status and the log. --sanitize says whether this is a
# sanitizer build, where the overflow case must be caught (else skipped).
rf_e2e_test(e2e_game_faults test_game_faults.py TIMEOUT 240 ARGS --sanitize=${SANITIZE})
set_tests_properties(e2e_game_faults PROPERTIES LABELS "e2e;game")
