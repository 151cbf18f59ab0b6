#!/usr/bin/env bash
# Real samples (captured by a test signal handler, ~30 frames) -> unwinder ->
# aggregator -> pprof file, read back by `go tool pprof`: symbolized frames
# down to _start, span/thread labels, mappings with build-ids, telemetry.
# Then timer samples of a mixed workload (our code, qsort callbacks, libc
# string/memory/malloc internals), taken at arbitrary instructions: the
# remote unwind must reach _start for (nearly) all of them.
source "$(dirname "$0")/../lib.sh"
require_file "$BUILD/libspanprof_core.a"
require_cmd go
test_prog "$BUILD" tools bench_unwind
"$T/bench_unwind" 200 --write "$T/cpu.pb.gz" > "$T/bench.txt" || fail "bench_unwind failed"
check "the remote unwind reached _start" grep -q "^frames: remote [0-9]* (complete)" "$T/bench.txt"
go tool pprof -raw "$T/cpu.pb.gz" > "$T/raw.txt" 2> "$T/raw.err" || { cat "$T/raw.err"; fail "go tool pprof -raw"; }
check "telemetry comment" grep -q "Comment: spanprof: engine=bench samples=1200 lost=0 truncated=0 (0.00%) threads_sampled=1 threads_alive=1" "$T/raw.txt"
check "unwind telemetry says what the depth counter is" grep -q "cut_at_max_frames=0 " "$T/raw.txt"
check "all samples aggregated into one stack" grep -Eq "^ +1200 12000000000: 1 2 3" "$T/raw.txt"
check "span and thread labels" grep -q "span_id:\[5a00000000000000\] span_name:\[bench\] thread_name:\[bench-thread\] trace_id:\[0000000000000000000000000000007e\]" "$T/raw.txt"
check "leaf frame symbolized" grep -Eq "^ +1: 0x[0-9a-f]+ M=1 leaf .*bench_unwind.c:" "$T/raw.txt"
check "chain symbolized in order" grep -Eq "^ +27: 0x[0-9a-f]+ M=1 f1 " "$T/raw.txt"
check "main and _start reached" grep -Eq " M=1 main .* M=1 _start " <(tr '\n' ' ' < "$T/raw.txt")
check "executable mapping first, with build-id" grep -Eq "^1: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ .*bench_unwind [0-9a-f]{40} " "$T/raw.txt"
go tool pprof -top -tagfocus span_id=5a00000000000000 "$T/cpu.pb.gz" > "$T/top.txt" 2>&1 || fail "pprof -tagfocus"
check "span filter keeps the samples" grep -q "f13" "$T/top.txt"
"$T/bench_unwind" --sampled 2000 > "$T/sampled.txt" || fail "bench_unwind --sampled failed"
cat "$T/sampled.txt"
pct=$(sed -n 's/.*complete [0-9]* (\([0-9.]*\)%).*/\1/p' "$T/sampled.txt")
avg=$(sed -n 's/.*frames avg \([0-9.]*\).*/\1/p' "$T/sampled.txt")
check "timer samples unwind to _start (>= 99%, got ${pct:-?}%)" awk -v p="${pct:-0}" 'BEGIN { exit !(p >= 99) }'
check "timer samples are deep (avg ${avg:-?} frames >= 5)" awk -v a="${avg:-0}" 'BEGIN { exit !(a >= 5) }'
exit 0
