#!/usr/bin/env bash
# Fallback engine: with perf_event_open forbidden by a seccomp filter (EPERM,
# and EACCES as paranoid=3 gives) the profiler uses POSIX CPU timers and
# record's summary says which engine and why (the library itself prints
# nothing), and the known split still comes out
# 75/25 +-5 points with stacks reaching main. SPANPROF_ENGINE=timer (record
# --timer) forces the same engine.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

workload cpu_split
workload no_perf

run_case() { # name launcher-args...
  local name=$1; shift
  "$SPANPROF" record -F 997 -o "$T/$name" -- "$@" "$T/cpu_split" 4 > "$T/$name.log" 2>&1 ||
    { cat "$T/$name.log"; fail "$name: record failed"; }
  cat "$T/$name.log"
  local p
  p=$(find "$T/$name" -name '*.pb.gz' ! -name '*T*Z-*' | head -1)
  [ -n "$p" ] || fail "$name: no merged profile"
  local heavy light reach
  heavy=$(flat_share spin_heavy "$p") light=$(flat_share spin_light "$p")
  check "$name: spin_heavy $heavy% is 75 +-5" within 70 80 "$heavy"
  check "$name: spin_light $light% is 25 +-5" within 20 30 "$light"
  reach=$(traces_reaching main "$p")
  check "$name: $reach% of samples reach main (>= 99)" within 99 100 "$reach"
  go tool pprof -comments "$p" 2>/dev/null | grep -q 'engine=posix timer' ||
    fail "$name: telemetry does not say engine=posix timer"
  echo "ok: $name: telemetry says engine=posix timer"
  check "$name: summary names the timer engine" grep -q 'engine posix timer' "$T/$name.log"
  local lines
  lines=$(grep -c 'spanprof\[' "$T/$name.log")
  check "$name: the library prints nothing ($lines lines)" [ "$lines" -eq 0 ]
}

run_case seccomp_eperm "$T/no_perf"
check "seccomp_eperm: says why (perf_event_open: Operation not permitted)" \
  grep -q 'engine posix timer at 997 Hz, because perf_event_open: Operation not permitted' "$T/seccomp_eperm.log"
run_case seccomp_eacces "$T/no_perf" -e 13
check "seccomp_eacces: says why (Permission denied)" \
  grep -q 'engine posix timer at 997 Hz, because perf_event_open: Permission denied' "$T/seccomp_eacces.log"

"$SPANPROF" record --timer -F 997 -o "$T/forced" -- "$T/cpu_split" 4 > "$T/forced.log" 2>&1 ||
  { cat "$T/forced.log"; fail "forced: record failed"; }
cat "$T/forced.log"
check "forced: says SPANPROF_ENGINE=timer" grep -q 'SPANPROF_ENGINE=timer' "$T/forced.log"
p=$(find "$T/forced" -name 'cpu_split-[0-9]*.pb.gz' ! -name '*T*Z*' | head -1)
heavy=$(flat_share spin_heavy "$p")
check "forced: spin_heavy $heavy% is 75 +-5" within 70 80 "$heavy"

# SPANPROF_ENGINE=perf does not fall back: no samples, one clear line.
SPANPROF_ENGINE=perf SPANPROF_OUTPUT="$T/strict" SPANPROF_LOG=1 SPANPROF_QUIET=1 LD_PRELOAD="$LIBSPANPROF" \
  "$T/no_perf" "$T/cpu_split" 0.2 > "$T/strict.log" 2>&1 || fail "strict: workload failed"
cat "$T/strict.log"
check "strict: says perf events are not permitted" grep -q 'cannot sample thread .*perf_event_open' "$T/strict.log"
