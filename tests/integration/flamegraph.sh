#!/usr/bin/env bash
# Renderers end to end: build a known profile with tests/tools/render_profile.c,
# then check `spanprof flamegraph` (well-formed, every function present,
# widths proportional to values, merged inputs, tag filter, interactivity in
# chromium when installed), `spanprof folded` (sums to the total) and
# `spanprof top` (same numbers as `go tool pprof -top`).
source "$(dirname "$0")/../lib.sh"

[ -x "$SPANPROF" ] || fail "$SPANPROF not built (make all)"
require_cmd python3
require_cmd xmllint

test_prog "$BUILD" tools render_profile
cd "$T" || exit 1
./render_profile test test.pb.gz || fail "render_profile test"
./render_profile heap heap.pb.gz || fail "render_profile heap"

# --- flame graph: default output name, printed --------------------------------
out=$("$SPANPROF" flamegraph test.pb.gz) || fail "flamegraph exited $?"
check "default output name derived from the input and printed" \
  grep -q "^wrote test.svg " <<<"$out"
check "SVG is well-formed XML" xmllint --noout test.svg
check "SVG is self-contained (no external resources)" \
  bash -c '! grep -Eq "xlink:href|<image|<link|@import|url\((http|//)|src=" test.svg'
check "SVG carries its script" grep -q 'function zoom(' test.svg

# Frames as the page script sees them: DFS order, depth from y, data-v values.
cat >"$T/frames.py" <<'EOF'
import sys, xml.etree.ElementTree as ET
NS = {'s': 'http://www.w3.org/2000/svg'}
def frames(path):
    root = ET.parse(path).getroot()
    out = []
    for g in root.find(".//s:g[@id='frames']", NS):
        r = g.find('s:rect', NS)
        title = g.find('s:title', NS).text
        out.append(dict(v=int(g.get('data-v')), x=float(r.get('x')), y=float(r.get('y')),
                        w=float(r.get('width')), name=title.split('\n')[0],
                        merged=g.get('class') == 'm'))
    root_y = out[0]['y']
    stack = []
    for i, f in enumerate(out):
        f['depth'] = round((root_y - f['y']) / 16)
        del stack[f['depth']:]
        f['parent'] = stack[-1] if stack else None
        stack.append(i)
    return out
cmd, path = sys.argv[1], sys.argv[2]
F = frames(path)
if cmd == 'names':
    for n in sorted({f['name'] for f in F[1:] if not f['merged']}):
        print(n)
elif cmd == 'total':
    print(F[0]['v'])
elif cmd == 'geometry':
    scale = F[0]['w'] / F[0]['v']
    bad = 0
    for i, f in enumerate(F):
        if abs(f['w'] - f['v'] * scale) > 0.006:
            print('width not proportional:', f['name'], f['w'], f['v'] * scale); bad += 1
        kids = [k for k in F if k['parent'] == i]
        if sum(k['v'] for k in kids) > f['v']:
            print('children wider than parent:', f['name']); bad += 1
        left = f['x']
        for k in kids:
            if abs(k['x'] - left) > 0.02:
                print('child not packed:', k['name'], k['x'], left); bad += 1
            left += k['w']
    sys.exit(1 if bad else 0)
elif cmd == 'children-sum':   # NAME: value of NAME and of its children
    name = sys.argv[3]
    i = next(i for i, f in enumerate(F) if f['name'] == name)
    print(F[i]['v'], sum(k['v'] for k in F if k['parent'] == i))
elif cmd == 'count':
    print(len(F))
EOF

cat >"$T/expected_names" <<'EOF'
0x7fff00001234
[libc.so.6+0x114a5d]
[truncated]
compute
deep_fn
handle_request
io_wait
leaf_fn
main
operator<<(std::ostream&, Foo const&)
parse "a&b"
recurse
run<std::vector<int>>
square
start_thread
worker_loop
EOF
python3 "$T/frames.py" names test.svg >names.txt || fail "cannot parse test.svg"
check "every function of the test profile appears in the SVG" diff -u expected_names names.txt
check "frame widths proportional to values, children packed in their parent" \
  python3 "$T/frames.py" geometry test.svg
