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
# PARTS picks sections (split steady redis floor handler; default all);
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
cc -O2 -g -fomit-frame-pointer -o "$T/signal_floor" tests/workloads/signal_floor.c -ldl || exit 1

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
# spanprof runs under `spanprof record`, whose process is the consumer, so
# its unwinding, symbolization and writing are counted too (a consumer that
# the library starts is not a child, and `time` would miss it).
split_run() { # prof hz -> CPU seconds
  local out=$T/o.$1.$2.$RANDOM
  mkdir -p "$out"
  if [ "$1" = spanprof ]; then
    ( TIMEFORMAT='%U %S'
      { time "$BUILD/spanprof" record -q -F "$2" -o "$out" -- "$T/cpu_split" "${ROUNDS}x" \
          > /dev/null 2>&1; } 2>&1 ) | awk '{ printf "%.4f\n", $1 + $2 }'
    return
  fi
  ( TIMEFORMAT='%U %S'
    { time env $(prof_env "$1" "$2" "$out") "$T/cpu_split" "${ROUNDS}x" 2>/dev/null; } 2>&1 ) |
    awk '{ printf "%.4f\n", $1 + $2 }'
}

# PARTS (default all): any of split steady redis floor handler.
want() { case " ${PARTS:-all} " in *" all "* | *" $1 "*) return 0 ;; esac; return 1; }

PORT=${PORT:-6399}
# Server CPU (utime + stime, all its threads, profiler included) over the
# benchmark, per request: steadier than req/s when the client shares the
# machine's two CPUs with the server.
proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
redis_run() { # prof hz -> "rps rss_kib cpu_us_per_req"
  local out=$T/r.$1.$2.$RANDOM pid rps rss c0 c1 n=${REQS:-200000}
  mkdir -p "$out"
  env $(prof_env "$1" "$2" "$out") redis-server --port "$PORT" --save '' --appendonly no \
    --daemonize no --logfile /dev/null > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do redis-cli -p "$PORT" ping > /dev/null 2>&1 && break; sleep 0.1; done
  c0=$(proc_cpu_ticks $pid)
  rps=$(redis-benchmark -p "$PORT" -q -n "$n" -c 50 -t set,get --csv 2>/dev/null |
        awk -F, 'NR > 1 { gsub(/"/, "", $2); s += $2; n++ } END { if (n) printf "%.0f", s / n }')
  c1=$(proc_cpu_ticks $pid)
  rss=$(awk '/^VmRSS/ { print $2 }' /proc/$pid/status 2>/dev/null)
  redis-cli -p "$PORT" shutdown nosave > /dev/null 2>&1
  wait $pid 2>/dev/null
  echo "${rps:-0} ${rss:-0} $(awk -v a="$c0" -v b="$c1" -v n="$n" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.3f", (b - a) * 1e6 / hz / (2 * n) }')"
}

echo "bench-cpu: $(nproc) CPUs, $REPS interleaved runs each, median; ratios vs no profiler"
echo "(gperftools: libprofiler.so with CPUPROFILE_FREQUENCY; spanprof: spanprof record, the consumer's CPU included)"
echo
if want split; then
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
fi

if want steady; then
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
fi

if want redis; then
if command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null; then
  for hz in 100 1000; do
    declare -A r=() m=() u=()
    for _ in $(seq "$REPS"); do
      for p in none spanprof gperf; do
        read -r rps rss cpu < <(redis_run $p $hz)
        r[$p]+="$rps " m[$p]+="$rss " u[$p]+="$cpu "
      done
    done
    n=$(printf '%s\n' ${r[none]} | median) s=$(printf '%s\n' ${r[spanprof]} | median)
    g=$(printf '%s\n' ${r[gperf]} | median)
    printf '%-34s %10.0f %10.0f %10.0f %14.4f %14.4f\n' "redis SET/GET req/s @ $hz Hz" "$n" "$s" "$g" \
      "$(awk -v a="$s" -v b="$n" 'BEGIN { print a / b }')" "$(awk -v a="$g" -v b="$n" 'BEGIN { print a / b }')"
    n=$(printf '%s\n' ${u[none]} | median) s=$(printf '%s\n' ${u[spanprof]} | median)
    g=$(printf '%s\n' ${u[gperf]} | median)
    printf '%-34s %8.2fµs %8.2fµs %8.2fµs %14.4f %14.4f\n' "redis server CPU/request @ $hz Hz" \
      "$n" "$s" "$g" "$(awk -v a="$s" -v b="$n" 'BEGIN { print a / b }')" \
      "$(awk -v a="$g" -v b="$n" 'BEGIN { print a / b }')"
    n=$(printf '%s\n' ${m[none]} | median) s=$(printf '%s\n' ${m[spanprof]} | median)
    g=$(printf '%s\n' ${m[gperf]} | median)
    printf '%-34s %9.0fK %9.0fK %9.0fK %13.0fK %13.0fK\n' "redis RSS after run @ $hz Hz" "$n" "$s" "$g" \
      "$(awk -v a="$s" -v b="$n" 'BEGIN { print a - b }')" "$(awk -v a="$g" -v b="$n" 'BEGIN { print a - b }')"
    unset r m u
  done
