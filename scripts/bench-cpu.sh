#!/usr/bin/env bash
# Whole-process CPU profiling overhead, spanprof vs gperftools' libprofiler.so
# vs no profiler, measured side by side (interleaved runs, median of REPS):
#  1. the known-split workload (tests/workloads/cpu_split.c, -O2
#     -fomit-frame-pointer), fixed work: ratio of process CPU time (user +
#     sys, profiler threads included) to "none";
#  2. redis-server under redis-benchmark on loopback (SET/GET, 50 clients):
#     ratio of requests/s to "none", and the server's RSS after the run;
# at 100 Hz and 1,000 Hz. Then the sampled thread's cost per sample (the
# signal handler, timed inside it with SPANPROF_DEBUG_COUNTS), median/p99.
#   BUILD=build scripts/bench-cpu.sh [REPS]          (default 3)
# ROUNDS (default 2500, ~5 s of CPU) sets the split workload's length;
# ROUNDS_LONG / ROUNDS_SHORT the steady-state and fixed-cost runs (below).
# Needs: google-perftools (libprofiler.so), redis-server, redis-tools.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
REPS=${1:-3}
LIB=$BUILD/libspanprof.so
GPERF=$(ls /usr/lib/x86_64-linux-gnu/libprofiler.so.0 /usr/lib/x86_64-linux-gnu/libprofiler.so \
        2>/dev/null | head -1)
[ -f "$LIB" ] || make -s BUILD="$BUILD" all
[ -n "$GPERF" ] || { echo "bench-cpu: libprofiler.so missing (apt-get install libgoogle-perftools-dev)"; exit 1; }
T=$(mktemp -d /tmp/bench-cpu.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cc -O2 -g -fomit-frame-pointer -o "$T/cpu_split" tests/workloads/cpu_split.c -ldl || exit 1

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# env for a profiler at HZ: none | spanprof | gperf
prof_env() { # prof hz outdir
  case $1 in
    none) echo "" ;;
    spanprof) echo "LD_PRELOAD=$LIB SPANPROF_HZ=$2 SPANPROF_OUTPUT=$3 SPANPROF_QUIET=1" ;;
    gperf) echo "LD_PRELOAD=$GPERF CPUPROFILE=$3/gperf.prof CPUPROFILE_FREQUENCY=$2" ;;
  esac
}

ROUNDS=${ROUNDS:-2500}
# CPU time (user + sys) of the whole process, the profiler's own threads
# included: steadier than wall time on a shared machine.
split_run() { # prof hz -> CPU seconds
  local out=$T/o.$1.$2.$RANDOM
  mkdir -p "$out"
  ( TIMEFORMAT='%U %S'
    { time env $(prof_env "$1" "$2" "$out") "$T/cpu_split" "${ROUNDS}x" 2>/dev/null; } 2>&1 ) |
    awk '{ printf "%.4f\n", $1 + $2 }'
}

PORT=${PORT:-6399}
redis_run() { # prof hz -> "rps rss_kib"
  local out=$T/r.$1.$2.$RANDOM pid rps rss
  mkdir -p "$out"
  env $(prof_env "$1" "$2" "$out") redis-server --port "$PORT" --save '' --appendonly no \
    --daemonize no --logfile /dev/null > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do redis-cli -p "$PORT" ping > /dev/null 2>&1 && break; sleep 0.1; done
  rps=$(redis-benchmark -p "$PORT" -q -n "${REQS:-200000}" -c 50 -t set,get --csv 2>/dev/null |
        awk -F, 'NR > 1 { gsub(/"/, "", $2); s += $2; n++ } END { if (n) printf "%.0f", s / n }')
  rss=$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status 2>/dev/null)
  redis-cli -p "$PORT" shutdown nosave > /dev/null 2>&1
  wait $pid 2>/dev/null
  echo "${rps:-0} ${rss:-0}"
}

