#!/usr/bin/env bash
# Upload to the Pyroscope test receiver: every interval arrives once, CPU and
# memory as separate requests with the right name labels, a valid pprof
# (read by `go tool pprof`) whose totals equal the local file's, span_id /
# span_name labels intact, trace_id not sent to a server before 2.1.0
# (pyroscope_series.sh has the rest); tenant, basic auth
# and extra headers sent, credentials never printed; profiles over the
# server's sample limit split losslessly.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

build_receiver
build_push

# 1. Four intervals, CPU + memory, with tenant, basic auth and a header.
start_receiver "$T/r1" -multitenancy -basic-auth "stack42:pw-SECRET-1"
mkdir -p "$T/local"
PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" \
PYROSCOPE_APPLICATION_NAME=checkout \
PYROSCOPE_TAGS="env=prod,region=eu-west" \
PYROSCOPE_TENANT_ID=team-a \
PYROSCOPE_BASIC_AUTH_USER=stack42 PYROSCOPE_BASIC_AUTH_PASSWORD=pw-SECRET-1 \
PYROSCOPE_HTTP_HEADERS='{"X-Test-Header":"yes"}' \
  "$PUSH" --intervals 4 --kinds both --stacks 200 --span-names --bad-utf8 --period-ms 20 \
  --local-dir "$T/local" >"$T/out1" 2>"$T/err1" || fail "push exited $?"
cat "$T/out1" "$T/err1"
stop_receiver

check "8 requests accepted" [ "$(index "$T/r1" 'len(idx)')" = 8 ]
check "no errors printed, one line at exit" \
  [ "$(sed 's/^spanprof\[[0-9]*\]: //' "$T/err1")" = "pyroscope: at exit: 8 profiles sent to http://$RECV_ADDR, 0 failed, 0 dropped" ]
check "stats: 8 sent, nothing retried, dropped or failed" \
  [ "$(stat_of "$T/out1" sent) $(stat_of "$T/out1" retried) $(stat_of "$T/out1" dropped) $(stat_of "$T/out1" failed)" = "8 0 0 0" ]
froms=$(sed -n 's/^enqueued kind=cpu from=\([0-9]*\).*/\1/p' "$T/out1" | paste -sd' ')
check "each interval once as process_cpu, in order" \
  [ "$(index "$T/r1" "[e['from_unix'] for e in idx if e['labels']['__name__']=='process_cpu']")" = "$froms" ]
check "each interval once as memory, in order" \
  [ "$(index "$T/r1" "[e['from_unix'] for e in idx if e['labels']['__name__']=='memory']")" = "$froms" ]
check "one profile type per request (cpu: samples+cpu only)" \
  [ "$(index "$T/r1" "sorted(set(','.join(e['sample_types']) for e in idx))")" = \
    "alloc_objects/count,alloc_space/bytes,inuse_objects/count,inuse_space/bytes samples/count,cpu/nanoseconds" ]
check "series labels" [ "$(index "$T/r1" "sorted(set(tuple(sorted((k,v) for k,v in e['labels'].items() if k!='hostname')) for e in idx))")" = \
  "(('__delta__', 'false'), ('__name__', 'memory'), ('env', 'prod'), ('pyroscope_spy', 'spanprof'), ('region', 'eu-west'), ('service_name', 'checkout')) (('__delta__', 'false'), ('__name__', 'process_cpu'), ('env', 'prod'), ('pyroscope_spy', 'spanprof'), ('region', 'eu-west'), ('service_name', 'checkout'))" ]
check "hostname tag" [ "$(index "$T/r1" "sorted(set(e['labels'].get('hostname') for e in idx))")" = "$(hostname)" ]
check "CPU profile type id as Grafana expects" \
  [ "$(index "$T/r1" "sorted(set(i for e in idx for i in e['profile_type_ids'] if i.startswith('process_cpu:cpu')))")" = "process_cpu:cpu:nanoseconds:cpu:nanoseconds" ]
check "sampleRate=100 on CPU" [ "$(index "$T/r1" "sorted(set(e['sample_rate'] for e in idx if e['labels']['__name__']=='process_cpu'))")" = 100 ]
check "tenant header" [ "$(index "$T/r1" "sorted(set(e['tenant'] for e in idx))")" = "team-a" ]
check "basic auth user" [ "$(index "$T/r1" "sorted(set(e['auth'] for e in idx))")" = "basic:stack42" ]
check "extra header" [ "$(index "$T/r1" "sorted(set(e['headers'].get('X-Test-Header') for e in idx))")" = "yes" ]
check "raw gzip pprof body, octet-stream" [ "$(index "$T/r1" "sorted(set((e['format'],e['gzip'],e['content_type']) for e in idx))")" = "('pprof', True, 'application/octet-stream')" ]
check "span_id and span_name kept, trace_id stripped (receiver is 2.0.2)" \
  [ "$(index "$T/r1" "sorted(set(' '.join(e['sample_label_keys']) for e in idx))")" = "span_id span_name" ]