else
  echo "(redis-server / redis-benchmark not installed: scripts/install-deps.sh bench)"
fi
fi

if want floor; then
# Where a sample's cost goes, at FLOOR_HZ (default 1000), measured so that
# this VM's drifting speed cancels out (tests/workloads/signal_floor.c): in
# one process the same ~50 ms spinning chunk is timed with the thread's CPU
# clock alternately with sampling on and off, FLOOR_PAIRS (default 40)
# times; cost per sample = (on - off) / samples. Paths: the kernel's alone
# (a cpu-clock perf event writing to a ring; the same event signalling an
# empty handler; ITIMER_PROF into an empty handler), then spanprof
# (spanprof_start/stop around each "on" chunk) and gperftools
# (ProfilerStart/Stop). spanprof's worker runs on its own thread: its CPU
# per sample is read from its schedstat over 2 x FLOOR_PAIRS chunks of one
# long run, past the first interval, with 2 s intervals (so 5x the default
# number of interval flushes is in it).
FLOOR_HZ=${FLOOR_HZ:-1000}
FLOOR_PAIRS=${FLOOR_PAIRS:-40}
floor_run() { # mode -> "thread_us_per_sample samples_per_s" (or worker: "us_per_sample")
  local out=$T/f.$1.$RANDOM
  mkdir -p "$out"
  case $1 in
    spanprof | spanprof-worker)
      env SPANPROF_HZ="$FLOOR_HZ" SPANPROF_OUTPUT="$out" SPANPROF_QUIET=1 SPANPROF_UPLOAD_INTERVAL=2 \
        "$T/signal_floor" "$FLOOR_PAIRS" "$1" "$FLOOR_HZ" "$LIB" 2>/dev/null ;;
    gperf)
      env CPUPROFILE_FREQUENCY="$FLOOR_HZ" "$T/signal_floor" "$FLOOR_PAIRS" gperf "$FLOOR_HZ" \
        "$GPERF" 2>/dev/null ;;
    *) "$T/signal_floor" "$FLOOR_PAIRS" "$1" "$FLOOR_HZ" ;;
  esac | awk '/^worker_ms/ { if ($6 > 0) printf "%.3f\n", $2 * 1000 / $6; next }
    /^on_ms/ { if ($6 > 0) printf "%.3f %.0f\n", ($2 - $4) * 1000 / $6, $6 * 1000 / $2 }'
}
FLOOR_MODES="perf-ring perf-signal itimer spanprof gperf spanprof-worker"
declare -A FU=() FR=()
for _ in $(seq "$REPS"); do
  for m in $FLOOR_MODES; do
    read -r a b < <(floor_run "$m")
    FU[$m]+="${a:-nan} " FR[$m]+="${b:-0} "
  done
done
med() { printf '%s\n' $1 | grep -v nan | median; }
echo
echo "cost per delivered sample at $FLOOR_HZ Hz, sampled thread (spinning chunks on vs off):"
printf '%-46s %10s %14s %16s\n' "sampling path" samples/s "µs per sample" "% of the thread"
for m in perf-ring perf-signal itimer spanprof gperf; do
  case $m in
    perf-ring) label="kernel only: perf cpu-clock event, no signal" ;;
    perf-signal) label="kernel only: + RT signal, empty handler" ;;
    itimer) label="kernel only: ITIMER_PROF, empty handler" ;;
    spanprof) label="spanprof, in the sampled thread" ;;
    gperf) label="gperftools libprofiler.so (all in-thread)" ;;
  esac
  u=$(med "${FU[$m]}") r=$(med "${FR[$m]}")
  printf '%-46s %10.0f %14.2f %15.2f%%\n' "$label" "$r" "$u" "$(awk -v u="$u" -v r="$r" 'BEGIN { print u * r / 1e4 }')"
  [ "$m" = spanprof ] && sp_u=$u sp_r=$r
  [ "$m" = gperf ] && gp_u=$u gp_r=$r
done
w=$(med "${FU[spanprof-worker]}")
printf '%-46s %10.0f %14.2f %15.2f%%\n' "spanprof worker thread (unwind, aggregate, flush)" "$sp_r" "$w" \
  "$(awk -v u="$w" -v r="$sp_r" 'BEGIN { print u * r / 1e4 }')"
printf '%-46s %10.0f %14.2f %15.2f%%\n' "spanprof, all threads" "$sp_r" \
  "$(awk -v a="$sp_u" -v b="$w" 'BEGIN { print a + b }')" \
  "$(awk -v a="$sp_u" -v b="$w" -v r="$sp_r" 'BEGIN { print (a + b) * r / 1e4 }')"
echo "(medians of $REPS runs; the kernel-only rows are what any profiler on that path pays"
echo " before its own code runs; gperftools' ITIMER_PROF is driven by the scheduler tick)"
unset FU FR
fi

if want handler; then
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
fi
