#!/usr/bin/env bash
# Spill directory: while the server is unreachable, profiles that do not fit
# in the in-memory queue, and those left at shutdown, go to disk instead of
# being dropped; the next run (server back) sends them first, oldest first,
# then its own, each exactly once, and empties the directory. A damaged
# spill file is discarded with one line and does not block the others.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

build_receiver
build_push

export SPANPROF_PYROSCOPE_SPILL_DIR="$T/spill/sub"
export SPANPROF_PYROSCOPE_RETRY_BASE_MS=100 SPANPROF_PYROSCOPE_RETRY_MAX_MS=200
PORT=$(free_port)
export PYROSCOPE_SERVER_ADDRESS="http://127.0.0.1:$PORT"

# 1. server down: queue of 2, six intervals, short deadline
SPANPROF_PYROSCOPE_QUEUE_MAX=2 "$PUSH" --intervals 6 --period-ms 30 --deadline-ms 300 \
  --base-from 1700000000 >"$T/out1" 2>"$T/err1" || fail "push exited $?"
cat "$T/out1" "$T/err1"
check "nothing dropped, all six spilled" \
  [ "$(stat_of "$T/out1" dropped) $(stat_of "$T/out1" spilled) $(stat_of "$T/out1" sent)" = "0 6 0" ]
check "six spill files (directory created)" [ "$(ls "$SPANPROF_PYROSCOPE_SPILL_DIR" | grep -c '\.pspill$')" = 6 ]
check "the shutdown line says where the last ones went" grep -q "2 spilled to $SPANPROF_PYROSCOPE_SPILL_DIR" "$T/err1"
check "spill directory is private" [ "$(stat -c %a "$SPANPROF_PYROSCOPE_SPILL_DIR")" = 700 ]

# A damaged file left by some other (dead) process.
printf "not a spill file" >"$SPANPROF_PYROSCOPE_SPILL_DIR/$(printf %020d "$(date +%s%N)")-0000000000-999999.pspill"

# 2. server back: the next run sends the backlog first, then its own two
start_receiver "$T/r" -addr "127.0.0.1:$PORT"
"$PUSH" --intervals 2 --period-ms 30 --deadline-ms 5000 --base-from 1700000100 \
  >"$T/out2" 2>"$T/err2" || fail "push exited $?"
stop_receiver
cat "$T/out2" "$T/err2"
check "backlog first, oldest first, then the new run; each once" \
  [ "$(index "$T/r" "[e['from_unix'] for e in idx]")" = \
    "1700000000 1700000001 1700000002 1700000003 1700000004 1700000005 1700000100 1700000101" ]
check "run 2 sent all eight" [ "$(stat_of "$T/out2" sent) $(stat_of "$T/out2" spill_pending)" = "8 0" ]
check "damaged file discarded with one line" \
  [ "$(grep -c 'not a complete spanprof spill file; discarded' "$T/err2")" = 1 ]
check "spill directory empty" [ -z "$(ls -A "$SPANPROF_PYROSCOPE_SPILL_DIR")" ]
check "go tool pprof reads a re-sent profile" \
  [ -n "$(raw_totals "$T/r/$(index "$T/r" "idx[0]['file']")")" ]
echo PASS