check "root value is the profile total (100 samples x 10ms)" \
  test "$(python3 "$T/frames.py" total test.svg)" = 1000000000
check "inlined frame marked in its tooltip" grep -q 'square
[^<]*inlined</title>' test.svg
check "tooltip shows CPU time and percentage" grep -q '400ms, 40.00%' test.svg
check "C++ names are escaped" grep -q 'operator&lt;&lt;(std::ostream&amp;, Foo const&amp;)' test.svg

# --- several inputs are merged --------------------------------------------------
"$SPANPROF" flamegraph test.pb.gz test.pb.gz -o merged.svg --title 'Merged <two>' >/dev/null \
  || fail "flamegraph with two inputs"
check "merged inputs: twice the total" test "$(python3 "$T/frames.py" total merged.svg)" = 2000000000
check "merged SVG well-formed, title escaped" \
  bash -c 'xmllint --noout merged.svg && grep -q "Merged &lt;two&gt;" merged.svg'

# --- tag filter -------------------------------------------------------------------
"$SPANPROF" flamegraph test.pb.gz --tag span_id=00f067aa0ba902b7 -o span.svg >/dev/null \
  || fail "flamegraph --tag"
check "tag filter keeps only that span's samples (50 x 10ms)" \
  test "$(python3 "$T/frames.py" total span.svg)" = 500000000
python3 "$T/frames.py" names span.svg >span_names.txt
check "tag filter: only the span's functions" \
  test "$(tr '\n' ' ' <span_names.txt)" = "compute main run<std::vector<int>> square "
"$SPANPROF" flamegraph test.pb.gz --tag thread_name=worker-1 --tag span_id=b7ad6b7169203331 \
  -o both.svg >/dev/null || fail "flamegraph with two tags"
check "two tags are ANDed (5 samples)" test "$(python3 "$T/frames.py" total both.svg)" = 50000000

# --- narrow frames merged, totals exact ------------------------------------------
"$SPANPROF" flamegraph test.pb.gz --min-width 30 -o narrow.svg >/dev/null || fail "--min-width"
check "narrow SVG well-formed" xmllint --noout narrow.svg
check "narrow frames merged, geometry still exact" python3 "$T/frames.py" geometry narrow.svg
read -r mv mk < <(python3 "$T/frames.py" children-sum narrow.svg main)
check "main keeps its full width after merging (children sum $mk == $mv)" test "$mv" = "$mk"
check "fewer frames with a larger --min-width" \
  test "$(python3 "$T/frames.py" count narrow.svg)" -lt "$(python3 "$T/frames.py" count test.svg)"

# --- heap profile: byte units ------------------------------------------------------
"$SPANPROF" flamegraph heap.pb.gz -o heap.svg >/dev/null || fail "flamegraph heap"
check "heap graph titled and in bytes" \
  bash -c 'grep -q "Memory flame graph (inuse_space)" heap.svg && grep -q "2.50MB, 83.33%" heap.svg'
"$SPANPROF" flamegraph heap.pb.gz --sample-type alloc_space -o heap2.svg >/dev/null \
  || fail "--sample-type alloc_space"
check "--sample-type selects alloc_space" test "$(python3 "$T/frames.py" total heap2.svg)" = 13631488

# --- folded ------------------------------------------------------------------------
"$SPANPROF" folded test.pb.gz >folded.txt || fail "folded exited $?"
# flamegraph.pl calls the value "samples": by default print counts, like perf
# script | stackcollapse and async-profiler's collapsed output
check "folded prints sample counts by default (sums to 100)" \
  test "$(awk '{s += $NF} END {print s}' folded.txt)" = 100
