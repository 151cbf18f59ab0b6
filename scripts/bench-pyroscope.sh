#!/usr/bin/env bash
# Upload cost per interval for a profile with 10,000 distinct stacks, against
# the test receiver (tests/receiver, which decodes and checks every body like
# Pyroscope): CPU time of the exporter thread, CPU time of the encode step
# (sp_pyroscope_enqueue, on the caller's thread: span_name strip, pprof
# encode, gzip), and request bytes on the wire. Targets from issue 5:
# < 5 ms CPU and < 300 KiB per interval. Reference for size: the same profile
# re-encoded by Go's pprof writer (`go tool pprof -proto`, what Go agents send).
#
#   scripts/bench-pyroscope.sh [INTERVALS]      (after `make`; BUILD=build)
#
# Shapes: "tree" - each stack branches off an earlier one near its leaf end,
# like a real call tree; "random" - every frame drawn at random, the worst
# case for compression. Both: ~2,500 functions, 2 call sites each, 8-32
# frames, span_id + trace_id labels on two thirds of the samples.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
N=${1:-10}
STACKS=10000
T=$(mktemp -d /tmp/bench-pyroscope.XXXXXX)
export GO111MODULE=off GOCACHE=${GOCACHE:-$T/gocache}
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
[ -f "$BUILD/libspanprof_core.a" ] || { echo "bench-pyroscope: run make first ($BUILD/libspanprof_core.a missing)" >&2; exit 1; }
command -v go >/dev/null || { echo "bench-pyroscope: needs go (golang-go)" >&2; exit 1; }

RPID=
cleanup() { [ -n "$RPID" ] && kill "$RPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

(cd "$ROOT/tests/receiver" && go build -o "$T/receiver" .)
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -D_GNU_SOURCE -I"$ROOT/profiler" -I"$BUILD/pprof-proto" -o "$T/push" \
  "$ROOT/tests/tools/pyroscope_push.c" "$BUILD/libspanprof_core.a" \
  $(pkg-config --libs libunwind-generic libdw libelf libprotobuf-c libcurl zlib) -ldl -pthread

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/k.pem" \
  -out "$T/c.pem" -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1

start() { # start [receiver flags]
  rm -f "$T/port"
  "$T/receiver" -dir "$T/r.$RANDOM" -port-file "$T/port" "$@" 2>>"$T/receiver.log" &
  RPID=$!
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
}
stop() { kill "$RPID"; wait "$RPID" 2>/dev/null || true; RPID=; }

stat_of() { sed -n "s/^stats .*\b$2=\([0-9]*\).*/\1/p" "$1"; }

# run NAME SCHEME SHAPE [env...]: one row
run() {
  local name=$1 scheme=$2 shape=$3; shift 3
  if [ "$scheme" = https ]; then start -tls-cert "$T/c.pem" -tls-key "$T/k.pem"; else start; fi
  env "$@" PYROSCOPE_SERVER_ADDRESS="$scheme://$(cat "$T/port")" SPANPROF_PYROSCOPE_CA_FILE="$T/c.pem" \
    "$T/push" --intervals "$N" --stacks "$STACKS" --shape "$shape" --period-ms 200 \
    --deadline-ms 30000 --local-dir "$T" >"$T/$name.out" 2>"$T/$name.err"
  stop
  local sent failed thr enc wire
  sent=$(stat_of "$T/$name.out" sent); failed=$(stat_of "$T/$name.out" failed)
  thr=$(stat_of "$T/$name.out" thread_cpu_ns); enc=$(stat_of "$T/$name.out" encode_cpu_ns)
  wire=$(stat_of "$T/$name.out" wire_bytes)
  [ "$failed" = 0 ] || { cat "$T/$name.err" >&2; echo "bench-pyroscope: $name: $failed refused" >&2; exit 1; }
  # Go's encoder on the same profile (last interval written locally)
  local last go_bytes
  last=$(printf '%s/%03d-cpu.pb.gz' "$T" $((N - 1)))
  go tool pprof -proto "$last" >"$T/go.pb.gz" 2>/dev/null
  go_bytes=$(stat -c %s "$T/go.pb.gz")
  awk -v name="$name" -v n="$N" -v sent="$sent" -v thr="$thr" -v enc="$enc" -v wire="$wire" \
      -v gob="$go_bytes" 'BEGIN {
    t = thr / n / 1e6; e = enc / n / 1e6; w = wire / n / 1024
    printf "%-22s %4d %9.2f %9.2f %9.2f %10.1f %8.2f %8.2f %9.2f\n", name, sent, t, e, t + e, w,
      t / 5, w / 300, wire / n / gob }'
}

printf '%s distinct stacks, %s intervals per row; ratios < 1 meet the target\n' "$STACKS" "$N"
printf '%-22s %4s %9s %9s %9s %10s %8s %8s %9s\n' "case" "reqs" "thread" "encode" "total" "wire" \
  "thr/5ms" "w/300K" "w/Go"
printf '%-22s %4s %9s %9s %9s %10s %8s %8s %9s\n' "" "" "ms/intv" "ms/intv" "ms/intv" "KiB/intv" "" "" "encoder"
run "http tree gzip1" http tree
run "http tree gzip6" http tree SPANPROF_PYROSCOPE_GZIP_LEVEL=6
run "http random gzip1" http random
run "https tree gzip1" https tree
echo
echo "thread: exporter thread CPU (curl, TLS, retries); encode: sp_pyroscope_enqueue on the"
echo "caller's thread (pprof encode + gzip); wire: request headers + bodies; w/Go: our body"
echo "size over Go's pprof writer for the same profile."
