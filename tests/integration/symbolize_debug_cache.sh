#!/usr/bin/env bash
# The debug-file cache: libc's separate debug file (libc6-dbg, whose DWARF
# Debian compresses) is inflated once into SPANPROF_DEBUG_CACHE by build-id,
# and later symbolizers map the copy. Every way of running gives the same
# frames, function, file and line, as with the cache off: the first run
# (writing the copy), later runs (using it), a truncated copy, a copy of
# another file under libc's name, a directory others can read, a directory
# that cannot be made. Normal and ASan/UBSan symtool.
source "$(dirname "$0")/../lib.sh"
require_cmd readelf awk
cd "$T" || exit 1
test_prog "$BUILD" workloads symtool
test_prog "$ASAN_BUILD" workloads symtool symtool-asan

LIBC=$(readlink -f "$(ldd ./symtool | awk '$1 ~ /^libc\.so/ { print $3 }')")
[ -f "$LIBC" ] || fail "cannot find the libc symtool uses"
ID=$(readelf -n "$LIBC" 2>/dev/null | awk '/Build ID/ { print $3 }')
DBG=/usr/lib/debug/.build-id/${ID:0:2}/${ID:2}.debug
require_file "$DBG"
compressed() { readelf -S -W "$1" 2>/dev/null | awk '$2 ~ /^\.debug_info$/ { print ($0 ~ / C /) ? "yes" : "no" }'; }
[ "$(compressed "$DBG")" = yes ] ||
  fail "$DBG: .debug_info is not compressed; this test needs Debian's libc6-dbg as shipped"

# 40 functions of libc (sized FUNC symbols of its debug file), as file offsets.
vaddrs=$(readelf -Ws "$DBG" 2>/dev/null | awk '$4 == "FUNC" && $3 > 64 && $7 ~ /^[0-9]+$/ { print $2 }' |
         sort -u | awk 'NR % 50 == 1' | head -40)
offs=$(./symtool vaddr "$LIBC" $vaddrs) || fail "symtool vaddr"
[ "$(echo "$offs" | wc -w)" -ge 20 ] || fail "too few libc functions: $offs"

resolve() { # tool cache-setting
  SPANPROF_DEBUG_CACHE=$2 "$1" resolve -b "$ID" "$LIBC" $offs
}
CACHE=$T/cache/debug
COPY=$CACHE/$ID.debug

for tool in ./symtool ./symtool-asan; do
  rm -rf "$T/cache"
  resolve "$tool" off > ref.txt || fail "$tool: resolve with the cache off"
  lines=$(awk -F'\t' '$2 != "-" && $6 > 0' ref.txt | wc -l)
  [ "$lines" -ge 20 ] || fail "$tool: only $lines frames with a line from libc6-dbg"
  [ ! -e "$T/cache" ] || fail "$tool: SPANPROF_DEBUG_CACHE=off wrote $T/cache"
  echo "ok: $tool: cache off: $(wc -l < ref.txt) frames, $lines with file:line"

  resolve "$tool" "$CACHE" > first.txt || fail "$tool: first run"
  cmp -s ref.txt first.txt || fail "$tool: first run (writing the copy) differs: $(diff ref.txt first.txt | head -5)"
  [ -f "$COPY" ] || fail "$tool: no copy at $COPY"
  [ "$(compressed "$COPY")" = no ] || fail "$tool: the copy's .debug_info is still compressed"
  [ "$(readelf -n "$COPY" 2>/dev/null | awk '/Build ID/ { print $3 }')" = "$ID" ] || fail "$tool: the copy's build-id"
  [ "$(stat -c %a "$COPY") $(stat -c %a "$CACHE")" = "600 700" ] ||
    fail "$tool: modes $(stat -c %a "$COPY") / $(stat -c %a "$CACHE"), want 600 / 700"
  echo "ok: $tool: first run writes $(stat -c %s "$COPY") bytes, uncompressed, same build-id, 600 in 700"

  # Used: opening a copy marks it used (its mtime, for eviction).
  touch -d '2001-01-01' "$COPY"
  resolve "$tool" "$CACHE" > second.txt || fail "$tool: second run"
  cmp -s ref.txt second.txt || fail "$tool: run with the copy differs: $(diff ref.txt second.txt | head -5)"
  [ "$(stat -c %Y "$COPY")" -gt 1000000000 ] || fail "$tool: the copy was not used"
  echo "ok: $tool: later run maps the copy, same frames"

  # A truncated copy is not used (it fails the build-id check) and is made again.
  head -c 4096 "$COPY" > cut && mv cut "$COPY"
  resolve "$tool" "$CACHE" > cut.txt || fail "$tool: run with a truncated copy"
  cmp -s ref.txt cut.txt || fail "$tool: truncated copy changed the frames"
  [ "$(compressed "$COPY")" = no ] || fail "$tool: the truncated copy was not replaced"

  # Another ELF under libc's name: wrong build-id, not used.
  cp ./symtool "$COPY"
  resolve "$tool" "$CACHE" > other.txt || fail "$tool: run with a wrong copy"
  cmp -s ref.txt other.txt || fail "$tool: a copy of another file changed the frames"
  echo "ok: $tool: truncated and foreign copies are replaced, frames unchanged"

  # A directory others may read is not ours to fill; one that cannot exist
  # (under a regular file) leaves symbolization as it was.
  rm -rf "$T/open" && mkdir -m 755 "$T/open"
  resolve "$tool" "$T/open" > open.txt || fail "$tool: run with a 755 directory"
  cmp -s ref.txt open.txt || fail "$tool: 755 directory changed the frames"
  [ -z "$(ls "$T/open")" ] || fail "$tool: wrote into a directory others can read"
  : > "$T/plain"
  resolve "$tool" "$T/plain/debug" > bad.txt || fail "$tool: run with an impossible directory"
  cmp -s ref.txt bad.txt || fail "$tool: impossible directory changed the frames"
  echo "ok: $tool: a readable-by-others or impossible directory is not used"
done

# The consumer uses it too: a profile's libc frames with lines, from the copy.
rm -rf "$T/cache"
SPANPROF_DEBUG_CACHE=$CACHE "$SPANPROF" record -q -o "$T/rec" -- \
  bash -c 'i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done' || fail "record"
[ -f "$COPY" ] || fail "record's consumer wrote no copy"
echo "ok: record's consumer writes the copy"

# The consumer a preloaded service starts writes no copy unless told: its
# HOME may be the service's data.
mkdir -p "$T/home"
HOME=$T/home LD_PRELOAD=$LIBSPANPROF SPANPROF_OUTPUT=$T/svc SPANPROF_UPLOAD_INTERVAL=1 \
  bash -c 'i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done' || fail "preloaded bash"
for _ in $(seq 100); do
  ls "$T"/svc/*.pb.gz > /dev/null 2>&1 && break
  sleep 0.1
done
ls "$T"/svc/*.pb.gz > /dev/null 2>&1 || fail "the detached consumer wrote no profile"
[ ! -e "$T/home/.cache" ] || fail "the detached consumer wrote into HOME: $(find "$T/home" | head -3)"
echo "ok: a preloaded service's consumer leaves HOME alone"
echo "symbolize_debug_cache: all checks passed"
