#!/usr/bin/env bash
# CPU profiling overhead, spanprof vs gperftools' libprofiler.so vs no
# profiler, measured side by side (interleaved runs, median of REPS), at
# 100 Hz and 1,000 Hz:
#  split    the known-split workload (tests/workloads/cpu_split.c, -O2
#           -fomit-frame-pointer), fixed work, under `spanprof record` (whose
#           process is the consumer, so its CPU is counted): ratio of all CPU
#           time (user + sys) to "none";
#  redis    redis-server under redis-benchmark on loopback (SET/GET, 50
#           clients): requests/s, and server CPU per request (the detached
#           consumer's CPU added for spanprof);
#  floor    what the sampled thread pays per sample, on/off chunks in one
#           process (tests/workloads/signal_floor.c), kernel-only paths too;
#  steady   the consumer's CPU against the profiled threads' over a window of
#           a running service (tests/workloads/service_threads.c), for the
#           detached `spanprof consumer` (LD_PRELOAD) and `spanprof record`;
#           with floor, the all-in steady state next to gperftools';
#  handler  the signal handler timed inside it (SPANPROF_DEBUG_COUNTS).
#   BUILD=build scripts/bench-cpu.sh [REPS]          (default 3)
# PARTS picks sections (default all); ROUNDS (default 2500, ~5 s of CPU) sets
# the split workload's length; FLOOR_* and STEADY_* below.
# Needs: google-perftools (libprofiler.so), redis-server, redis-tools.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
REPS=${1:-3}
LIB=$BUILD/libspanprof.so
. scripts/benchlib.sh
GPERF=$(gperf_lib)
[ -f "$LIB" ] || make -s BUILD="$BUILD" all
[ -n "$GPERF" ] || { echo "bench-cpu: libprofiler.so missing (apt-get install libgoogle-perftools-dev)"; exit 1; }
T=$(mktemp -d /tmp/bench-cpu.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cc -O2 -g -fomit-frame-pointer -o "$T/cpu_split" tests/workloads/cpu_split.c -ldl || exit 1
cc -O2 -g -fomit-frame-pointer -o "$T/signal_floor" tests/workloads/signal_floor.c -ldl || exit 1
cc -O2 -g -fomit-frame-pointer -pthread -o "$T/service_threads" tests/workloads/service_threads.c || exit 1

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

# PARTS (default all): any of split redis floor steady handler.
want() { case " ${PARTS:-all} " in *" all "* | *" $1 "*) return 0 ;; esac; return 1; }

PORT=${PORT:-6399}
# Server CPU (all its threads, and for spanprof the detached consumer's)
# over the benchmark, per request: steadier than req/s when the client
# shares the machine's two CPUs with the server.
redis_run() { # prof hz -> "rps cpu_us_per_req"
  local out=$T/r.$1.$2.$RANDOM pid cons= rps c0 c1 n=${REQS:-200000}
  mkdir -p "$out"
  env $(prof_env "$1" "$2" "$out") redis-server --port "$PORT" --save '' --appendonly no \
    --daemonize no --logfile /dev/null > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do redis-cli -p "$PORT" ping > /dev/null 2>&1 && break; sleep 0.1; done
  [ "$1" = spanprof ] && cons=$(consumer_of $pid)
  c0=$(cpu_ns $pid); [ -n "$cons" ] && c0=$((c0 + $(cpu_ns $cons)))
  rps=$(redis-benchmark -p "$PORT" -q -n "$n" -c 50 -t set,get --csv 2>/dev/null |
        awk -F, 'NR > 1 { gsub(/"/, "", $2); s += $2; n++ } END { if (n) printf "%.0f", s / n }')
  c1=$(cpu_ns $pid); [ -n "$cons" ] && c1=$((c1 + $(cpu_ns $cons)))
  redis-cli -p "$PORT" shutdown nosave > /dev/null 2>&1
  wait $pid 2>/dev/null
  echo "${rps:-0} $(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.3f", (b - a) / 1e3 / (2 * n) }')"
}

echo "bench-cpu: $(nproc) CPUs, $REPS interleaved runs each, median; ratios vs no profiler"
echo "(gperftools: libprofiler.so with CPUPROFILE_FREQUENCY; spanprof: its consumer's CPU included"
echo " wherever a row says so: split runs under spanprof record, redis adds the detached consumer)"
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

