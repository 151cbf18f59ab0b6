#!/usr/bin/env bash
# A program's own O_ASYNC socket with F_SETSIG on SIGRTMAX-2 (the profiler's
# first choice): every signal reaches the program and no sample of the
# profiler does, with a handler (in the process and in a fork child, also
# one the profiler does not follow) and with the signal blocked and taken by
# sigtimedwait(). (Before: 0 of 5 with sigtimedwait; 0 of 5 in an
# unprofiled fork child, the handler dropped all while disarmed.)
# With a handler on every real-time signal there is nowhere to move: the
# handler on the profiler's signal is chained, gets the socket's 5 and none of
# the samples, and the program is still profiled.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
workload app_signals

# t1000: POSIX timers at 1000 Hz.
for ff in 1 0; do
  for hz in 100 1000 t1000; do
    eng=auto; [ "${hz#t}" != "$hz" ] && eng=timer
    timeout 60 env SPANPROF_FOLLOW_FORK=$ff SPANPROF_HZ="${hz#t}" SPANPROF_ENGINE=$eng SPANPROF_QUIET=1 \
      SPANPROF_OUTPUT="$T/fa$ff$hz" LD_PRELOAD="$LIBSPANPROF" "$T/app_signals" fasync \
      > "$T/fa$ff$hz.txt" 2>&1
    rc=$?
    cat "$T/fa$ff$hz.txt"
    what="fasync, SPANPROF_FOLLOW_FORK=$ff, $hz Hz"
    check "$what: exit 0 (rc $rc)" [ $rc -eq 0 ]
    check "$what: 3 x 5 of 5 signals, none foreign" \
      [ "$(grep -c ': 5 of 5 signals, 0 foreign$' "$T/fa$ff$hz.txt")" -eq 3 ]
  done
done

timeout 60 "$SPANPROF" record -F 1000 -o "$T/all" -- "$T/app_signals" fasync_all \
  > "$T/all.txt" 2> "$T/all.err"
rc=$?
cat "$T/all.txt" "$T/all.err"
check "handlers on every real-time signal: 5 of 5, none foreign (rc $rc)" \
  bash -c "[ $rc -eq 0 ] && grep -q '^fasync all-handlers handler: 5 of 5 signals, 0 foreign$' '$T/all.txt'"
cpu=$(sed -n 's/.* samples (\([0-9.]*\) s CPU).*/\1/p' "$T/all.err")
check "handlers on every real-time signal: still profiled (${cpu:-no} s of 0.85 s CPU)" within 0.6 10 "${cpu:-0}"

# The ASan/UBSan build of the library: the same, and no sanitizer report.
asan_run "$T/asan.txt" "$T/app_signals" fasync
rc=$?
cat "$T/asan.txt"
check "ASan build, fasync: 3 x 5 of 5, none foreign, no report (rc $rc)" \
  bash -c "[ $rc -eq 0 ] && [ \$(grep -c ': 5 of 5 signals, 0 foreign$' '$T/asan.txt') -eq 3 ] && ! grep -q Sanitizer '$T/asan.txt'"
echo PASS
