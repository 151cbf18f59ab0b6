# Sourced by integration tests: common paths and checks.
# shellcheck shell=bash
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
case "$ASAN_BUILD" in /*) ;; *) ASAN_BUILD=$ROOT/$ASAN_BUILD ;; esac
SPANPROF=$BUILD/spanprof
SPANPROF_ASAN=$ASAN_BUILD/spanprof
LIBSPANPROF=$BUILD/libspanprof.so
T=$(mktemp -d "${SPANPROF_TEST_TMP:-/tmp}/$(basename "$0" .sh).XXXXXX")
export GOCACHE=${GOCACHE:-$T/gocache} GO111MODULE=off
# A `spanprof agent` running on this machine (another test run, or the
# user's) would take every preloaded test program that has no consumer of
# its own; the one test of that sets SPANPROF_AGENT=1 itself.
export SPANPROF_AGENT=0
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { # description command...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else fail "$what"; fi
}
# `make test` installs the test packages and builds everything first, so a
# missing tool or artefact is a failure to report, not a reason to skip
# (a skipped test would hide a broken build).
require_cmd() { for c in "$@"; do command -v "$c" >/dev/null || fail "$c is not installed (scripts/install-deps.sh test)"; done; }
require_file() { for f in "$@"; do [ -e "$f" ] || fail "$f is missing (run make all unit-tests)"; done; }
# Test programs (tests/workloads, tests/tools, tests/fuzz) are built by make
# (`make all unit-tests`, both trees) into TREE/tests/KIND/NAME; a script
# compiles nothing itself. test_prog copies one into $T (as DEST, default
# NAME), where the test may run, strip, rename or delete it, and fails
# clearly when it was not built.
test_prog() { # TREE KIND NAME [DEST]
  local src=$1/tests/$2/$3
  [ -x "$src" ] || [ -f "$src" ] ||
    fail "$src is missing (make all unit-tests${4:+ in that tree})"
  cp "$src" "$T/${4:-$3}" || fail "cannot copy $src into $T"
}
