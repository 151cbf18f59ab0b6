#!/usr/bin/env bash
# A program that blocks SIGRTMAX-2 (the profiler's first choice) and reads it
# from a signalfd gets every signal sent to it, and none of the profiler's
# samples; the profiler moves to another signal and goes on sampling.
# (Before: 0 of 5; the preload unblocked the signal and, with no handler to
# chain to, dropped it.)
# And a program that blocks every signal (sigfillset) finds its mask as it
# set it and nothing of ours queued for its sigtimedwait(). (Before: the
# preload left the sampling signal unblocked.)
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go
workload app_signals

# 100 and 1000 Hz with perf events; 1000 Hz with POSIX timers (t1000),
# whose signal can only change by recreating them.
for hz in 100 1000 t1000; do
  opt=""; [ "${hz#t}" != "$hz" ] && opt=--timer
  timeout 60 "$SPANPROF" record $opt -F "${hz#t}" -o "$T/sfd$hz" -- "$T/app_signals" signalfd \
    > "$T/sfd$hz.txt" 2> "$T/sfd$hz.err"
  rc=$?
  cat "$T/sfd$hz.txt" "$T/sfd$hz.err"
  check "signalfd at $hz Hz: the program succeeded (rc $rc)" [ $rc -eq 0 ]
  check "signalfd at $hz Hz: 5 of 5 signals, none foreign" grep -q '^signalfd: 5 of 5 signals, 0 foreign$' "$T/sfd$hz.txt"
  p=$(find "$T/sfd$hz" -name '*.pb.gz' ! -name '*T*Z-*' | head -1)
  [ -n "$p" ] || fail "signalfd at $hz Hz: no profile"
  share=$(traces_reaching do_signalfd "$p") n=$(sample_count "$p")
  # 0.6 s of CPU, all after the signal was blocked.
  check "signalfd at $hz Hz: still sampled after the block ($n samples, $share% in do_signalfd)" \
    within 90 100 "$share"
  # Timers merge expiries into one weighted signal: CPU time, not count.
  cpu=$(sed -n 's/.* samples (\([0-9.]*\) s CPU).*/\1/p' "$T/sfd$hz.err")
  check "signalfd at $hz Hz: ${cpu:-no} s of CPU profiled (0.6 burnt; >= 0.45)" within 0.45 10 "${cpu:-0}"
done

for hz in 100 1000; do
  timeout 60 env SPANPROF_HZ=$hz SPANPROF_QUIET=1 SPANPROF_OUTPUT="$T/fill$hz" \
    LD_PRELOAD="$LIBSPANPROF" "$T/app_signals" fillwait > "$T/fill$hz.txt" 2>&1
  rc=$?
  cat "$T/fill$hz.txt"
  check "sigfillset block at $hz Hz: mask kept, nothing of ours queued (rc $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q '^fillwait: 0 signals queued, 0 unblocked$' '$T/fill$hz.txt'"
done

# The ASan/UBSan build of the library: the same, and no sanitizer report.
asan_run "$T/asan.txt" "$T/app_signals" signalfd
rc=$?
cat "$T/asan.txt"
check "ASan build, signalfd: 5 of 5, none foreign, no report (rc $rc)" \
  bash -c "[ $rc -eq 0 ] && grep -q '^signalfd: 5 of 5 signals, 0 foreign$' '$T/asan.txt' && ! grep -q Sanitizer '$T/asan.txt'"
echo PASS
