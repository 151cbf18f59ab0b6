#!/usr/bin/env bash
# A preloaded shell that forks (command substitutions, subshells) while a
# Pyroscope server is configured: every fork child restarts the profiler,
# exporter included, from a fork handler. That handler must not wait on a
# lock the fork left held (it did: every child hung at its first fork).
# The shell's output, exit code and upload must be those of a plain run.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"
require_file "$LIBSPANPROF"

build_receiver
start_receiver "$T/r"
SCRIPT='s=0; for i in $(seq 1 40); do x=$(echo $i); (s=$((s + x))); s=$((s + x)); done
        i=0; while [ $i -lt 200000 ]; do i=$((i + 1)); done; echo "sum $s"'
plain=$(bash -c "$SCRIPT")
for run in 1 2 3; do
  out=$(LD_PRELOAD=$LIBSPANPROF SPANPROF_OUTPUT="$T/out$run" SPANPROF_UPLOAD_INTERVAL=1 \
        PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" timeout 60 bash -c "$SCRIPT" 2>"$T/err$run")
  rc=$?
  [ "$rc" -ne 124 ] || fail "run $run: the forking shell hung (timeout)"
  check "run $run: exit code 0 and the plain run's output ($out)" \
    test "$rc:$out" = "0:$plain"
done
stop_receiver
n=$(index "$T/r" 'len(idx)')
check "profiles reached the server ($n)" [ "${n:-0}" -ge 1 ]
