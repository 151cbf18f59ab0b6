#!/usr/bin/env bash
# End to end: a workload profiled in-process (LD_PRELOAD=libspanprof.so) with
# PYROSCOPE_SERVER_ADDRESS pointing at the test receiver. Every interval the
# profiler writes locally arrives once, in order, as process_cpu under the
# configured service name, and `go tool pprof` finds the same totals in the
# uploaded profile as in the local file; span_id labels arrive intact,
# with span_name and without trace_id (the receiver models a 2.0.2 server).
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

require_file "$LIBSPANPROF"

build_receiver
test_prog "$BUILD" workloads pyro_spans

start_receiver "$T/r"
LD_PRELOAD=$LIBSPANPROF SPANPROF_OUTPUT="$T/out" SPANPROF_UPLOAD_INTERVAL=1 \
PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" PYROSCOPE_APPLICATION_NAME=e2e-svc \
PYROSCOPE_TAGS=env=test SPANPROF_PYROSCOPE_RETRY_BASE_MS=100 \
  "$T/pyro_spans" 3.5 >"$T/w.out" 2>"$T/w.err" || { cat "$T/w.err"; fail "workload exited $?"; }
stop_receiver
cat "$T/w.out" "$T/w.err"

mapfile -t local_files < <(ls "$T/out"/*.pb.gz 2>/dev/null | sort)
n_local=${#local_files[@]}
n_recv=$(index "$T/r" "len([e for e in idx if e['labels']['__name__']=='process_cpu'])" 2>/dev/null || echo 0)
check "at least 3 intervals written locally ($n_local)" [ "$n_local" -ge 3 ]
check "each local interval uploaded once ($n_recv received)" [ "$n_recv" = "$n_local" ]
check "distinct intervals, in order" python3 -c "
import json; idx = json.load(open('$T/r/index.json'))
t = [e['time_nanos'] for e in idx]; assert t == sorted(set(t)), t"
check "name labels" [ "$(index "$T/r" "sorted(set((e['service_name'], e['labels']['env'], e['labels']['pyroscope_spy']) for e in idx))")" = "('e2e-svc', 'test', 'spanprof')" ]
i=0
for f in $(index "$T/r" "[e['file'] for e in idx]"); do
  want=$(raw_totals "${local_files[$i]}")
  got=$(raw_totals "$T/r/$f")
  [ -n "$got" ] && [ "$got" = "$want" ] || fail "interval $i: uploaded totals [$got], local file [$want]"
  i=$((i + 1))
done
echo "ok: go tool pprof totals of every uploaded interval equal the local file's"
check "span_id labels arrive (16 hex)" bash -c "for f in $T/r/*.pb*; do go tool pprof -raw \$f 2>/dev/null; done | grep -o 'span_id:\[[^]]*\]' | sort -u | grep -qE '^span_id:\[[0-9a-f]{16}\]$'"
check "span_name (root span name) sent" bash -c "for f in $T/r/*.pb*; do go tool pprof -raw \$f 2>/dev/null; done | grep -q 'span_name:\[GET /users\]'"
check "trace_id not sent to a 2.0.2 server" bash -c "! (for f in $T/r/*.pb*; do go tool pprof -raw \$f 2>/dev/null; done | grep -q 'trace_id:')"
check "at most 3 series: one per span name, one without" [ "$(index "$T/r" "len(set(s for e in idx for s in e['series']))")" -le 3 ]
echo PASS
