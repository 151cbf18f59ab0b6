#!/usr/bin/env bash
# JIT code: no module covers it and it has no unwind info, but JITs keep
# frame pointers. The unwinder follows the rbp chain through such frames
# (within the stack copy) and hands back to libunwind in known code, and
# frames are named from /tmp/perf-<pid>.map when the runtime writes one.
#  - a C program that generates two functions at run time (jit_frames);
#  - node --perf-basic-prof running a JIT-compiled fib.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
require_file "$SPANPROF" "$LIBSPANPROF"
require_cmd go node

workload jit_frames
maps=()
trap 'rm -f "${maps[@]}"' EXIT

"$SPANPROF" record -F 997 -o "$T/c" -- "$T/jit_frames" 1.5 > "$T/c.log" 2>&1 ||
  { cat "$T/c.log"; fail "jit_frames: record failed"; }
cat "$T/c.log"
pid=$(sed -n 's/^jit ok //p' "$T/c.log")
maps+=("/tmp/perf-$pid.map")
p=$(find "$T/c" -name '*.pb.gz' ! -name '*T*Z-*' | head -1)
[ -n "$p" ] || fail "jit_frames: no profile"
reach=$(traces_reaching main "$p")
check "jit_frames: $reach% of samples reach main through the JIT frames (>= 99)" within 99 100 "$reach"
for f in jit_inner jit_outer; do
  s=$(traces_reaching "$f" "$p")
  check "jit_frames: $f named from the perf map, on $s% of samples (>= 90)" within 90 100 "$s"
done
"$SPANPROF" folded "$p" > "$T/c.folded" || fail "spanprof folded failed"
check "jit_frames: our reader shows main;jit_outer;jit_inner;burn_in_c" \
  grep -q 'main;jit_outer;jit_inner;burn_in_c' "$T/c.folded"

# From $T: with --perf-basic-prof, V8 also leaves an isolate-*.log in its cwd.
(cd "$T" && "$SPANPROF" record -F 997 -o "$T/node" -- node --perf-basic-prof \
   "$ROOT/tests/workloads/jit_fib.js" 1.5) > "$T/node.log" 2>&1 ||
  { cat "$T/node.log"; fail "node: record failed"; }
cat "$T/node.log"
pid=$(sed -n 's/^node ok \([0-9]*\) true$/\1/p' "$T/node.log")
[ -n "$pid" ] || fail "node: the script did not finish"
maps+=("/tmp/perf-$pid.map")
p=$(find "$T/node" -name '*.pb.gz' ! -name '*T*Z-*' | head -1)
[ -n "$p" ] || fail "node: no profile"
reach=$(traces_reaching _start "$p")
check "node: $reach% of samples reach _start (>= 90)" within 90 100 "$reach"
fib=$(go tool pprof -sample_index=samples -top -nodecount=1000 "$p" 2>/dev/null |
      awk '/ (JS|LazyCompile|Function):[*~^]?fib( |$)/ { gsub(/%/, "", $2); print $2; found = 1; exit }
           END { if (!found) print 0 }')
# V8 names it "JS:*fib" (node 20) or "LazyCompile:*fib /path/jit_fib.js:4" (node 18).
check "node: the JS function fib is named (from the perf map), $fib% flat (>= 50)" within 50 100 "$fib"
echo PASS
