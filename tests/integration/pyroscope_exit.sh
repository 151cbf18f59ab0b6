#!/usr/bin/env bash
# At exit the profiler says in one line how many profiles reached Pyroscope
# and how many did not, and never claims the last interval may be missing
# when it is on disk: here the server stalls every upload past the flush
# deadline, so nothing is sent, every interval is dropped from the upload
# queue, and every interval is still in the local files.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

require_file "$LIBSPANPROF"
build_receiver
test_prog "$BUILD" workloads pyro_spans

start_receiver "$T/r" -faults "$(printf 'stall:20000,%.0s' $(seq 20))"
LD_PRELOAD=$LIBSPANPROF SPANPROF_LOG=1 SPANPROF_OUTPUT="$T/out" SPANPROF_UPLOAD_INTERVAL=1 \
SPANPROF_FLUSH_TIMEOUT_MS=1500 PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" \
  "$T/pyro_spans" 2.5 >"$T/w.out" 2>"$T/w.err" || { cat "$T/w.err"; fail "workload exited $?"; }
stop_receiver
cat "$T/w.err"

n_local=$(ls "$T/out"/*.pb.gz 2>/dev/null | wc -l)
check "intervals on disk ($n_local)" [ "$n_local" -ge 2 ]
check "one line at exit" [ "$(grep -c 'pyroscope: at exit: ' "$T/w.err")" = 1 ]
check "it says none was sent and all $n_local were dropped" \
  grep -q "pyroscope: at exit: 0 profiles sent to http://$RECV_ADDR, 0 failed, $n_local dropped; $n_local not uploaded within the [0-9]* ms shutdown deadline: dropped" "$T/w.err"
check "no claim that the last interval may be missing" bash -c "! grep -q 'may be missing' '$T/w.err'"
check "go tool pprof reads the last interval" bash -c "go tool pprof -raw \"\$(ls '$T/out'/*.pb.gz | sort | tail -1)\" >/dev/null 2>&1"
check "nothing ingested" [ "$(index "$T/r" 'len(idx)' 2>/dev/null || echo 0)" = 0 ]
echo PASS
