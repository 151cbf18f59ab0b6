#!/usr/bin/env bash
# Renderers on bad input: truncated, random bytes, wrong file types, a
# missing file, a directory, an empty file and a valid profile without
# samples. flamegraph, folded and top must each exit 1 with exactly one line
# on stderr naming the file, never crash; with the ASan/UBSan build as well.
source "$(dirname "$0")/../lib.sh"

[ -x "$SPANPROF" ] || fail "$SPANPROF not built (make all)"
require_cmd python3

test_prog "$BUILD" tools render_profile
cd "$T" || exit 1
./render_profile test good.pb.gz || fail "render_profile test"
./render_profile empty empty_profile.pb.gz || fail "render_profile empty"

size=$(stat -c %s good.pb.gz)
head -c $((size / 2)) good.pb.gz >truncated_gzip.pb.gz
gzip -dc good.pb.gz >raw.pb
head -c $(( $(stat -c %s raw.pb) * 2 / 3 )) raw.pb >truncated_raw.pb
python3 - <<'PY'
import random, struct, zlib
r = random.Random(1234)
open('random.bin', 'wb').write(bytes(r.getrandbits(8) for _ in range(4096)))
# gzip magic followed by garbage
open('random_gzip.pb.gz', 'wb').write(b'\x1f\x8b\x08\x00' + bytes(r.getrandbits(8) for _ in range(512)))
# valid gzip wrapping random bytes: the protobuf decoder sees the garbage
c = zlib.compressobj(wbits=31)
open('gzip_of_random.pb.gz', 'wb').write(c.compress(bytes(r.getrandbits(8) for _ in range(2048))) + c.flush())
# a real 1x1 PNG
def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 1, 1, 8, 2, 0, 0, 0)) \
    + chunk(b'IDAT', zlib.compress(b'\x00\xff\x00\x00')) + chunk(b'IEND', b'')
open('image.png', 'wb').write(png)
open('notes.txt', 'w').write('this is a text file, not a profile\n' * 20)
PY
: >empty_file.pb.gz
mkdir -p a_directory

inputs=(truncated_gzip.pb.gz truncated_raw.pb random.bin random_gzip.pb.gz gzip_of_random.pb.gz
        image.png notes.txt missing.pb.gz empty_file.pb.gz a_directory empty_profile.pb.gz)
bins=("$SPANPROF")
if [ -x "$SPANPROF_ASAN" ]; then bins+=("$SPANPROF_ASAN"); else echo "no ASan build: normal build only"; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failures=0
for bin in "${bins[@]}"; do
  label=normal; [ "$bin" = "$SPANPROF_ASAN" ] && label=asan
  for input in "${inputs[@]}"; do
    for cmd in flamegraph folded top; do
      args=("$cmd" "$input")
      [ "$cmd" = flamegraph ] && args+=(-o "$T/out.svg")
      "$bin" "${args[@]}" >stdout.txt 2>stderr.txt
      rc=$?
      lines=$(wc -l <stderr.txt)
      what="[$label] $cmd $input"
      if [ "$rc" -ne 1 ]; then
        echo "FAIL: $what: exit $rc, want 1"; failures=$((failures + 1))
      elif [ "$lines" -ne 1 ]; then
        echo "FAIL: $what: $lines lines on stderr, want 1:"; sed 's/^/    /' stderr.txt | head -20
        failures=$((failures + 1))
      elif ! grep -q "${input%%.*}" stderr.txt; then
        echo "FAIL: $what: error does not name the file: $(cat stderr.txt)"; failures=$((failures + 1))
      elif grep -Eq 'Sanitizer|runtime error' stderr.txt; then
        echo "FAIL: $what: sanitizer report"; failures=$((failures + 1))
      else
        echo "ok: $what -> $(cat stderr.txt)"
      fi
      [ "$cmd" = flamegraph ] && [ -e "$T/out.svg" ] && { echo "FAIL: $what: wrote an SVG"; failures=$((failures + 1)); rm -f "$T/out.svg"; }
    done
  done
done
# merging a bad file after a good one still fails cleanly
"$SPANPROF" flamegraph good.pb.gz random.bin -o "$T/m.svg" >/dev/null 2>stderr.txt; rc=$?
check "good + bad input: exit 1, one line naming the bad file" \
  bash -c "[ $rc -eq 1 ] && [ \$(wc -l <stderr.txt) -eq 1 ] && grep -q random.bin stderr.txt"
# unwritable output: a runtime error, one line
"$SPANPROF" flamegraph good.pb.gz -o /nonexistent-dir/x.svg >/dev/null 2>stderr.txt; rc=$?
check "unwritable output: exit 1, one line" \
  bash -c "[ $rc -eq 1 ] && [ \$(wc -l <stderr.txt) -eq 1 ] && grep -q /nonexistent-dir stderr.txt"
[ "$failures" -eq 0 ] || fail "$failures bad-input cases misbehaved"
echo "all bad-input checks passed"
