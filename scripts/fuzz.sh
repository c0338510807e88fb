#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (tests/fuzz) with clang and runs each one
# for a bounded time over its seed corpus and the corpus earlier runs
# grew. Any crash, sanitizer finding, leak, timeout or out-of-memory fails.
#
# Usage: scripts/fuzz.sh [-b BUILD_DIR] [-t SECONDS] [TARGET...]
#   -b  the clang -DFUZZ=ON build directory (default build/fuzz); it is
#       configured on first use and kept, with the grown corpus in
#       BUILD_DIR/fuzz-work/TARGET/corpus
#   -t  seconds per target (default 30)
# Exit: 0 clean, 1 a finding (input saved, reproduce command printed),
# 77 clang or the libFuzzer runtime is missing here (ctest: skipped).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build/fuzz
secs=30
all=(fuzz_config fuzz_ctl_request fuzz_worker_rx fuzz_game fuzz_api_parse)

while getopts "b:t:" opt; do
	case $opt in
	b) build=$OPTARG ;;
	t) secs=$OPTARG ;;
	*) echo "usage: $0 [-b BUILD_DIR] [-t SECONDS] [TARGET...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

skip() {
	echo "SKIP: $*"
	exit 77
}

command -v clang >/dev/null || skip "clang not found (apt-get install clang libclang-rt-14-dev)"
# libFuzzer's runtime comes separately (libclang-rt-NN-dev): probe it.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return d && n; }\n' \
	>"$probe/p.c"
clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err" ||
	skip "clang cannot link libFuzzer + ASan: $(head -c 300 "$probe/err")"

if [ ! -f "$build/CMakeCache.txt" ]; then
	echo "fuzz.sh: configuring $build"
	cmake -S "$top" -B "$build" -DCMAKE_C_COMPILER=clang -DFUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$probe/cmake.log" 2>&1 ||
		{ cat "$probe/cmake.log"; exit 1; }
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >"$probe/build.log" 2>&1 ||
	{ tail -50 "$probe/build.log"; exit 1; }

# ASan/UBSan: stop at the first error. libFuzzer's own limits cover the
# rest: a slow input (-timeout), memory (-rss_limit_mb), leaks (on by
# default with ASan).
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
failed=0
for t in "${targets[@]}"; do
	bin=$build/bin/$t
	seeds=$top/tests/fuzz/corpus/$t
	work=$build/fuzz-work/$t
	dict=$top/tests/fuzz/$t.dict
	mkdir -p "$work/corpus" "$work/artifacts"
	args=(-max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$work/artifacts/")
	[ -f "$dict" ] && args+=(-dict="$dict")
	# libFuzzer's default exit code for a finding is 77, which ctest
	# would take for "skipped": make every finding exit 1.
	args+=(-error_exitcode=1 -timeout_exitcode=1)
	echo "fuzz.sh: $t for ${secs}s"
	rc=0
	# New inputs go to the first directory: the seeds stay untouched.
	"$bin" "${args[@]}" "$work/corpus" "$seeds" >"$work/log" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		failed=1
		echo "FAIL: $t exited $rc; its log ($work/log) ends:"
		tail -60 "$work/log"
		for a in "$work"/artifacts/*; do
			[ -e "$a" ] || continue
			echo "reproduce: $bin $a"
		done
		continue
	fi
	# "#N DONE cov: C ft: F corp: K/S lim: ... exec/s: E rss: R"
	done_line=$(grep -a 'DONE' "$work/log" | tail -1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
	echo "  $t: $execs runs, ${done_line#*DONE }"
done
[ $failed -eq 0 ] || exit 1
echo "fuzz.sh: ${#targets[@]} targets, no findings"
