#!/usr/bin/env bash
# Profiler memory on a long-running service: redis-server under
# redis-benchmark for SOAK_SECONDS (default 300) with no profiler, with
# spanprof and with gperftools' libprofiler.so, side by side (the three run
# at the same time on different ports, so they see the same load). Prints
# each server's RSS over time and the profiler's share (RSS - none).
#   BUILD=build SOAK_SECONDS=300 HZ=100 scripts/bench-rss.sh
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SOAK=${SOAK_SECONDS:-300}
HZ=${HZ:-100}
LIB=$BUILD/libspanprof.so
GPERF=$(ls /usr/lib/x86_64-linux-gnu/libprofiler.so.0 2>/dev/null | head -1)
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
  { echo "bench-rss: needs redis-server and redis-tools (scripts/install-deps.sh bench)"; exit 1; }
[ -f "$LIB" ] || make -s BUILD="$BUILD" all
T=$(mktemp -d /tmp/bench-rss.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

start() { # name port preload-env...
  local name=$1 port=$2; shift 2
  env "$@" redis-server --port "$port" --save '' --appendonly no --daemonize no \
    >"$T/$name.log" 2>&1 &
  echo $! >"$T/$name.pid"
}
start none 7301
start spanprof 7302 LD_PRELOAD="$LIB" SPANPROF_HZ="$HZ" SPANPROF_OUTPUT="$T/sp" SPANPROF_QUIET=1
[ -n "$GPERF" ] && start gperftools 7303 LD_PRELOAD="$GPERF" CPUPROFILE="$T/g.prof" CPUPROFILE_FREQUENCY="$HZ"
sleep 1
names=(none spanprof); [ -n "$GPERF" ] && names+=(gperftools)
port_of() { case $1 in none) echo 7301 ;; spanprof) echo 7302 ;; gperftools) echo 7303 ;; esac; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$(cat "$T/$1.pid")/status" 2>/dev/null || echo 0; }

end=$((SECONDS + SOAK))
for n in "${names[@]}"; do
  ( while [ $SECONDS -lt $end ]; do
      redis-benchmark -p "$(port_of "$n")" -q -n 100000 -c 20 -t set,get,lpush,lpop -r 100000 \
        >/dev/null 2>&1
    done ) &
done
printf '%-8s' "t (s)"; for n in "${names[@]}"; do printf ' %14s' "$n RSS"; done; echo
next=0
while [ $SECONDS -lt $end ]; do
  if [ $SECONDS -ge $next ]; then
    printf '%-8s' "$SECONDS"; for n in "${names[@]}"; do printf ' %12s K' "$(rss "$n")"; done; echo
    next=$((SECONDS + SOAK / 10))
  fi
  sleep 1
done
wait_for=$(jobs -p); sleep 1
base=$(rss none)
echo
printf '%-12s %12s %14s\n' "after ${SOAK}s" "RSS" "profiler share"
for n in "${names[@]}"; do
  r=$(rss "$n")
  printf '%-12s %10s K %12s K\n' "$n" "$r" "$((r - base))"
done
echo "(target: spanprof's share <= 32 MiB = 32768 K; interval files: $(ls "$T/sp" 2>/dev/null | wc -l))"
