#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails when a tracked source file lacks an SPDX-License-Identifier line
# among its first three lines. Source files: C, headers, Python, shell,
# CMake, and the extension-less scripts and manifests listed below.
# Usage: scripts/check-license.sh [REPO_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

files() {
	git ls-files -- '*.c' '*.h' '*.py' '*.sh' '*.cmake' '*CMakeLists.txt' \
		'*.yaml' '*.hcl' '*Dockerfile' '.ci/run' 'packaging/debian/*.in' \
		'packaging/bash-completion/*'
}

missing=0 checked=0
while IFS= read -r f; do
	[ -f "$f" ] || continue
	checked=$((checked + 1))
	if ! head -n 3 -- "$f" | grep -q 'SPDX-License-Identifier: Apache-2.0'; then
		echo "missing SPDX-License-Identifier: $f" >&2
		missing=$((missing + 1))
	fi
done < <(files)
if [ "$checked" -eq 0 ]; then
	echo "check-license: no source files found (not a git checkout?)" >&2
	exit 1
fi
echo "check-license: $checked files, $missing without a license line"
[ "$missing" -eq 0 ]
