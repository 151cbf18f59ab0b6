#!/usr/bin/env bash
# What a profiled process pays now that unwinding, symbolization and
# writing run in the consumer, side by side with gperftools and perf:
#  1. fixed cost per process: a bash loop of N `/bin/true` runs, CPU of
#     everything (the processes and the profiler's own: record's consumer,
#     perf record) minus the plain loop, per process;
#  2. fork() latency of a 2-thread process: FORK_ROUNDS (default 5) rounds of
#     FORKS (default 500) forks each, p50/p99/max per round, p99 and max
#     over all rounds, and the median of the rounds' maxima;
#  3. `make -j2` of a generated 40-file C project: added CPU, and the share of
#     the build's CPU that the profile holds.
# PARTS picks sections (procs fork make; default all).
# Runs are interleaved (plain, spanprof, reference, repeat) because this VM
# drifts by several percent from run to run.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SPANPROF=$BUILD/spanprof
LIB=$BUILD/libspanprof.so
. scripts/benchlib.sh
GPERF=$(gperf_lib)
T=$(mktemp -d /tmp/bench-consumer.XXXXXX)
trap 'rm -rf "$T"' EXIT
[ -x "$SPANPROF" ] && [ -f "$LIB" ] || { echo "build first (make)"; exit 1; }
[ -n "$GPERF" ] || { echo "libprofiler.so.0 missing (apt-get install libgoogle-perftools-dev)"; exit 1; }
command -v perf >/dev/null || { echo "perf missing (apt-get install linux-perf)"; exit 1; }

# CPU seconds (user+sys) of a command and all its descendants.
cpu_of() { # cmd...
  /usr/bin/time -f '%U %S' -o "$T/time" "$@" > /dev/null 2>&1
  awk '{ printf "%.3f", $1 + $2 }' "$T/time"
}

want() { case " ${PARTS:-all} " in *" all "* | *" $1 "*) return 0 ;; esac; return 1; }

if want procs; then
N=${BENCH_PROCS:-300}
loop="i=0; while [ \$i -lt $N ]; do /bin/true; i=\$((i+1)); done"
echo "1. fixed cost per process: bash loop of $N /bin/true (ms of CPU per process, added to plain)"
printf '%-34s %10s %10s %10s\n' run plain spanprof gperftools
for r in 1 2 3; do
  p=$(cpu_of bash -c "$loop")
  s=$(cpu_of "$SPANPROF" record -q -o "$T/rec" -- bash -c "$loop")
  g=$(cpu_of env LD_PRELOAD="$GPERF" CPUPROFILE="$T/gp.prof" bash -c "$loop")
  printf '%-34s %10s %10.2f %10.2f\n' "round $r (s total, plain)" "$p" \
    "$(awk -v a="$s" -v b="$p" -v n=$N 'BEGIN { print (a - b) * 1000 / n }')" \
    "$(awk -v a="$g" -v b="$p" -v n=$N 'BEGIN { print (a - b) * 1000 / n }')"
  rm -rf "$T/rec" "$T"/gp.prof*
done

echo
fi

