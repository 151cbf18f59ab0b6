#!/usr/bin/env bash
# `spanprof agent`: host-wide per-CPU sampling, no preload. One run of
# --duration 6 selects three things:
#  - --pid of a known-split workload (cpu_split: 3:1 under main -> chain1..4,
#    -O2 -fomit-frame-pointer) started unprofiled before the agent: 75/25
#    +-3 points, >= 99% of samples reach main, only that pid;
#  - --comm of a short-lived copy (0.5 s of work, then exit) started while the
#    agent runs, named by its OTEL_SERVICE_NAME: present and symbolized after
#    it exited;
#  - --comm dd, a system-call loop named by its OTEL_SERVICE_NAME: kernel
#    frames from the callchain, named from /proc/kallsyms, leaf side of the
#    user frames; its samples match its user+sys time.
# Then a run without --duration: interval files until SIGTERM, for the same
# process and one whose executable was deleted after it started (unwound
# through /proc/PID/map_files, symbolized); and SIGHUP. Then Pyroscope
# uploads, and --cgroup with the container_id label.
# Skips (77) only where the machine refuses CPU-wide perf events.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
need_go
require_cmd dd

# agent_done LOG WHAT: wait for the background agent, show its log, and
# check that it exited 0.
agent_done() {
  local rc
  wait $agent
  rc=$?
  agent=
  cat "$1"
  check "$2: exit 0 ($rc)" [ "$rc" -eq 0 ]
}

workload cpu_split
cp "$T/cpu_split" "$T/short_split"

"$T/cpu_split" 30 > /dev/null &
long=$!
trap 'kill $long 2>/dev/null; [ -n "${agent:-}" ] && kill $agent 2>/dev/null' EXIT

"$SPANPROF" agent --duration 6 -F 997 --pid "$long" --comm short_split --comm dd \
  -o "$T/out" > "$T/agent.log" 2>&1 &
agent=$!
# Sampling starts after the perf events, kallsyms and the symbolizer are up.
for _ in $(seq 100); do
  grep -q 'agent: sampling' "$T/agent.log" && break
  kill -0 $agent 2>/dev/null || break
  sleep 0.05
done
if ! grep -q 'agent: sampling' "$T/agent.log"; then
  wait $agent
  cat "$T/agent.log"
  if grep -q 'perf_event_paranoid' "$T/agent.log" && [ "$(id -u)" != 0 ]; then
    echo "SKIP: CPU-wide perf events refused (not root, no CAP_PERFMON)"
    exit 77
  fi
  fail "agent did not start"
fi

TIMEFORMAT='%U %S'
{ time OTEL_SERVICE_NAME=shortsvc "$T/short_split" 0.5 > /dev/null; } 2> "$T/short.time"
# ~2 s of dd: long enough that the agent reads its /proc/PID/environ (its
# service name) while it lives, even on a loaded machine; one that ends
# before the agent gets to it is named by its executable.
{ time OTEL_SERVICE_NAME=ddsvc dd if=/dev/zero of=/dev/null bs=1 count=3000000 2> /dev/null; } \
  2> "$T/dd.time"
agent_done "$T/agent.log" "agent --duration"

# --pid: the long-running process only, at the known split.
p="$T/out/cpu_split.pb.gz"
check "merged profile for the --pid process" [ -f "$p" ]
check "its flame graph" grep -q spin_heavy "$T/out/cpu_split.svg"
heavy=$(flat_share spin_heavy "$p") light=$(flat_share spin_light "$p")
n=$(sample_count "$p")
echo "cpu_split: $n samples, spin_heavy $heavy%, spin_light $light%"
check "at least 1500 samples ($n)" [ "$n" -ge 1500 ]
check "spin_heavy share $heavy% is 75 +-3" within 72 78 "$heavy"
check "spin_light share $light% is 25 +-3" within 22 28 "$light"
reach=$(traces_reaching main "$p")
check "$reach% of samples reach main (>= 99)" within 99 100 "$reach"
pids=$(go tool pprof -tags "$p" 2>/dev/null | awk '/^ *pid:/ {s=1; next} /^ *$/ {s=0} s {print $NF}' | sort -u)
echo "pid labels: $pids"
check "samples labelled with the --pid process only" [ "$pids" = "$long" ]
go tool pprof -comments "$p" > "$T/comments.txt" 2>&1
check "telemetry names the engine" grep -q 'engine=perf_event cpu-clock per-CPU' "$T/comments.txt"

