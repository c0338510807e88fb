#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs ringfleet's Debian build and test dependencies if any is
# missing. Idempotent: a machine that has them all is not touched.
set -euo pipefail

PKGS=(
	build-essential cmake pkg-config
	liburing-dev libsystemd-dev libinih-dev libcmocka-dev libjansson-dev libmicrohttpd-dev libsodium-dev
	python3 procps iproute2
	# fuzz_smoke: clang with libFuzzer and the sanitizer runtimes
	clang libclang-rt-14-dev
	# scripts/check-format.sh, scripts/format.sh, scripts/check-tidy.sh (version 14)
	clang-format clang-tidy
	prometheus
	# packaging tests: dpkg-shlibdeps for cpack's .deb, systemd-analyze for
	# the unit (installing systemd does not make it PID 1), man page lint,
	# the completion script, YAML of the Kubernetes manifest, lintian for the .deb
	dpkg-dev systemd groff-base man-db bash-completion python3-yaml lintian
	# e2e_api: a self-signed certificate for the HTTPS round trip
	openssl
	# bench/scale_bench.py --plot (the benchmark's figure; no test needs it)
	python3-matplotlib
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Debian's prometheus (only a test dependency) starts a daemon on
# 0.0.0.0:9090 from its init script when no systemd runs. A policy-rc.d
# that answers 101 forbids every service start during the install; one
# the machine already has is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
