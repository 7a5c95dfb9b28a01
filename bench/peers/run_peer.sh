#!/usr/bin/env bash
# run_peer.sh -- build (cached) and run one peer benchmark.
#
#   bench/peers/run_peer.sh caf|erlang WORKLOAD WORKERS [PARAM...]
#
# WORKLOAD: pingpong | counting | fanout | threadring | big
# WORKERS:  scheduler threads (CAF scheduler.max-threads / Erlang +S W:W)
# PARAM:    optional parameter overrides, passed through (see README.md)
#
# The peer is built into ${CCM_BENCH_CACHE:-$HOME/.cache/ccm-bench}/peers
# and rebuilt only when its source is newer than the cached build.
# stdout carries only the peer's `RESULT ...` lines; everything else (build
# output, diagnostics) goes to stderr. Exit status is the peer's.
set -euo pipefail

usage() {
  echo "usage: $0 caf|erlang WORKLOAD WORKERS [PARAM...]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
peer=$1 workload=$2 workers=$3
shift 3
case $workers in ''|*[!0-9]*|0) echo "$0: WORKERS must be a positive integer" >&2; exit 2 ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${CCM_BENCH_CACHE:-$HOME/.cache/ccm-bench}/peers

# Runs the peer with stdout filtered: RESULT lines to stdout, rest to stderr.
run_filtered() {
  set +e
  "$@" | while IFS= read -r line; do
    case $line in
      RESULT\ *) printf '%s\n' "$line" ;;
      *) printf '%s\n' "$line" >&2 ;;
    esac
  done
  local rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

case $peer in
  caf)
    src=$here/caf/bench_caf.cpp
    out=$cache/caf/bench_caf
    if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
      mkdir -p "$cache/caf"
      echo "run_peer: building $out" >&2
      tmp=$(mktemp "$cache/caf/.bench_caf.XXXXXX")
      if ! g++ -O2 -std=c++17 "$src" -o "$tmp" -lcaf_core -lpthread >&2; then
        rm -f "$tmp"; exit 1
      fi
      chmod 755 "$tmp"
      mv -f "$tmp" "$out"   # atomic: concurrent runs never see a half binary
    fi
    run_filtered "$out" "$workload" "$workers" "$@"
    ;;
  erlang)
    src=$here/erlang/bench_erl.erl
    dir=$cache/erlang
    beam=$dir/bench_erl.beam
    if [ ! -f "$beam" ] || [ "$src" -nt "$beam" ]; then
      mkdir -p "$dir"
      echo "run_peer: building $beam" >&2
      tmp=$(mktemp -d "$dir/.build.XXXXXX")
      if ! erlc -o "$tmp" "$src" >&2; then
        rm -rf "$tmp"; exit 1
      fi
      mv -f "$tmp/bench_erl.beam" "$beam"
      rmdir "$tmp"
    fi
    run_filtered erl -noshell +S "$workers:$workers" -pa "$dir" \
      -s bench_erl main "$workload" "$@" -s init stop
    ;;
  *)
    usage
    ;;
esac
