#!/usr/bin/env bash
# Known CPU split through `spanprof record`: spin_heavy does 3 units of work
# per 1 of spin_light under main -> chain1..chain4, in a binary built -O2
# -fomit-frame-pointer. The profile must give 75/25 +-3 points, >= 99% of
# samples must reach main (go tool pprof -traces), the self-telemetry must be
# in the profile, and record must print its summary and keep CMD's status.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

workload cpu_split
"$SPANPROF" record -F 997 -o "$T/out" -- "$T/cpu_split" 4 > "$T/record.log" 2>&1 ||
  { cat "$T/record.log"; fail "spanprof record failed"; }
cat "$T/record.log"
merged=$(find "$T/out" -name 'cpu_split-[0-9]*.pb.gz' ! -name '*T*Z*' | head -1)
[ -n "$merged" ] || fail "record wrote no merged profile"
mapfile -t intervals < <(interval_files "$T/out")
[ ${#intervals[@]} -ge 1 ] || fail "no interval profile in $T/out"

heavy=$(flat_share spin_heavy "$merged") light=$(flat_share spin_light "$merged")
echo "spin_heavy $heavy%, spin_light $light%"
check "spin_heavy share $heavy% is 75 +-3" within 72 78 "$heavy"
check "spin_light share $light% is 25 +-3" within 22 28 "$light"
n=$(sample_count "$merged")
check "at least 1000 samples ($n)" [ "$n" -ge 1000 ]
reach=$(traces_reaching main "$merged")
check "$reach% of samples reach main (>= 99)" within 99 100 "$reach"
chain=$(traces_reaching chain1 "$merged")
check "$chain% of samples pass through chain1 (>= 98)" within 98 100 "$chain"

# The same from the interval files (what a service leaves behind).
heavy_i=$(flat_share spin_heavy "${intervals[@]}")
check "interval files agree: spin_heavy $heavy_i%" within 72 78 "$heavy_i"

go tool pprof -comments "$merged" > "$T/comments.txt" 2>&1
cat "$T/comments.txt"
check "telemetry names the engine" grep -q 'engine=perf_event cpu-clock\|engine=posix timer' "$T/comments.txt"
check "telemetry counts samples, lost and truncated" \
  grep -Eq 'samples=[0-9]+ lost=[0-9]+ truncated=[0-9]+' "$T/comments.txt"
check "summary printed" grep -q 'spanprof: .* samples .* engine' "$T/record.log"
check "summary names the flame graph" grep -q 'flame graph .*\.svg' "$T/record.log"
svg=$(find "$T/out" -name '*.svg' | head -1)
check "flame graph has spin_heavy" grep -q spin_heavy "$svg"

# Exit status and command errors pass through.
"$SPANPROF" record -q -o "$T/out2" -- sh -c 'exit 3' > /dev/null 2>&1
check "record returns CMD's exit status (3)" [ $? -eq 3 ]
"$SPANPROF" record -q -o "$T/out2" -- "$T/no-such-command" > /dev/null 2>&1
check "record returns 127 for a missing command" [ $? -eq 127 ]
"$SPANPROF" record -F 0 -- true > /dev/null 2>&1
check "record -F 0 is a usage error" [ $? -eq 2 ]