echo "bench-cpu: $(nproc) CPUs, $REPS interleaved runs each, median; ratios vs no profiler"
echo "(gperftools: libprofiler.so with CPUPROFILE_FREQUENCY; spanprof: LD_PRELOAD libspanprof.so)"
echo
printf '%-34s %10s %10s %10s %14s %14s\n' "workload @ rate" none spanprof gperftools \
  "spanprof/none" "gperf/none"
for hz in 100 1000; do
  declare -A w=()
  for _ in $(seq "$REPS"); do
    for p in none spanprof gperf; do w[$p]+="$(split_run $p $hz) "; done
  done
  n=$(printf '%s\n' ${w[none]} | median) s=$(printf '%s\n' ${w[spanprof]} | median)
  g=$(printf '%s\n' ${w[gperf]} | median)
  printf '%-34s %9.3fs %9.3fs %9.3fs %14.4f %14.4f\n' "known split (CPU s) @ $hz Hz" "$n" "$s" "$g" \
    "$(awk -v a="$s" -v b="$n" 'BEGIN { print a / b }')" "$(awk -v a="$g" -v b="$n" 'BEGIN { print a / b }')"
  unset w
done

# Steady state vs fixed cost at 100 Hz: a long run (ROUNDS_LONG, default
# 5 x ROUNDS, ~25 s of CPU) and a very short one (ROUNDS_SHORT, default 50,
# ~0.1 s). The per-process fixed cost (loading libdw/libcurl, the first
# symbolization, the exit flush) is short(profiler) - short(none); the
# steady-state ratio is the marginal one, (long - short) / (long - short) of
# "none", i.e. the fixed cost taken out. ROUNDS_LONG=0 skips this part.
ROUNDS_LONG=${ROUNDS_LONG:-$((ROUNDS * 5))}
ROUNDS_SHORT=${ROUNDS_SHORT:-50}
if [ "$ROUNDS_LONG" -gt 0 ]; then
  declare -A L=() S=() LM=() SM=()
  for _ in $(seq "$REPS"); do
    for p in none spanprof gperf; do
      L[$p]+="$(ROUNDS=$ROUNDS_LONG split_run $p 100) "
      S[$p]+="$(ROUNDS=$ROUNDS_SHORT split_run $p 100) $(ROUNDS=$ROUNDS_SHORT split_run $p 100) "
    done
  done
  for p in none spanprof gperf; do
    LM[$p]=$(printf '%s\n' ${L[$p]} | median) SM[$p]=$(printf '%s\n' ${S[$p]} | median)
  done
  printf '%-34s %9.3fs %9.3fs %9.3fs %14.4f %14.4f\n' "known split ${ROUNDS_LONG}x @ 100 Hz" \
    "${LM[none]}" "${LM[spanprof]}" "${LM[gperf]}" \
    "$(awk -v a="${LM[spanprof]}" -v b="${LM[none]}" 'BEGIN { print a / b }')" \
    "$(awk -v a="${LM[gperf]}" -v b="${LM[none]}" 'BEGIN { print a / b }')"
  printf '%-34s %8.1fms %8.1fms %8.1fms %12.1fms %12.1fms\n' "known split ${ROUNDS_SHORT}x @ 100 Hz" \
    "$(awk -v a="${SM[none]}" 'BEGIN { print a * 1000 }')" \
    "$(awk -v a="${SM[spanprof]}" 'BEGIN { print a * 1000 }')" \
    "$(awk -v a="${SM[gperf]}" 'BEGIN { print a * 1000 }')" \
    "$(awk -v a="${SM[spanprof]}" -v b="${SM[none]}" 'BEGIN { print (a - b) * 1000 }')" \
    "$(awk -v a="${SM[gperf]}" -v b="${SM[none]}" 'BEGIN { print (a - b) * 1000 }')"
  printf '%-34s %10s %10s %10s %14.4f %14.4f\n' "steady state (fixed cost out)" "" "" "" \
    "$(awk -v a="${LM[spanprof]}" -v b="${SM[spanprof]}" -v c="${LM[none]}" -v d="${SM[none]}" \
       'BEGIN { print (a - b) / (c - d) }')" \
    "$(awk -v a="${LM[gperf]}" -v b="${SM[gperf]}" -v c="${LM[none]}" -v d="${SM[none]}" \
       'BEGIN { print (a - b) / (c - d) }')"
  unset L S LM SM
  echo "(short-run columns: per-process CPU; last two = fixed cost per process vs none)"