check "secret never printed" bash -c "! grep -q SECRET '$T/out1' '$T/err1'"

# go tool pprof reads every stored profile; totals equal the local files.
i=0
for f in $(index "$T/r1" "[e['file'] for e in idx]"); do
  kind=$(index "$T/r1" "[e['labels']['__name__'] for e in idx if e['file']=='$f'][0]")
  n=$((i / 2)); k=cpu; [ "$kind" = memory ] && k=memory
  local_file=$(printf '%s/%03d-%s.pb.gz' "$T/local" "$n" "$k")
  want=$(raw_totals "$local_file")
  got=$(raw_totals "$T/r1/$f")
  [ -n "$got" ] && [ "$got" = "$want" ] || fail "$f: go tool pprof totals [$got], local file [$want]"
  keys=$(raw_label_keys "$T/r1/$f")
  [ "$keys" = "span_id span_name" ] || fail "$f: sample labels [$keys]"
  i=$((i + 1))
done
echo "ok: go tool pprof reads all 8; totals equal the local files; span_id/span_name intact"
check "span_id values are 16 hex" bash -c "go tool pprof -raw '$T/r1/$(index "$T/r1" "idx[0]['file']")' 2>/dev/null | grep -o 'span_id:\[[^]]*\]' | sort -u | grep -qvE '^span_id:\[[0-9a-f]{16}\]$' && exit 1 || exit 0"

# 2. span_name stripped when asked (it is a series label).
start_receiver "$T/r2"
PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" SPANPROF_PYROSCOPE_SPAN_NAME=0 \
  "$PUSH" --intervals 1 --span-names >"$T/out2" 2>&1 || fail "push exited $?"
stop_receiver
check "span_name stripped with SPANPROF_PYROSCOPE_SPAN_NAME=0" \
  [ "$(index "$T/r2" "' '.join(idx[0]['sample_label_keys'])")" = "span_id" ]
check "service name falls back to the executable name" \
  [ "$(index "$T/r2" "idx[0]['service_name']")" = "pyroscope_push" ]

# 3. Over the sample limit: split into several requests, nothing lost.
start_receiver "$T/r3"
PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" SPANPROF_PYROSCOPE_MAX_SAMPLES=1000 \
  "$PUSH" --intervals 2 --stacks 2500 --period-ms 0 >"$T/out3" 2>&1 || fail "push exited $?"
stop_receiver
cat "$T/out3"
check "2 intervals x 3 parts" [ "$(index "$T/r3" 'len(idx)')" = 6 ]
check "each part within the limit" [ "$(index "$T/r3" 'max(e["samples"] for e in idx)')" -le 1000 ]
want=$(awk -F'total=' '/^enqueued/ { split($2, a, " "); s += a[1] } END { printf "%.0f\n", s }' "$T/out3")
got=0
for f in $(index "$T/r3" "[e['file'] for e in idx]"); do
  got=$((got + $(raw_totals "$T/r3/$f" | cut -d' ' -f2)))
done
check "split parts sum to the original CPU total ($want)" [ "$got" = "$want" ]
check "split counted" [ "$(stat_of "$T/out3" split)" = 4 ]

# 4. fork: the child's copy is inert; its own exporter works; the parent's too.
start_receiver "$T/r4"
PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" \
  "$PUSH" --intervals 6 --period-ms 30 --fork --base-from 1700000000 >"$T/out4" 2>"$T/err4" ||
  fail "push exited $?"
stop_receiver
cat "$T/out4" "$T/err4"
check "child: inherited exporter refuses (-ECHILD), its own sends" \
  grep -q "^child inherited_enqueue=-10 own_enqueue=0 sent=1 from=1700001000" "$T/out4"
check "parent's 6 and the child's 1 arrived" \
  [ "$(index "$T/r4" "sorted(e['from_unix'] for e in idx)")" = \
    "1700000000 1700000001 1700000002 1700000003 1700000004 1700000005 1700001000" ]
echo PASS
