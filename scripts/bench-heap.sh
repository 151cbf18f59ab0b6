#!/usr/bin/env bash
# Allocation profiling (record --heap), side by side with heaptrack:
#  1. an allocation-heavy 4-thread program (tests/workloads/alloc_bench churn:
#     small blocks of 16-1024 B, 1 in 256 of 4-64 KiB, each written once;
#     about 70 ns of work per malloc+free, half of it in the allocator) and a
#     real one (perl building and dropping hashes of strings: Debian's perl
#     allocates through malloc), and git's multi-threaded repack. CPU of everything (the program and the
#     profiler's own processes) with no profiler; with the library preloaded
#     and off (what interposing malloc costs by itself); `record --heap
#     --no-cpu`; `record --heap` (CPU profile too, the default); and
#     `heaptrack`. Added CPU as a share of the plain run, and heaptrack's
#     added CPU as a multiple of spanprof's;
#  2. the cost the hooks add to an unsampled malloc(32)+free pair, measured
#     inside the process (ns per pair), with sampling on (default rate) and
#     with the library preloaded but not started;
#  3. RSS added to the host by 1,000,000 live 64-byte blocks, with and
#     without allocation sampling (the host's live table is a fixed 1 MiB of
#     address space plus 8 KiB, resident only where sampled blocks land).
# PARTS picks sections (churn perl git pair live; default all).
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
PERL_N=${BENCH_PERL_N:-300000}
T=$(mktemp -d /tmp/bench-heap.XXXXXX)
trap 'rm -rf "$T"' EXIT
[ -x "$SPANPROF" ] && [ -f "$LIB" ] && [ -x "$W" ] || { echo "build first (make all unit-tests)"; exit 1; }
command -v heaptrack >/dev/null || { echo "heaptrack missing (apt-get install heaptrack)"; exit 1; }
. scripts/benchlib.sh

cpu_of() { # cmd...: CPU seconds (user+sys) of it and its waited-for descendants
  /usr/bin/time -f '%U %S' -o "$T/time" "$@" > /dev/null 2>&1
  awk '{ printf "%.3f", $1 + $2 }' "$T/time"
}

# Perl: rounds of a hash of PERL_N strings of 8-400 bytes, built and dropped.
cat > "$T/alloc.pl" <<'PERL'
my $n = shift;
for my $round (1 .. 6) {
    my %h;
    $h{"key$_"} = "v" x (8 + ($_ * 7919) % 393) for 1 .. $n;
    my $sum = 0;
    $sum += length($h{"key$_"}) for 1 .. $n;
    print "$sum\n" if $round == 6;
}
PERL

# One program, every way of running it, REPS interleaved rounds; a table of
# the rounds and one line of medians. name then the command.
compare() { # name cmd...
  local name=$1; shift
  local k
  for k in plain off nocpu heap ht; do : > "$T/$k"; done
  printf '%-6s %8s %12s %16s %14s %10s\n' round plain "hooks, off" "--heap --no-cpu" "record --heap" heaptrack
  for r in $(seq "$REPS"); do
    local p o n s h
    p=$(cpu_of "$@")
    o=$(LD_PRELOAD=$PWD/$LIB SPANPROF_AUTOSTART=0 cpu_of "$@")
    n=$(cpu_of "$SPANPROF" record --heap --no-cpu -q -o "$T/rec" -- "$@"); rm -rf "$T/rec"
    s=$(cpu_of "$SPANPROF" record --heap -q -o "$T/rec" -- "$@"); rm -rf "$T/rec"
    h=$(cd "$T" && cpu_of heaptrack -o "$T/ht" "$@"); rm -rf "$T"/ht*
    printf '%-6s %8s %12s %16s %14s %10s\n' "$r" "$p" "$o" "$n" "$s" "$h"
    echo "$p" >> "$T/plain"; echo "$o" >> "$T/off"; echo "$n" >> "$T/nocpu"
    echo "$s" >> "$T/heap"; echo "$h" >> "$T/ht"
  done
  local samples
  samples=$("$SPANPROF" record --heap -o "$T/rec" -- "$@" 2>&1 >/dev/null |
    sed -n 's/.*heap: \([0-9]*\) allocation samples.*/\1/p')
  rm -rf "$T/rec"
  awk -v name="$name" -v p="$(median < "$T/plain")" -v o="$(median < "$T/off")" \
      -v n="$(median < "$T/nocpu")" -v s="$(median < "$T/heap")" -v h="$(median < "$T/ht")" \
      -v k="${samples:-0}" 'BEGIN {
    printf "%s medians: plain %.3f s; hooks, off %.3f s (%+.1f%%); --heap --no-cpu %.3f s (%+.1f%%); record --heap %.3f s (%+.1f%%); heaptrack %.3f s (%+.1f%%)\n",
           name, p, o, 100 * (o - p) / p, n, 100 * (n - p) / p, s, 100 * (s - p) / p, h, 100 * (h - p) / p
    if (s > p) printf "%s: heaptrack added CPU / spanprof (record --heap) added CPU = %.1f\n", name, (h - p) / (s - p)
    if (k > 0 && n > o) printf "%s: %d allocation samples; sampling (--heap --no-cpu minus hooks off) %.1f us per sample, all in\n", name, k, 1e6 * (n - o) / k
  }'
}

want() { case " ${PARTS:-all} " in *" all "* | *" $1 "*) return 0 ;; esac; return 1; }

if want churn; then
echo "1a. alloc_bench churn, 4 threads x $ITERS iterations: CPU seconds (all processes)"
compare churn "$W" churn 4 "$ITERS"
echo
fi
if want perl; then
echo "1b. perl, 6 rounds of a hash of $PERL_N strings: CPU seconds (all processes)"
compare perl perl "$T/alloc.pl" "$PERL_N"
echo
fi
if want git; then
# A multi-threaded real program: git's delta search over this repository's
# objects (two threads, hundreds of MiB allocated through malloc).
git clone -q --bare "$PWD" "$T/repo.git" || { echo "bench-heap: cannot clone the repository"; exit 1; }
echo "1c. git repack -adf --threads=2 --window=250 of this repository: CPU seconds (all processes)"
compare git git -C "$T/repo.git" repack -adfq --threads=2 --window=250 --depth=50
echo
fi

if want pair; then
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
fi

if want live; then
echo "3. RSS added by 1,000,000 live 64-byte blocks (KiB, medians of $REPS)"
: > "$T/a"; : > "$T/b"
for r in $(seq "$REPS"); do
  "$W" live >> "$T/a"
  "$SPANPROF" record --heap --no-cpu -q -o "$T/rec" -- "$W" live >> "$T/b"
  rm -rf "$T/rec"
done
A=$(median < "$T/a") B=$(median < "$T/b")
awk -v a="$A" -v b="$B" 'BEGIN { printf "plain %d KiB, record --heap %d KiB (+%d KiB, %.1f%%)\n", a, b, b - a, 100 * (b - a) / a }'
fi