fi

if command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null; then
  for hz in 100 1000; do
    declare -A r=() m=()
    for _ in $(seq "$REPS"); do
      for p in none spanprof gperf; do
        read -r rps rss < <(redis_run $p $hz)
        r[$p]+="$rps " m[$p]+="$rss "
      done
    done
    n=$(printf '%s\n' ${r[none]} | median) s=$(printf '%s\n' ${r[spanprof]} | median)
    g=$(printf '%s\n' ${r[gperf]} | median)
    printf '%-34s %10.0f %10.0f %10.0f %14.4f %14.4f\n' "redis SET/GET req/s @ $hz Hz" "$n" "$s" "$g" \
      "$(awk -v a="$s" -v b="$n" 'BEGIN { print a / b }')" "$(awk -v a="$g" -v b="$n" 'BEGIN { print a / b }')"
    n=$(printf '%s\n' ${m[none]} | median) s=$(printf '%s\n' ${m[spanprof]} | median)
    g=$(printf '%s\n' ${m[gperf]} | median)
    printf '%-34s %9.0fK %9.0fK %9.0fK %13.0fK %13.0fK\n' "redis RSS after run @ $hz Hz" "$n" "$s" "$g" \
      "$(awk -v a="$s" -v b="$n" 'BEGIN { print a - b }')" "$(awk -v a="$g" -v b="$n" 'BEGIN { print a - b }')"
    unset r m
  done
else
  echo "(redis-server / redis-benchmark not installed: scripts/install-deps.sh bench)"
fi

echo
echo "handler cost per sample (sampled thread, timed inside the handler), ns:"
printf '%-34s %8s %8s %10s %12s\n' "workload @ rate" p50 p99 samples "stack bytes"
for hz in 100 1000; do
  env LD_PRELOAD="$LIB" SPANPROF_HZ=$hz SPANPROF_OUTPUT="$T/h" SPANPROF_QUIET=1 \
    SPANPROF_DEBUG_COUNTS="$T/h.counts" "$T/cpu_split" "${ROUNDS}x"
  awk -v l="known split @ $hz Hz" '/^handler_ns_p50/ { a = $2 } /^handler_ns_p99/ { b = $2 }
    /^samples/ { n = $2 } /^stack_bytes_avg/ { s = $2 }
    END { printf "%-34s %8s %8s %10s %12s\n", l, a, b, n, s }' "$T/h.counts"
done
echo
echo "samples delivered per CPU-second at the requested rate (known split):"
printf '%-34s %10s %10s\n' "rate" spanprof gperftools
for hz in 100 1000; do
  env LD_PRELOAD="$LIB" SPANPROF_HZ=$hz SPANPROF_OUTPUT="$T/h" SPANPROF_QUIET=1 \
    SPANPROF_DEBUG_COUNTS="$T/s.counts" "$T/cpu_split" "${ROUNDS}x"
  sp=$(awk '/^samples/ { print $2 }' "$T/s.counts")
  gp=$(env LD_PRELOAD="$GPERF" CPUPROFILE="$T/g.prof" CPUPROFILE_FREQUENCY=$hz \
       "$T/cpu_split" "${ROUNDS}x" 2>&1 | sed -n 's|.*interrupts/evictions/bytes = \([0-9]*\)/.*|\1|p')
  cpu=$(printf '%s\n' $(split_run none 0) | median)
  printf '%-34s %10.0f %10.0f\n' "$hz Hz" "$(awk -v n="$sp" -v c="$cpu" 'BEGIN { print n / c }')" \
    "$(awk -v n="${gp:-0}" -v c="$cpu" 'BEGIN { print n / c }')"
done
echo "(gperftools' ITIMER_PROF is driven by the scheduler tick; worker cost per"
echo " sample: scripts/bench-unwind.sh)"
