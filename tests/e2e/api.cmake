# SPDX-License-Identifier: Apache-2.0
# The HTTP allocation API (api_listen): auth, limits, TLS, exactly-once
# allocation shared with the control socket.
rf_e2e_test(e2e_api test_api.py TIMEOUT 300)
