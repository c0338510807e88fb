# SPDX-License-Identifier: Apache-2.0
# Config loader and CPU placement unit tests. Fixtures are read in place
# from the source tree (test_config chdirs there so error messages carry
# short file names).
rf_unit_test(test_config SOURCES unit/test_config.c LIBS rf_config)
target_compile_definitions(test_config PRIVATE
  RF_CONFIG_DATA="${CMAKE_CURRENT_SOURCE_DIR}/unit/data/config"
  RF_CONFIG_EXAMPLES="${PROJECT_SOURCE_DIR}/config/examples")

rf_unit_test(test_placement SOURCES unit/test_placement.c LIBS rf_placement)
