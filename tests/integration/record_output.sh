#!/usr/bin/env bash
# What `spanprof record` leaves behind and how it ends:
# - DIR/*.pb.gz (the README's glob) names each sample once: the merged profile
#   at the top, interval files in DIR/intervals/; go tool pprof on the glob
#   must total what the interval files total;
# - a run stopped by --duration exits 0 and says so (was 143);
# - a statically linked CMD is refused with a clear message (LD_PRELOAD needs
#   the dynamic loader), instead of "the command used little CPU".
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

workload cpu_split
"$SPANPROF" record -F 997 -o "$T/out" -- "$T/cpu_split" 2 > "$T/record.log" 2>&1 ||
  { cat "$T/record.log"; fail "spanprof record failed"; }
cat "$T/record.log"
mapfile -t top < <(ls "$T/out"/*.pb.gz)
check "DIR/*.pb.gz is the merged profile only (${top[*]})" \
  bash -c "[ ${#top[@]} -eq 1 ] && [[ '${top[0]}' == */cpu_split-[0-9]*.pb.gz ]]"
mapfile -t intervals < <(interval_files "$T/out/intervals")
check "interval files are in DIR/intervals (${#intervals[@]})" [ ${#intervals[@]} -ge 1 ]
total() { go tool pprof -sample_index=samples -raw "$@" 2>/dev/null |
  awk '/^Samples:/ {s=1; next} /^Locations/ {s=0} s && $1 ~ /^[0-9]+:?$/ {n += $1} END {print n+0}'; }
glob=$(total "$T/out"/*.pb.gz) parts=$(total "${intervals[@]}")
echo "samples: DIR/*.pb.gz $glob, intervals $parts"
check "go tool pprof DIR/*.pb.gz counts each sample once ($glob = $parts)" \
  bash -c "[ '$glob' -gt 0 ] && [ '$glob' = '$parts' ]"
check "summary names the merged profile at the top" \
  grep -q "profile     $T/out/cpu_split-" "$T/record.log"

# Eight threads, ended before the flush: the telemetry counts the threads
# sampled in the interval (was: alive at the flush, 1), and samples carry a
# numeric thread_id label that go tool pprof lists per thread.
workload cpu_threads
"$SPANPROF" record -q -F 997 -o "$T/out5" -- "$T/cpu_threads" 20000000 > /dev/null 2>&1 ||
  fail "record cpu_threads failed"
m5=$(ls "$T/out5"/cpu_threads-*.pb.gz)
go tool pprof -raw "$m5" 2>/dev/null | grep Comment
check "interval telemetry counts 8 sampled threads" \
  bash -c "go tool pprof -raw '$m5' 2>/dev/null | grep -q 'threads_sampled=8 '"
ids=$(go tool pprof -tags "$m5" 2>/dev/null | awk '/^ *thread_id:/ {s=1; next} /^ *$/ {s=0} s' | grep -c .)
check "go tool pprof -tags lists 8 thread_id values ($ids)" [ "$ids" -eq 8 ]

"$SPANPROF" record --duration 1 -o "$T/out3" -- sleep 30 > "$T/dur.log" 2>&1
rc=$?
cat "$T/dur.log"
check "record --duration exits 0 ($rc)" [ $rc -eq 0 ]
check "record --duration says it stopped CMD" grep -q 'stopped sleep after 1 s (--duration)' "$T/dur.log"

cat > "$T/static.c" <<'C'
int main(void) { volatile unsigned long x = 0; for (unsigned long i = 0; i < 100000000UL; i++) x += i; return 0; }
C
cc -O1 -static -o "$T/static_spin" "$T/static.c" || fail "cannot link a static binary (libc6-dev libc.a)"
"$SPANPROF" record -o "$T/out4" -- "$T/static_spin" > "$T/static.log" 2>&1
rc=$?
cat "$T/static.log"
check "record of a static binary fails ($rc)" [ $rc -ne 0 ]
check "record says the binary is statically linked" grep -q 'statically linked' "$T/static.log"
echo "all record_output checks passed"
