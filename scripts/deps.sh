#!/usr/bin/env bash
# Installs ringfleet's Debian build and test dependencies if any is
# missing. Idempotent: a machine that has them all is not touched.
set -euo pipefail

PKGS=(
	build-essential cmake pkg-config
	liburing-dev libsystemd-dev libinih-dev libcmocka-dev libjansson-dev libmicrohttpd-dev
	python3 procps iproute2
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
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
