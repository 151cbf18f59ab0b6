#!/usr/bin/env bash
# The pprof layer against `go tool pprof`: a profile written by spanprof must
# read back in pprof with the same totals, functions and labels; profiles
# written by the Go runtime (CPU) and by `go tool pprof -proto` (heap) must
# read in spanprof with the totals pprof reports; spanprof's re-encoding of
# them must read in pprof unchanged.
source "$(dirname "$0")/../lib.sh"

require_cmd go
require_file "$BUILD/libspanprof_core.a"

TOOL=$T/pprof_tool
test_prog "$BUILD" tools pprof_tool

# Column sums of the Samples section of `go tool pprof -raw`.
raw_totals() {
  go tool pprof -raw "$1" 2>/dev/null | awk '
    /^Samples:/ { s = 1; getline; n = NF; next }
    /^Locations/ { s = 0 }
    s && $1 ~ /^-?[0-9]+$/ { for (i = 1; i <= n; i++) { v = $i; sub(":", "", v); t[i] += v } }
    END { for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), t[i] + 0; print "" }'
}
# Function names used by locations, from `go tool pprof -raw`.
raw_functions() {
  go tool pprof -raw "$1" 2>/dev/null | awk '
    /^Locations/ { s = 1; next }
    /^Mappings/ { s = 0 }
    s && $1 ~ /^[0-9]+:$/ { if (NF >= 4) print $4; next }
    s && NF >= 1 { print $1 }' | sort -u
}
# Labels as key=value, from `go tool pprof -raw`.
raw_labels() {
  go tool pprof -raw "$1" 2>/dev/null | awk '/^Samples:/ { s = 1 } /^Locations/ { s = 0 } s' |
    grep -o '[A-Za-z_][A-Za-z0-9_.]*:\[[^]]*\]' | sed 's/:\[/=/; s/\]$//' | sort -u
}
tool_totals() { "$TOOL" read "$1" | sed -n 's/^total [^:]*: //p' | paste -sd' '; }
tool_functions() { "$TOOL" read "$1" | sed -n 's/^function //p' | sort -u; }
tool_labels() { "$TOOL" read "$1" | sed -n 's/^label //p' | sort -u; }

same() { # what expected actual
  if [ "$2" = "$3" ]; then echo "ok: $1 ($(printf '%s' "$2" | head -c 120 | tr '\n' ' '))"
  else fail "$1: expected [$2] got [$3]"; fi
}

# 1. spanprof writes, pprof reads
"$TOOL" write "$T/known.pb.gz" || fail "write known profile"
check "single gzip member" sh -c "[ \"\$(head -c2 '$T/known.pb.gz' | od -An -tx1 | tr -d ' ')\" = 1f8b ]"
check "no temp file left behind" sh -c "! ls '$T'/known.pb.gz.tmp.* 2>/dev/null"
same "known: totals in spanprof" "15 150000000" "$(tool_totals "$T/known.pb.gz")"
same "known: totals in pprof -raw" "15 150000000" "$(raw_totals "$T/known.pb.gz")"
same "known: functions in pprof -raw" "$(printf '%s\n' __GI___libc_read compute io_wait main square)" \
  "$(raw_functions "$T/known.pb.gz")"
same "known: labels in pprof -raw" "$(tool_labels "$T/known.pb.gz")" "$(raw_labels "$T/known.pb.gz")"
top=$(go tool pprof -top -unit=ns "$T/known.pb.gz" 2>&1)
echo "$top" | sed 's/^/  top: /'
echo "$top" | grep -q 'Total samples = 150000000ns' || fail "pprof -top total"
echo "$top" | grep -Eq '120000000ns +80\.00% .*square \(inline\)' || fail "pprof -top: inlined square"
echo "$top" | grep -Eq '0 +0% .* 150000000ns +100% +main$' || fail "pprof -top: main cum"
go tool pprof -raw "$T/known.pb.gz" | grep -q '4f2c0b8e1d9a7c3b5e6f708192a3b4c5d6e7f809 \[FN\]\[FL\]\[LN\]\[IN\]' ||
  fail "pprof -raw: mapping build id and flags"
# the flags are the truth per mapping, and an unreferenced mapping is dropped
maps=$(go tool pprof -raw "$T/known.pb.gz" 2>/dev/null | sed -n '/^Mappings/,$p' | tail -n +2)
echo "$maps" | sed 's/^/  mapping: /'
same "pprof -raw: only the 2 referenced mappings" 2 "$(echo "$maps" | grep -c .)"
check "pprof -raw: unreferenced libcurl mapping dropped" bash -c "! grep -q libcurl <<<'$maps'"
check "pprof -raw: app mapping has all four flags although built with functions only" \
  grep -q '/usr/bin/app .*\[FN\]\[FL\]\[LN\]\[IN\]' <<<"$maps"
