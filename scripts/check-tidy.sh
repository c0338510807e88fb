#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs clang-tidy 14 with .clang-tidy over every project .c file in the
# compile database of a plain (gcc, FUZZ=OFF) configure: the programs,
# their libraries and the unit tests. The libFuzzer targets (tests/fuzz)
# are left out: they build only with clang -fsanitize=fuzzer, and what they
# call is checked here through the libraries. Headers are checked as the
# .c files include them. Any warning fails.
# Usage: scripts/check-tidy.sh [BUILD_DIR]   (default: build-tidy)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-tidy}
ct=${CLANG_TIDY:-clang-tidy}
"$top/scripts/deps.sh"
command -v "$ct" >/dev/null || { echo "check-tidy: $ct not found (scripts/deps.sh)" >&2; exit 1; }

# Configuring is enough: no source is generated at build time.
cmake -S "$top" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Each file once (the database may list a file for two targets); two at a
# time. clang-tidy exits 0 on warnings, so the output decides; a non-zero
# exit (a compile error, a crash) fails too.
python3 - "$build/compile_commands.json" "$top" <<'PY' |
import json, os, sys
top = os.path.realpath(sys.argv[2]) + os.sep
files = {os.path.realpath(e["file"]) for e in json.load(open(sys.argv[1]))}
for f in sorted(files):
    if f.startswith(top) and f.endswith(".c") and "/tests/fuzz/" not in f:
        print(f)
PY
	xargs -r -P2 -n1 "$ct" -p "$build" --quiet >"$out" 2>&1 && rc=0 || rc=$?
n=$(grep -c -E ': (warning|error):' "$out" || true)
if [ "$n" -ne 0 ] || [ "$rc" -ne 0 ]; then
	cat "$out"
	echo "check-tidy: $n warnings/errors, clang-tidy exit $rc" >&2
	exit 1
fi
echo "check-tidy: clean"
