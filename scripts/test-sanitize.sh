#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer
# (LeakSanitizer on) and runs the whole test suite there. Any sanitizer
# report from any process, workers included, fails the run: see
# tests/fuzz.cmake (the sanitizer_reports test prints them).
# Usage: scripts/test-sanitize.sh [ctest args...]
#   RF_SANITIZE_BUILD_DIR  build directory (default build-sanitize)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${RF_SANITIZE_BUILD_DIR:-$top/build-sanitize}

# Debug: -O0 keeps every access the source makes, and full stack traces.
"$top/scripts/build.sh" "$build" -DSANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
cd "$build"
ctest --output-on-failure -j 2 "$@"
