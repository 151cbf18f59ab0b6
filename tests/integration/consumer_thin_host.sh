#!/usr/bin/env bash
# The preloaded library is a thin capture layer: what a profiled process
# carries is libspanprof.so and libc-level libraries, no thread of its own,
# and no child (the consumer is never a child of the application).
#  - readelf -d libspanprof.so: NEEDED only libc, ld-linux, libm, libdl,
#    libpthread, librt;
#  - a preloaded `sleep 5`, standalone (LD_PRELOAD alone) and under
#    `spanprof record`: /proc/PID/maps maps none of libdw, libelf, libz,
#    libprotobuf-c, libstdc++, libunwind, libcurl (nor libgcc_s unless a
#    plain sleep maps it), and nothing beyond a plain sleep's objects but
#    libspanprof.so and the libc-level ones; /proc/PID/status says Threads: 1
#    (as a plain sleep); it has no child process;
#  - standalone: a "spanprof consumer" process serves it, is not its child,
#    and exits by itself once the sleep has ended.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
source "$ROOT/tests/consumer_lib.sh"
need_built
require_cmd readelf timeout pgrep

LIBC_LEVEL='^(libc\.so\.6|ld-linux-x86-64\.so\.2|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1)$'
HEAVY='libdw|libelf|libz\.|libprotobuf-c|libstdc\+\+|libunwind|libcurl'

# --- what the library links ----------------------------------------------------
readelf -d "$LIBSPANPROF" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' > "$T/needed"
[ -s "$T/needed" ] || fail "readelf found no NEEDED entry in $LIBSPANPROF: the check is broken"
extra=$(grep -Ev "$LIBC_LEVEL" "$T/needed" | tr '\n' ' ')
expect "libspanprof.so NEEDs only libc-level libraries ($(tr '\n' ' ' < "$T/needed"); not allowed: ${extra:-none})" \
  [ -z "$extra" ]

# --- what a running host maps ----------------------------------------------------
objects() { awk '$6 ~ /\// { n = split($6, p, "/"); print p[n] }' "/proc/$1/maps" | grep '\.so' | sort -u; }

# inspect NAME PID [lib]: PID runs sleep 5 (after any exec); read 1 s after
# it runs sleep (and, with "lib", maps libspanprof.so), while it still runs.
inspect() {
  local name=$1 pid=$2 lib=${3:-}
  for _ in $(seq 300); do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ]; then
      [ -z "$lib" ] && break
      grep -q libspanprof "/proc/$pid/maps" 2>/dev/null && break
    fi
    [ -d "/proc/$pid" ] || fail "($name) the sleep ($pid) ended before it could be inspected"
    sleep 0.1
  done
  [ -z "$lib" ] || grep -q libspanprof "/proc/$pid/maps" 2>/dev/null ||
    fail "($name) libspanprof.so is not mapped in the sleep ($pid) after 30 s"
  sleep 1
  objects "$pid" > "$T/$name.objs"
  grep '^Threads:' "/proc/$pid/status" > "$T/$name.threads"
  pgrep -P "$pid" > "$T/$name.children" || true
  for c in $(cat "$T/$name.children"); do echo "  child $c: $(tr '\0' ' ' < "/proc/$c/cmdline" 2>/dev/null)"; done
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] || fail "($name) the sleep ended while it was inspected: the check is void"
  echo "--- $name: mapped objects: $(tr '\n' ' ' < "$T/$name.objs")"
}

# A plain sleep: the reference.
sleep 5 &
plain=$!
inspect plain $plain
kill $plain; wait $plain 2>/dev/null
grep -q 'libc\.so\.6' "$T/plain.objs" || fail "a plain sleep maps no libc.so.6: the check is broken"
check "a plain sleep has one thread ($(cat "$T/plain.threads"))" grep -q '^Threads:[[:space:]]*1$' "$T/plain.threads"
GCC_S=libgcc_s
grep -q '^libgcc_s' "$T/plain.objs" && GCC_S=   # sleep itself loads it: not ours to judge

judge_host() { # name
  local name=$1 heavy beyond
  heavy=$(grep -E "$HEAVY${GCC_S:+|$GCC_S}" "$T/$name.objs" | tr '\n' ' ')
  expect "($name) none of libdw, libelf, libz, libprotobuf-c, libstdc++, libunwind, libcurl${GCC_S:+, libgcc_s} mapped (found: ${heavy:-none})" \
    [ -z "$heavy" ]
  beyond=$(comm -13 "$T/plain.objs" "$T/$name.objs" | grep -v '^libspanprof\.so$' | grep -Ev "$LIBC_LEVEL" | tr '\n' ' ')
  expect "($name) nothing mapped beyond a plain sleep's objects but libspanprof.so and libc-level ones (found: ${beyond:-none})" \
    [ -z "$beyond" ]
  expect "($name) one thread, as a plain sleep ($(cat "$T/$name.threads"))" grep -q '^Threads:[[:space:]]*1$' "$T/$name.threads"
  expect "($name) the sleep has no child process ($(tr '\n' ' ' < "$T/$name.children"))" [ ! -s "$T/$name.children" ]
}

# --- standalone -------------------------------------------------------------------
"${STANDALONE[@]}" SPANPROF_OUTPUT="$T/sa" sleep 5 > "$T/sa.stdout" 2> "$T/sa.stderr" &
sa=$!
inspect standalone $sa lib
cons=$(wait_consumer_of $sa 30 "$T/sa") || cons=
ppid=
if [ -n "$cons" ]; then
  ppid=$(awk '{ print $2 }' <<< "$(sed 's/.*) //' "/proc/$cons/stat")")
  echo "standalone consumer: pid $cons, parent $ppid: $(tr '\0' ' ' < "/proc/$cons/cmdline")"
  # It holds none of the application's stdio: a consumer keeping the
  # write end of a pipe would keep `x=$(cmd 2>&1)` waiting for it.
  cons_fds=$(for f in 0 1 2; do readlink "/proc/$cons/fd/$f"; done | tr '\n' ' ')
fi
wait $sa
rc=$?
cat "$T/sa.stderr"
expect "(standalone) the preloaded sleep exited 0 ($rc)" [ $rc -eq 0 ]
judge_host standalone
expect "(standalone) a 'spanprof consumer' process of this uid served the sleep (found: ${cons:-none})" [ -n "$cons" ]
if [ -n "$cons" ]; then
  expect "(standalone) the consumer ($cons) is not a child of the application (its parent: $ppid)" \
    bash -c "[ -n '$ppid' ] && [ '$ppid' != '$sa' ]"
  expect "(standalone) the consumer's stdin, stdout and stderr are /dev/null ($cons_fds)" \
    [ "$cons_fds" = "/dev/null /dev/null /dev/null " ]
  expect "(standalone) the consumer exits by itself after its last process ended" wait_gone "$cons" 60
fi

# --- under record ------------------------------------------------------------------------
env -u SPANPROF_CONSUMER timeout 120 "$SPANPROF" record -q -o "$T/rec" -- \
  sh -c 'echo $$ > "$0"; exec sleep 5' "$T/rec.pid" > "$T/rec.stdout" 2> "$T/rec.stderr" &
rec=$!
wait_file "$T/rec.pid" 60 || fail "(record) the command never started"
inspect record "$(cat "$T/rec.pid")"
wait $rec
rc=$?
cat "$T/rec.stderr"
expect "(record) spanprof record exited 0 ($rc)" [ $rc -eq 0 ]
judge_host record
expectations_met consumer_thin_host
