#!/usr/bin/env bash
# Allocation profiling (record --heap), side by side with heaptrack:
#  1. an allocation-heavy 4-thread program (tests/workloads/alloc_bench churn:
#     small blocks of 16-1024 B, 1 in 256 of 4-64 KiB, each written once):
#     CPU of everything (the program and the profiler's own processes) with
#     no profiler, `spanprof record --heap` at the default rate, and
#     `heaptrack`; added CPU as a share of the plain run, and heaptrack's
#     added CPU as a multiple of spanprof's;
#  2. the cost the hooks add to an unsampled malloc(32)+free pair, measured
#     inside the process (ns per pair), with sampling on (default rate) and
#     with the library preloaded but not started;
#  3. RSS added to the host by 1,000,000 live 64-byte blocks, with and
#     without allocation sampling (the host's live table is a fixed 1 MiB of
#     address space plus 8 KiB, resident only where sampled blocks land).
# Runs are interleaved (plain, spanprof, reference, repeat) because this VM
# drifts by several percent from run to run; medians are reported.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SPANPROF=$BUILD/spanprof
LIB=$BUILD/libspanprof.so
W=$PWD/$BUILD/tests/workloads/alloc_bench
REPS=${BENCH_REPS:-5}
ITERS=${BENCH_ITERS:-4000000}
T=$(mktemp -d /tmp/bench-heap.XXXXXX)
trap 'rm -rf "$T"' EXIT
[ -x "$SPANPROF" ] && [ -f "$LIB" ] && [ -x "$W" ] || { echo "build first (make all unit-tests)"; exit 1; }
command -v heaptrack >/dev/null || { echo "heaptrack missing (apt-get install heaptrack)"; exit 1; }

cpu_of() { # cmd...: CPU seconds (user+sys) of it and its waited-for descendants
  /usr/bin/time -f '%U %S' -o "$T/time" "$@" > /dev/null 2>&1
  awk '{ printf "%.3f", $1 + $2 }' "$T/time"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "1. alloc_bench churn, 4 threads x $ITERS iterations: CPU seconds (all processes)"
printf '%-8s %10s %14s %12s\n' round plain "record --heap" heaptrack
: > "$T/p"; : > "$T/s"; : > "$T/h"
for r in $(seq "$REPS"); do
  p=$(cpu_of "$W" churn 4 "$ITERS")
  s=$(cpu_of "$SPANPROF" record --heap -q -o "$T/rec" -- "$W" churn 4 "$ITERS")
  h=$(cd "$T" && cpu_of heaptrack -o "$T/ht" "$W" churn 4 "$ITERS")
  printf '%-8s %10s %14s %12s\n' "$r" "$p" "$s" "$h"
  echo "$p" >> "$T/p"; echo "$s" >> "$T/s"; echo "$h" >> "$T/h"
  rm -rf "$T/rec" "$T"/ht*
done
samples=$("$SPANPROF" record --heap -o "$T/rec" -- "$W" churn 4 "$ITERS" 2>&1 |
  sed -n 's/.*heap: \([0-9]*\) allocation samples.*/\1/p')
rm -rf "$T/rec"
P=$(median < "$T/p") S=$(median < "$T/s") H=$(median < "$T/h")
awk -v p="$P" -v s="$S" -v h="$H" -v n="${samples:-0}" 'BEGIN {
  printf "median: plain %.3f s, record --heap %.3f s (+%.1f%%), heaptrack %.3f s (+%.1f%%)\n",
         p, s, 100 * (s - p) / p, h, 100 * (h - p) / p
  if (s > p) printf "heaptrack added CPU / spanprof added CPU = %.1f\n", (h - p) / (s - p)
  if (n > 0 && s > p) printf "%d allocation samples: %.1f us of added CPU per sample, all in\n", n, 1e6 * (s - p) / n
}'

echo
echo "2. malloc(32)+free pair, 20,000,000 in one process (ns per pair, medians of $REPS)"
: > "$T/a"; : > "$T/b"; : > "$T/c"
for r in $(seq "$REPS"); do
  "$W" pair >> "$T/a"
  "$SPANPROF" record --heap --no-cpu -q -o "$T/rec" -- "$W" pair >> "$T/b"
  LD_PRELOAD=$PWD/$LIB SPANPROF_AUTOSTART=0 "$W" pair >> "$T/c"
  rm -rf "$T/rec"
done
A=$(median < "$T/a") B=$(median < "$T/b") C=$(median < "$T/c")
awk -v a="$A" -v b="$B" -v c="$C" 'BEGIN {
  printf "plain %.2f ns, heap sampling on %.2f ns (+%.2f ns), hooks present, profiler off %.2f ns (+%.2f ns)\n",
         a, b, b - a, c, c - a }'

echo
echo "3. RSS added by 1,000,000 live 64-byte blocks (KiB, medians of $REPS)"
: > "$T/a"; : > "$T/b"
for r in $(seq "$REPS"); do
  "$W" live >> "$T/a"
  "$SPANPROF" record --heap --no-cpu -q -o "$T/rec" -- "$W" live >> "$T/b"
  rm -rf "$T/rec"
done
A=$(median < "$T/a") B=$(median < "$T/b")
awk -v a="$A" -v b="$B" 'BEGIN { printf "plain %d KiB, record --heap %d KiB (+%d KiB, %.1f%%)\n", a, b, b - a, 100 * (b - a) / a }'
