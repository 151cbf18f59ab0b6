#!/usr/bin/env bash
# Span A does 3x the CPU work of span B on 4 threads, with work outside any
# span in between: per-span CPU share 75/25 +-3 points, and the samples
# between spans carry no span label. Checked with go tool pprof (-tags,
# -tagfocus, -focus) and with `spanprof spans`.
source "$(dirname "$0")/../lib.sh"

require_file "$SPANPROF" "$LIBSPANPROF"
require_cmd go

A=aaaaaaaaaaaaaa01 B=bbbbbbbbbbbbbb02 TRACE=4bf92f3577b34da6a3ce929d0e0e4736
test_prog "$BUILD" workloads span_split
# ~1000 Hz so the shares rest on thousands of samples, not hundreds.
LD_PRELOAD=$LIBSPANPROF SPANPROF_HZ=997 SPANPROF_OUTPUT=$T/out "$T/span_split" 5 \
  > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "the workload failed under libspanprof"; }
mapfile -t profiles < <(find "$T/out" -name '*.pb.gz' | sort)
[ ${#profiles[@]} -gt 0 ] || fail "no profile written in $T/out"
echo "profiles: ${profiles[*]}"

# pct LOW HIGH VALUE: VALUE (a percentage) within [LOW, HIGH]?
within() { awk -v v="$3" -v lo="$1" -v hi="$2" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# --- go tool pprof -tags: shares among the samples that have a span_id ---
go tool pprof -sample_index=cpu -tags "${profiles[@]}" > "$T/tags.txt" 2>&1 ||
  { cat "$T/tags.txt"; fail "go tool pprof -tags failed"; }
cat "$T/tags.txt"
# Lines in the span_id block: "  1.23s (75.12%): aaaaaaaaaaaaaa01"
share_of() { awk -v id="$1" '
  /^ [a-z_]+: Total/ { block = $1 }
  block == "span_id:" && $NF == id { gsub(/[()%:]/, "", $2); print $2 }' "$T/tags.txt"; }
sa=$(share_of $A) sb=$(share_of $B)
echo "go tool pprof -tags: A ${sa:-none}%, B ${sb:-none}%"
[ -n "$sa" ] && [ -n "$sb" ] || fail "span A or B missing from go tool pprof -tags"
n_ids=$(awk '/^ [a-z_]+: Total/ { block = $1; next } block == "span_id:" && NF { n++ } END { print n + 0 }' "$T/tags.txt")
check "exactly two span ids in the profile (found $n_ids)" [ "$n_ids" -eq 2 ]
check "go tool pprof -tags: A's share $sa% is 75 +-3" within 72 78 "$sa"
check "go tool pprof -tags: B's share $sb% is 25 +-3" within 22 28 "$sb"

# --- -tagfocus: each span's own total ---
total_for() { # span id -> total ns of the samples -tagfocus keeps
  go tool pprof -sample_index=cpu -unit=ns -tagfocus="span_id=^$1\$" -tags "${profiles[@]}" 2>/dev/null |
    awk '$1 == "span_id:" && $2 == "Total" { v = $3; sub(/ns$/, "", v); print v; exit }'
}
ta=$(total_for $A) tb=$(total_for $B)
echo "go tool pprof -tagfocus: A ${ta:-none} ns, B ${tb:-none} ns"
[ -n "$ta" ] && [ -n "$tb" ] || fail "-tagfocus found no samples for A or B"
fa=$(awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.2f", 100 * a / (a + b) }')
check "go tool pprof -tagfocus: A is $fa% of A+B, 75 +-3" within 72 78 "$fa"

# --- the work between spans: present, and never labelled ---
go tool pprof -sample_index=cpu -tagignore='span_id=.' -top -nodefraction=0 "${profiles[@]}" \
  > "$T/between.txt" 2>&1
check "unlabelled samples include between_spans_work" grep -q between_spans_work "$T/between.txt"
go tool pprof -focus=between_spans_work -tags "${profiles[@]}" > "$T/between_tags.txt" 2>&1
check "no between_spans_work sample carries span_id/trace_id" \
  bash -c "! grep -Eq '^ (span_id|trace_id|span_name):' '$T/between_tags.txt'"
go tool pprof -focus=span_a_work -tags "${profiles[@]}" > "$T/a_tags.txt" 2>&1
check "span_a_work samples are all labelled A" grep -Eq "\(  100%\): $A\$" "$T/a_tags.txt"
go tool pprof -focus=span_b_work -tags "${profiles[@]}" > "$T/b_tags.txt" 2>&1
check "span_b_work samples are all labelled B" grep -Eq "\(  100%\): $B\$" "$T/b_tags.txt"
check "span_a_work samples carry trace_id $TRACE" grep -Eq "\(  100%\): $TRACE\$" "$T/a_tags.txt"
check "span_a_work samples carry span_name A" grep -Eq "\(  100%\): A\$" "$T/a_tags.txt"

# --- spanprof spans ---
"$SPANPROF" spans "${profiles[@]}" | tee "$T/spans.txt"
"$SPANPROF" spans --json -n 0 "${profiles[@]}" > "$T/spans.json" || fail "spanprof spans failed"
python3 - "$T/spans.json" "$A" "$B" "$TRACE" <<'EOF' || fail "spanprof spans disagrees"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
a, b, trace = sys.argv[2:5]
by = {r["span_id"]: r for r in rows}
assert set(by) == {a, b}, "span ids: %s" % sorted(by)
assert rows[0]["span_id"] == a, "heaviest first: A should lead"
assert by[a]["trace_id"] == trace and by[a]["span_name"] == "A", by[a]
assert by[b]["trace_id"] == trace and by[b]["span_name"] == "B", by[b]
share = 100.0 * by[a]["cpu_ns"] / (by[a]["cpu_ns"] + by[b]["cpu_ns"])
print("spanprof spans: A %.2f%% of A+B (%d + %d samples)" % (share, by[a]["samples"], by[b]["samples"]))
assert 72 <= share <= 78, "A's share %.2f%% is not 75 +-3" % share
# share is of all CPU: A+B+outside = 1, and outside (between work) > 0.
assert by[a]["share"] + by[b]["share"] < 0.99, "no CPU outside spans?"
EOF
echo "ok: spanprof spans: A/B 75/25 +-3, heaviest first, trace ids and names"