"$SPANPROF" folded test.pb.gz --sample-type cpu >folded_ns.txt || fail "folded -s cpu"
check "folded --sample-type cpu sums to the nanoseconds total" \
  test "$(awk '{s += $NF} END {print s}' folded_ns.txt)" = 1000000000
"$SPANPROF" folded test.pb.gz --sample-type samples >folded_s.txt || fail "folded -s"
check "folded --sample-type samples sums to 100" \
  test "$(awk '{s += $NF} END {print s}' folded_s.txt)" = 100
check "folded line format root;...;leaf count" \
  grep -qx 'main;run<std::vector<int>>;compute;square 40' folded_s.txt
check "folded lines all match flamegraph.pl's pattern" \
  bash -c '! grep -Ev "^[^;]+(;[^;]+)* [0-9]+$" folded.txt'
tr ';' '\n' <folded_s.txt | sed 's/ [0-9]*$//' | sort -u >folded_names.txt
check "folded and SVG show the same frames" diff -u expected_names folded_names.txt
"$SPANPROF" folded test.pb.gz --tag span_id=b7ad6b7169203331 -s samples >folded_b.txt
check "folded --tag" test "$(cat folded_b.txt)" = "start_thread;worker_loop;handle_request;0x7fff00001234 5"

# --- top vs go tool pprof -top ------------------------------------------------------
"$SPANPROF" top test.pb.gz >top.txt || fail "top exited $?"
rows() { # table rows of a top report, blanks squeezed, sorted
  sed -n '/^ *flat  *flat%/,$p' "$1" | tail -n +2 | sed 's/  */ /g; s/^ //' | sort
}
require_cmd go chromium
go tool pprof -top -symbolize=none -nodefraction=0 -edgefraction=0 -nodecount=10000 \
  test.pb.gz >pprof_top.txt 2>pprof_err.txt || fail "go tool pprof failed: $(cat pprof_err.txt)"
check "top rows agree with go tool pprof -top (unsymbolized grouped per module)" \
  diff -u <(rows pprof_top.txt) <(rows top.txt)
check "top summary line agrees with pprof" \
  test "$(grep '^Showing nodes accounting' top.txt)" = "$(grep '^Showing nodes accounting' pprof_top.txt)"
"$SPANPROF" top test.pb.gz --tag span_id=00f067aa0ba902b7 >top_span.txt || fail "top --tag"
go tool pprof -top -symbolize=none -nodefraction=0 -nodecount=10000 \
  -tagfocus=span_id=00f067aa0ba902b7 test.pb.gz >pprof_span.txt 2>/dev/null
# pprof keeps percentages of the unfiltered total; ours are of the span's own
# total (the span is the whole profile here), so compare values and names.
vals() { rows "$1" | awk '{ $2 = $3 = $5 = ""; print }'; }
check "top --tag values agree with pprof -tagfocus" diff -u <(vals pprof_span.txt) <(vals top_span.txt)
check "top --tag percentages are of the span's total" grep -q '500ms   100%  main$' top_span.txt
"$SPANPROF" top heap.pb.gz >top_heap.txt || fail "top heap"
go tool pprof -top -nodefraction=0 -symbolize=none heap.pb.gz >pprof_heap.txt 2>/dev/null
check "top (bytes) agrees with pprof" diff -u <(rows pprof_heap.txt) <(rows top_heap.txt)
"$SPANPROF" top test.pb.gz -n 3 >top3.txt || fail "top -n"
check "top -n 3 prints 3 rows" test "$(sed -n '/^ *flat  *flat%/,$p' top3.txt | tail -n +2 | wc -l)" = 3
check "top: recursion counted once in cum" grep -Eq '^ +0 +0% +[0-9.]+% +80ms  8.00%  recurse$' top.txt