check "pprof -raw: libc (symbol names only, no lines) has [FN] only" \
  grep -Eq 'libc\.so\.6 [0-9a-f]+ \[FN\]$' <<<"$maps"
focus=$(go tool pprof -top -unit=ns -tagfocus span_id=00f067aa0ba902b7 "$T/known.pb.gz" 2>&1)
echo "$focus" | grep -q 'accounting for 100000000ns' || fail "pprof -tagfocus span_id keeps that span's samples"
echo "ok: pprof -tagfocus span_id"

# raw (uncompressed) encoding reads the same in both
"$TOOL" copy "$T/known.pb.gz" "$T/known.raw.pb" raw || fail "raw copy"
check "raw encoding is not gzip" sh -c "[ \"\$(head -c2 '$T/known.raw.pb' | od -An -tx1 | tr -d ' ')\" != 1f8b ]"
same "raw: spanprof reads it identically" "$("$TOOL" read "$T/known.pb.gz")" "$("$TOOL" read "$T/known.raw.pb")"
same "raw: pprof -raw identical" "$(go tool pprof -raw "$T/known.pb.gz")" "$(go tool pprof -raw "$T/known.raw.pb")"

# merge doubles the values, keeps the stacks
"$TOOL" merge "$T/merged.pb.gz" "$T/known.pb.gz" "$T/known.raw.pb" || fail "merge"
same "merge: totals in pprof -raw" "30 300000000" "$(raw_totals "$T/merged.pb.gz")"
same "merge: same samples count" "samples: 3" "$("$TOOL" read "$T/merged.pb.gz" | grep '^samples:')"

# 2. the Go runtime writes, spanprof reads
(cd "$T" && timeout 120 go run "$ROOT/tests/go/cpuburn.go" go_cpu.pb.gz go_heap.pb.gz 1) ||
  fail "go run tests/go/cpuburn.go"
go tool pprof -proto "$T/go_heap.pb.gz" >"$T/go_heap_proto.pb.gz" 2>/dev/null || fail "go tool pprof -proto"

for f in go_cpu go_heap go_heap_proto; do
  p=$T/$f.pb.gz
  want=$(raw_totals "$p")
  same "$f: spanprof totals = pprof -raw totals" "$want" "$(tool_totals "$p")"
  same "$f: functions" "$(raw_functions "$p")" "$(tool_functions "$p")"
  # spanprof re-encodes it; pprof must see the same profile
  "$TOOL" copy "$p" "$T/$f.spanprof.pb.gz" || fail "$f: re-encode"
  same "$f: re-encoded totals in pprof -raw" "$want" "$(raw_totals "$T/$f.spanprof.pb.gz")"
  same "$f: re-encoded -top" "$(go tool pprof -top "$p" 2>&1 | sed 1d)" \
    "$(go tool pprof -top "$T/$f.spanprof.pb.gz" 2>&1 | sed 1d)"
done
same "go_cpu: labels" "$(raw_labels "$T/go_cpu.pb.gz")" "$(tool_labels "$T/go_cpu.pb.gz")"
tool_labels "$T/go_cpu.pb.gz" | grep -qx 'span_id=00f067aa0ba902b7' || fail "go_cpu: pprof.Do label missing"
cpu_ns=$(go tool pprof -top -unit=ns "$T/go_cpu.pb.gz" 2>&1 | sed -n 's/.*Total samples = \([0-9]*\)ns.*/\1/p')
same "go_cpu: -top total = spanprof cpu total" "$cpu_ns" \
  "$("$TOOL" read "$T/go_cpu.pb.gz" | sed -n 's/^total cpu: //p')"
heap_b=$(go tool pprof -top -unit=B -sample_index=inuse_space "$T/go_heap.pb.gz" 2>&1 |
  sed -n 's/.* of \([0-9]*\)B total.*/\1/p')
same "go_heap: -top inuse_space total" "$heap_b" \
  "$("$TOOL" read "$T/go_heap.pb.gz" inuse_space | sed -n 's/^selected inuse_space: //p')"

# 3. renderers from the render branch, when present
require_file "$SPANPROF"
for f in go_cpu go_heap; do
  "$SPANPROF" top "$T/$f.pb.gz" >"$T/$f.top.txt" 2>&1 || fail "spanprof top $f"
  grep -q 'main\.' "$T/$f.top.txt" || fail "spanprof top $f shows no main.* function"
  echo "ok: spanprof top $f"
  "$SPANPROF" flamegraph "$T/$f.pb.gz" -o "$T/$f.svg" >/dev/null 2>&1 || fail "spanprof flamegraph $f"
  grep -q 'main\.' "$T/$f.svg" || fail "spanprof flamegraph $f shows no main.* function"
  echo "ok: spanprof flamegraph $f"
done
echo "pprof_roundtrip: all checks passed"
