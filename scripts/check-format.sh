#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails when a tracked C source or header is not formatted as .clang-format
# says (clang-format 14, Debian's). scripts/format.sh fixes it.
# Usage: scripts/check-format.sh [REPO_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || scripts/deps.sh
command -v "$cf" >/dev/null || { echo "check-format: $cf not found (scripts/deps.sh)" >&2; exit 1; }

# --Werror turns every "code should be clang-formatted" note into an error;
# the output names each file and line.
if ! git ls-files -z -- '*.c' '*.h' | xargs -0 -r "$cf" --dry-run --Werror; then
	echo "check-format: unformatted C above; run scripts/format.sh" >&2
	exit 1
fi
echo "check-format: $(git ls-files -- '*.c' '*.h' | wc -l) files formatted"
