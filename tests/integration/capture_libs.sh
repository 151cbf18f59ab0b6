#!/usr/bin/env bash
# Stacks across library boundaries:
#  - the 3:1 split inside a shared library dlopen'ed after the profiler
#    started (hot_heavy / hot_light in libhot.so): 75/25 +-3 and >= 99% of
#    samples reach main through the library;
#  - the hot loop in libc: qsort with a comparator from the executable:
#    cmp_u64 is seen under qsort, and >= 99% of samples reach main.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

workload cpu_split libhot.so

"$SPANPROF" record -q -F 997 -o "$T/so" -- "$T/cpu_split" 3 so "$T/libhot.so" ||
  fail "record (dlopen) failed"
so=$(find "$T/so" -name 'cpu_split-[0-9]*.pb.gz' ! -name '*T*Z*' | head -1)
[ -n "$so" ] || fail "no merged profile for the dlopen run"
heavy=$(flat_share hot_heavy "$so") light=$(flat_share hot_light "$so")
echo "hot_heavy $heavy%, hot_light $light%"
check "hot_heavy (in libhot.so) share $heavy% is 75 +-3" within 72 78 "$heavy"
check "hot_light (in libhot.so) share $light% is 25 +-3" within 22 28 "$light"
reach=$(traces_reaching main "$so")
check "dlopen: $reach% of samples reach main (>= 99)" within 99 100 "$reach"
# The first sample after the dlopen may come before the consumer has seen
# the new mapping (it re-reads the maps at that miss): judge by weight.
caller=$(go tool pprof -sample_index=samples -traces "$so" 2>/dev/null | awk '
  $NF == "hot_heavy" && NF == 2 { w = $1; getline; tot += w; if ($1 == "chain4") ok += w }
  END { printf "%.2f", tot ? ok * 100 / tot : 0 }')
check "hot_heavy is called from chain4 across the library boundary in $caller% of its samples (>= 99)" \
  within 99 100 "$caller"

"$SPANPROF" record -q -F 997 -o "$T/qs" -- "$T/cpu_split" 3 qsort ||
  fail "record (qsort) failed"
qs=$(find "$T/qs" -name 'cpu_split-[0-9]*.pb.gz' ! -name '*T*Z*' | head -1)
[ -n "$qs" ] || fail "no merged profile for the qsort run"
cmp=$(go tool pprof -sample_index=cpu -top -cum -nodecount=1000 "$qs" 2>/dev/null |
  awk '$6 == "cmp_u64" { gsub(/%/, "", $2); print $2 }')
echo "cmp_u64 flat ${cmp:-0}%"
check "the comparator shows up (flat ${cmp:-0}% >= 10)" within 10 100 "${cmp:-0}"
reach=$(traces_reaching main "$qs")
check "qsort: $reach% of samples reach main (>= 99)" within 99 100 "$reach"
under=$(go tool pprof -sample_index=samples -traces -focus='^cmp_u64$' "$qs" 2>/dev/null | awk '
  /^-----------\+/ { if (have) { tot += v; if (q) ok += v } have = 0; q = 0; next }
  /^ +[0-9]+ +[^ ]/ && !have { v = $1; have = 1; next }
  have && ($1 ~ /^(__)?qsort/ || $1 ~ /msort/) { q = 1 }
  END { if (have) { tot += v; if (q) ok += v } if (tot) printf "%.2f\n", 100 * ok / tot; else print 0 }')
check "qsort: $under% of comparator samples are under libc's qsort (>= 99)" within 99 100 "$under"
