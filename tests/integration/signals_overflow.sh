#!/usr/bin/env bash
# The real-time signal queue filling up is never fatal. A program that blocks
# every real-time signal with a raw rt_sigprocmask (no interposed function
# sees it) while burning CPU: a perf event signalling a blocked thread queues
# until RLIMIT_SIGPENDING, then the kernel sends SIGIO, whose default action
# kills. (Before: killed by SIGIO, at 100 Hz under ulimit -i 200.)
#  - the program exits 0, its mask is as it set it (never unblocked) and no
#    real-time signal is left pending in its thread;
#  - the same with only SIGRTMAX-2 (the profiler's first choice) blocked:
#    the profiler notices, samples on another signal, and the program is
#    still profiled;
#  - SIGIO sent by kill() still has its default action (the guard only drops
#    the kernel's overflow SIGIO);
#  - a program's own SIGIO handler still gets SIGIO.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go
build_workload app_signals -I"$ROOT/tests/workloads"

# t1000: POSIX timers, which do not overflow the queue, but whose one queued
# signal must not be left behind the mask either.
for hz in 100 1000 t1000; do
  opt=""; [ "${hz#t}" != "$hz" ] && opt=--timer
  timeout 60 bash -c 'ulimit -i 200 && exec "$@"' sh "$SPANPROF" record $opt -F "${hz#t}" -o "$T/raw$hz" -- \
    "$T/app_signals" rawblock 4 > "$T/raw$hz.txt" 2> "$T/raw$hz.err"
  rc=$?
  cat "$T/raw$hz.txt" "$T/raw$hz.err"
  check "raw rt_sigprocmask block, ulimit -i 200, $hz Hz: exit 0 (rc $rc)" [ $rc -eq 0 ]
  check "raw block at $hz Hz: mask kept, nothing pending" \
    bash -c "! grep -q -e unblocked -e pending '$T/raw$hz.txt' && grep -q 'burnt' '$T/raw$hz.txt'"
done

timeout 60 bash -c 'ulimit -i 200 && exec "$@"' sh "$SPANPROF" record -F 100 -o "$T/one" -- \
  "$T/app_signals" rawblock1 4 > "$T/one.txt" 2> "$T/one.err"
rc=$?
cat "$T/one.txt" "$T/one.err"
check "raw block of SIGRTMAX-2 only: exit 0, still blocked (rc $rc)" [ $rc -eq 0 ]
p=$(find "$T/one" -name '*.pb.gz' ! -name '*T*Z-*' | head -1)
n=0; [ -n "$p" ] && n=$(sample_count "$p")
# 4 s at 100 Hz; noticed within about 2 s.
check "raw block of SIGRTMAX-2 only: sampled on another signal ($n samples >= 100)" [ "$n" -ge 100 ]

env SPANPROF_QUIET=1 SPANPROF_OUTPUT="$T/kill" LD_PRELOAD="$LIBSPANPROF" "$T/app_signals" sigio_kill \
  > "$T/kill.txt" 2>&1
rc=$?
cat "$T/kill.txt"
check "kill(SIGIO) with the default action: the program dies of SIGIO (rc $rc, 128+29)" [ $rc -eq 157 ]

timeout 60 bash -c 'ulimit -i 200 && exec "$@"' sh env SPANPROF_HZ=1000 SPANPROF_QUIET=1 \
  SPANPROF_OUTPUT="$T/own" LD_PRELOAD="$LIBSPANPROF" "$T/app_signals" sigio_own > "$T/own.txt" 2>&1
rc=$?
cat "$T/own.txt"
check "the program's own SIGIO handler: installed and called (rc $rc)" [ $rc -eq 0 ]

# The ASan/UBSan build of the library: the same, and no sanitizer report.
ASAN_LIB=$ASAN_BUILD/libspanprof.so
libasan=$(cc -print-file-name=libasan.so)
require_file "$ASAN_LIB" "$libasan"
asan_run() { # log args...
  local log=$1; shift
  timeout 120 env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 SPANPROF_HZ=1000 SPANPROF_QUIET=1 \
    SPANPROF_OUTPUT="$T/asan" LD_PRELOAD="$libasan $ASAN_LIB" "$@" > "$log" 2>&1
}
asan_run "$T/asan.txt" bash -c 'ulimit -i 200 && exec "$@"' sh "$T/app_signals" rawblock 3
rc=$?
cat "$T/asan.txt"
check "ASan build, raw block at 1000 Hz under ulimit -i 200: exit 0, no report (rc $rc)" \
  bash -c "[ $rc -eq 0 ] && grep -q burnt '$T/asan.txt' && ! grep -q -e Sanitizer -e unblocked -e pending '$T/asan.txt'"
echo PASS
