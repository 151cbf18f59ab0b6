#!/usr/bin/env bash
# One service name for the interval files, the links files and Pyroscope,
# resolved once in the profiled process: SPANPROF_SERVICE >
# PYROSCOPE_APPLICATION_NAME > OTEL_SERVICE_NAME > service.name in
# OTEL_RESOURCE_ATTRIBUTES > the executable name (after exec, the new
# program's, so `record -- sh -c ./work` names work, not sh).
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

require_file "$SPANPROF" "$LIBSPANPROF"
build_receiver
test_prog "$BUILD" workloads pyro_spans

# run NAME [env...] -- CMD...: spanprof record into $T/NAME with uploads to
# a fresh receiver in $T/NAME.r.
run() {
  local name=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  start_receiver "$T/$name.r"
  (cd "$T" && env SPANPROF_UPLOAD_INTERVAL=1 PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" \
     "${envs[@]}" "$SPANPROF" record -q -o "$T/$name" -- "$@") >"$T/$name.log" 2>&1 ||
    { cat "$T/$name.log"; fail "$name: record exited $?"; }
  stop_receiver
}
# Service part of every interval file, of the merged file, of each links
# line ("service" and the Pyroscope query's service_name), and of every
# upload: one line each, sorted and unique.
names() {
  local d=$T/$1
  {
    ls "$d/intervals" | sed -n 's/^\(.*\)-[0-9]*-[0-9]\{8\}T[0-9]\{6\}Z-[0-9]*\.pb\.gz$/file \1/p'
    ls "$d" | grep -v -- '-[0-9]\{8\}T[0-9]\{6\}Z-' | sed -n 's/^\(.*\)-[0-9]*\.pb\.gz$/merged \1/p'
    cat "$d"/*.links.jsonl "$d"/intervals/*.links.jsonl | python3 -c '
import json, sys
for l in sys.stdin:
    o = json.loads(l)
    print("links", o["service"])
    if "pyroscope" in o: print("links-pyroscope", o["pyroscope"]["service_name"])'
    index "$d.r" "sorted(set(e['service_name'] for e in idx))" | sed 's/^/pyroscope /'
  } | sort -u | paste -sd' '
}
expect() { # NAME SERVICE
  check "$1: files, merge, links and Pyroscope all say $2" \
    [ "$(names "$1")" = "file $2 links $2 links-pyroscope $2 merged $2 pyroscope $2" ]
}

run otel OTEL_SERVICE_NAME=checkout -- ./pyro_spans 2.5
echo "otel: $(names otel)"
expect otel checkout

run attrs OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod,service.name=billing -- ./pyro_spans 2.5
echo "attrs: $(names attrs)"
expect attrs billing

run order SPANPROF_SERVICE=first PYROSCOPE_APPLICATION_NAME=second OTEL_SERVICE_NAME=third -- ./pyro_spans 2.5
echo "order: $(names order)"
expect order first

run exec -- sh -c './pyro_spans 2.5'
echo "exec: $(names exec)"
expect exec pyro_spans
echo PASS
