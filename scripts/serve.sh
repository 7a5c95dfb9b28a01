#!/usr/bin/env bash
# serve.sh: install what is missing, build ccm (release), and run
# `ccm serve` on its embedded default: the git repository in the current
# directory, state in ./.ccm/, 127.0.0.1:8080, dry-run executor.
# Extra arguments go to `ccm serve` (e.g. --listen 127.0.0.1:9090).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/scripts/deps.sh"
build=$top/build
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" --buildtype=release -Dtests=disabled >/dev/null
fi
ninja -C "$build" >/dev/null
exec "$build/app/ccm" serve "$@"
