#!/usr/bin/env bash
# packaging/lint.sh: lint what packaging/ ships (run by `meson test`, suite
# packaging). Any finding fails it.
#   - packaging/ccm.service: `systemd-analyze verify` (it exits 0 on
#     unknown keys and bad values, so any output is a failure); ExecStart
#     points at /bin/true so that verify does not need an installed ccm.
#   - Dockerfile: npm dockerfilelint (packaging/package.json, installed by
#     scripts/deps.sh).
#   - packaging/ccm.docker.yaml: `ccm config check` when $CCM_BIN is set.
# A tool that is not installed is reported as skipped, never as passed
# silently.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if command -v systemd-analyze >/dev/null; then
  sed 's#^ExecStart=/usr/local/bin/ccm #ExecStart=/bin/true #' \
    "$here/ccm.service" >"$tmp/ccm.service"
  out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$tmp/ccm.service" 2>&1 || true)
  if [ -n "$out" ]; then
    echo "ccm.service: systemd-analyze verify:" >&2
    echo "$out" >&2
    fail=1
  else
    echo "ccm.service: systemd-analyze verify: ok"
  fi
else
  echo "ccm.service: skipped (no systemd-analyze)"
fi

lint="$here/node_modules/.bin/dockerfilelint"
if [ -x "$lint" ]; then
  if "$lint" "$top/Dockerfile" >"$tmp/lint.out" 2>&1; then
    echo "Dockerfile: dockerfilelint: ok"
  else
    cat "$tmp/lint.out" >&2
    fail=1
  fi
else
  echo "Dockerfile: skipped (run scripts/deps.sh to install dockerfilelint)"
fi

if [ -n "${CCM_BIN:-}" ]; then
  if "$CCM_BIN" config check "$here/ccm.docker.yaml" >"$tmp/check.out" 2>&1; then
    echo "ccm.docker.yaml: ccm config check: ok"
  else
    cat "$tmp/check.out" >&2
    fail=1
  fi
fi
exit $fail
