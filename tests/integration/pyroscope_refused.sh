#!/usr/bin/env bash
# 400/422 from the server: no retry storm (one request per profile), one
# clear log line per status carrying the server's own message, counted as
# failed. Both injected refusals and a real validation refusal (the
# receiver's sample limit set below what the client sends).
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

build_receiver
build_push

# 1. Injected: 400 then 422s, then 400 again.
start_receiver "$T/r1" -faults "400,422,422,422,422,400"
PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" SPANPROF_PYROSCOPE_RETRY_BASE_MS=50 \
  "$PUSH" --intervals 6 --period-ms 50 --deadline-ms 3000 >"$T/out1" 2>"$T/err1" || fail "push exited $?"
curl -s "http://$RECV_ADDR/control/stats" >"$T/stats1"
stop_receiver
cat "$T/out1" "$T/err1"
check "one request per profile, no retries" \
  [ "$(stat_of "$T/out1" requests) $(stat_of "$T/out1" retried)" = "6 0" ]
check "all six counted as failed, none sent" \
  [ "$(stat_of "$T/out1" failed) $(stat_of "$T/out1" sent) $(stat_of "$T/out1" dropped)" = "6 0 0" ]
check "receiver saw exactly 6 requests" python3 -c "
import json; s = json.load(open('$T/stats1')); assert s['requests'] == 6 and s['accepted'] == 0, s"
check "one line per status, one at exit, three lines in all" \
  [ "$(grep -c 'HTTP 400' "$T/err1") $(grep -c 'HTTP 422' "$T/err1") $(wc -l <"$T/err1")" = "1 1 3" ]
check "the exit line counts the 6 failures" grep -q "at exit: 0 profiles sent to .*, 6 failed, 0 dropped" "$T/err1"
check "the line carries the server's message and says it will not retry" \
  grep -q "refused a cpu profile with HTTP 422: injected failure 422; not retrying" "$T/err1"

# 2. A real refusal: the server allows 100 samples, the client sends 300.
start_receiver "$T/r2" -max-samples 100
PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" \
  "$PUSH" --intervals 3 --stacks 300 --period-ms 50 >"$T/out2" 2>"$T/err2" || fail "push exited $?"
stop_receiver
cat "$T/out2" "$T/err2"
check "3 requests, no retries, 3 failed" \
  [ "$(stat_of "$T/out2" requests) $(stat_of "$T/out2" retried) $(stat_of "$T/out2" failed)" = "3 0 3" ]
check "one line naming the cause, one at exit" \
  [ "$(grep -c 'HTTP 422: profile has 300 samples, over the limit of 100' "$T/err2") $(grep -c 'at exit: 0 profiles sent to .*, 3 failed' "$T/err2") $(wc -l <"$T/err2")" = "1 1 2" ]
echo PASS
