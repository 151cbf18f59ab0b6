#!/usr/bin/env bash
# Replays the committed fuzz corpus (tests/fuzz/corpus, seeds plus inputs
# libFuzzer found, including past crashes) through the fuzz target built
# against the ASan/UBSan core, so a regression in the pprof reader fails
# `make test` without needing clang or a fuzzing run.
source "$(dirname "$0")/../lib.sh"

LIB=$ASAN_BUILD/libspanprof_core.a
require_file "$LIB"
shopt -s nullglob
inputs=("$ROOT"/tests/fuzz/corpus/*)
[ ${#inputs[@]} -gt 0 ] || fail "tests/fuzz/corpus is empty"

# shellcheck disable=SC2046
cc -std=gnu11 -g -O1 -D_GNU_SOURCE -fsanitize=address,undefined -fno-sanitize-recover=all \
  -I"$ROOT/profiler" -I"$ASAN_BUILD/pprof-proto" -o "$T/replay" \
  "$ROOT/tests/fuzz/fuzz_pprof_decode.c" "$ROOT/tests/fuzz/replay.c" "$LIB" \
  $(pkg-config --cflags --libs libprotobuf-c zlib) || fail "cannot build the replay tool"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
out=$("$T/replay" "${inputs[@]}" 2>&1) || { echo "$out" | tail -40; fail "an input in tests/fuzz/corpus crashes the reader"; }
echo "$out" | tail -1
echo "ok: ${#inputs[@]} corpus inputs replayed cleanly under ASan/UBSan"
