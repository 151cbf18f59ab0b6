#!/usr/bin/env bash
# Samples live in shared memory that the consumer (here `spanprof record`)
# drains, so a process's last samples survive endings no code in it sees.
# Under `spanprof record -F 100`, each workload burns CPU in a function of its
# own and the kernel's count of that CPU is taken independently (wait4's
# rusage, clock_gettime/getrusage written just before the end, or
# /proc/PID/stat just before SIGKILL); the profile must hold >= 90% of it in
# the burn function:
#   (a) 3 fork children, 1 s each, ending with _exit(0);
#   (b) 2 s, then exec of /bin/true;
#   (c) 1 s, then death by SIGPIPE (`lossless sigpipe | head -c1`);
#   (d) a service burning until SIGKILL (after >= 2 s of CPU);
#   (e) a Go program, 2 s, then os.Exit(0) (a raw exit_group).
# Intervals are the default 10 s: no interval ends during a run, so what is
# in the profile was drained after the process was gone.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
source "$ROOT/tests/consumer_lib.sh"
need_built
need_go
require_cmd file timeout

workload lossless
(cd "$ROOT/tests/go/lossless" && go build -o "$T/golossless" main.go) ||
  fail "cannot build tests/go/lossless"
file "$T/golossless" | grep -q 'dynamically linked' || fail "the Go program is not dynamically linked"

PCT=90
rec() { # name cmd... : record -F 100 into $T/NAME.out, rc in $T/NAME.rc
  local name=$1; shift
  env -u SPANPROF_CONSUMER -u SPANPROF_UPLOAD_INTERVAL timeout 300 \
    "$SPANPROF" record -F 100 -o "$T/$name.out" -- "$@" > "$T/$name.stdout" 2> "$T/$name.stderr"
  echo $? > "$T/$name.rc"
}
# judge name func measured_seconds: a failed case is reported and the
# others still run (all five are printed before the test fails).
FAILED=()
judge() {
  local name=$1 fn=$2 want_s=$3 got want files
  mapfile -t files < <(interval_files "$T/$name.out" 2>/dev/null)
  want=$(awk -v s="$want_s" 'BEGIN { printf "%.0f", s * 1000 }')
  got=0
  [ ${#files[@]} -gt 0 ] && got=$(cum_ms "$fn" "${files[@]}")
  if at_least_pct "$got" "$want" "$PCT"; then
    echo "ok: ($name) $fn holds ${got} ms of the ${want} ms measured (>= $PCT%)"
    return
  fi
  echo "--- $name: record's stderr:"; sed 's/^/    /' "$T/$name.stderr"
  if [ ${#files[@]} -eq 0 ]; then
    echo "--- $name: no interval profile; the output directory:"; find "$T/$name.out" -ls 2>&1 | head -20
  else
    echo "--- $name: profile (${#files[@]} interval files), heaviest functions:"; show_top "${files[@]}"
  fi
  echo "FAIL: ($name) $fn holds ${got} ms in the profile, < $PCT% of the ${want} ms of CPU it used"
  FAILED+=("$name")
}
rc_is() { # name want
  local rc; rc=$(cat "$T/$1.rc")
  [ "$rc" = "$2" ] || { sed 's/^/    /' "$T/$1.stderr"; fail "($1) record exited $rc, want $2"; }
}

# The plain runs: the workloads do what they claim without the profiler.
"$T/lossless" fork 3 "$T/p.cpu" > /dev/null || fail "plain fork workload failed"
within 2.7 100 "$(cat "$T/p.cpu")" || fail "plain fork workload: children used $(cat "$T/p.cpu") s (< 2.7)"
"$T/lossless" exec "$T/p.cpu" || fail "plain exec workload failed"
bash -c '"$0" sigpipe "$1" | head -c1 > /dev/null; echo "${PIPESTATUS[0]}" > "$2"' \
  "$T/lossless" "$T/p.cpu" "$T/p.st"
[ "$(cat "$T/p.st")" = 141 ] || fail "plain sigpipe workload ended with $(cat "$T/p.st"), not SIGPIPE (141)"
"$T/golossless" "$T/p.cpu" > /dev/null || fail "plain Go workload failed"
echo "ok: the plain runs behave (fork, exec, SIGPIPE, Go)"

# (a) fork children ending with _exit
rec fork "$T/lossless" fork 3 "$T/fork.cpu"
rc_is fork 0
judge fork fork_child_burn "$(cat "$T/fork.cpu")"

# (b) exec
rec exec "$T/lossless" exec "$T/exec.cpu"
rc_is exec 0
judge exec exec_burn "$(cat "$T/exec.cpu")"

# (c) SIGPIPE
rec sigpipe bash -c '"$0" sigpipe "$1" | head -c1 > /dev/null; echo "${PIPESTATUS[0]}" > "$2"' \
  "$T/lossless" "$T/sigpipe.cpu" "$T/sigpipe.st"
rc_is sigpipe 0
[ "$(cat "$T/sigpipe.st" 2>/dev/null)" = 141 ] ||
  fail "(sigpipe) the producer ended with '$(cat "$T/sigpipe.st" 2>/dev/null)', not SIGPIPE (141)"
judge sigpipe pipe_burn "$(cat "$T/sigpipe.cpu")"

# (d) SIGKILL: the CPU is read from /proc just before the kill (the few ms
# burnt between the two are in the process, so the bound only gets easier).
rm -f "$T/svc.pid"
rec kill "$T/lossless" service "$T/svc.pid" &
recpid=$!
wait_file "$T/svc.pid" 120 || fail "(kill) the service never wrote its pid"
svc=$(cat "$T/svc.pid")
cpu=0
for _ in $(seq 1200); do
  cpu=$(proc_cpu_s "$svc") || fail "(kill) the service $svc ended before it was killed"
  within 2 1000000 "$cpu" && break
  sleep 0.1
done
within 2 1000000 "$cpu" || fail "(kill) the service used only $cpu s of CPU in 120 s"
cpu=$(proc_cpu_s "$svc")
kill -KILL "$svc"
wait $recpid
rc_is kill 137
judge kill service_burn "$cpu"

# (e) Go, os.Exit(0)
rec go "$T/golossless" "$T/go.cpu"
rc_is go 0
judge go main.goBurn "$(cat "$T/go.cpu")"
# Go frames have no CFI, so libunwind stops at the goroutine's first frame
# with an error; a stack that reaches runtime.goexit/main/mstart is whole,
# and the telemetry says so (it read 100 % truncated before).
gotrunc=$(grep -o 'truncated stacks [0-9.]*%' "$T/go.stderr" | grep -o '[0-9.]*' || echo 0)
awk -v t="$gotrunc" 'BEGIN { exit !(t < 10) }' ||
  fail "(go) record says ${gotrunc}% of the Go program's stacks are truncated"
echo "ok: (go) ${gotrunc}% of its stacks counted truncated"

[ ${#FAILED[@]} -eq 0 ] || fail "samples lost in: ${FAILED[*]}"
echo "consumer_lossless: all checks passed"
