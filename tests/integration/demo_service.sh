#!/usr/bin/env bash
# The traced demo service: (1) without spanprof it runs and propagates W3C
# trace context (same trace id, its own span id, version 00; a bad header
# starts a new trace); (2) under `make demo`'s script with load, each
# endpoint's spans show the functions the code says they run: /slow has
# checksum_payload, render_table and count_primes; /checksum only the first,
# /render only the second, /fast none of them.
source "$(dirname "$0")/../lib.sh"

require_cmd wrk curl

# --- 1. the service alone: no libspanprof, trace propagation ---
svc=$("$ROOT/examples/traced-service/build.sh" "$T/bin") || fail "cannot build the service"
"$svc" -p 0 -t 2 > "$T/plain.log" 2>&1 &
plain_pid=$!
trap 'kill -TERM $plain_pid 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q 'listening on' "$T/plain.log" && break; sleep 0.1; done
port=$(sed -n 's|.*127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$T/plain.log")
[ -n "$port" ] || { cat "$T/plain.log"; fail "the service did not start"; }
check "runs without libspanprof" grep -q 'spanprof absent' "$T/plain.log"

tp_of() { # header value -> the traceparent the service answers with
  curl -sS -D - -o /dev/null ${1:+-H "traceparent: $1"} "http://127.0.0.1:$port${2:-/fast}" |
    tr -d '\r' | sed -n 's/^traceparent: //Ip'
}
in=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
out=$(tp_of "$in")
echo "in:  $in"; echo "out: $out"
check "answer continues the trace with its own span id" \
  bash -c "[[ '$out' =~ ^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$ ]] && [[ '$out' != *-00f067aa0ba902b7-* ]]"
out2=$(tp_of "$in")
check "a new span id per request" [ "${out2:36:16}" != "${out:36:16}" ]
out=$(tp_of "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-future" /checksum)
check "a future version is continued, re-sent as 00 (unknown flags dropped): $out" \
  bash -c "[[ '$out' =~ ^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$ ]]"
for bad in 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01 \
           00-00000000000000000000000000000000-00f067aa0ba902b7-01 \
           ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \
           00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra; do
  out=$(tp_of "$bad")
  check "invalid '$bad' starts a new trace ($out)" \
    bash -c "[[ '$out' =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-01$ ]] && [[ '$out' != 00-4bf92f3577b34da6a3ce929d0e0e4736-* ]]"
done
out=$(tp_of "")
check "no header: a new trace ($out)" bash -c "[[ '$out' =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-01$ ]]"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")
check "unknown route is 404" [ "$code" = 404 ]
kill -TERM $plain_pid
wait $plain_pid
check "exits 0 on SIGTERM" [ $? -eq 0 ]
trap - EXIT

# --- 2. under spanprof, with load: per-endpoint profiles ---
require_file "$SPANPROF" "$LIBSPANPROF"
require_cmd go

DEMO_SECONDS=5 DEMO_HZ=499 "$ROOT/scripts/demo.sh" "$BUILD" "$T/demo" > "$T/demo.log" 2>&1 ||
  { cat "$T/demo.log"; fail "scripts/demo.sh failed"; }
cat "$T/demo.log"
# Interval profiles only (record also writes their merge).
mapfile -t profiles < <(find "$T/demo/profiles" -name '*Z-[0-9][0-9][0-9][0-9].pb.gz' | sort)
[ ${#profiles[@]} -gt 0 ] || fail "no interval profile in $T/demo/profiles"
for f in service.svg links.jsonl spans.txt; do
  check "demo wrote $f" test -s "$T/demo/$f"
done
check "demo wrote the heaviest span's flame graph" bash -c "ls '$T/demo'/span-*.svg >/dev/null"
check "every response carried a valid traceparent" grep -q ', 0 without a valid traceparent' "$T/demo/wrk.txt"

# Functions in the spans of one endpoint, per go tool pprof.
funcs_of() {
  go tool pprof -sample_index=cpu -tagfocus="span_name=^$1\$" -top -nodefraction=0 -nodecount=500 \
    "${profiles[@]}" 2>/dev/null | awk 'f { $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); sub(/ \(inline\)$/, ""); print }
      /flat%/ { f = 1 }'
}
has() { grep -qx "$2" <<<"$1"; }
for route in /slow /checksum /render /fast; do
  funcs_of $route > "$T/funcs${route//\//_}.txt"
  echo "$route: $(grep -cE '^(checksum_payload|render_table|count_primes)$' "$T/funcs${route//\//_}.txt") of the three work functions, $(wc -l < "$T/funcs${route//\//_}.txt") functions"
done
slow=$(cat "$T/funcs_slow.txt") ck=$(cat "$T/funcs_checksum.txt") rd=$(cat "$T/funcs_render.txt") fast=$(cat "$T/funcs_fast.txt")
for fn in checksum_payload render_table count_primes; do
  check "/slow spans run $fn" has "$slow" $fn
  check "/fast spans never run $fn" bash -c "! grep -qx $fn '$T/funcs_fast.txt'"
done
check "/checksum spans run checksum_payload" has "$ck" checksum_payload
check "/checksum spans run neither render_table nor count_primes" \
  bash -c "! grep -qxE 'render_table|count_primes' '$T/funcs_checksum.txt'"
check "/render spans run render_table" has "$rd" render_table
check "/render spans run neither checksum_payload nor count_primes" \
  bash -c "! grep -qxE 'checksum_payload|count_primes' '$T/funcs_render.txt'"

# The same through spanprof: the heaviest span is a /slow one, and the
# per-endpoint flame graphs show (or lack) the functions.
heaviest_name=$("$SPANPROF" spans --json -n 1 "${profiles[@]}" | sed -n 's/.*"span_name":"\([^"]*\)".*/\1/p')
check "the heaviest span is a /slow request ($heaviest_name)" [ "$heaviest_name" = /slow ]
require_file "$T/demo/route-slow.svg" "$T/demo/route-fast.svg"
for fn in checksum_payload render_table count_primes; do
  check "route-slow.svg shows $fn" grep -q "$fn" "$T/demo/route-slow.svg"
done
check "route-fast.svg shows none of them" \
  bash -c "! grep -qE 'checksum_payload|render_table|count_primes' '$T/demo/route-fast.svg'"
