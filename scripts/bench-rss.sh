#!/usr/bin/env bash
# Profiler memory, spanprof vs gperftools' libprofiler.so vs no profiler.
# spanprof's rings live in a memfd that the host and its consumer (another
# process) both map, so the host's figures count shared pages: Rss (all of
# them) and Pss (shared pages split among the mappers), from
# /proc/PID/smaps_rollup.
#  threads  what the profiled process gains: tests/workloads/service_threads.c
#           with N busy threads (MEM_THREADS, default 1 16 64) at each rate
#           of MEM_RATES (default 100 1000), read after MEM_SECONDS (default
#           8) of running; the arena's own Rss beside it, and the consumer's.
#  soak     redis-server under a redis-benchmark loop for SOAK_SECONDS
#           (default 300) at HZ (default 100) with no profiler, with spanprof
#           (LD_PRELOAD: the detached consumer) and with gperftools, the three
#           at the same time on different ports, so they see the same load:
#           each server's RSS over time, the consumer's RSS, and the shares.
#   BUILD=build PARTS="threads soak" SOAK_SECONDS=300 HZ=100 scripts/bench-rss.sh
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
. scripts/benchlib.sh
LIB=$BUILD/libspanprof.so
GPERF=$(gperf_lib)
[ -f "$LIB" ] || make -s BUILD="$BUILD" all
[ -n "$GPERF" ] || { echo "bench-rss: libprofiler.so missing (apt-get install libgoogle-perftools-dev)"; exit 1; }
T=$(mktemp -d /tmp/bench-rss.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
want() { case " ${PARTS:-all} " in *" all "* | *" $1 "*) return 0 ;; esac; return 1; }

if want threads; then
cc -O2 -g -fomit-frame-pointer -pthread -o "$T/service_threads" tests/workloads/service_threads.c || exit 1
MEM_THREADS=${MEM_THREADS:-1 16 64}
MEM_RATES=${MEM_RATES:-100 1000}
MEM_SECONDS=${MEM_SECONDS:-8}
# -> "rss pss arena_rss consumer_rss consumer_pss" (KiB) of one run
mem_run() { # none|spanprof|gperf threads hz
  local out=$T/m.$1.$2.$3 host cons= r pre=()
  mkdir -p "$out"
  case $1 in
    spanprof) pre=(LD_PRELOAD="$LIB" SPANPROF_HZ="$3" SPANPROF_OUTPUT="$out" SPANPROF_QUIET=1) ;;
    gperf) pre=(LD_PRELOAD="$GPERF" CPUPROFILE="$out/g.prof" CPUPROFILE_FREQUENCY="$3") ;;
  esac
  # Runs longer than needed, and is ended once read: this shell may get
  # little CPU beside N busy threads.
  env "${pre[@]}" "$T/service_threads" "$2" $((MEM_SECONDS + 30)) > "$out/pid" 2>/dev/null &
  for _ in $(seq 50); do [ -s "$out/pid" ] && break; sleep 0.1; done
  host=$(cat "$out/pid")
  [ "$1" = spanprof ] && cons=$(consumer_of "$host")
  sleep "$MEM_SECONDS"
  r="$(rollup_kb "$host" Rss) $(rollup_kb "$host" Pss) $(arena_kb "$host")"
  if [ -n "$cons" ]; then r+=" $(rollup_kb "$cons" Rss) $(rollup_kb "$cons" Pss)"; else r+=" 0 0"; fi
  kill -TERM "$host"; wait
  echo "$r"
}
echo "memory added to the profiled process: service_threads N busy threads, after ${MEM_SECONDS} s (KiB)"
printf '%-22s %9s %9s %11s %11s %9s %12s %12s\n' "threads @ rate" "none Rss" "none Pss" \
  "+spanprof" "+spanprof" "(arena" "consumer" "+gperftools" 
printf '%-22s %9s %9s %11s %11s %9s %12s %12s\n' "" "" "" Rss Pss "Rss)" "Rss / Pss" "Rss"
for n in $MEM_THREADS; do
  read -r nr np _ < <(mem_run none "$n" 0)
  for hz in $MEM_RATES; do
    read -r sr spss sa cr cp < <(mem_run spanprof "$n" "$hz")
    read -r gr _ < <(mem_run gperf "$n" "$hz")
    printf '%-22s %9s %9s %+11d %+11d %9s %12s %+12d\n' "$n @ $hz Hz" "$nr" "$np" \
      $((sr - nr)) $((spss - np)) "$sa" "$cr / $cp" $((gr - nr))
  done
