#!/usr/bin/env bash
# What preloading maps into a process: the capture layer only. With or
# without a Pyroscope server configured, a preloaded `sleep` maps none of
# libcurl, OpenSSL, libdw, libelf, zlib, protobuf-c, libstdc++ or libunwind,
# and keeps its single thread: uploads, unwinding and symbolization happen in
# the consumer process. Read from /proc/PID/maps of a running `sleep`.
source "$(dirname "$0")/../lib.sh"
require_file "$LIBSPANPROF"

maps_of() { # env... -> the shared objects mapped by `sleep 3` after 1 s
  env "$@" LD_PRELOAD="$LIBSPANPROF" SPANPROF_OUTPUT="$T/out" SPANPROF_QUIET=1 sleep 3 &
  local pid=$!
  sleep 1
  awk '$NF ~ /\.so/ { print $NF }' "/proc/$pid/maps" | sort -u > "$T/maps"
  threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")
  wait $pid || fail "sleep under the profiler exited $?"
}

heavy='libcurl|libssl|libcrypto|libdw|libelf|libz\.|libprotobuf-c|libstdc\+\+|libunwind'
for conf in SPANPROF_HZ=100 "PYROSCOPE_SERVER_ADDRESS=http://127.0.0.1:9 SPANPROF_FLUSH_TIMEOUT_MS=500"; do
  # shellcheck disable=SC2086
  maps_of $conf
  grep -q libspanprof "$T/maps" || fail "libspanprof.so is not mapped: the check is broken"
  check "$conf: none of the consumer's libraries mapped ($(grep -Ec "$heavy" "$T/maps"))" \
    sh -c "! grep -Eq '$heavy' '$T/maps'"
  check "$conf: one thread ($threads)" [ "$threads" = 1 ]
done
needed=$(readelf -d "$LIBSPANPROF" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
check "libspanprof.so needs libc only: $needed" [ "$needed" = "libc.so.6 " ]
echo PASS
