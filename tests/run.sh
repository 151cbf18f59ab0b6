#!/usr/bin/env bash
# Run every test: cmocka unit tests (normal build and ASan/UBSan build), then
# the integration scripts in tests/integration/ (each one test; exit 0 pass,
# 77 skip, anything else fail). Prints "N passed, N failed" last.
#   BUILD=build ASAN_BUILD=build-asan tests/run.sh [FILTER]
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FILTER=${1:-}
export BUILD ASAN_BUILD
export SPANPROF_TEST_TMP=${SPANPROF_TEST_TMP:-$(mktemp -d /tmp/spanprof-test.XXXXXX)}
export GOCACHE=${GOCACHE:-$SPANPROF_TEST_TMP/gocache} GOFLAGS=${GOFLAGS:-} GO111MODULE=off
export HOME=${HOME:-/root}

passed=0 failed=0 skipped=0
failures=()

run_unit() { # binary label
  local bin=$1 label=$2 out
  out=$("$bin" 2>&1); local rc=$?
  printf '%s\n' "$out" | sed "s|^|[$label] |"
  local p f
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  p=${p:-0} f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed before its summary
  passed=$((passed + p)) failed=$((failed + f))
  [ "$f" -ne 0 ] && failures+=("$label $(basename "$bin")")
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for bin in "$BUILD"/tests/test_*; do
  [ -x "$bin" ] || continue
  case "$bin" in *"$FILTER"*) ;; *) continue ;; esac
  run_unit "$bin" unit
done
for bin in "$ASAN_BUILD"/tests/test_*; do
  [ -x "$bin" ] || continue
  case "$bin" in *"$FILTER"*) ;; *) continue ;; esac
  run_unit "$bin" asan
done

for t in tests/integration/*.sh; do
  [ -f "$t" ] || continue
  case "$t" in *"$FILTER"*) ;; *) continue ;; esac
  name=$(basename "$t" .sh)
  echo "=== integration: $name"
  start=$(date +%s)
  bash "$t" 2>&1 | sed "s|^|[$name] |"
  rc=${PIPESTATUS[0]}
  dur=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    echo "[ OK ] $name (${dur}s)"; passed=$((passed + 1))
  elif [ "$rc" -eq 77 ]; then
    echo "[SKIP] $name (${dur}s)"; skipped=$((skipped + 1))
  else
    echo "[FAIL] $name (exit $rc, ${dur}s)"; failed=$((failed + 1)); failures+=("integration $name")
  fi
done

echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "failed:"; printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
