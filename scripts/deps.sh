#!/usr/bin/env bash
# deps.sh: install, idempotently and without questions, every Debian package
# that ccm's build, tests and benchmarks need. Safe to run again: it only
# calls apt-get when something is missing.
#
#   scripts/deps.sh            build + test packages
#   scripts/deps.sh --bench    also the benchmark peers (CAF, Erlang, ...)
set -euo pipefail

BUILD_PKGS=(
  build-essential pkg-config meson ninja-build clang llvm libclang-rt-14-dev
  libwebsockets-dev libcurl4-openssl-dev libmsgpack-dev liblmdb-dev
  libcriterion-dev libjansson-dev libyaml-dev libssl-dev zlib1g-dev libsystemd-dev git ca-certificates
  lmdb-utils prometheus chromium
)
BENCH_PKGS=(libcaf-dev erlang-nox g++ libsqlite3-dev python3 ripgrep
            linux-source-6.1 wrk nginx-light redis-server)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--bench" ]; then want+=("${BENCH_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

install_apt() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# npm packages of a folder with a package.json (tests/node: test tools;
# web/panel: the control panel's chart library), installed into its
# node_modules when a listed package is missing there.
install_npm_tools() {
  local dir top
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  dir="$top/$1"
  if ! command -v npm >/dev/null; then
    missing=(nodejs npm)
    install_apt
  fi
  if node -e '
      const fs = require("fs"), dir = process.argv[1];
      const p = require(dir + "/package.json");
      for (const d of Object.keys(p.dependencies || {}))
        if (!fs.existsSync(dir + "/node_modules/" + d + "/package.json"))
          process.exit(1);
    ' "$dir"; then
    return 0
  fi
  echo "deps: npm install in $1" >&2
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
}

if [ "${#missing[@]}" -gt 0 ]; then install_apt; fi
install_npm_tools tests/node
install_npm_tools web/panel
install_npm_tools packaging
