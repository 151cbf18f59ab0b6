#!/usr/bin/env bash
# Safety under stress at 1,000 Hz: dlopen/dlclose in a loop, heavy malloc,
# fork children that fork again (and exit() through our destructor), the
# program's own SIGPROF/setitimer handler, nanosleep and pipe read/write with
# EINTR checks. 20 s with the normal library (no deadlock, no crash, the
# program's own checks pass, profiles readable, forked children write their
# own files), then 10 s with the ASan/UBSan build of the library
# (LD_PRELOAD=libasan + $ASAN_BUILD/libspanprof.so).
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

workload stress libhot.so

run_stress() { # name seconds preload
  local name=$1 secs=$2 preload=$3 rc
  mkdir -p "$T/$name"
  # A deadlock shows as the timeout (exit 124). Only the workload is
  # preloaded (env execs it), not timeout: libasan + libp11-kit (pulled in
  # by libcurl) hang coreutils at exit, with or without spanprof.
  SPANPROF_HZ=1000 SPANPROF_UPLOAD_INTERVAL=3 SPANPROF_OUTPUT="$T/$name" \
    timeout -k 5 $((secs + 40)) env LD_PRELOAD="$preload" "$T/stress" "$secs" "$T/libhot.so" \
    > "$T/$name.log" 2>&1
  rc=$?
  cat "$T/$name.log"
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$name: stress timed out (deadlock?)"
  check "$name: stress exited 0 with its own checks passing (exit $rc)" [ $rc -eq 0 ]
  check "$name: no sanitizer report" bash -c "! grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' '$T/$name.log'"
  check "$name: no flush timeout" bash -c "! grep -q 'did not finish' '$T/$name.log'"
  mapfile -t files < <(interval_files "$T/$name")
  check "$name: interval profiles written (${#files[@]})" [ ${#files[@]} -ge 2 ]
  local pids bad=0
  pids=$(printf '%s\n' "${files[@]}" | sed -E 's|.*/stress-([0-9]+)-.*|\1|' | sort -u | wc -l)
  if [ "${SPANPROF_FOLLOW_FORK:-1}" = 1 ]; then
    check "$name: forked children wrote their own files ($pids pids)" [ "$pids" -ge 2 ]
  else
    check "$name: with SPANPROF_FOLLOW_FORK=0 only the parent wrote files" [ "$pids" -eq 1 ]
  fi
  for f in "${files[@]}"; do
    go tool pprof -raw "$f" > /dev/null 2>&1 || { echo "unreadable: $f"; bad=1; }
  done
  check "$name: every interval file is readable by go tool pprof" [ $bad -eq 0 ]
  local main_pid n
  main_pid=$(printf '%s\n' "${files[@]}" | sed -E 's|.*/stress-([0-9]+)-.*|\1|' | sort -n | head -1)
  n=$(sample_count $(printf '%s\n' "${files[@]}" | grep "/stress-$main_pid-"))
  check "$name: the main process has samples ($n)" [ "$n" -ge 100 ]
}

run_stress normal 20 "$LIBSPANPROF"

# The same with allocation sampling on, at a rate that samples every few
# allocations (the hooks' slow path, the live table and its frees all the
# time): no deadlock, crash or failed check, memory profiles readable.
SPANPROF_HEAP=1 SPANPROF_HEAP_RATE=4096 run_stress heap 15 "$LIBSPANPROF"
mapfile -t heap_files < <(find "$T/heap" -name '*.heap.pb.gz')
check "heap: memory profiles written (${#heap_files[@]})" [ ${#heap_files[@]} -ge 2 ]
bad=0
for f in "${heap_files[@]}"; do
  go tool pprof -sample_index=alloc_space -raw "$f" > /dev/null 2>&1 || { echo "unreadable: $f"; bad=1; }
done
check "heap: every memory profile is readable by go tool pprof" [ $bad -eq 0 ]

ASAN_LIB=$ASAN_BUILD/libspanprof.so
require_file "$ASAN_LIB"
libasan=$(cc -print-file-name=libasan.so)
require_file "$libasan"
# The workload itself is not instrumented; leaks at exit of the forked
# children are glibc's and the workload's, so leak checking is off here
# (capture_lifecycle checks the library's own leaks at exit).
# GCC 12's libasan does not make its allocator fork-safe: a child that
# allocates can block forever on a size-class lock another parent thread
# held at fork (seen: our child's worker in asan_calloc). So under ASan the
# children are not profiled (SPANPROF_FOLLOW_FORK=0) and the workload's
# children do not allocate; the normal run above covers profiled children.
SPANPROF_FOLLOW_FORK=0 \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_stress asan 10 "$libasan $ASAN_LIB"
