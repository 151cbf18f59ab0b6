#!/usr/bin/env bash
# Eight threads with known loads (thread load-K does K of 36 units), four of
# them created later by another thread: per-thread shares within +-3 points
# (by the thread_name label, read with go tool pprof -tags), every thread
# named, and none of the profiler's own threads in the profile.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

workload cpu_threads
"$SPANPROF" record -q -F 997 -o "$T/out" -- "$T/cpu_threads" 60000000 ||
  fail "record failed"
merged=$(find "$T/out" -name 'cpu_threads-[0-9]*.pb.gz' ! -name '*T*Z*' | head -1)
[ -n "$merged" ] || fail "no merged profile"
go tool pprof -sample_index=cpu -tags "$merged" > "$T/tags.txt" 2>&1 ||
  { cat "$T/tags.txt"; fail "go tool pprof -tags failed"; }
cat "$T/tags.txt"
share_of() { awk -v n="$1" '
  /^ [a-z_]+: Total/ { block = $1 }
  block == "thread_name:" && $NF == n { l = $0; sub(/^[^(]*\( */, "", l); sub(/%.*/, "", l); print l }' "$T/tags.txt"; }
for k in 1 2 3 4 5 6 7 8; do
  s=$(share_of load-$k)
  want=$(awk -v k=$k 'BEGIN { printf "%.2f", 100 * k / 36 }')
  lo=$(awk -v w="$want" 'BEGIN { print w - 3 }') hi=$(awk -v w="$want" 'BEGIN { print w + 3 }')
  check "load-$k share ${s:-none}% is $want +-3" within "$lo" "$hi" "${s:--100}"
done
others=$(awk '/^ [a-z_]+: Total/ { block = $1; next }
  block == "thread_name:" && NF && $NF !~ /^load-[1-8]$/ && $NF != "cpu_threads" { print $NF }' "$T/tags.txt")
check "no other thread in the profile (found: ${others:-none})" [ -z "$others" ]
reach=$(traces_reaching start_thread "$merged")
check "$reach% of samples reach start_thread (>= 99)" within 99 100 "$reach"
