#!/usr/bin/env bash
# Allocation profile with a known answer: three sites allocate 60/30/10% of
# the bytes in five size classes (16 B .. 1 MiB), keep 1/4, 1/2 and all of
# their blocks, free the rest (half on another thread). Checked with
# go tool pprof against what the workload itself counted:
#   alloc_space share per site within +-5 points,
#   inuse_space share per site within +-5 points,
#   inuse_space of the three sites within +-10% of their true live bytes.
#
# Why these sizes are statistically sound: a sampled block of s bytes is
# weighted s / (1 - exp(-s/R)); for blocks well under R the estimate of B
# bytes has a standard deviation of about sqrt(R * B). With R = 64 KiB
# (SPANPROF_HEAP_RATE, the same estimator as the default 512 KiB with 8x
# fewer bytes to allocate) the 100 MiB live are estimated within
# sqrt(64Ki * 100Mi) = 2.5% (one sigma: the +-10% bound is 4 sigma), and
# the smallest share, site C's 25 MiB of 250 MiB allocated, within
# 0.5 points (+-5 is 10 sigma). A run at the default rate checks the
# alloc shares too, over 4x the bytes (1 GiB: site B's 300 MiB within
# 1.3 points, +-5 is 4 sigma; 256 MiB left it at 2 sigma, and it failed).
source "$(dirname "$0")/../lib.sh"

require_file "$SPANPROF" "$LIBSPANPROF"
require_cmd go
test_prog "$BUILD" workloads heap_split

within() { awk -v v="$3" -v lo="$1" -v hi="$2" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
# flat bytes of a function in `go tool pprof -top -unit=B` output
flat_of() { awk -v fn="$1" '$NF == fn { v = $1; sub(/B$/, "", v); print v; exit }' "$2"; }

run_case() { # NAME RATE MIB: record, then check the shares (and, at 64K, the live bytes)
  local name=$1 rate=$2 mib=$3 out=$T/$1
  SPANPROF_HEAP_RATE=$rate "$SPANPROF" record --heap -q -o "$out" -- "$T/heap_split" "$mib" \
    > "$T/$name.stdout" 2> "$T/$name.stderr" ||
    { cat "$T/$name.stderr"; fail "$name: record --heap failed"; }
  local truth prof
  truth=$(grep '^live_bytes=' "$T/$name.stdout") || fail "$name: the workload printed no totals"
  echo "$name: truth $truth"
  prof=$(ls "$out"/heap_split-*.heap.pb.gz 2>/dev/null | head -1)
  [ -n "$prof" ] || fail "$name: no memory profile in $out"
  declare -A truth_of
  for kv in $truth; do truth_of[${kv%%=*}]=${kv#*=}; done

  for idx in alloc_space inuse_space; do
    go tool pprof -sample_index=$idx -unit=B -top -nodefraction=0 "$prof" > "$T/$name.$idx.txt" 2>&1 ||
      { cat "$T/$name.$idx.txt"; fail "$name: go tool pprof -sample_index=$idx failed"; }
    local a b c
    a=$(flat_of site_a "$T/$name.$idx.txt") b=$(flat_of site_b "$T/$name.$idx.txt")
    c=$(flat_of site_c "$T/$name.$idx.txt")
    [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] ||
      { cat "$T/$name.$idx.txt"; fail "$name: a site is missing from $idx"; }
    local kind=alloc sum_true est_true
    [ "$idx" = inuse_space ] && kind=live
    sum_true=$(( truth_of[${kind}_a] + truth_of[${kind}_b] + truth_of[${kind}_c] ))
    for s in a b c; do
      local est=${!s} real=${truth_of[${kind}_$s]}
      local pe pr
      pe=$(awk -v x="$est" -v t="$a" -v u="$b" -v w="$c" 'BEGIN { printf "%.2f", 100 * x / (t + u + w) }')
      pr=$(awk -v x="$real" -v t="$sum_true" 'BEGIN { printf "%.2f", 100 * x / t }')
      lo=$(awk -v p="$pr" 'BEGIN { print p - 5 }') hi=$(awk -v p="$pr" 'BEGIN { print p + 5 }')
      if [ "$idx" = inuse_space ] && [ "$rate" != 64K ]; then continue; fi
      check "$name: $idx share of site_$s is $pe% (true $pr%, +-5 points)" within "$lo" "$hi" "$pe"
    done
    if [ "$idx" = inuse_space ] && [ "$rate" = 64K ]; then
      est_true=$(awk -v t="$a" -v u="$b" -v w="$c" 'BEGIN { printf "%.0f", t + u + w }')
      ratio=$(awk -v e="$est_true" -v t="$sum_true" 'BEGIN { printf "%.3f", e / t }')
      check "$name: inuse_space of the sites is $est_true B, $ratio of the true $sum_true B (+-10%)" \
        within 0.90 1.10 "$ratio"
    fi
  done
}

run_case rate64k 64K 256
run_case default 512K 1024
