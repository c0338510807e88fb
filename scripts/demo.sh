#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds everything and runs ringfleetd in the foreground on the demo
# configuration (a few game servers on 127.0.0.1). Ctrl-C stops it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
config=$top/config/examples/demo.ini

"$top/scripts/build.sh" "$build"
if [ "$(id -u)" != 0 ]; then
	# /run is root's: put the socket in a directory only this user can
	# write to (ringfleetd refuses one that others could).
	private=$(mktemp -d "${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/ringfleet-demo.XXXXXX")
	sed "s|^control_socket = .*|control_socket = $private/control.sock|" "$config" \
		>"$private/demo.ini"
	config=$private/demo.ini
fi
cat <<MSG

ringfleetd is starting on $config (servers on 127.0.0.1).
In another terminal:
  $build/bin/ringfleetctl -c $config status          # table of live servers
  $build/bin/ringfleetctl -c $config status --json   # the JSON contract
  $build/bin/ringfleet-load --target 127.0.0.1:27001 --clients 10 --duration 5
Press Ctrl-C here to stop every server and exit.

MSG
exec "$build/bin/ringfleetd" -c "$config"
