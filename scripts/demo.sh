#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds everything and runs ringfleetd in the foreground on the demo
# configuration (a few game servers on 127.0.0.1). Ctrl-C stops it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
config=$top/config/examples/demo.ini

"$top/scripts/build.sh" "$build"
cat <<MSG

ringfleetd is starting on $config (servers on 127.0.0.1).
In another terminal:
  $build/bin/ringfleetctl -c $config status          # table of live servers
  $build/bin/ringfleetctl -c $config status --json   # the JSON contract
  $build/bin/ringfleet-load --target 127.0.0.1:27001 --clients 10 --duration 5
Press Ctrl-C here to stop every server and exit.

MSG
exec "$build/bin/ringfleetd" -c "$config"
