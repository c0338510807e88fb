# SPDX-License-Identifier: Apache-2.0
# Observability unit tests: the Prometheus exposition of a hand-built fleet.
rf_unit_test(test_metrics_render SOURCES unit/test_metrics_render.c LIBS rf_supervisor m)
