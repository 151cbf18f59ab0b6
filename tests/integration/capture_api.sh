#!/usr/bin/env bash
# spanprof_start / spanprof_stop from code, in a program linked with
# -lspanprof and run without LD_PRELOAD: two sessions (perf events, then
# timers forced by the options), each flushed by spanprof_stop into its own
# interval file; the error codes for double start / stop; nothing is
# profiled between the sessions.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

# Linked with -lspanprof, rpath $BUILD (the Makefile).
workload api_start
env -u LD_PRELOAD "$T/api_start" "$T/out" > "$T/api.log" 2>&1 || { cat "$T/api.log"; fail "api_start failed"; }
cat "$T/api.log"
check "the program's own checks passed" grep -q '^api ok$' "$T/api.log"
mapfile -t f < <(interval_files "$T/out")
check "two interval files (one per session): ${#f[@]}" [ ${#f[@]} -eq 2 ]
check "file names carry the service from the options" bash -c "ls '$T/out' | grep -q '^api-test-'"
check "second session used timers (from the options)" \
  bash -c "go tool pprof -comments '${f[1]}' 2>/dev/null | grep -q 'engine=posix timer'"
for x in "${f[@]}"; do
  s=$(cum_share api_work "$x")
  check "$(basename "$x"): api_work is $s% (>= 90)" within 90 100 "$s"
done
total=$(go tool pprof -sample_index=cpu -unit=ms -top "${f[@]}" 2>/dev/null |
  awk '/Total samples =/ { v = $0; sub(/.*Total samples = /, "", v); sub(/ms.*/, "", v); print v }')
check "only the two sessions' ~1 s of CPU was profiled (${total} ms <= 1150)" within 600 1150 "${total:-0}"
