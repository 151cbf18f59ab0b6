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

# Built by make in the ASan tree with its sanitizers.
test_prog "$ASAN_BUILD" fuzz replay
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
out=$("$T/replay" "${inputs[@]}" 2>&1) || { echo "$out" | tail -40; fail "an input in tests/fuzz/corpus crashes the reader"; }
echo "$out" | tail -1
echo "ok: ${#inputs[@]} corpus inputs replayed cleanly under ASan/UBSan"
