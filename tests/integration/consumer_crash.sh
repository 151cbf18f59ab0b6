#!/usr/bin/env bash
# A dead consumer never hurts the host: a standalone preloaded service
# (checksum_service, ~4 s of CPU, prints a checksum, exits 0) whose consumer
# is killed with SIGSEGV after 1 s of the service's CPU keeps running, exits
# 0 with the stdout of a plain run, and its stderr has exactly one line
# starting "spanprof: profiling stopped". The consumer is the one tied to
# this service (consumer_lib.sh), never another test's.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
source "$ROOT/tests/consumer_lib.sh"
need_built
require_cmd timeout pgrep
ulimit -c 0   # the killed consumer inherits it: no core file

workload checksum_service
"$T/checksum_service" 4 > "$T/plain.stdout" || fail "checksum_service fails without the profiler ($?)"
echo "ok: plain run: $(cat "$T/plain.stdout")"

"${STANDALONE[@]}" SPANPROF_OUTPUT="$T/sa" "$T/checksum_service" 4 > "$T/sa.stdout" 2> "$T/sa.stderr" &
svc=$!
# A watchdog instead of timeout(1), so that $svc is the service itself.
(trap 'kill $s; exit' TERM; sleep 300 & s=$!; wait $s; kill -KILL $svc) > /dev/null 2>&1 &
dog=$!
trap 'kill $dog 2>/dev/null' EXIT
cons=$(wait_consumer_of $svc 30 "$T/sa") || cons=
if [ -z "$cons" ]; then
  wait $svc
  echo "--- service stderr:"; cat "$T/sa.stderr"
  echo "--- consumers running: $(pgrep -af 'spanprof consumer' | tr '\n' ';')"
  fail "no 'spanprof consumer' process of this build served the service ($svc)"
fi
echo "consumer of $svc: $cons: $(tr '\0' ' ' < "/proc/$cons/cmdline")"
for _ in $(seq 600); do
  cpu=$(proc_cpu_s $svc) || break
  within 1 1000000 "$cpu" && break
  sleep 0.1
done
cpu=$(proc_cpu_s $svc) || { wait $svc; fail "the service ended before its consumer could be killed (rc $?)"; }
kill -SEGV "$cons" || fail "cannot signal the consumer $cons"
echo "killed consumer $cons with SIGSEGV at $cpu s of the service's CPU"
sleep 0.2
alive=no; kill -0 $svc 2>/dev/null && alive=yes
wait $svc
rc=$?
echo "--- service stderr:"; cat "$T/sa.stderr"
expect "the service was still running after the consumer's death" [ $alive = yes ]
expect "the consumer is gone" wait_gone "$cons" 30
expect "the service exited 0 ($rc)" [ $rc -eq 0 ]
expect "its stdout is a plain run's ($(cat "$T/sa.stdout"))" cmp -s "$T/plain.stdout" "$T/sa.stdout"
n=$(grep -c '^spanprof: profiling stopped' "$T/sa.stderr")
expect "its stderr has exactly one 'spanprof: profiling stopped' line ($n)" [ "$n" -eq 1 ]
expectations_met consumer_crash
