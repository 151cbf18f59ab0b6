#!/usr/bin/env bash
# The profiler's descriptors stay out of the application's way: its perf
# events sit at the top of the descriptor range, within a small budget
# (then POSIX timers), and an event closed or replaced under it is re-armed.
#  - a daemon that closes 3..1023 at start is still sampled;
#  - a script doing `exec 3>file` still gets a profile;
#  - 1,100 threads under ulimit -n 8192: the first file is below FD_SETSIZE;
#  - 500 threads under ulimit -n 1024: the program still opens 700 files.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
require_file "$SPANPROF" "$LIBSPANPROF"
require_cmd go

workload fd_clash

record() { # name args... (the command)
  local name=$1; shift
  "$SPANPROF" record -F 997 -o "$T/$name" -- "$@" > "$T/$name.log" 2>&1 ||
    { cat "$T/$name.log"; fail "$name: record failed"; }
  cat "$T/$name.log" >&2
  find "$T/$name" -name '*.pb.gz' ! -name '*T*Z-*' | head -1
}

# Under ulimit -n 1024 the events sit in 960..1023 and are closed too: the
# worker notices within a second and re-arms them.
for lim in 8192 1024; do
  p=$(record "closefrom$lim" bash -c 'ulimit -n "$1" && exec "$0" closefrom 1.5' "$T/fd_clash" "$lim")
  [ -n "$p" ] || fail "closefrom (ulimit -n $lim): no profile"
  n=$(sample_count "$p") share=$(traces_reaching burn_after_close "$p")
  check "closefrom (ulimit -n $lim): sampled after closing 3..1023 ($n samples)" [ "$n" -gt 0 ]
  check "closefrom (ulimit -n $lim): $share% of samples in burn_after_close (>= 90)" within 90 100 "$share"
done

p=$(record script bash -c 'exec 3>"$0"; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done' "$T/fd3.txt")
check "exec 3>file: the script is profiled" [ -n "$p" ]
check "exec 3>file: with samples" [ "$(sample_count "$p")" -gt 0 ]

out=$(bash -c 'ulimit -n 8192 && exec env LD_PRELOAD="$0" SPANPROF_OUTPUT="$1" "$2" select 1100' \
      "$LIBSPANPROF" "$T/sel" "$T/fd_clash") || { echo "$out"; fail "select: the program failed"; }
echo "$out"
first=$(sed -n 's/^first fd //p' <<<"$out")
check "ulimit -n 8192, 1100 threads: the program's first fd is $first (< 16)" [ "$first" -lt 16 ]
check "ulimit -n 8192, 1100 threads: select() works" grep -q '^select ok$' <<<"$out"

out=$(bash -c 'ulimit -n 1024 && exec env LD_PRELOAD="$0" SPANPROF_OUTPUT="$1" "$2" files 500 700' \
      "$LIBSPANPROF" "$T/files" "$T/fd_clash") || { echo "$out"; fail "files: the program could not open 700 files"; }
echo "$out"
check "ulimit -n 1024, 500 threads: 700 files opened" grep -q '^opened 700$' <<<"$out"
# Close-on-exec: a program exec'd without the library holds no perf event.
env LD_PRELOAD="$LIBSPANPROF" SPANPROF_OUTPUT="$T/exec" bash -c \
  'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec env -u LD_PRELOAD ls -l /proc/self/fd/' \
  > "$T/exec.txt" 2>&1 || fail "exec: ls failed"
check "exec: no perf event descriptor survives exec" bash -c "! grep -q perf_event '$T/exec.txt'"
echo "PASS"
