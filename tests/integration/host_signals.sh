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

# --- Go net/http (dynamically linked): Go runs handlers only on its own
# sigaltstack (SA_ONSTACK); without it: "fatal error: unexpected return pc".
require_cmd go
(cd "$ROOT/tests/go/nethttp" && go build -o "$T/nethttp" main.go) || fail "cannot build the Go net/http program"
file "$T/nethttp" | grep -q 'dynamically linked' || fail "the Go program is not dynamically linked"
"$T/nethttp" > "$T/go_ref.txt" || fail "the Go program fails without the profiler"
for hz in 100 1000; do
  bad=0
  for i in $(seq 10); do
    timeout 120 "$SPANPROF" record -q -F $hz -o "$T/go$hz-$i" -- "$T/nethttp" > "$T/go.txt" 2> "$T/go.err"
    rc=$?
    if [ $rc -ne 0 ] || ! cmp -s "$T/go.txt" "$T/go_ref.txt"; then
      bad=$((bad + 1)); grep -m1 'fatal error' "$T/go.err"
    fi
  done
  check "Go net/http at $hz Hz: $bad of 10 runs crashed or changed output" [ $bad -eq 0 ]
done
