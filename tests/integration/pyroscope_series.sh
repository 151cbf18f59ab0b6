#!/usr/bin/env bash
# One series per trace must not happen. Pyroscope makes every pprof sample
# string label but span_id a series label, and trace_id too before v2.1.0
# (the test receiver models both, -version). Thousands of traced requests
# must give a handful of series: one per span_name (root span name) value.
# trace_id is sent only to a server that says it is >= 2.1.0 (asked once at
# GET /api/v1/status/buildinfo; no answer = not sent) or when
# SPANPROF_PYROSCOPE_TRACE_ID=1 asks for it.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

build_receiver
build_push

# push DIR [env...]: 3 intervals of 2,000 labelled samples, each its own
# trace and span, under two root span names.
push() {
  local dir=$1; shift
  env PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" SPANPROF_PYROSCOPE_HOSTNAME_TAG=0 "$@" \
    "$PUSH" --intervals 3 --stacks 1000 --repeat 3 --unique-traces --span-names \
    --period-ms 0 --wait-version 5000 >"$dir.out" 2>"$dir.err" || fail "push exited $?"
  cat "$dir.out" "$dir.err"
}
series() { index "$1" "len(set(s for e in idx for s in e['series']))"; }
span_ids() { index "$1" "sum(e['distinct_span_ids'] for e in idx)"; }
keys() { index "$1" "sorted(set(' '.join(e['sample_label_keys']) for e in idx))"; }
# sample label keys as `go tool pprof` reads them, over all stored profiles
pprof_keys() {
  for f in $(index "$1" "[e['file'] for e in idx]"); do raw_label_keys "$1/$f"; done | sort -u | paste -sd'|'
}

# 1. A server before 2.1.0 (2.0.2): trace_id would be a series label.
start_receiver "$T/old" -version 2.0.2
push "$T/old"
stop_receiver
check "3 intervals accepted" [ "$(index "$T/old" 'len(idx)')" = 3 ]
n_spans=$(span_ids "$T/old")
check "thousands of spans uploaded ($n_spans)" [ "$n_spans" -ge 5000 ]
n=$(series "$T/old")
check "a handful of series for $n_spans spans: one per span_name and one without ($n)" [ "$n" = 3 ]
check "span_id and span_name sent, trace_id not" [ "$(keys "$T/old")" = "span_id span_name" ]
check "go tool pprof agrees" [ "$(pprof_keys "$T/old")" = "span_id span_name" ]
check "version asked and read" grep -qx "server_version=2.0.2" "$T/old.out"

# 2. A server from 2.1.0 on keeps trace_id per sample: it is sent, and the
#    series stay the same.
start_receiver "$T/new" -version 2.1.0
push "$T/new"
stop_receiver
check "version 2.1.0 read" grep -qx "server_version=2.1.0" "$T/new.out"
check "trace_id sent to 2.1.0" [ "$(keys "$T/new")" = "span_id span_name trace_id" ]
check "go tool pprof agrees" [ "$(pprof_keys "$T/new")" = "span_id span_name trace_id" ]
n=$(series "$T/new")
check "still 3 series on 2.1.0 ($n)" [ "$n" = 3 ]

# 3. No version route (a proxy in front): unknown, so no trace_id.
start_receiver "$T/none" -version none
push "$T/none"
stop_receiver
check "version unknown" grep -qx "server_version=" "$T/none.out"
check "no trace_id to an unknown server" [ "$(keys "$T/none")" = "span_id span_name" ]
check "uploads unaffected by the failed question" [ "$(index "$T/none" 'len(idx)')" = 3 ]

# 4. Asked for explicitly: sent even to 2.0.2, which then makes a series per
#    trace (what the README's cardinality table warns of).
start_receiver "$T/forced" -version 2.0.2
push "$T/forced" SPANPROF_PYROSCOPE_TRACE_ID=1
stop_receiver
check "SPANPROF_PYROSCOPE_TRACE_ID=1 sends trace_id" [ "$(keys "$T/forced")" = "span_id span_name trace_id" ]
n=$(series "$T/forced")
check "the receiver counts one series per trace then ($n)" [ "$n" -ge "$n_spans" ]

# 5. SPANPROF_PYROSCOPE_TRACE_ID=0 wins over a 2.1.0 server.
start_receiver "$T/off" -version 2.1.0
push "$T/off" SPANPROF_PYROSCOPE_TRACE_ID=0 SPANPROF_PYROSCOPE_SPAN_NAME=0
stop_receiver
check "=0: no trace_id; SPAN_NAME=0: no span_name" [ "$(keys "$T/off")" = "span_id" ]
check "one series without span_name" [ "$(series "$T/off")" = 1 ]
echo PASS
