#!/usr/bin/env bash
# The preloaded library writes nothing on the program's stdout or stderr:
# not per process, not per exec. `spanprof record` says the engine and the
# rate once, in its summary; SPANPROF_LOG=1 brings the library's lines back.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
require_file "$SPANPROF" "$LIBSPANPROF"

workload fd_clash

# A shell loop of subshells and execs, under record: stderr holds the
# program's own line and record's summary ("spanprof: ..."), nothing else.
"$SPANPROF" record -F 997 -o "$T/loop" -- bash -c \
  'for i in $(seq 100); do (true); /bin/true; done; "$0" select 1; echo mine >&2' "$T/fd_clash" \
  > "$T/loop.out" 2> "$T/loop.err" || { cat "$T/loop.out" "$T/loop.err"; fail "record failed"; }
cat "$T/loop.out" "$T/loop.err"
check "record: stdout is the program's own" \
  diff <(printf 'first fd 3\nselect ok\n') "$T/loop.out"
other=$(grep -cv '^spanprof: ' "$T/loop.err")
check "record: stderr has only the program's line besides the summary ($other)" [ "$other" -eq 1 ]
check "record: that line is the program's" grep -qx mine "$T/loop.err"
check "record: no line from the library" bash -c "! grep -q 'spanprof\[' '$T/loop.err'"
check "record: the summary names engine and rate" \
  grep -Eq '^spanprof: .* samples .*engine (perf_event cpu-clock|posix timer)[^ ]* at 997 Hz' "$T/loop.err"

# Preloaded directly, into a process that forks and execs.
env LD_PRELOAD="$LIBSPANPROF" SPANPROF_OUTPUT="$T/direct" bash -c \
  '(true); /bin/true; "$0" select 1; echo mine >&2' "$T/fd_clash" > "$T/d.out" 2> "$T/d.err" ||
  fail "preloaded run failed"
check "preloaded: stdout is the program's own" diff <(printf 'first fd 3\nselect ok\n') "$T/d.out"
check "preloaded: stderr is the program's own" diff <(echo mine) "$T/d.err"

env LD_PRELOAD="$LIBSPANPROF" SPANPROF_OUTPUT="$T/log" SPANPROF_LOG=1 "$T/fd_clash" select 1 \
  > /dev/null 2> "$T/l.err" || fail "SPANPROF_LOG=1 run failed"
cat "$T/l.err"
check "SPANPROF_LOG=1: the library says what it samples with" grep -q '^spanprof\[[0-9]*\]: sampling at ' "$T/l.err"
echo PASS
