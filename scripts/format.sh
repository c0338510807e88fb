#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Formats every tracked C source and header in place with clang-format 14
# and the repository's .clang-format.
# Usage: scripts/format.sh [REPO_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "format: $cf not found (scripts/deps.sh)" >&2; exit 1; }
git ls-files -z -- '*.c' '*.h' | xargs -0 -r "$cf" -i
