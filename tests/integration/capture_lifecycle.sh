#!/usr/bin/env bash
# Lifecycle of the preloaded profiler:
#  - fork without exec: the child writes its own files with only its own
#    samples; the parent's files never hold the child's;
#  - exit() from a non-main thread flushes the last interval;
#  - SIGTERM / SIGINT (default action): last interval flushed, and the exit
#    status still says "killed by the signal";
#  - SIGKILL: every finished interval is a complete, readable profile;
#  - 1,000 threads; with RLIMIT_NOFILE at 256 the perf engine stops at half
#    the limit and the rest use timers;
#  - retention: interval files older than SPANPROF_RETENTION_HOURS go,
#    other files in the directory stay;
#  - the ASan build of the library leaks nothing at exit.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

workload lifecycle
workload cpu_split
top_of() { go tool pprof -sample_index=cpu -top -nodecount=1000 "$@" 2>/dev/null; }
pre() { env SPANPROF_QUIET=1 LD_PRELOAD="$LIBSPANPROF" "$@"; }

# --- fork ------------------------------------------------------------------
SPANPROF_OUTPUT="$T/fork" pre "$T/lifecycle" fork > "$T/fork.log" 2>&1 ||
  { cat "$T/fork.log"; fail "fork workload failed"; }
child=$(sed -n 's/^child \([0-9]*\)$/\1/p' "$T/fork.log")
[ -n "$child" ] || fail "fork workload printed no child pid"
mapfile -t cf < <(find "$T/fork" -name "lifecycle-$child-*.pb.gz")
mapfile -t pf < <(find "$T/fork" -name 'lifecycle-*.pb.gz' ! -name "lifecycle-$child-*")
check "fork: the child wrote its own file(s) (${#cf[@]})" [ ${#cf[@]} -ge 1 ]
check "fork: the parent wrote its file(s) (${#pf[@]})" [ ${#pf[@]} -ge 1 ]
top_of "${cf[@]}" > "$T/child_top.txt"
top_of "${pf[@]}" > "$T/parent_top.txt"
check "fork: child profile has child_work" grep -q ' child_work$' "$T/child_top.txt"
check "fork: child profile has no parent_work (no duplicated parent data)" \
  bash -c "! grep -q ' parent_work$' '$T/child_top.txt'"
check "fork: parent profile has parent_work" grep -q ' parent_work$' "$T/parent_top.txt"
check "fork: parent profile has no child_work" bash -c "! grep -q ' child_work$' '$T/parent_top.txt'"

# --- exit() from a thread ----------------------------------------------------
SPANPROF_OUTPUT="$T/exit" pre "$T/lifecycle" exit_thread || fail "exit_thread workload failed"
mapfile -t ef < <(interval_files "$T/exit")
check "exit() from a thread: last interval flushed (${#ef[@]} file)" [ ${#ef[@]} -eq 1 ]
share=$(cum_share thread_work "${ef[@]}")
check "exit() from a thread: thread_work is ${share}% (>= 90)" within 90 100 "$share"

# --- SIGTERM / SIGINT ----------------------------------------------------------
for sig in TERM INT; do
  SPANPROF_OUTPUT="$T/sig$sig" SPANPROF_UPLOAD_INTERVAL=60 \
    env --default-signal=INT SPANPROF_QUIET=1 LD_PRELOAD="$LIBSPANPROF" "$T/lifecycle" spin &
  pid=$!
  sleep 1.5
  kill -$sig $pid
  wait $pid
  rc=$?
  want=$((128 + $(kill -l $sig)))
  check "SIG$sig: exit status says killed by SIG$sig ($rc = $want)" [ $rc -eq $want ]
  mapfile -t sf < <(interval_files "$T/sig$sig")
  check "SIG$sig: the last interval was flushed (${#sf[@]} file)" [ ${#sf[@]} -eq 1 ]
  share=$(cum_share spin_forever "${sf[@]}")
  check "SIG$sig: spin_forever is ${share}% of it (>= 90)" within 90 100 "$share"
done

# An application handler for SIGTERM is the application's: it sees SIG_DFL
# before installing, its handler runs, and its own exit path flushes.
SPANPROF_OUTPUT="$T/own" SPANPROF_UPLOAD_INTERVAL=60 \
  env SPANPROF_QUIET=1 LD_PRELOAD="$LIBSPANPROF" "$T/lifecycle" own_term &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid
rc=$?
check "own SIGTERM handler: it ran and the program exited 0 ($rc)" [ $rc -eq 0 ]
mapfile -t of < <(interval_files "$T/own")
check "own SIGTERM handler: the last interval was flushed at exit (${#of[@]} file)" [ ${#of[@]} -eq 1 ]

# --- SIGKILL -----------------------------------------------------------------------
SPANPROF_OUTPUT="$T/kill" SPANPROF_UPLOAD_INTERVAL=1 \
  env SPANPROF_QUIET=1 LD_PRELOAD="$LIBSPANPROF" "$T/lifecycle" spin &
pid=$!
sleep 3.6
kill -KILL $pid
wait $pid 2>/dev/null
mapfile -t kf < <(interval_files "$T/kill")
check "SIGKILL: finished intervals are on disk (${#kf[@]} >= 2)" [ ${#kf[@]} -ge 2 ]
bad=0
for f in "${kf[@]}"; do
  go tool pprof -raw "$f" > "$T/raw.txt" 2>&1 || { echo "unreadable: $f"; bad=1; }
  grep -q spin_forever "$T/raw.txt" || { echo "no samples: $f"; bad=1; }
done
check "SIGKILL: every interval file is a complete profile" [ $bad -eq 0 ]

# --- 1,000 threads ------------------------------------------------------------------
# Each thread runs ~5 ms of CPU: 1 kHz so that each one reaches its period.
export SPANPROF_HZ=1000
SPANPROF_OUTPUT="$T/k" SPANPROF_DEBUG_COUNTS="$T/k.counts" pre "$T/lifecycle" threads 1000 \
  > "$T/k.log" 2>&1 || { cat "$T/k.log"; fail "1000 threads failed"; }
check "1000 threads: the workload finished" grep -q 'threads 1000 ok' "$T/k.log"
cat "$T/k.counts" | grep -v '^thread \|^leaf ' || true
nt=$(grep -c '^thread ' "$T/k.counts")
check "1000 threads: samples from many threads ($nt >= 200)" [ "$nt" -ge 200 ]
(ulimit -n 256
 SPANPROF_OUTPUT="$T/k256" SPANPROF_DEBUG_COUNTS="$T/k256.counts" SPANPROF_LOG=1 \
   env LD_PRELOAD="$LIBSPANPROF" "$T/lifecycle" threads 1000) > "$T/k256.log" 2>&1 ||
  { cat "$T/k256.log"; fail "1000 threads with ulimit -n 256 failed"; }
cat "$T/k256.log"
check "ulimit -n 256: the workload finished" grep -q 'threads 1000 ok' "$T/k256.log"
check "ulimit -n 256: switched to timers near the fd limit" grep -q 'switching to POSIX CPU timers' "$T/k256.log"
check "ulimit -n 256: both engines in the telemetry" grep -q '^engine perf_event cpu-clock+posix timer' "$T/k256.counts"

unset SPANPROF_HZ

# --- pthread_exit: entries released and reused ----------------------------------------
SPANPROF_OUTPUT="$T/pe" SPANPROF_DEBUG_COUNTS="$T/pe.counts" pre "$T/lifecycle" pthread_exit ||
  fail "pthread_exit workload failed"
n=$(grep -c '^thread ' "$T/pe.counts")
check "pthread_exit: three threads sampled ($n)" [ "$n" -ge 3 ]

# --- retention by age -------------------------------------------------------------------
mkdir -p "$T/ret"
touch -d '3 hours ago' "$T/ret/old-1-20200101T000000Z-0001.pb.gz" \
  "$T/ret/old-1-20200101T000000Z-0001.links.jsonl" "$T/ret/notes.txt"
SPANPROF_OUTPUT="$T/ret" SPANPROF_UPLOAD_INTERVAL=1 SPANPROF_RETENTION_HOURS=1 \
  pre "$T/cpu_split" 2.5 || fail "retention run failed"
check "retention: the 3-hour-old profile is gone" [ ! -e "$T/ret/old-1-20200101T000000Z-0001.pb.gz" ]
check "retention: its links file is gone" [ ! -e "$T/ret/old-1-20200101T000000Z-0001.links.jsonl" ]
check "retention: other files are kept" [ -e "$T/ret/notes.txt" ]
mapfile -t rf < <(interval_files "$T/ret")
check "retention: new profiles kept (${#rf[@]})" [ ${#rf[@]} -ge 2 ]

# --- ASan build: no leak, no error at exit ------------------------------------------------
ASAN_LIB=$ASAN_BUILD/libspanprof.so
libasan=$(cc -print-file-name=libasan.so)
if [ -f "$ASAN_LIB" ] && [ -f "$libasan" ]; then
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 SPANPROF_OUTPUT="$T/asan" \
    env LD_PRELOAD="$libasan $ASAN_LIB" "$T/cpu_split" 1.5 > "$T/asan.log" 2>&1
  rc=$?
  cat "$T/asan.log"
  check "ASan build: clean exit ($rc)" [ $rc -eq 0 ]
  check "ASan build: no sanitizer report" bash -c "! grep -q 'Sanitizer' '$T/asan.log'"
  mapfile -t af < <(interval_files "$T/asan")
  check "ASan build: profile written" [ ${#af[@]} -ge 1 ]
else
  echo "SKIP (part): ASan library not built"
fi