if want fork; then
FORKS=${FORKS:-500}
FORK_ROUNDS=${FORK_ROUNDS:-5}
echo "2. fork() latency of a 2-thread process ($FORK_ROUNDS interleaved rounds of $FORKS forks, µs)"
cat > "$T/forklat.c" <<'EOF'
/* One thread spins, the main thread forks N times (the child _exits at
 * once) and prints each fork()'s latency in µs, one a line. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static volatile int stop;
static void *spin(void *a) { (void)a; while (!stop) { volatile double x = 0; for (int i = 0; i < 100000; i++) x += i; } return NULL; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300;
	double *lat = calloc(n, sizeof(*lat));
	pthread_t th;
	pthread_create(&th, NULL, spin, NULL);
	for (int i = 0; i < n; i++) {
		double t0 = now(); pid_t p = fork();
		if (p == 0) _exit(0);
		lat[i] = now() - t0; waitpid(p, NULL, 0); usleep(2000);
	}
	stop = 1; pthread_join(th, NULL);
	for (int i = 0; i < n; i++) printf("%.1f\n", lat[i]);
	return 0;
}
EOF
cc -O2 -pthread -o "$T/forklat" "$T/forklat.c" || exit 1
# "p50 p99 max" of the latencies in FILE...
lat_stats() { sort -g "$@" | awk '{ v[NR] = $1 } END { printf "%.0f %.0f %.0f\n", v[int(NR * .5) + 1], v[int(NR * .99) + 1], v[NR] }'; }
# The median of each file's maximum: one outlier (a VM pause) in one round
# does not make the figure.
max_median() { for f in "$@"; do sort -g "$f" | tail -1; done | median | xargs printf "%.0f\n"; }
printf '%-12s %22s %22s %22s\n' round "plain p50/p99/max" "spanprof p50/p99/max" "gperftools p50/p99/max"
for r in $(seq "$FORK_ROUNDS"); do
  "$T/forklat" "$FORKS" > "$T/fl.plain.$r"
  env LD_PRELOAD="$LIB" SPANPROF_OUTPUT="$T/fo" "$T/forklat" "$FORKS" > "$T/fl.spanprof.$r"
  env LD_PRELOAD="$GPERF" CPUPROFILE="$T/gf.prof" "$T/forklat" "$FORKS" > "$T/fl.gperf.$r" 2>/dev/null
  a=$(lat_stats "$T/fl.plain.$r") b=$(lat_stats "$T/fl.spanprof.$r") c=$(lat_stats "$T/fl.gperf.$r")
  printf '%-12s %22s %22s %22s\n' "round $r" "${a// //}" "${b// //}" "${c// //}"
  rm -rf "$T/fo" "$T"/gf.prof*
done
declare -A P99=() MAX=() MM=()
for k in plain spanprof gperf; do
  read -r _ P99[$k] MAX[$k] < <(lat_stats "$T"/fl.$k.*)
  MM[$k]=$(max_median "$T"/fl.$k.*)
done
printf '%-12s %22s %22s %22s\n' "all: p99" "${P99[plain]}" "${P99[spanprof]}" "${P99[gperf]}"
printf '%-12s %22s %22s %22s\n' "all: max" "${MAX[plain]}" "${MAX[spanprof]}" "${MAX[gperf]}"
printf '%-12s %22s %22s %22s\n' "median max" "${MM[plain]}" "${MM[spanprof]}" "${MM[gperf]}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
for k in spanprof gperf; do
  echo "$k / plain: p99 $(ratio "${P99[$k]}" "${P99[plain]}"), max $(ratio "${MAX[$k]}" "${MAX[plain]}")," \
    "median of the rounds' max $(ratio "${MM[$k]}" "${MM[plain]}")"
done
unset P99 MAX MM
fi

if want make; then
echo
echo "3. make -j2 of a generated 40-file C project (CPU s; profile share of the build's CPU)"
mkdir -p "$T/proj"
for i in $(seq 1 40); do
  {
    echo "#include <stdio.h>"
    for j in $(seq 1 60); do
      echo "static int f${i}_$j(int x) { int s = 0; for (int k = 0; k < x; k++) s += k * $j ^ (s >> 3); return s; }"
    done
    echo "int g$i(int x) { return 0"
    for j in $(seq 1 60); do echo " + f${i}_$j(x)"; done
    echo "; }"
  } > "$T/proj/f$i.c"
done
{ echo "int main(void) { return 0; }"; } > "$T/proj/main.c"
{
  echo "OBJS := \$(patsubst %.c,%.o,\$(wildcard *.c))"
  echo "all: app"
  echo "app: \$(OBJS)"; printf '\t$(CC) -o $@ $^\n'
  echo "%.o: %.c"; printf '\t$(CC) -O2 -c $< -o $@\n'
} > "$T/proj/Makefile"
build() { rm -f "$T"/proj/*.o "$T/proj/app"; }
printf '%-10s %8s %10s %8s %12s %8s\n' round plain spanprof share "perf record" share
for r in 1 2 3; do
  build; p=$(cpu_of make -s -j2 -C "$T/proj")
  build; s=$(cpu_of "$SPANPROF" record -q -F 100 -o "$T/mrec" -- make -s -j2 -C "$T/proj")
  sp=$(go tool pprof -sample_index=cpu -unit=s -top "$T"/mrec/*.pb.gz 2>/dev/null |
       sed -n 's/.*Total samples = \([0-9.]*\)s.*/\1/p')
  build; q=$(cpu_of perf record -q -F 100 --call-graph dwarf -o "$T/perf.data" -- make -s -j2 -C "$T/proj")
  # cpu-clock periods are nanoseconds: their sum is the CPU the profile holds.
  pp=$(perf script -i "$T/perf.data" -F period 2>/dev/null | awk '{ s += $1 } END { printf "%.3f", s / 1e9 }')
  printf '%-10s %8s %10s %7.0f%% %12s %7.0f%%\n' "round $r" "$p" "$s" \
    "$(awk -v a="${sp:-0}" -v b="$p" 'BEGIN { print (b > 0 ? a * 100 / b : 0) }')" "$q" \
    "$(awk -v a="${pp:-0}" -v b="$p" 'BEGIN { print (b > 0 ? a * 100 / b : 0) }')"
  rm -rf "$T/mrec" "$T/perf.data"
done
fi
