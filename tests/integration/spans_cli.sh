#!/usr/bin/env bash
# `spanprof spans`: order, totals, shares, -n, --json (valid JSON, escaped
# names), several files summed, exit codes 0/1/2 with one-line messages.
# Input: profiles with known span labels written through the profile API
# (tests/workloads/span_profile_gen.c); go tool pprof cross-checks them.
source "$(dirname "$0")/../lib.sh"

require_file "$SPANPROF"
require_file "$BUILD/libspanprof_core.a"

test_prog "$BUILD" workloads span_profile_gen gen
"$T/gen" "$T" || fail "span_profile_gen failed"
A=$T/a.pb.gz B=$T/b.pb.gz

# expect_exit CODE DESCRIPTION ARGS...: spanprof spans ARGS exits CODE, and
# a failure prints exactly one line on stderr starting with "spanprof:".
expect_exit() {
  local code=$1 what=$2; shift 2
  "$SPANPROF" spans "$@" > "$T/out" 2> "$T/err"; local rc=$?
  [ "$rc" -eq "$code" ] || { cat "$T/err"; fail "$what: exit $rc, expected $code"; }
  if [ "$code" -ne 0 ]; then
    [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q '^spanprof: ' "$T/err" ||
      { cat "$T/err"; fail "$what: not one 'spanprof:' line on stderr"; }
    echo "ok: $what -> exit $code: $(cat "$T/err")"
  else
    echo "ok: $what -> exit 0"
  fi
}

expect_exit 0 "--help" --help
grep -q '^usage: spanprof spans PROFILE' "$T/out" || fail "--help prints no usage"
expect_exit 2 "no profile" 
expect_exit 2 "-n -1" -n -1 "$A"
expect_exit 2 "-n abc" -n abc "$A"
expect_exit 2 "-n without a value" "$A" -n
expect_exit 2 "unknown option" --bogus "$A"
expect_exit 1 "missing file" "$T/nope.pb.gz"
grep -q "nope.pb.gz" "$T/err" || fail "the message does not name the missing file"
printf 'this is not a profile\n' > "$T/junk.pb.gz"
expect_exit 1 "not a profile" "$T/junk.pb.gz"
grep -q "junk.pb.gz" "$T/err" || fail "the message does not name the bad file"
expect_exit 1 "a heap profile" "$T/heap.pb.gz"
grep -q "heap.pb.gz.*cpu" "$T/err" || fail "the message should name the file and the missing cpu type"

# --- table ---
expect_exit 0 "one file, table" "$A"
cat "$T/out"
ids=$(grep -oE '^[0-9a-f]{16} ' "$T/out" | paste -sd' ' | tr -s ' ' | sed 's/ $//')
check "heaviest first: $ids" [ "$ids" = "1111111111111111 2222222222222222 3333333333333333" ]
check "span 1111... row: trace, name, 50 samples, 500ms, 50% of all CPU" \
  grep -Eq '^1111111111111111 +11111111111111111111111111111111 +/checkout +50 +500\.0ms +50\.00%$' "$T/out"
check "summary: 3 spans, 90% in spans, 10% outside" \
  grep -q '^3 spans; 90.0% of 1.00s CPU in spans, 10.0% outside any span$' "$T/out"
expect_exit 0 "-n 2" -n 2 "$A"
check "-n 2 shows two spans" [ "$(grep -cE '^[0-9a-f]{16} ' "$T/out")" -eq 2 ]
check "-n 2 says how many are shown" grep -q '^3 spans (2 shown);' "$T/out"

# --- JSON, two files summed ---
expect_exit 0 "two files, --json -n 0" --json -n 0 "$A" "$B"
cat "$T/out"
python3 - "$T/out" <<'EOF' || fail "--json output is wrong"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
got = [(r["span_id"], r["samples"], r["cpu_ns"]) for r in rows]
want = [("1111111111111111", 70, 700000000), ("2222222222222222", 30, 300000000),
        ("3333333333333333", 10, 100000000), ("4444444444444444", 5, 50000000)]
assert got == want, got
by = {r["span_id"]: r for r in rows}
assert by["3333333333333333"]["span_name"] == 'say "hi"\\', by["3333333333333333"]
assert by["4444444444444444"]["span_name"] == "", by["4444444444444444"]
assert by["1111111111111111"]["trace_id"] == "1111111111111111" * 2
assert abs(by["1111111111111111"]["share"] - 70 / 125) < 1e-6, by["1111111111111111"]["share"]
assert all(r["conflicting_samples"] == 0 for r in rows)
EOF
echo "ok: --json: 4 spans summed over 2 files, escaped names, shares of all CPU"

# --- agrees with go tool pprof ---
if command -v go >/dev/null; then
  go tool pprof -sample_index=cpu -tags "$A" "$B" > "$T/tags.txt" 2>&1 || { cat "$T/tags.txt"; fail "go tool pprof -tags"; }
  check "go tool pprof -tags agrees on 1111...: 700ms of 1.15s labelled" \
    grep -Eq '^ +700(\.0)?ms \(60\.87%\): 1111111111111111$' "$T/tags.txt"
fi
