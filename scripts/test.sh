#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds everything and runs the whole test suite through ctest.
# Usage: scripts/test.sh [ctest args...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${RF_BUILD_DIR:-$top/build}

"$top/scripts/build.sh" "$build"
cd "$build"
ctest --output-on-failure -j 2 "$@"
