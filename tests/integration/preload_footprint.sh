#!/usr/bin/env bash
# What preloading maps into a process: without a Pyroscope server configured,
# neither libcurl nor OpenSSL (they are loaded only for uploads); with one
# configured (here an unreachable one), libcurl is loaded and the process
# still runs and exits 0. Read from /proc/PID/maps of a running `sleep`.
source "$(dirname "$0")/../lib.sh"
require_file "$LIBSPANPROF"

maps_of() { # env... -> the shared objects mapped by `sleep 3` after 1 s
  env "$@" LD_PRELOAD="$LIBSPANPROF" SPANPROF_OUTPUT="$T/out" SPANPROF_QUIET=1 sleep 3 &
  local pid=$!
  sleep 1
  awk '$NF ~ /\.so/ { print $NF }' "/proc/$pid/maps" | sort -u > "$T/maps"
  wait $pid || fail "sleep under the profiler exited $?"
}

maps_of SPANPROF_HZ=100
grep -q libspanprof "$T/maps" || fail "libspanprof.so is not mapped: the check is broken"
check "no Pyroscope server: libcurl not mapped" sh -c "! grep -q libcurl '$T/maps'"
check "no Pyroscope server: no OpenSSL mapped" sh -c "! grep -Eq 'libssl|libcrypto' '$T/maps'"
maps_of PYROSCOPE_SERVER_ADDRESS=http://127.0.0.1:9 SPANPROF_FLUSH_TIMEOUT_MS=500
check "Pyroscope server configured: libcurl loaded" grep -q libcurl "$T/maps"
