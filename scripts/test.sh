#!/usr/bin/env bash
# test.sh: build ccm and run the whole test suite, the way CI does.
#
#   1. installs what is missing (scripts/deps.sh, idempotent);
#   2. normal build (debugoptimized, -Werror) + every criterion suite;
#   3. ASan + UBSan build + every suite (any report fails the run);
#   4. TSan build + the runtime suite (any race report fails the run);
#   5. a bounded libFuzzer run of each protocol decoder (fuzz/run.sh).
#
# Build folders: build-ci/{normal,asan,tsan} (reused when present).
# Ends with one line "N passed, M failed" over all builds; exit 0 only when
# every build and test passed.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

"$top/scripts/deps.sh"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:exitcode=66"

passed=0
failed=0

# setup DIR [meson options...]: configure once, reconfigure if options change.
setup() {
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir"
}

# run_suite DIR LABEL [meson test args...]
run_suite() {
  local dir=$1 label=$2; shift 2
  echo "== $label"
  local rc=0
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || rc=$?
  local counts
  counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
        ok += 1
    else:
        bad += 1
print(ok, bad)
PY
)
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
  if [ "$rc" -ne 0 ] && [ "${counts#* }" -eq 0 ]; then failed=$((failed + 1)); fi
}

setup build-ci/normal --buildtype=debugoptimized -Dtests=enabled
run_suite build-ci/normal "normal build: all suites"

CC=${SAN_CC:-gcc} setup build-ci/asan --buildtype=debug -Dtests=enabled \
  -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all
run_suite build-ci/asan "ASan+UBSan build: all suites"

CC=${SAN_CC:-gcc} setup build-ci/tsan --buildtype=debugoptimized -Dtests=enabled \
  -Db_sanitize=thread -Db_lundef=false
run_suite build-ci/tsan "TSan build: runtime, scanner and store suites" \
  --suite runtime --suite scanner --suite store

# A short, bounded fuzz run of each decoder (the long runs are documented
# in fuzz/README.md); a crash, leak or UB report fails it.
echo "== fuzz: every fuzz target (fuzz/run.sh all), ${FUZZ_SECONDS:-30} s each"
if fuzz/run.sh all "${FUZZ_SECONDS:-30}"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
