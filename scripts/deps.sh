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
  libcriterion-dev libjansson-dev libyaml-dev libssl-dev git ca-certificates
  lmdb-utils
)
BENCH_PKGS=(libcaf-dev erlang-nox g++ libsqlite3-dev python3)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--bench" ]; then want+=("${BENCH_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
