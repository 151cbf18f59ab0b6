#!/usr/bin/env bash
# Links files: for every interval profile, its links file names every span id
# in that profile exactly once, with cpu_ns and samples equal to the profile's
# totals for that label (as go tool pprof -raw reads them), the same trace id
# and span name, and the profile it belongs to. Thousands of short spans on 8
# threads, 1 s intervals.
source "$(dirname "$0")/../lib.sh"

require_file "$SPANPROF" "$LIBSPANPROF"
require_cmd go

test_prog "$BUILD" workloads span_torn spans
unset PYROSCOPE_SERVER_ADDRESS
LD_PRELOAD=$LIBSPANPROF SPANPROF_HZ=500 SPANPROF_OUTPUT=$T/out SPANPROF_UPLOAD_INTERVAL=1 \
  "$T/spans" 3.5 > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "the workload failed under libspanprof"; }
mapfile -t profiles < <(find "$T/out" -name '*.pb.gz' | sort)
[ ${#profiles[@]} -gt 0 ] || fail "no profile written in $T/out"
echo "${#profiles[@]} interval profile(s)"
[ ${#profiles[@]} -ge 2 ] || echo "note: one interval only (SPANPROF_UPLOAD_INTERVAL=1 not honoured?)"

spans_total=0
for p in "${profiles[@]}"; do
  links=
  for cand in "$p.links.jsonl" "${p%.pb.gz}.links.jsonl"; do
    [ -f "$cand" ] && links=$cand
  done
  python3 "$ROOT/tests/integration/pprof_raw_spans.py" sums "$p" > "$T/sums.json" ||
    fail "go tool pprof -raw cannot read $p"
  if [ -z "$links" ]; then
    # No links file is right only for an interval without span samples.
    grep -q '"spans": {}' "$T/sums.json" ||
      fail "no links file beside $p (looked for $p.links.jsonl, ${p%.pb.gz}.links.jsonl)"
    echo "ok: $(basename "$p") has no span samples and no links file"
    continue
  fi
  n=$(python3 - "$T/sums.json" "$links" "$p" <<'EOF'
import json, os, sys
sums = json.load(open(sys.argv[1]))["spans"]
links, prof = sys.argv[2], sys.argv[3]
seen = {}
for i, line in enumerate(open(links, encoding="utf-8"), 1):
    try:
        o = json.loads(line)
    except ValueError as e:
        sys.exit("%s:%d: not JSON: %s" % (links, i, e))
    sid = o["span_id"]
    if sid in seen:
        sys.exit("%s:%d: span %s listed twice (also line %d)" % (links, i, sid, seen[sid]))
    seen[sid] = i
    want = sums.get(sid)
    if want is None:
        sys.exit("%s:%d: span %s is not in %s" % (links, i, sid, prof))
    for k in ("cpu_ns", "samples"):
        if o[k] != want[k]:
            sys.exit("%s:%d: span %s %s %d, profile says %d" % (links, i, sid, k, o[k], want[k]))
    if want["trace_ids"] != [o["trace_id"]]:
        sys.exit("%s:%d: span %s trace_id %s, profile has %s" % (links, i, sid, o["trace_id"], want["trace_ids"]))
    if want["names"] and want["names"] != [o["span_name"]]:
        sys.exit("%s:%d: span %s name %s, profile has %s" % (links, i, sid, o["span_name"], want["names"]))
    if os.path.basename(o["profile"]) != os.path.basename(prof):
        sys.exit("%s:%d: profile field %s, expected %s" % (links, i, o["profile"], prof))
    if not o["service"] or o["first_sample_ns"] > o["last_sample_ns"]:
        sys.exit("%s:%d: bad service or sample times: %s" % (links, i, line.strip()))
    # The in-process worker notes each sample's time: the span's own first
    # and last sample, not the interval bounds.
    if o.get("time_source") != "samples":
        sys.exit("%s:%d: span %s times come from %s, not its samples" % (links, i, sid, o.get("time_source")))
    if "pyroscope" in o:
        sys.exit("%s:%d: pyroscope fields without a server configured" % (links, i))
missing = sorted(set(sums) - set(seen))
if missing:
    sys.exit("%s: %d span(s) of the profile missing, e.g. %s" % (links, len(missing), missing[0]))
print(len(seen))
EOF
  ) || fail "links file $links does not match $p"
  echo "ok: $(basename "$links"): $n spans, each once, cpu_ns and samples equal to the profile"
  spans_total=$((spans_total + n))
done
check "links files list spans ($spans_total in all)" [ "$spans_total" -gt 100 ]
