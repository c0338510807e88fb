# SPDX-License-Identifier: Apache-2.0
# Control and observability end-to-end tests: ringfleetctl's views,
# Prometheus metrics, CPU and tick statistics.
rf_e2e_test(e2e_ctl_views test_ctl_views.py TIMEOUT 90)
rf_e2e_test(e2e_metrics_http test_metrics_http.py TIMEOUT 150)
rf_e2e_test(e2e_metrics_prometheus test_metrics_prometheus.py TIMEOUT 120)
rf_e2e_test(e2e_cpu_stats test_cpu_stats.py TIMEOUT 90)
