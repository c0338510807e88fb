#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs dependencies if needed, configures and builds ringfleet.
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
shift || true

"$top/scripts/deps.sh"
cmake -S "$top" -B "$build" "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
