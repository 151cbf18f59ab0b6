#!/usr/bin/env bash
# `spanprof symbolize` on an unsymbolized profile (mappings from
# /proc/self/maps, raw addresses, written by tests/workloads/symtool.c),
# checked with `go tool pprof -raw`: function names and file:line appear,
# mapping flags are set, a deleted binary keeps its build-id and address.
source "$(dirname "$0")/../lib.sh"
W=$ROOT/tests/workloads
require_cmd go
[ -x "$SPANPROF" ] || fail "build first: $SPANPROF is missing"
cd "$T" || exit 1

test_prog "$BUILD" workloads symtool
line() { grep -n "@L:$1 " "$W/symtool.c" | head -1 | cut -d: -f1; }

./symtool mkprofile raw.pb.gz || fail "symtool mkprofile"
pprof_raw() { go tool pprof -symbolize=none -raw "$1" 2>&1; }
pprof_raw raw.pb.gz > raw.txt
grep -q 'symtool_leaf' raw.txt && fail "the input profile is already symbolized"
echo "ok: input has addresses only"

for cli in "$SPANPROF" "$SPANPROF_ASAN"; do
  [ -x "$cli" ] || continue
  tag=$(basename "$(dirname "$cli")")
  out=$("$cli" symbolize raw.pb.gz -o sym.pb.gz) || fail "$tag: symbolize failed: $out"
  echo "$out"
  echo "$out" | grep -Eq '^symbolized raw.pb.gz: ([0-9]+) addresses, \1 resolved, [0-9]+ with lines, 0 modules missing -> sym.pb.gz$' \
    || fail "$tag: unexpected summary: $out"
  pprof_raw sym.pb.gz > sym.txt
  check "$tag: leaf function with file:line" \
    grep -Eq " symtool_leaf $W/symtool.c:$(line symtool_leaf) " sym.txt
  # One location, two lines: the inlined function, then its caller.
  check "$tag: inlined frame, then its caller" \
    grep -Eq -A1 " symtool_inlined $W/symtool.c:$(line symtool_inlined) " sym.txt
  grep -A1 " symtool_inlined " sym.txt | tail -1 |
    grep -Eq "^ +symtool_caller $W/symtool.c:$(line symtool_caller) " \
    || fail "$tag: caller line missing after the inlined frame: $(grep -A1 symtool_inlined sym.txt)"
  echo "ok: $tag: caller with file:line"
  check "$tag: exe mapping has functions" grep -Eq '/symtool [0-9a-f]{40} \[FN\]' sym.txt
  check "$tag: libc frame named" grep -Eq ' __libc_start_(call_)?main' sym.txt
  check "$tag: libc mapping has functions" grep -Eq 'libc\.so\.6 [0-9a-f]{40} \[FN\]' sym.txt
  # Profile order and the sample are untouched.
  [ "$(grep -c '^ *[0-9]*: 0x' raw.txt)" = "$(grep -c '^ *[0-9]*: 0x' sym.txt)" ] \
    || fail "$tag: location count changed"
  echo "ok: $tag: same locations"
done

# The binary is gone: its locations keep address, mapping and build-id.
cp symtool symtool.tmp
./symtool.tmp mkprofile gone.pb.gz || fail "mkprofile (copy)"
rm symtool.tmp
out=$("$SPANPROF" symbolize gone.pb.gz -o gone-sym.pb.gz) || fail "symbolize with a missing binary: $out"
echo "$out"
echo "$out" | grep -q ', 1 modules missing' || fail "missing module not counted: $out"
pprof_raw gone-sym.pb.gz > gone.txt
grep -q 'symtool_leaf' gone.txt && fail "resolved a deleted binary?"
check "missing binary keeps its build-id" grep -Eq 'symtool\.tmp [0-9a-f]{40} *$' gone.txt
check "libc still resolved" grep -Eq ' __libc_start_(call_)?main' gone.txt

# Usage and runtime errors.
"$SPANPROF" symbolize --help | grep -q '^usage: spanprof symbolize' || fail "--help"
echo "ok: --help"
"$SPANPROF" symbolize raw.pb.gz 2>/dev/null; [ $? -eq 2 ] || fail "no -o must exit 2"
"$SPANPROF" symbolize -o x.pb.gz 2>/dev/null; [ $? -eq 2 ] || fail "no input must exit 2"
"$SPANPROF" symbolize --frobnicate raw.pb.gz 2>/dev/null; [ $? -eq 2 ] || fail "bad option must exit 2"
"$SPANPROF" symbolize nonexistent.pb.gz -o x.pb.gz 2>/dev/null; [ $? -eq 1 ] || fail "missing input must exit 1"
echo "not a profile" > junk.pb.gz
err=$("$SPANPROF" symbolize junk.pb.gz -o x.pb.gz 2>&1); [ $? -eq 1 ] || fail "junk input must exit 1"
echo "$err" | grep -q 'junk.pb.gz' || fail "error does not name the file: $err"
[ -e x.pb.gz ] && fail "output written despite errors"
echo "ok: exit codes 0/1/2"
rm -rf "$T"