# The short-lived process: its own service, symbolized after it exited.
s="$T/out/shortsvc.pb.gz"
check "short-lived process profiled under its OTEL_SERVICE_NAME" [ -f "$s" ]
sn=$(sample_count "$s") sh=$(flat_share spin_heavy "$s")
sreach=$(traces_reaching main "$s")
echo "shortsvc: $sn samples, spin_heavy $sh%, $sreach% reach main"
# 0.5 s of wall time, less CPU on a busy machine: compare with its own.
short_ms=$(awk '{ printf "%d", 1000 * ($1 + $2) }' "$T/short.time")
echo "shortsvc: $short_ms ms of CPU (user+sys)"
check "short-lived: $sn samples cover its $short_ms ms of CPU (80..110%)" \
  within $((short_ms * 80 / 100)) $((short_ms * 110 / 100)) "$sn"
check "short-lived: symbolized (spin_heavy $sh% in 65..85)" within 65 85 "$sh"
# Its exit's last kernel work (sampled after its EXIT record, no user
# frames) is its own too: up to ~2% of a 0.5 s process on a loaded machine.
check "short-lived: $sreach% reach main (>= 97)" within 97 100 "$sreach"

# Kernel frames below the user frames of a system-call loop, named from its
# OTEL_SERVICE_NAME like the short-lived one (two services in one interval).
d="$T/out/ddsvc.pb.gz"
check "dd profiled (--comm) under its OTEL_SERVICE_NAME" [ -f "$d" ]
dd_ms=$(awk '{ printf "%d", 1000 * ($1 + $2) }' "$T/dd.time")
dn=$(sample_count "$d")
echo "dd: $dn samples for $dd_ms ms of CPU (user+sys)"
check "system time counted: $dn samples cover dd's $dd_ms ms of user+sys (85..110%)" \
  within $((dd_ms * 85 / 100)) $((dd_ms * 110 / 100)) "$dn"