done
echo "(+X: the profiled process's figure minus the same run's with no profiler; arena: the"
echo " rings' memfd pages resident so far, shared with the consumer and counted in Rss)"
fi

if want soak; then
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
  { echo "bench-rss: needs redis-server and redis-tools (scripts/install-deps.sh bench)"; exit 1; }
SOAK=${SOAK_SECONDS:-300}
HZ=${HZ:-100}
start() { # name port preload-env...
  local name=$1 port=$2; shift 2
  env "$@" redis-server --port "$port" --save '' --appendonly no --daemonize no \
    >"$T/$name.log" 2>&1 &
  echo $! >"$T/$name.pid"
}
start none 7301
start spanprof 7302 LD_PRELOAD="$LIB" SPANPROF_HZ="$HZ" SPANPROF_OUTPUT="$T/sp" SPANPROF_QUIET=1
start gperftools 7303 LD_PRELOAD="$GPERF" CPUPROFILE="$T/g.prof" CPUPROFILE_FREQUENCY="$HZ"
sleep 1
names=(none spanprof gperftools)
port_of() { case $1 in none) echo 7301 ;; spanprof) echo 7302 ;; gperftools) echo 7303 ;; esac; }
pid_of() { cat "$T/$1.pid"; }
CONS=$(consumer_of "$(pid_of spanprof)")
[ -n "$CONS" ] || echo "bench-rss: no consumer found for the spanprof server"

echo
echo "redis-server under redis-benchmark for ${SOAK} s at ${HZ} Hz, all three at once (KiB)"
t0=$SECONDS end=$((SECONDS + SOAK)) loops=()
for n in "${names[@]}"; do
  ( while [ $SECONDS -lt $end ]; do
      redis-benchmark -p "$(port_of "$n")" -q -n 100000 -c 20 -t set,get,lpush,lpop -r 100000 \
        >/dev/null 2>&1
    done ) &
  loops+=($!)
done
printf '%-8s %12s %14s %16s %16s\n' "t (s)" "none Rss" "spanprof Rss" "consumer Rss" "gperftools Rss"
next=0
while [ $SECONDS -lt $end ]; do
  if [ $SECONDS -ge $next ]; then
    printf '%-8s %12s %14s %16s %16s\n' $((SECONDS - t0)) "$(rollup_kb "$(pid_of none)" Rss)" \
      "$(rollup_kb "$(pid_of spanprof)" Rss)" "$(rollup_kb "$CONS" Rss)" \
      "$(rollup_kb "$(pid_of gperftools)" Rss)"
    next=$((SECONDS + SOAK / 10))
  fi
  sleep 1
done
wait "${loops[@]}" 2>/dev/null
declare -A R=() P=()
for n in "${names[@]}"; do R[$n]=$(rollup_kb "$(pid_of "$n")" Rss) P[$n]=$(rollup_kb "$(pid_of "$n")" Pss); done
cr=$(rollup_kb "$CONS" Rss) cp=$(rollup_kb "$CONS" Pss)
echo
printf '%-34s %10s %10s %16s %16s\n' "after ${SOAK} s" Rss Pss "Rss - none" "Pss - none"
for n in "${names[@]}"; do
  printf '%-34s %10s %10s %16s %16s\n' "redis-server, $n" "${R[$n]}" "${P[$n]}" \
    $((R[$n] - R[none])) $((P[$n] - P[none]))
done
printf '%-34s %10s %10s\n' "spanprof consumer" "$cr" "$cp"
printf '%-34s %10s %10s %16s %16s\n' "spanprof, host + consumer" "" "" "" \
  $((P[spanprof] - P[none] + cp))
echo "(the arena's pages count in both processes' Rss and are split in Pss: host + consumer"
echo " Pss is spanprof's whole footprint; gperftools' is its Rss - none, all in-process;"
echo " interval files written: $(ls "$T/sp" 2>/dev/null | wc -l), arena resident in the host:"
echo " $(arena_kb "$(pid_of spanprof)") KiB)"
for n in "${names[@]}"; do redis-cli -p "$(port_of "$n")" shutdown nosave >/dev/null 2>&1; done
fi
