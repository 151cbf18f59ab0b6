#!/usr/bin/env bash
# 1 kHz on a thread whose stack (25 frames of 2 KiB, ~52 KiB) is deeper than
# the copied slice: every sample copies a full slice, so a 512 KiB ring
# holds 15 of them (7 at 64 KiB) and must wake the worker itself when it
# fills (the worker's idle timer is 250 ms; waiting for it would lose most
# samples: 180 of 2,900 kept, without the handler's wake). Checked from the
# debug counters: samples taken, at most 10% lost (a worker starved of CPU
# by a loaded machine may lose a few; that is counted, not hidden),
# full-size copies. With the default 32 KiB slice every stack is cut short
# and says so ([truncated] frame, telemetry comment); with a 64 KiB slice
# (SPANPROF_STACK_BYTES) the stacks reach main (go tool pprof -traces).
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

workload deep_stack
for kib in 32 64; do
  SPANPROF_STACK_BYTES=$((kib * 1024)) SPANPROF_DEBUG_COUNTS="$T/counts.$kib" \
    "$SPANPROF" record -q -F 1000 -o "$T/out.$kib" -- "$T/deep_stack" 3 || fail "record failed"
  cat "$T/counts.$kib"
  samples=$(awk '/^samples / { print $2 }' "$T/counts.$kib")
  lost=$(awk '/^lost / { print $2 }' "$T/counts.$kib")
  bytes=$(awk '/^stack_bytes_avg / { print $2 }' "$T/counts.$kib")
  check "$kib KiB: 2,400+ samples in 3 s of CPU at 1 kHz (got ${samples:-none})" \
    within 2400 100000 "${samples:-0}"
  check "$kib KiB: at most 10% of samples lost to a full ring (lost ${lost:-none} of ${samples:-none})" \
    test "${lost:-999999}" -le $(( ${samples:-0} / 10 ))
  # 32 KiB: the slice, full; 64 KiB: the whole stack, ~52 KiB deep.
  check "$kib KiB: every sample copied a big slice (avg ${bytes:-none} bytes)" \
    within $((kib == 32 ? 32256 : 50000)) $((kib * 1024)) "${bytes:-0}"
done
short=$(find "$T/out.32" -name 'deep_stack-[0-9]*.pb.gz' ! -name '*T*Z*' | head -1)
full=$(find "$T/out.64" -name 'deep_stack-[0-9]*.pb.gz' ! -name '*T*Z*' | head -1)
[ -n "$short" ] && [ -n "$full" ] || fail "no merged profile"
cut=$(traces_reaching '[truncated]' "$short")
check "32 KiB: $cut% of stacks end in [truncated] (>= 99)" within 99 100 "$cut"
go tool pprof -raw "$short" 2>/dev/null | grep -q 'truncated=[0-9]* (100.00%)' ||
  go tool pprof -raw "$short" 2>/dev/null | grep -Eq 'truncated=[0-9]+ \((99\.[0-9]+|100\.00)%\)' ||
  fail "32 KiB: the telemetry comment does not report the truncated stacks"
echo "ok: 32 KiB: the telemetry comment reports them"
reach=$(traces_reaching main "$full")
check "64 KiB: $reach% of samples reach main (>= 99)" within 99 100 "$reach"