if want redis; then
if command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null; then
  for hz in 100 1000; do
    declare -A r=() u=()
    for _ in $(seq "$REPS"); do
      for p in none spanprof gperf; do
        read -r rps cpu < <(redis_run $p $hz)
        r[$p]+="$rps " u[$p]+="$cpu "
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
    unset r u
  done
else
  echo "(redis-server / redis-benchmark not installed: scripts/install-deps.sh bench)"
fi
fi

declare -A SP_U=() SP_P=() GP_U=() GP_P=() GP_R=()
if want floor; then
# What the sampled thread pays per sample, measured so that this VM's
# drifting speed cancels out (tests/workloads/signal_floor.c): in one process
# the same ~50 ms spinning chunk is timed with the thread's CPU clock
# alternately with sampling on and off, FLOOR_PAIRS (default 40) times; cost
# per sample = (on - off) / samples. At each of FLOOR_RATES (default 100
# 1000): the kernel's paths alone (a cpu-clock perf event writing to a
# ring; the same event signalling an empty handler, spanprof's path;
# ITIMER_PROF into an empty handler, gperftools'), spanprof
# (spanprof_start/stop around each "on" chunk; its consumer is another
# process, see steady) and gperftools (ProfilerStart/Stop).
FLOOR_RATES=${FLOOR_RATES:-100 1000}
FLOOR_PAIRS=${FLOOR_PAIRS:-40}
floor_run() { # mode hz -> "thread_us_per_sample samples_per_s"
  local out=$T/f.$1.$RANDOM
  mkdir -p "$out"
  case $1 in
    spanprof)
      env SPANPROF_HZ="$2" SPANPROF_OUTPUT="$out" SPANPROF_QUIET=1 \
        "$T/signal_floor" "$FLOOR_PAIRS" spanprof "$2" "$LIB" 2>/dev/null ;;
    gperf)
      env CPUPROFILE_FREQUENCY="$2" "$T/signal_floor" "$FLOOR_PAIRS" gperf "$2" "$GPERF" 2>/dev/null ;;
    *) "$T/signal_floor" "$FLOOR_PAIRS" "$1" "$2" ;;
  esac | awk '/^on_ms/ { if ($6 > 0) printf "%.3f %.0f\n", ($2 - $4) * 1000 / $6, $6 * 1000 / $2 }'
}
med() { printf '%s\n' $1 | grep -v nan | median; }
echo
echo "cost per delivered sample, sampled thread (spinning chunks on vs off, $FLOOR_PAIRS pairs):"
printf '%-50s %10s %14s %16s\n' "sampling path @ rate" samples/s "µs per sample" "% of the thread"
for hz in $FLOOR_RATES; do
  modes="perf-ring perf-signal itimer spanprof gperf"
  declare -A FU=() FR=()
  for _ in $(seq "$REPS"); do
    for m in $modes; do
      read -r a b < <(floor_run "$m" "$hz")
      FU[$m]+="${a:-nan} " FR[$m]+="${b:-0} "
    done
  done
  for m in $modes; do
    case $m in
      perf-ring) label="kernel only: perf cpu-clock event, no signal" ;;
      perf-signal) label="kernel only: + RT signal, empty handler" ;;
      itimer) label="kernel only: ITIMER_PROF, empty handler" ;;
      spanprof) label="spanprof, in the sampled thread" ;;
      gperf) label="gperftools libprofiler.so (all in-thread)" ;;
    esac
    u=$(med "${FU[$m]}") r=$(med "${FR[$m]}")
    p=$(awk -v u="$u" -v r="$r" 'BEGIN { print u * r / 1e4 }')
    printf '%-50s %10.0f %14.2f %15.3f%%\n' "$label @ $hz Hz" "$r" "$u" "$p"
    [ "$m" = spanprof ] && SP_U[$hz]=$u SP_P[$hz]=$p
    [ "$m" = gperf ] && GP_U[$hz]=$u GP_P[$hz]=$p GP_R[$hz]=$r
  done
  unset FU FR
done
echo "(medians of $REPS runs; the kernel-only rows are what any profiler on that path pays"
echo " before its own code runs; gperftools' ITIMER_PROF is driven by the scheduler tick)"
fi