# --- usage errors -----------------------------------------------------------------
for cmd in flamegraph folded top; do
  "$SPANPROF" "$cmd" --help >help.txt 2>&1
  check "$cmd --help exits 0 with usage" bash -c "[ $? -eq 0 ] && grep -q '^usage: spanprof $cmd' help.txt"
  "$SPANPROF" "$cmd" >/dev/null 2>err.txt; rc=$?
  check "$cmd without input: exit 2, one line" bash -c "[ $rc -eq 2 ] && [ \$(wc -l <err.txt) -eq 1 ]"
  "$SPANPROF" "$cmd" --bogus test.pb.gz >/dev/null 2>err.txt; rc=$?
  check "$cmd --bogus: exit 2, one line" bash -c "[ $rc -eq 2 ] && [ \$(wc -l <err.txt) -eq 1 ]"
  "$SPANPROF" "$cmd" test.pb.gz --tag nokey >/dev/null 2>err.txt; rc=$?
  check "$cmd --tag without '=': exit 2" bash -c "[ $rc -eq 2 ] && [ \$(wc -l <err.txt) -eq 1 ]"
  "$SPANPROF" "$cmd" test.pb.gz --tag span_id=nope >/dev/null 2>err.txt; rc=$?
  check "$cmd tag matching nothing: exit 1, one line naming the file" \
    bash -c "[ $rc -eq 1 ] && [ \$(wc -l <err.txt) -eq 1 ] && grep -q 'test.pb.gz: no sample matches span_id=nope' err.txt"
  "$SPANPROF" "$cmd" test.pb.gz --sample-type nosuch >/dev/null 2>err.txt; rc=$?
  check "$cmd unknown sample type: exit 1, lists the types" \
    bash -c "[ $rc -eq 1 ] && [ \$(wc -l <err.txt) -eq 1 ] && grep -q 'samples, cpu' err.txt"
done
"$SPANPROF" flamegraph test.pb.gz --min-width abc 2>err.txt; rc=$?
check "flamegraph --min-width abc: exit 2" test "$rc" = 2
"$SPANPROF" top test.pb.gz -n 0 2>err.txt; rc=$?
check "top -n 0: exit 2" test "$rc" = 2

# --- the ASan build renders the same -----------------------------------------------
if [ -x "$SPANPROF_ASAN" ]; then
  "$SPANPROF_ASAN" flamegraph test.pb.gz -o asan.svg >/dev/null 2>asan_err.txt \
    || fail "ASan flamegraph: $(cat asan_err.txt)"
  check "ASan build: same SVG" cmp -s asan.svg test.svg
  "$SPANPROF_ASAN" folded test.pb.gz | cmp -s - folded.txt
  check "ASan build: same folded output" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
  "$SPANPROF_ASAN" top test.pb.gz --tag thread_name=main | cmp -s - <("$SPANPROF" top test.pb.gz --tag thread_name=main)
  check "ASan build: same top output" test "${PIPESTATUS[0]}${PIPESTATUS[1]}" = 00
fi

# --- interactivity in a real browser ------------------------------------------------
browser=$(command -v chromium)
# frame 3 is main (after all, [truncated], deep_fn): zoom on it, search "square"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$T/chrome" --dump-dom "file://$T/test.svg?x=3&s=square" \
  >dom.html 2>/dev/null
if [ -s dom.html ]; then
  check "chromium: search reports the matched share (400ms of main's 930ms)" \
    grep -q '>Matched: 43.0%<' dom.html
  check "chromium: zoom hides frames outside main" \
    test "$(grep -c 'style="display: none;"' dom.html)" -ge 6
  check "chromium: root dimmed as a parent of the zoomed frame" \
    grep -q '<g data-v="1000000000" class="parent">' dom.html
  check "chromium: matches highlighted" grep -q 'fill="rgb(230,0,230)"' dom.html
  check "chromium: Reset Zoom shown" bash -c "! grep -q 'class=\"btn hide\"' dom.html"
else
  fail "chromium produced no DOM (see $T/dom.html)"
fi
echo "all flamegraph checks passed"
