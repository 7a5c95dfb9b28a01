#!/usr/bin/env bash
# run.sh: build and run the fuzz targets (libFuzzer, clang 14).
#
#   fuzz/run.sh TARGET SECONDS     TARGET: msgpack | json | lexer | secrets
#                                          | config | webhook | journal | all
#
# Builds build-fuzz/fuzz_TARGET with one direct clang command line
# (-fsanitize=fuzzer,address,undefined, every UBSan report fatal) from
# protocol/*.c (scan/lang.c, lexer.c, markers.c for lexer; config/*.c
# and libyaml for config) and fuzz/fuzz_TARGET.c, then runs it for
# SECONDS seconds on build-fuzz/corpus/TARGET: a working copy seeded from fuzz/corpus/TARGET
# (new seeds are added on every run; what libFuzzer found is kept there
# between runs). Inputs up to 64 KiB. Crashes, leaks and timeouts are
# written to build-fuzz/artifacts/TARGET/; add each one to
# fuzz/corpus/TARGET/ as a regression once fixed. The full log is
# build-fuzz/TARGET.log; the final stats are printed. Exit status non-zero
# when any target found a crash. "all" runs the targets one after another.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

usage() { echo "usage: fuzz/run.sh msgpack|json|lexer|secrets|config|webhook|journal|all SECONDS" >&2; exit 2; }
[ $# -eq 2 ] || usage
case "$2" in ''|*[!0-9]*) usage ;; esac
case "$1" in
  msgpack|json|lexer|secrets|config|webhook|journal) targets=("$1") ;;
  all) targets=(msgpack json lexer secrets config webhook journal) ;;
  *) usage ;;
esac
secs=$2
out=build-fuzz
CC=${FUZZ_CC:-clang-14}
command -v "$CC" >/dev/null || CC=clang
mkdir -p "$out"

# The scan/ targets: sources and libraries beyond the flags every target gets.
scan_sources() {
  case $1 in
    lexer) echo scan/lang.c scan/lexer.c scan/markers.c ;;
    secrets) echo scan/secrets.c scan/metrics.c scan/metrics_brace.c \
      scan/metrics_indent.c scan/metrics_keyword.c scan/dupes.c ;;
  esac
}

# Flags every target is built with.
common_flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -Wall -Wextra -Werror -Wno-unused-parameter -Wstrict-prototypes
  -Wmissing-prototypes -Wold-style-definition -Wvla -Wshadow -Wformat=2 -I.)

build() {
  local t=$1
  if [ "$t" = lexer ] || [ "$t" = secrets ]; then
    # shellcheck disable=SC2046
    "$CC" "${common_flags[@]}" $(scan_sources "$t") "fuzz/fuzz_$t.c" \
      -o "$out/fuzz_$t" -lcrypto -lm -lpthread
    return
  fi
  if [ "$t" = webhook ]; then
    # shellcheck disable=SC2046
    "$CC" "${common_flags[@]}" $(pkg-config --cflags msgpack jansson) \
      github/json_check.c fuzz/fuzz_webhook.c \
      -o "$out/fuzz_webhook" $(pkg-config --libs jansson)
    return
  fi
  if [ "$t" = journal ]; then
    "$CC" "${common_flags[@]}" store/journal_ops.c fuzz/fuzz_journal.c \
      -o "$out/fuzz_journal"
    return
  fi
  if [ "$t" = config ]; then
    # shellcheck disable=SC2046
    "$CC" "${common_flags[@]}" $(pkg-config --cflags yaml-0.1) \
      config/config.c config/errors.c config/schema.c config/secrets.c \
      config/tree.c config/values.c fuzz/fuzz_config.c \
      -o "$out/fuzz_config" $(pkg-config --libs yaml-0.1) -lm
    return
  fi
  # shellcheck disable=SC2046
  "$CC" "${common_flags[@]}" $(pkg-config --cflags msgpack jansson) \
    protocol/proto.c protocol/schema.c protocol/codec.c \
    protocol/codec_msgpack.c protocol/codec_json.c "fuzz/fuzz_$t.c" tests/support/json_msgpack.c \
    -o "$out/fuzz_$t" $(pkg-config --libs msgpack jansson) -lm
}

run() {
  local t=$1 rc=0
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  cp -n fuzz/corpus/"$t"/* "$out/corpus/$t/" 2>/dev/null || true
  echo "== fuzz_$t: ${secs}s on $out/corpus/$t"
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    "$out/fuzz_$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 \
      -dict="fuzz/$t.dict" \
      -artifact_prefix="$out/artifacts/$t/" \
      "$out/corpus/$t" >"$out/$t.log" 2>&1 || rc=$?
  # The last status line ("#N DONE cov: ... exec/s: ...") and the stats.
  grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$out/$t.log" | tail -1 || true
  grep -E '^Done ' "$out/$t.log" || true
  grep -E '^stat::' "$out/$t.log" | tail -5 || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz_$t: FAILED (exit $rc); see $out/$t.log and $out/artifacts/$t/" >&2
    grep -E 'ERROR|fuzz check failed|SUMMARY' "$out/$t.log" | head -5 >&2 || true
  fi
  return "$rc"
}

status=0
for t in "${targets[@]}"; do build "$t"; done
for t in "${targets[@]}"; do run "$t" || status=1; done
exit "$status"