if want steady; then
# The consumer's CPU against the profiled threads', in steady state: a
# 1-thread service_threads runs, and over a window of STEADY_SECONDS
# (default 8) starting STEADY_WARM (default 2 intervals) in, past the first
# interval's one-off costs (libraries, first symbolization), both processes'
# CPU is read from their threads' schedstat. Intervals are STEADY_INTERVAL
# (default 2 s) long, 5x the default flush rate: the figure errs high. The
# consumer is the detached `spanprof consumer` for LD_PRELOAD, the record
# process itself for `spanprof record`. Samples in the window = the threads'
# CPU x rate (cpu-clock). With floor, the all-in rows add the sampled
# thread's share measured there.
STEADY_RATES=${STEADY_RATES:-100 1000}
STEADY_SECONDS=${STEADY_SECONDS:-8}
STEADY_INTERVAL=${STEADY_INTERVAL:-2}
STEADY_WARM=${STEADY_WARM:-$((2 * STEADY_INTERVAL))}
steady_run() { # preload|record hz -> "consumer_%_of_threads consumer_us_per_sample"
  # The service runs longer than needed and is ended once read.
  local out=$T/s.$1.$2.$RANDOM host cons h0 c0 h1 c1 secs=$((STEADY_WARM + STEADY_SECONDS + 30))
  mkdir -p "$out"
  if [ "$1" = preload ]; then
    env LD_PRELOAD="$LIB" SPANPROF_HZ="$2" SPANPROF_OUTPUT="$out" SPANPROF_QUIET=1 \
      SPANPROF_UPLOAD_INTERVAL="$STEADY_INTERVAL" "$T/service_threads" 1 $secs > "$out/pid" &
  else
    env SPANPROF_UPLOAD_INTERVAL="$STEADY_INTERVAL" "$BUILD/spanprof" record -q -F "$2" -o "$out" -- \
      "$T/service_threads" 1 $secs > "$out/pid" 2>/dev/null &
    cons=$!
  fi
  for _ in $(seq 50); do [ -s "$out/pid" ] && break; sleep 0.1; done
  host=$(cat "$out/pid")
  [ "$1" = preload ] && cons=$(consumer_of "$host")
  sleep "$STEADY_WARM"
  h0=$(cpu_ns "$host") c0=$(cpu_ns "$cons")
  sleep "$STEADY_SECONDS"
  h1=$(cpu_ns "$host") c1=$(cpu_ns "$cons")
  kill -TERM "$host"; wait
  awk -v h=$((h1 - h0)) -v c=$((c1 - c0)) -v hz="$2" \
    'BEGIN { if (h > 0) printf "%.4f %.3f\n", c * 100 / h, c / 1e3 / (h / 1e9 * hz) }'
}
echo
echo "steady state: consumer CPU over ${STEADY_SECONDS} s of a running 1-thread service (intervals ${STEADY_INTERVAL} s):"
printf '%-50s %16s %14s\n' "process @ rate" "% of the threads" "µs per sample"
for hz in $STEADY_RATES; do
  declare -A CP=() CU=()
  for _ in $(seq "$REPS"); do
    for k in preload record; do
      read -r a b < <(steady_run $k "$hz")
      CP[$k]+="${a:-nan} " CU[$k]+="${b:-nan} "
    done
  done
  for k in preload record; do
    p=$(med "${CP[$k]}") u=$(med "${CU[$k]}")
    case $k in
      preload) label="spanprof consumer (LD_PRELOAD, detached)" ;;
      record) label="spanprof record (the consumer)" ;;
    esac
    printf '%-50s %15.3f%% %14.2f\n' "$label @ $hz Hz" "$p" "$u"
    if [ -n "${SP_U[$hz]:-}" ]; then
      printf '%-50s %15.3f%% %14.2f\n' "  all-in: + the sampled thread (floor)" \
        "$(awk -v a="$p" -v b="${SP_P[$hz]}" 'BEGIN { print a + b }')" \
        "$(awk -v a="$u" -v b="${SP_U[$hz]}" 'BEGIN { print a + b }')"
    fi
  done
  if [ -n "${GP_U[$hz]:-}" ]; then
    printf '%-50s %15.3f%% %14.2f  (%.0f samples/s)\n' "gperftools, all in-thread (floor) @ $hz Hz" \
      "${GP_P[$hz]}" "${GP_U[$hz]}" "${GP_R[$hz]}"
  fi
  unset CP CU
done
echo "(medians of $REPS runs; % of the threads = consumer CPU / the profiled threads' CPU)"
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
echo "(gperftools' ITIMER_PROF is driven by the scheduler tick; the consumer's cost per"
echo " sample: steady above; unwinding alone: scripts/bench-unwind.sh)"
fi
