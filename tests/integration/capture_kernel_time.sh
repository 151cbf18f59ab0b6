#!/usr/bin/env bash
# Kernel time is in the profile: kernel_split spends about half its CPU in
# read() of /dev/zero (read_zero, nearly all system time) and half in a user
# loop (spin_user), timing each with CLOCK_THREAD_CPUTIME_ID and writing its
# getrusage user+sys at exit. Under `spanprof record`, with the default
# engine and with SPANPROF_ENGINE=timer, go tool pprof must give a total
# within 5% of that user+sys and read_zero's cumulative share within 5
# points of its measured share. A user-only perf event gives about half the
# total and read_zero near 0%.
# Unprivileged at kernel.perf_event_paranoid >= 2 (run as nobody when the
# test is root): the default engine must be the POSIX timers (they count
# system time) and pass the same checks; SPANPROF_ENGINE=perf samples user
# time only and must say so, with the setting that changes it, in the log,
# the summary and the profile's comments.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go

paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 3)
# Kernel time needs paranoid <= 1 or CAP_PERFMON/CAP_SYS_ADMIN (root has them).
if [ "$(id -u)" -ne 0 ] && [ "$paranoid" -gt 1 ]; then
  echo "SKIP: kernel.perf_event_paranoid=$paranoid and not root: perf cannot count kernel time"
  exit 77
fi

workload kernel_split

# Total CPU seconds in PROFILE, as go tool pprof reports it.
pprof_total_s() {
  go tool pprof -sample_index=cpu -unit=s -top -nodecount=1 "$1" 2>/dev/null |
    sed -n 's/.* of \([0-9.]*\)s total.*/\1/p' | head -1
}

RUN_AS=()
# The timer engine samples on the scheduler tick (250 Hz here, whatever -F
# asks), a quarter of perf's samples: it runs twice as long for the same
# sampling error on the share.
SECONDS_RUN=4
W=$T   # where the workload, its measurement and the output go
run_record() { # label [env assignments...]: record kernel_split into $W/out-LABEL
  local label=$1; shift
  local out="$W/out-$label" meas="$W/measured-$label"
  "${RUN_AS[@]}" env "$@" "$SPANPROF" record -F 997 -o "$out" -- "$W/kernel_split" "$SECONDS_RUN" "$meas" \
    > "$T/record-$label.log" 2>&1 || { cat "$T/record-$label.log"; fail "record ($label) failed"; }
  cat "$T/record-$label.log"
  [ -s "$meas" ] || fail "workload ($label) wrote no measurement"
  cat "$meas"
  local merged
  MERGED=$(find "$out" -name 'kernel_split-[0-9]*.pb.gz' ! -name '*T*Z*' | head -1)
  [ -n "$MERGED" ] || fail "record ($label) wrote no merged profile"
}

run_engine() { # label [env assignments...]
  local label=$1 meas="$W/measured-$1" merged
  run_record "$@"
  merged=$MERGED

  local cpu read spin total share want
  cpu=$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' "$meas")
  read=$(sed -n 's/.*read_s=\([0-9.]*\).*/\1/p' "$meas")
  spin=$(sed -n 's/.*spin_s=\([0-9.]*\).*/\1/p' "$meas")
  want=$(awk -v r="$read" -v s="$spin" 'BEGIN { printf "%.2f", 100 * r / (r + s) }')
  total=$(pprof_total_s "$merged")
  share=$(cum_share read_zero "$merged")
  echo "$label: profile total ${total}s, user+sys ${cpu}s; read_zero $share% (measured $want%)"
  check "$label: measured read_zero share $want% is a real split (20..80)" within 20 80 "$want"
  check "$label: profile total ${total}s within 5% of user+sys ${cpu}s" \
    within "$(awk -v c="$cpu" 'BEGIN { print c * 0.95 }')" \
           "$(awk -v c="$cpu" 'BEGIN { print c * 1.05 }')" "${total:-0}"
  check "$label: read_zero share $share% within 5 points of $want%" \
    within "$(awk -v w="$want" 'BEGIN { print w - 5 }')" \
           "$(awk -v w="$want" 'BEGIN { print w + 5 }')" "$share"
  go tool pprof -comments "$merged" > "$T/comments-$label.txt" 2>&1
  check "$label: profile does not say system time is missing" \
    not grep -q 'system time is missing' "$T/comments-$label.txt"
  check "$label: summary does not say system time is missing" \
    not grep -q 'system time is missing' "$T/record-$label.log"
}

not() { ! "$@"; }
run_engine perf SPANPROF_ENGINE=perf
grep -q 'engine perf_event cpu-clock at ' "$T/record-perf.log" ||
  fail "SPANPROF_ENGINE=perf did not sample with perf_event alone"
run_engine auto SPANPROF_ENGINE=auto
SECONDS_RUN=8
run_engine timer SPANPROF_ENGINE=timer
grep -q 'engine posix timer' "$T/record-timer.log" ||
  fail "SPANPROF_ENGINE=timer did not sample with POSIX timers"

if [ "$(id -u)" -eq 0 ] && [ "$paranoid" -ge 2 ]; then
  require_cmd setpriv
  # $T may sit in a root-only directory (tests/run.sh): nobody works in its own.
  W=$(mktemp -d /tmp/capture_kernel_time-nobody.XXXXXX)
  chmod 755 "$W"
  cp "$T/kernel_split" "$W/"
  for d in out-nobody-auto out-nobody-perf; do mkdir -m 777 "$W/$d"; done
  touch "$W/measured-nobody-auto" "$W/measured-nobody-perf"
  chmod 666 "$W"/measured-nobody-*
  RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
  run_engine nobody-auto
  check "unprivileged auto falls back to POSIX timers" \
    grep -q 'engine posix timer' "$T/record-nobody-auto.log"
  check "unprivileged auto says why (perf_event_paranoid)" \
    grep -q 'engine posix timer at [0-9]* Hz, because .*perf_event_paranoid=' "$T/record-nobody-auto.log"
  SECONDS_RUN=2
  run_record nobody-perf SPANPROF_ENGINE=perf SPANPROF_LOG=1
  go tool pprof -comments "$MERGED" > "$T/comments-nobody-perf.txt" 2>&1
  cat "$T/comments-nobody-perf.txt"
  hint='system time is missing .*kernel.perf_event_paranoid=1 or CAP_PERFMON'
  check "user-only perf: the start line says system time is missing" \
    grep -q "^spanprof\[[0-9]*\]: $hint" "$T/record-nobody-perf.log"
  check "user-only perf: the summary says it" \
    grep -q "^spanprof: $hint" "$T/record-nobody-perf.log"
  check "user-only perf: the profile's comments say it" \
    grep -q "$hint" "$T/comments-nobody-perf.txt"
  check "user-only perf: the engine is named so" \
    grep -q 'engine=perf_event cpu-clock (user time only)' "$T/comments-nobody-perf.txt"
  rm -rf "$W"
else
  echo "note: not root at perf_event_paranoid >= 2; the unprivileged fallback is not exercised"
fi
