#!/usr/bin/env bash
# Torn reads of the span slot: 8 threads switch spans every few microseconds
# for 10 s while sampled at 1,000 Hz. Each span id is new and its trace id and
# name are derived from it, so every (trace_id, span_id, span_name) in the
# profile must be one the workload set together. Read with go tool pprof
# -raw (every sample's labels) and with `spanprof spans` (its conflict count).
source "$(dirname "$0")/../lib.sh"

require_file "$SPANPROF" "$LIBSPANPROF"
require_cmd go

test_prog "$BUILD" workloads span_torn
LD_PRELOAD=$LIBSPANPROF SPANPROF_HZ=1000 SPANPROF_OUTPUT=$T/out "$T/span_torn" 10 \
  > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "the workload failed under libspanprof"; }
mapfile -t profiles < <(find "$T/out" -name '*.pb.gz' | sort)
[ ${#profiles[@]} -gt 0 ] || fail "no profile written in $T/out"

: > "$T/pairs.txt"
for p in "${profiles[@]}"; do
  python3 "$ROOT/tests/integration/pprof_raw_spans.py" pairs "$p" >> "$T/pairs.txt" ||
    fail "go tool pprof -raw cannot read $p"
done

# The workload's derivation (span_torn.c ids_of), recomputed independently.
python3 - "$T/pairs.txt" <<'EOF' || fail "torn span contexts in the profile"
import sys
M = (1 << 64) - 1
def expect(span_hex):
    s = int(span_hex, 16)
    trace = "%016x%016x" % ((s * 0x9e3779b97f4a7c15) & M, s ^ 0xa5a5a5a5a5a5a5a5)
    return trace, "t%02x" % (s & 0xff)
n = bad = 0
threads = set()
for line in open(sys.argv[1]):
    span, trace, name, count = line.split()
    n += int(count)
    threads.add(span[:2])
    want_trace, want_name = expect(span)
    if (trace, name) != (want_trace, want_name):
        bad += int(count)
        if bad <= 5:
            print("torn: span_id %s with trace_id %s name %s (set together: %s %s)"
                  % (span, trace, name, want_trace, want_name))
print("%d labelled samples from %d threads, %d torn" % (n, len(threads), bad))
assert n >= 1000, "too few labelled samples (%d) to say anything" % n
assert len(threads) == 8, "samples from %d of 8 threads" % len(threads)
assert bad == 0
EOF
echo "ok: every (trace_id, span_id, span_name) in go tool pprof -raw was set together"

"$SPANPROF" spans --json -n 0 "${profiles[@]}" > "$T/spans.json" 2> "$T/spans.err" ||
  { cat "$T/spans.err"; fail "spanprof spans failed"; }
python3 - "$T/spans.json" <<'EOF' || fail "spanprof spans sees torn span contexts"
import json, sys
M = (1 << 64) - 1
rows = [json.loads(l) for l in open(sys.argv[1])]
bad = 0
for r in rows:
    s = int(r["span_id"], 16)
    trace = "%016x%016x" % ((s * 0x9e3779b97f4a7c15) & M, s ^ 0xa5a5a5a5a5a5a5a5)
    if r["trace_id"] != trace or r["span_name"] != "t%02x" % (s & 0xff) or r["conflicting_samples"]:
        bad += 1
print("spanprof spans: %d spans, %d inconsistent" % (len(rows), bad))
assert rows and bad == 0
EOF
check "spanprof spans reports no conflicting samples" bash -c "! grep -q warning '$T/spans.err'"
