#!/usr/bin/env bash
# The application's signal semantics survive the preloaded profiler:
#  - siginterrupt(SIGALRM, 1) then signal(): read() fails with EINTR (glibc's
#    signal() restarts only signals not marked by siginterrupt);
#  - SIGTERM to a just-created thread whose handler calls exit(0): the
#    process exits (the registry lock is never held with signals unblocked),
#    200 runs, none hangs.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
build_workload host_signals -pthread
pre() { env SPANPROF_QUIET=1 SPANPROF_OUTPUT="$T/out" LD_PRELOAD="$LIBSPANPROF" "$@"; }

timeout 10 env SPANPROF_QUIET=1 SPANPROF_OUTPUT="$T/out" LD_PRELOAD="$LIBSPANPROF" \
  "$T/host_signals" siginterrupt > "$T/si.log" 2>&1
rc=$?
check "siginterrupt: read() returned EINTR (rc $rc: $(cat "$T/si.log"))" [ $rc -eq 0 ]

bad=0
for i in $(seq 200); do
  timeout 20 env SPANPROF_QUIET=1 SPANPROF_OUTPUT="$T/term" LD_PRELOAD="$LIBSPANPROF" \
    "$T/host_signals" term_thread || bad=$((bad + 1))
done
check "SIGTERM to a new thread, handler calls exit(0): $bad of 200 runs hung or failed" [ $bad -eq 0 ]
