#!/usr/bin/env bash
# Faults: the server is down for the first part of a run, then answers 500s,
# then stalls longer than the client timeout, closes the connection, says
# 429, and recovers. Every profile that fitted in the queue arrives exactly
# once, in order; enqueueing never waits for the network; shutdown is bounded
# by its deadline; one log line for the outage, one for the recovery. Then a
# queue that is too small: the oldest are dropped (counted), memory stays
# under the byte limit, the newest still arrive in order.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

build_receiver
build_push

wait_lines() { # wait_lines FILE PATTERN COUNT
  for _ in $(seq 400); do
    [ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.05
  done
  fail "timed out waiting for $3 x '$2' in $1"
}

# 1. Down, then 500s, stall, close, 429, 500, then fine.
PORT=$(free_port)
export PYROSCOPE_SERVER_ADDRESS="http://127.0.0.1:$PORT"
export SPANPROF_PYROSCOPE_TIMEOUT_MS=1000 SPANPROF_PYROSCOPE_CONNECT_TIMEOUT_MS=500
export SPANPROF_PYROSCOPE_RETRY_BASE_MS=100 SPANPROF_PYROSCOPE_RETRY_MAX_MS=400
"$PUSH" --intervals 16 --period-ms 250 --deadline-ms 8000 --stacks 100 >"$T/out1" 2>"$T/err1" &
PUSH_PID=$!
wait_lines "$T/out1" '^enqueued' 4          # about a second with nothing listening
start_receiver "$T/r1" -addr "127.0.0.1:$PORT" -faults "500,500,500,stall:2500,close,429,500"
wait "$PUSH_PID" || fail "push exited $?"
curl -s "http://$RECV_ADDR/control/stats" >"$T/stats1"
stop_receiver
cat "$T/out1" "$T/err1"

froms=$(sed -n 's/^enqueued kind=cpu from=\([0-9]*\).*/\1/p' "$T/out1" | paste -sd' ')
check "16 intervals enqueued" [ "$(echo "$froms" | wc -w)" = 16 ]
check "all 16 arrived exactly once, in order" [ "$(index "$T/r1" "[e['from_unix'] for e in idx]")" = "$froms" ]
check "stats: 16 sent, none dropped or failed" \
  [ "$(stat_of "$T/out1" sent) $(stat_of "$T/out1" dropped) $(stat_of "$T/out1" failed)" = "16 0 0" ]
check "retried through every fault (>= 7)" [ "$(stat_of "$T/out1" retried)" -ge 7 ]
check "receiver saw 500, 429, a stall and a closed connection" python3 - "$T/stats1" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
ev = [e.get("message", "") for e in s["events"]]
assert s["by_status"].get("500", 0) >= 4 and s["by_status"].get("429", 0) == 1, s["by_status"]
assert s["closed"] == 1 and s["stalled"] == 1, s
assert any("client left" in m for m in ev), ev   # the client gave up, nothing stored
assert not s["pending_faults"], s["pending_faults"]
EOF
check "one outage line, one recovery line, one at exit" \
  [ "$(grep -c 'failed (' "$T/err1") $(grep -c 'work again' "$T/err1") $(grep -c 'at exit: ' "$T/err1") $(wc -l <"$T/err1")" = "1 1 1 3" ]
# A 2.5 s stall and 1 s timeouts: an enqueue that waited on the network
# would take a second or more.
check "enqueue never waited for the network (max $(stat_of "$T/out1" max_enqueue_us) us)" \
  [ "$(stat_of "$T/out1" max_enqueue_us)" -lt 500000 ]
check "shutdown within its deadline ($(stat_of "$T/out1" shutdown_ms) ms)" [ "$(stat_of "$T/out1" shutdown_ms)" -le 9000 ]

# 2. Queue of 3 while the server is down: the oldest go, the newest arrive.
PORT=$(free_port)
export PYROSCOPE_SERVER_ADDRESS="http://127.0.0.1:$PORT"
SPANPROF_PYROSCOPE_QUEUE_MAX=3 SPANPROF_PYROSCOPE_QUEUE_BYTES=65536 \
  "$PUSH" --intervals 8 --period-ms 100 --deadline-ms 6000 --stacks 100 >"$T/out2" 2>"$T/err2" &
PUSH_PID=$!
wait_lines "$T/out2" '^enqueued' 8
start_receiver "$T/r2" -addr "127.0.0.1:$PORT"
wait "$PUSH_PID" || fail "push exited $?"
stop_receiver
cat "$T/out2" "$T/err2"
check "5 dropped, 3 sent" [ "$(stat_of "$T/out2" dropped) $(stat_of "$T/out2" sent)" = "5 3" ]
got=$(index "$T/r2" "[e['from_unix'] for e in idx]")
last=$(sed -n 's/^enqueued kind=cpu from=\([0-9]*\).*/\1/p' "$T/out2" | tail -1)
check "3 arrived, in order, the newest among them" python3 -c "
g = list(map(int, '$got'.split())); assert len(g) == 3 and g == sorted(set(g)) and g[-1] == $last, g"
check "memory bounded: peak $(stat_of "$T/out2" peak_queued_bytes) <= 65536 bytes" \
  [ "$(stat_of "$T/out2" peak_queued_bytes)" -le 65536 ]
check "one queue-full line" [ "$(grep -c 'queue full' "$T/err2")" = 1 ]
echo PASS
