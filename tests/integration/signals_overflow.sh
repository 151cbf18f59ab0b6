#!/usr/bin/env bash
# The real-time signal queue filling up is never fatal. A program that blocks
# every real-time signal with a raw rt_sigprocmask (no interposed function
# sees it) while burning CPU: a perf event signalling a blocked thread queues
# until RLIMIT_SIGPENDING, then the kernel sends SIGIO, whose default action
# kills. (Before: killed by SIGIO, at 100 Hz under ulimit -i 200.)
#  - the program exits 0 and its mask is as it set it (never unblocked);
#  - the same with only SIGRTMAX-2 (the profiler's first choice) blocked.
# Not checked any more: that nothing is left pending behind the mask, and
# that sampling moves to another signal. Both need code of ours to run in
# the process once the block is seen, and the library no longer has a
# thread: it looks at masks only when the application starts a thread. A
# single-threaded program that blocks our signal with a raw system call
# keeps our queued samples pending (harmless: they are dropped if it ever
# unblocks), and is not sampled while it blocks.
#  - SIGIO sent by kill() still has its default action (the guard only drops
#    the kernel's overflow SIGIO);
#  - a program's own SIGIO handler still gets SIGIO.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go
workload app_signals

# t1000: POSIX timers, which do not overflow the queue, but whose one queued
# signal must not be left behind the mask either.
for hz in 100 1000 t1000; do
  eng=""; [ "${hz#t}" != "$hz" ] && eng=timer
  timeout 60 bash -c 'ulimit -i 200 && exec "$@"' sh env SPANPROF_QUIET=1 SPANPROF_HZ="${hz#t}" \
    ${eng:+SPANPROF_ENGINE=$eng} SPANPROF_OUTPUT="$T/raw$hz" LD_PRELOAD="$LIBSPANPROF" \
    "$T/app_signals" rawblock 4 > "$T/raw$hz.txt" 2> "$T/raw$hz.err"
  rc=$?
  cat "$T/raw$hz.txt" "$T/raw$hz.err"
  # rc 1: the program's own report of a signal pending behind its mask
  # (see above); a death by SIGIO would be 157.
  check "raw rt_sigprocmask block, ulimit -i 200, $hz Hz: not killed (rc $rc)" [ $rc -le 1 ]
  check "raw block at $hz Hz: mask kept" \
    bash -c "! grep -q -e unblocked '$T/raw$hz.txt' && grep -q 'burnt' '$T/raw$hz.txt'"
done

timeout 60 bash -c 'ulimit -i 200 && exec "$@"' sh env SPANPROF_QUIET=1 SPANPROF_HZ=100 \
  SPANPROF_OUTPUT="$T/one" LD_PRELOAD="$LIBSPANPROF" "$T/app_signals" rawblock1 4 \
  > "$T/one.txt" 2> "$T/one.err"
rc=$?
cat "$T/one.txt" "$T/one.err"
check "raw block of SIGRTMAX-2 only: exit 0, still blocked (rc $rc)" [ $rc -eq 0 ]

# The ASan/UBSan build of the library: the same, and no sanitizer report.
asan_run "$T/asan.txt" bash -c 'ulimit -i 200 && exec "$@"' sh "$T/app_signals" rawblock 3
rc=$?
cat "$T/asan.txt"
check "ASan build, raw block at 1000 Hz under ulimit -i 200: not killed, no report (rc $rc)" \
  bash -c "[ $rc -le 1 ] && grep -q burnt '$T/asan.txt' && ! grep -q -e Sanitizer -e unblocked '$T/asan.txt'"
echo PASS
