#!/usr/bin/env bash
# An application that ships its own libz.so.1 (RPATH=$ORIGIN/lib, a copy
# built without symbol versions) starts and is profiled: the preloaded
# library must not need zlib (or libdw/libelf, which need ZLIB_1.2.2.3), so
# nothing of ours binds to the application's copy. Before the thin library
# it did not even start (rc 127: "libelf.so.1: undefined symbol:
# inflateInit_"). Checked standalone (LD_PRELOAD alone: rc, stdout and
# stderr as a plain run, the burn function in the interval profile the
# consumer writes) and under `spanprof record` (rc, stdout, burn function).
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
source "$ROOT/tests/consumer_lib.sh"
need_built
need_go
require_cmd readelf timeout

# The application and its bundled zlib, laid out as a product would ship.
mkdir -p "$T/app/lib"
require_file "$BUILD/tests/workloads/bundled/bundled_zlib" "$BUILD/tests/workloads/bundled/lib/libz.so.1"
cp "$BUILD/tests/workloads/bundled/bundled_zlib" "$T/app/" &&
  cp "$BUILD/tests/workloads/bundled/lib/libz.so.1" "$T/app/lib/" || fail "cannot copy bundled_zlib"
readelf -d "$T/app/bundled_zlib" | grep -q 'RPATH.*\[\$ORIGIN/lib\]' || fail "bundled_zlib has no RPATH \$ORIGIN/lib"
readelf -V "$T/app/lib/libz.so.1" | grep -q 'No version information' ||
  fail "the stub libz.so.1 has symbol versions: the clash would not happen"
APP=$T/app/bundled_zlib
BURN=1.5
FN=bundled_zlib_burn

"$APP" $BURN > "$T/plain.stdout" 2> "$T/plain.stderr" || fail "bundled_zlib fails without the profiler ($?)"
grep -q '^zlib bundled-stub$' "$T/plain.stdout" || fail "a plain run did not get the bundled zlib: $(cat "$T/plain.stdout")"
echo "ok: a plain run uses the bundled libz.so.1"

in_profile() { # name dir
  local got
  got=$(cum_ms "$FN" "${PROFILES[@]}")
  expect "($1) $FN holds $got ms of the profile in $2 (>= 750 of the 1500 burnt)" within 750 1000000 "$got" ||
    show_top "${PROFILES[@]}"
}

# --- standalone ---------------------------------------------------------------
"${STANDALONE[@]}" SPANPROF_OUTPUT="$T/sa" timeout 120 "$APP" $BURN > "$T/sa.stdout" 2> "$T/sa.stderr" &
pid=$!
cons=$(wait_consumer_of $pid 30 "$T/sa") || cons=
wait $pid
rc=$?
echo "--- standalone stderr:"; cat "$T/sa.stderr"
expect "(standalone) exit code as a plain run ($rc)" [ $rc -eq 0 ]
expect "(standalone) stdout as a plain run" cmp -s "$T/plain.stdout" "$T/sa.stdout"
expect "(standalone) stderr as a plain run (no loader warnings)" cmp -s "$T/plain.stderr" "$T/sa.stderr"
expect "(standalone) a 'spanprof consumer' process served it (found: ${cons:-none})" [ -n "$cons" ]
if [ -n "$cons" ]; then
  expect "(standalone) the consumer exited by itself and wrote interval profiles" standalone_done "$cons" "$T/sa" &&
    in_profile standalone "$T/sa"
fi

# --- under record -----------------------------------------------------------------
env -u SPANPROF_CONSUMER timeout 300 "$SPANPROF" record -o "$T/rec" -- "$APP" $BURN \
  > "$T/rec.stdout" 2> "$T/rec.stderr"
rc=$?
echo "--- record stderr:"; cat "$T/rec.stderr"
expect "(record) exit code as a plain run ($rc)" [ $rc -eq 0 ]
expect "(record) stdout as a plain run" cmp -s "$T/plain.stdout" "$T/rec.stdout"
mapfile -t PROFILES < <(interval_files "$T/rec")
expect "(record) interval profiles written (${#PROFILES[@]})" [ ${#PROFILES[@]} -gt 0 ]
[ ${#PROFILES[@]} -eq 0 ] || in_profile record "$T/rec"
expectations_met consumer_bundled_zlib
