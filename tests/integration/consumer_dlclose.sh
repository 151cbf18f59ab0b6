#!/usr/bin/env bash
# Samples taken in a library that is unloaded before the interval ends are
# still symbolized: the consumer keeps what it needs of a module after
# dlclose (the module table says where it was; the file is still on disk).
# dlclose_burn dlopens libdlburn.so (built here), burns 1.5 s in
# dlclose_lib_burn, dlcloses it (and checks it is unmapped), burns 0.3 s in
# its own after_dlclose_burn and exits, all in one 10 s interval. In the
# profile, standalone and under `spanprof record`, dlclose_lib_burn must hold
# >= 750 ms (half of the 1.5 s), by name, not as an address or <unknown>.
# Before the consumer, the library symbolized at the interval's end, in the
# process, when the module was already gone.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
source "$ROOT/tests/consumer_lib.sh"
need_built
need_go
require_cmd timeout

workload dlclose_burn libdlburn.so
RUN=("$T/dlclose_burn" "$T/libdlburn.so" 1.5)
FN=dlclose_lib_burn

"${RUN[@]}" > "$T/plain.stdout" 2> "$T/plain.stderr" ||
  { cat "$T/plain.stderr"; fail "dlclose_burn fails without the profiler ($?)"; }
echo "ok: plain run: $(cat "$T/plain.stdout")"

judge() { # name rc
  local name=$1 rc=$2 got after
  echo "--- $name stderr:"; cat "$T/$name.stderr"
  expect "($name) exit code 0 ($rc)" [ "$rc" -eq 0 ]
  expect "($name) stdout as plain" cmp -s "$T/plain.stdout" "$T/$name.stdout"
  [ ${#PROFILES[@]} -gt 0 ] || return 0
  got=$(cum_ms "$FN" "${PROFILES[@]}")
  after=$(cum_ms after_dlclose_burn "${PROFILES[@]}")
  echo "($name) $FN $got ms, after_dlclose_burn $after ms"
  expect "($name) the unloaded library's $FN is named in the profile and holds $got ms (>= 750)" \
    within 750 1000000 "$got" || show_top "${PROFILES[@]}"
}

# --- standalone ---------------------------------------------------------------
"${STANDALONE[@]}" SPANPROF_OUTPUT="$T/sa" timeout 120 "${RUN[@]}" > "$T/standalone.stdout" 2> "$T/standalone.stderr" &
pid=$!
cons=$(wait_consumer_of $pid 30 "$T/sa") || cons=
wait $pid
rc=$?
PROFILES=()
expect "(standalone) a 'spanprof consumer' process served it (found: ${cons:-none})" [ -n "$cons" ] &&
  expect "(standalone) the consumer exited by itself and wrote interval profiles" standalone_done "$cons" "$T/sa"
judge standalone $rc

# --- under record -----------------------------------------------------------------
env -u SPANPROF_CONSUMER timeout 300 "$SPANPROF" record -o "$T/rec" -- "${RUN[@]}" \
  > "$T/record.stdout" 2> "$T/record.stderr"
rc=$?
mapfile -t PROFILES < <(interval_files "$T/rec")
expect "(record) interval profiles written (${#PROFILES[@]})" [ ${#PROFILES[@]} -gt 0 ]
judge record $rc
expectations_met consumer_dlclose
