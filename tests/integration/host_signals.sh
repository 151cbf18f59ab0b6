#!/usr/bin/env bash
# The application's signal semantics survive the preloaded profiler:
#  - siginterrupt(SIGALRM, 1) then signal(): read() fails with EINTR (glibc's
#    signal() restarts only signals not marked by siginterrupt);
#  - SIGTERM to a just-created thread whose handler calls exit(0): the
#    process exits (the registry lock is never held with signals unblocked),
#    200 runs, none hangs;
#  - a thread with ~3,000 bytes of stack left (less than one AVX-512 signal
#    frame) survives 1 kHz sampling: the handler runs on an alternate stack
#    the library gives each registered thread that has none;
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
workload host_signals
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

"$T/host_signals" tight_stack > /dev/null || fail "tight_stack fails without the profiler"
bad=0
for i in $(seq 5); do
  timeout 60 env SPANPROF_HZ=1000 SPANPROF_QUIET=1 SPANPROF_OUTPUT="$T/tight" \
    LD_PRELOAD="$LIBSPANPROF" "$T/host_signals" tight_stack > /dev/null || bad=$((bad + 1))
done
check "nearly full thread stack under 1 kHz sampling: $bad of 5 runs crashed" [ $bad -eq 0 ]

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

# Go code has no .eh_frame: a stack that reaches a goroutine's or thread's
# first frame (runtime.goexit, runtime.mstart...) is complete, not
# "[truncated]". Go exits with a raw exit_group (no destructor), so the
# profile comes from 1 s intervals written while it runs.
SPANPROF_UPLOAD_INTERVAL=1 timeout 300 "$SPANPROF" record -q -F 1000 -o "$T/gotr" -- \
  "$T/nethttp" 30000 > /dev/null 2> "$T/gotr.err" || { cat "$T/gotr.err"; fail "Go run for stacks failed"; }
mapfile -t gf < <(interval_files "$T/gotr")
check "Go: interval files written (${#gf[@]})" [ ${#gf[@]} -ge 1 ]
go tool pprof -traces "${gf[@]}" 2>/dev/null > "$T/gotraces.txt"
roots=$(awk '/^-----/{if (prev != "") print prev; prev=""; next} NF{prev=$NF}' "$T/gotraces.txt")
n_goexit=$(grep -c '^runtime\.goexit' <<< "$roots")
n_trunc=$(grep -c '^\[truncated\]' <<< "$roots")
n_all=$(wc -l <<< "$roots")
check "Go: traces ending at runtime.goexit ($n_goexit of $n_all)" [ "$n_goexit" -ge 1 ]
check "Go: truncated traces ($n_trunc of $n_all) are fewer than a quarter" [ $((n_trunc * 4)) -lt "$n_all" ]
bad=$(awk '/^-----/{if (p2 ~ /^runtime\.(goexit|mstart|main|mcall)(\.abi0)?$/ && p1 == "[truncated]") n++; p1=p2=""; next} NF{p2=p1; p1=$NF} END{print n+0}' "$T/gotraces.txt")
check "Go: no trace reaching a Go stack root is marked [truncated] ($bad)" [ "$bad" -eq 0 ]
