#!/usr/bin/env bash
# Worker cost per CPU sample: remote unwind of a copied ~30-frame stack
# (sp_unwind) and unwind + intern (sp_aggregator_add), warm cache, median and
# p99, side by side with libunwind's local unw_backtrace on the same stack.
#   BUILD=build scripts/bench-unwind.sh [ITERATIONS]     (default 20000)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -f "$BUILD/libspanprof_core.a" ] || make -s BUILD="$BUILD" all
T=$(mktemp -d /tmp/bench-unwind.XXXXXX)
trap 'rm -rf "$T"' EXIT
PKGS="libunwind-generic libdw libelf libprotobuf-c libcurl zlib"
# shellcheck disable=SC2046
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Iinclude -Iprofiler -I. -Itests/unit \
   $(pkg-config --cflags $PKGS) -o "$T/bench_unwind" tests/tools/bench_unwind.c \
   "$BUILD/libspanprof_core.a" $(pkg-config --libs $PKGS) -ldl -pthread
N=${1:-20000}
echo "unwind: worker cost per sample, $N iterations, $(nproc) CPUs"
"$T/bench_unwind" "$N"
echo "same, with libunwind's per-frame signal blocking kept (SPANPROF_UNWIND_BLOCK_SIGNALS=1):"
SPANPROF_UNWIND_BLOCK_SIGNALS=1 "$T/bench_unwind" "$N" | grep -E '^(sp_unwind|sp_aggregator_add) '
echo "truncation on timer samples at arbitrary instructions (16 KiB copies, 5 kHz):"
"$T/bench_unwind" --sampled 5000