go tool pprof -top -nodecount=200 "$d" > "$T/dd.txt" 2>/dev/null
head -20 "$T/dd.txt"
check "kernel frames named from kallsyms" grep -Eq ' (do_syscall_64|entry_SYSCALL_64[a-z_]*|ksys_read|ksys_write|vfs_read|vfs_write)$' "$T/dd.txt"
# In every stack with both, the kernel's do_syscall_64 is leaf-side of
# (printed before) the libc wrapper that made the call.
order=$(go tool pprof -traces "$d" 2>/dev/null | awk '
  function flush() { if (k && u) { both++; if (k < u) ok++ } k = u = n = 0 }
  /^-----------\+/ { flush(); next }
  { n++; f = $NF }
  f == "do_syscall_64" && !k { k = n }
  f ~ /^__libc_(read|write)$/ && !u { u = n }
  END { flush(); printf "%d %d\n", ok, both }')
echo "do_syscall_64 leaf-side of __libc_read/write: $order (ok, stacks with both)"
set -- $order
check "kernel frames are leaf-side of the user frames ($1 of $2 stacks)" \
  bash -c "[ '$2' -ge 20 ] && [ '$1' = '$2' ]"

others=$(ls "$T/out"/*.pb.gz | grep -v -e /cpu_split.pb.gz -e /shortsvc.pb.gz -e /ddsvc.pb.gz)
check "nothing else was profiled (${others:-none})" [ -z "$others" ]

# Without --duration: an interval file per --interval until SIGTERM, which
# writes the last one and exits 0.
cp "$T/cpu_split" "$T/del_split"
"$T/del_split" 30 > /dev/null &
del=$!
trap 'kill $long $del 2>/dev/null; [ -n "${agent:-}" ] && kill $agent 2>/dev/null' EXIT
sleep 0.2
rm "$T/del_split"
"$SPANPROF" agent --interval 1 --pid "$long" --pid "$del" -o "$T/daemon" > "$T/daemon.log" 2>&1 &
agent=$!
sleep 2.6
kill -TERM $agent
agent_done "$T/daemon.log" "SIGTERM"
mapfile -t iv < <(interval_files "$T/daemon/intervals")
check "one interval file per second and service, the last at SIGTERM (${#iv[@]})" \
  within 6 8 "${#iv[@]}"
ivn=$(sample_count "${iv[@]}")
said=$(sed -n 's/.*agent: \([0-9]*\) samples.*/\1/p' "$T/daemon.log")
check "interval files hold every sample ($ivn of ${said:-?})" [ "$ivn" = "$said" ]
check "no merged profile without --duration" bash -c "! ls '$T/daemon'/*.pb.gz 2>/dev/null"
mapfile -t div < <(ls "$T/daemon/intervals"/del_split-*.pb.gz 2>/dev/null)
check "the deleted binary has its own interval files (${#div[@]})" [ ${#div[@]} -ge 3 ]
dreach=$(traces_reaching main "${div[@]}") dheavy=$(flat_share spin_heavy "${div[@]}")
echo "del_split: $(sample_count "${div[@]}") samples, spin_heavy $dheavy%, $dreach% reach main"
check "deleted binary: $dreach% of samples reach main (>= 99)" within 99 100 "$dreach"
check "deleted binary: symbolized (spin_heavy $dheavy% in 65..85)" within 65 85 "$dheavy"

# SIGHUP: the interval so far is written at once, into DIR/intervals made
# again when it was removed (rotation); SIGTERM then writes the rest.
"$SPANPROF" agent --interval 60 --pid "$long" -o "$T/hup" > "$T/hup.log" 2>&1 &
agent=$!
for _ in $(seq 100); do grep -q 'agent: sampling' "$T/hup.log" && break; sleep 0.05; done
sleep 0.8
rm -rf "$T/hup/intervals"
kill -HUP $agent
for _ in $(seq 100); do grep -q 'SIGHUP' "$T/hup.log" && break; sleep 0.05; done
sleep 0.5
kill -TERM $agent
agent_done "$T/hup.log" "SIGHUP, then SIGTERM"
mapfile -t hv < <(interval_files "$T/hup/intervals")
check "SIGHUP wrote an interval into the re-created directory, SIGTERM the next (${#hv[@]})" \
  [ ${#hv[@]} -eq 2 ]

# Pyroscope: the same sinks as record's, one application per service, from
# the agent's own environment; every interval file arrives with its totals.
source "$ROOT/tests/receiver/receiver_lib.sh"
trap 'stop_receiver; kill $long $del 2>/dev/null; [ -n "${agent:-}" ] && kill $agent 2>/dev/null' EXIT
build_receiver
start_receiver "$T/r"
PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" PYROSCOPE_TAGS=env=agent-test \
  "$SPANPROF" agent --duration 3 --interval 1 --pid "$long" -o "$T/pyro" > "$T/pyro.log" 2>&1
rc=$?
stop_receiver
cat "$T/pyro.log"
check "agent with Pyroscope: exit 0 ($rc)" [ "$rc" -eq 0 ]
mapfile -t pv < <(interval_files "$T/pyro/intervals" | sort)
n_recv=$(index "$T/r" "len([e for e in idx if e['labels']['__name__']=='process_cpu'])" 2>/dev/null || echo 0)
check "every interval file uploaded once (${#pv[@]} files, $n_recv received)" \
  bash -c "[ ${#pv[@]} -ge 2 ] && [ '$n_recv' = ${#pv[@]} ]"
check "application = the service, tags from PYROSCOPE_TAGS" \
  [ "$(index "$T/r" "sorted(set((e['service_name'], e['labels']['env']) for e in idx))")" = "('cpu_split', 'agent-test')" ]
i=0
for f in $(index "$T/r" "[e['file'] for e in sorted(idx, key=lambda e: e['time_nanos'])]"); do
  [ "$(raw_totals "$T/r/$f")" = "$(raw_totals "${pv[$i]}")" ] ||
    fail "interval $i: uploaded totals [$(raw_totals "$T/r/$f")], local [$(raw_totals "${pv[$i]}")]"
  i=$((i + 1))
done
echo "ok: uploaded totals equal the local interval files'"

# A process that preloads the library while the agent runs registers with
# it: its own samples, with spans, go into the agent's output, and the agent
# does not sample it a second time (the sample count matches its CPU).
test_prog "$BUILD" workloads pyro_spans
"$SPANPROF" agent --duration 4 --comm pyro_spans -o "$T/reg" > "$T/reg.log" 2>&1 &
agent=$!
for _ in $(seq 100); do grep -q 'agent: sampling' "$T/reg.log" && break; sleep 0.05; done
{ time env -u SPANPROF_CONSUMER SPANPROF_AGENT=1 LD_PRELOAD="$LIBSPANPROF" OTEL_SERVICE_NAME=spansvc \
    SPANPROF_OUTPUT="$T/private" "$T/pyro_spans" 2 > /dev/null; } 2> "$T/reg.time"
agent_done "$T/reg.log" "agent with a registered process"
r="$T/reg/spansvc.pb.gz"
check "the preloaded process's profile is in the agent's output" [ -f "$r" ]
check "nothing went to its own SPANPROF_OUTPUT (no private consumer)" \
  bash -c "! ls '$T/private'/*.pb.gz 2>/dev/null"
spans=$(go tool pprof -tags "$r" 2>/dev/null | awk '/^ *span_name:/ {s=1; next} /^ *$/ {s=0} s {print $NF}' | sort -u | paste -sd' ')
check "its span labels arrive through the agent ($spans)" [ "$spans" = "/orders /users" ]
reg_ms=$(tail -1 "$T/reg.time" | awk '{ printf "%d", 1000 * ($1 + $2) }')
rn=$(sample_count "$r")
check "sampled once: $rn samples (10 ms) for its $reg_ms ms of CPU (85..110%)" \
  within $((reg_ms * 85 / 1000)) $((reg_ms * 110 / 1000)) "$rn"

# --cgroup and container_id: a copy of the workload in a cgroup named as
# Docker names a container's (docker-<64 hex>.scope), another outside it.
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$cgroot" ] || cgroot=$(awk '$3 == "cgroup" && $4 ~ /(^|,)pids(,|$)/ { print $2; exit }' /proc/self/mounts)
[ -n "$cgroot" ] || fail "no cgroup2 or pids cgroup hierarchy mounted"
cid=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cg="$cgroot/docker-$cid.scope"
mkdir "$cg" || fail "cannot create the cgroup $cg"
cp "$T/cpu_split" "$T/in_box"
sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" 30' sh "$cg" "$T/in_box" > /dev/null &
boxed=$!
trap 'stop_receiver; kill $long $del $boxed 2>/dev/null; [ -n "${agent:-}" ] && kill $agent 2>/dev/null; sleep 0.2; rmdir "$cg" 2>/dev/null' EXIT
sleep 0.3
grep -q "docker-$cid.scope" "/proc/$boxed/cgroup" || fail "the workload is not in $cg: $(cat /proc/$boxed/cgroup)"
"$SPANPROF" agent --duration 2 --cgroup '*docker-*' -o "$T/cg" > "$T/cg.log" 2>&1
rc=$?
kill $boxed; wait $boxed 2>/dev/null
rmdir "$cg" 2>/dev/null
cat "$T/cg.log"
check "agent --cgroup: exit 0 ($rc)" [ "$rc" -eq 0 ]
check "--cgroup: only the boxed process ($(ls "$T/cg"))" [ "$(cd "$T/cg" && ls *.pb.gz)" = in_box.pb.gz ]
cids=$(go tool pprof -tags "$T/cg/in_box.pb.gz" 2>/dev/null | awk '/^ *container_id:/ {s=1; next} /^ *$/ {s=0} s {print $NF}' | sort -u)
check "container_id label = the id in its cgroup path ($cids)" [ "$cids" = "$cid" ]
nocid=$(go tool pprof -tags "$T/out/cpu_split.pb.gz" 2>/dev/null | grep -c container_id)
check "no container_id label outside a container ($nocid)" [ "$nocid" = 0 ]

# Usage errors.
"$SPANPROF" agent --stack-size 100 > /dev/null 2>&1
check "--stack-size not a multiple of 8 is a usage error" [ $? -eq 2 ]
"$SPANPROF" agent -F 0 > /dev/null 2>&1
check "-F 0 is a usage error" [ $? -eq 2 ]
