# SPDX-License-Identifier: Apache-2.0
# games: the example arena (games/arena) under a real worker, played by
# Python clients that complete the handshake.
rf_e2e_test(e2e_arena test_arena.py TIMEOUT 120)
