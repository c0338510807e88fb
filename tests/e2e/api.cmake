# SPDX-License-Identifier: Apache-2.0
# The HTTP allocation API (api_listen): auth, limits, TLS, exactly-once
# allocation shared with the control socket.
rf_e2e_test(e2e_api test_api.py TIMEOUT 900)
# 100 workers at once (200 allocations against them): not beside other
# tests, whose workers' exits (LeakSanitizer's scan in the sanitizer
# build) it would slow past their stop timeouts.
set_tests_properties(e2e_api PROPERTIES RUN_SERIAL TRUE)
