#!/usr/bin/env bash
# The allocation hooks change nothing a program can see: the allocator's
# contract (heap_semantics: realloc chains, alignments to 16 MiB, calloc and
# reallocarray overflow, free(NULL), frees on another thread, fork in the
# middle) prints the same with every allocation sampled, some, or few; C++
# (new/delete, exceptions, threads) and python3 print the same under
# `record --heap`. Spans split memory too: span A allocates 3x the bytes of
# span B, so alloc_space by span_name is 75/25 (+-5 points). A program
# whose own malloc comes first is told it is not seen, and its CPU profile
# is still written.
source "$(dirname "$0")/../lib.sh"

require_file "$SPANPROF" "$LIBSPANPROF"
require_cmd go python3
for p in heap_semantics heap_cxx heap_split own_malloc; do test_prog "$BUILD" workloads $p; done

within() { awk -v v="$3" -v lo="$1" -v hi="$2" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# --- heap_semantics, preloaded, at three rates ---
"$T/heap_semantics" > "$T/plain.out" 2> "$T/plain.err"
rc_plain=$?
check "heap_semantics passes on its own (exit $rc_plain)" [ $rc_plain -eq 0 ]
for rate in 1 4096 512K; do
  SPANPROF_HEAP=1 SPANPROF_HEAP_RATE=$rate SPANPROF_OUTPUT="$T/sem-$rate" LD_PRELOAD="$LIBSPANPROF" \
    timeout 120 "$T/heap_semantics" > "$T/sem-$rate.out" 2> "$T/sem-$rate.err"
  rc=$?
  check "rate $rate: same exit status ($rc)" [ $rc -eq $rc_plain ]
  check "rate $rate: same stdout" cmp -s "$T/plain.out" "$T/sem-$rate.out"
  check "rate $rate: same stderr" cmp -s "$T/plain.err" "$T/sem-$rate.err"
done
n=$(find "$T/sem-1" -name '*.heap.pb.gz' | wc -l)
check "rate 1: memory profiles of the parent and the fork child ($n)" [ "$n" -ge 2 ]
go tool pprof -sample_index=alloc_objects -top -nodefraction=0 "$(ls "$T"/sem-1/*.heap.pb.gz | head -1)" \
  > "$T/sem-top.txt" 2>&1
check "rate 1: allocations attributed to the function that made them (other_thread)" \
  grep -q 'other_thread' "$T/sem-top.txt"

# --- C++ and python3 under record --heap ---
"$T/heap_cxx" > "$T/cxx-plain.out"
SPANPROF_HEAP_RATE=4096 "$SPANPROF" record --heap -q -o "$T/cxx" -- "$T/heap_cxx" > "$T/cxx.out" 2> "$T/cxx.err"
rc=$?
cat "$T/cxx.err"
check "C++: exit 0 under record --heap ($rc)" [ $rc -eq 0 ]
check "C++: same stdout" cmp -s "$T/cxx-plain.out" "$T/cxx.out"
cxxprof=$(ls "$T"/cxx/heap_cxx-*.heap.pb.gz 2>/dev/null | head -1)
[ -n "$cxxprof" ] || fail "C++: no memory profile"
go tool pprof -sample_index=alloc_space -top -nodefraction=0 "$cxxprof" > "$T/cxx-top.txt" 2>&1
check "C++: operator new is in the memory profile" grep -q 'operator new' "$T/cxx-top.txt"

py='import json
d = [{"k": i, "v": "x" * (i % 100)} for i in range(200000)]
print(len(json.dumps(d)), sum(len(x["v"]) for x in d))'
python3 -c "$py" > "$T/py-plain.out"
"$SPANPROF" record --heap -q -o "$T/py" -- python3 -c "$py" > "$T/py.out" 2> "$T/py.err"
rc=$?
cat "$T/py.err"
check "python3: exit 0 under record --heap ($rc)" [ $rc -eq 0 ]
check "python3: same stdout" cmp -s "$T/py-plain.out" "$T/py.out"
n=$(find "$T/py" -maxdepth 1 -name '*.heap.pb.gz' | wc -l)
check "python3: a merged memory profile ($n)" [ "$n" -ge 1 ]

# --- spans: A allocates 3x B ---
SPANPROF_HEAP_RATE=64K "$SPANPROF" record --heap -q -o "$T/span" -- "$T/heap_split" 256 span \
  > "$T/span.out" 2> "$T/span.err" || { cat "$T/span.err"; fail "heap_split span failed"; }
sprof=$(ls "$T"/span/heap_split-*.heap.pb.gz | head -1)
go tool pprof -sample_index=alloc_space -tags "$sprof" > "$T/span-tags.txt" 2>&1
cat "$T/span-tags.txt"
share() { awk -v n="$1" '/^ [a-z_]+: Total/ { b = $1 } b == "span_name:" && $NF == n { gsub(/[()%:]/, "", $2); print $2 }' "$T/span-tags.txt"; }
sa=$(share span_a) sb=$(share span_b)
[ -n "$sa" ] && [ -n "$sb" ] || fail "span_a or span_b missing from alloc_space -tags"
check "alloc_space of span_a is $sa% (75 +-5)" within 70 80 "$sa"
check "alloc_space of span_b is $sb% (25 +-5)" within 20 30 "$sb"

# --- a program with its own malloc ---
"$SPANPROF" record --heap -o "$T/own" -- "$T/own_malloc" > "$T/own.out" 2> "$T/own.err"
rc=$?
cat "$T/own.err"
check "own malloc: exit 0 ($rc)" [ $rc -eq 0 ]
check "own malloc: told its heap is not seen" grep -q "its heap is not seen" "$T/own.err"
ownprof=$(ls "$T"/own/own_malloc-*.pb.gz 2>/dev/null | grep -v '[.]heap[.]pb[.]gz$' | head -1)
[ -n "$ownprof" ] || fail "own malloc: no CPU profile"
go tool pprof -sample_index=cpu -top "$ownprof" > "$T/own-top.txt" 2>&1
check "own malloc: the CPU profile still names own_burn" grep -q own_burn "$T/own-top.txt"
