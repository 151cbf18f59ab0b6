#!/usr/bin/env bash
# The wrapped exec family (preload_exec.c) behaves as libc's: same output,
# same exit code, errno on failure; and at 1 kHz, where a sample is often due
# inside execve (kernel time is counted), no exec'd image is killed by a
# queued sample signal.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
workload exec_forms
for m in l lp le v vp bad; do
  want=$("$T/exec_forms" "$m" 2>&1; echo "rc $?")
  for run in 1 2 3 4 5; do
    got=$(LD_PRELOAD=$LIBSPANPROF SPANPROF_HZ=1000 SPANPROF_OUTPUT="$T/out" "$T/exec_forms" "$m" 2>&1; echo "rc $?")
    [ "$got" = "$want" ] || fail "exec form $m, run $run: '$got' under the library, '$want' without"
  done
  echo "ok: exec form $m: output and exit code as without the library (5 runs at 1 kHz)"
done
