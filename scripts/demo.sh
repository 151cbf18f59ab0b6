#!/usr/bin/env bash
# `make demo`: profile the traced demo service under load and write, into
# OUT (default ./spanprof-out/demo):
#   profiles/*Z-NNNN.pb.gz     the interval profiles (pprof), with span labels
#   profiles/traced-service-PID.pb.gz, .svg   their merge, by `spanprof record`
#   profiles/*.links.jsonl     trace -> profile links, one line per span
#   links.jsonl                all intervals' links in one file
#   service.svg                flame graph of the whole service
#   span-<id>.svg              flame graph of the heaviest span
#   route-<name>.svg           flame graph per endpoint (span_name label)
#   spans.txt                  `spanprof spans`: spans by CPU, heaviest first
#   wrk.txt, service.log       the load's report and the service's output
#
#   scripts/demo.sh BUILD_DIR [OUT]
# Environment: DEMO_SECONDS (default 8), DEMO_HZ (default 99),
# DEMO_THREADS (service workers, default 4), DEMO_CONNECTIONS (default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
OUT=${2:-spanprof-out/demo}
SECONDS_LOAD=${DEMO_SECONDS:-8}
HZ=${DEMO_HZ:-99}
THREADS=${DEMO_THREADS:-4}
CONNS=${DEMO_CONNECTIONS:-8}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
case "$OUT" in /*) ;; *) OUT=$ROOT/$OUT ;; esac
SPANPROF=$BUILD/spanprof

say() { printf 'demo: %s\n' "$*" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ -x "$SPANPROF" ] && [ -f "$BUILD/libspanprof.so" ] ||
  die "$SPANPROF or $BUILD/libspanprof.so missing; run 'make' first"
scripts/install-deps.sh demo
command -v wrk >/dev/null || die "wrk is not installed (scripts/install-deps.sh demo)"

say "building examples/traced-service"
SERVICE=$(examples/traced-service/build.sh "$BUILD/examples")

rm -rf "$OUT"
mkdir -p "$OUT/profiles"

if "$SPANPROF" record --help >/dev/null 2>&1; then
  say "starting the service under: spanprof record -F $HZ -o $OUT/profiles"
  "$SPANPROF" record -F "$HZ" -o "$OUT/profiles" -- "$SERVICE" -p 0 -t "$THREADS" \
    > "$OUT/service.log" 2>&1 &
else
  # A build without `record`: the same thing by hand.
  say "starting the service with LD_PRELOAD=$BUILD/libspanprof.so SPANPROF_HZ=$HZ"
  LD_PRELOAD=$BUILD/libspanprof.so SPANPROF_HZ=$HZ SPANPROF_OUTPUT=$OUT/profiles \
    "$SERVICE" -p 0 -t "$THREADS" > "$OUT/service.log" 2>&1 &
fi
record_pid=$!
svc_pid= port=
cleanup() {
  # Leave nothing running if we stop early: the service first, then record.
  [ -n "$svc_pid" ] && kill -TERM "$svc_pid" 2>/dev/null || true
  kill -TERM "$record_pid" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 100); do
  line=$(grep -m1 'listening on' "$OUT/service.log" 2>/dev/null || true)
  if [ -n "$line" ]; then
    port=$(sed -n 's|.*127\.0\.0\.1:\([0-9]*\)/.*|\1|p' <<<"$line")
    svc_pid=$(sed -n 's|.*(pid \([0-9]*\),.*|\1|p' <<<"$line")
    break
  fi
  kill -0 "$record_pid" 2>/dev/null || { cat "$OUT/service.log" >&2; die "the service did not start"; }
  sleep 0.1
done
[ -n "$port" ] && [ -n "$svc_pid" ] || { cat "$OUT/service.log" >&2; die "the service did not start within 10 s"; }
grep -q 'spanprof present' "$OUT/service.log" ||
  say "warning: the service does not see libspanprof (no span labels will be recorded)"

say "load: wrk -t2 -c$CONNS -d${SECONDS_LOAD}s with a traceparent per request"
wrk -t2 -c"$CONNS" -d"${SECONDS_LOAD}s" -s examples/traced-service/traced.lua \
  "http://127.0.0.1:$port/" > "$OUT/wrk.txt" 2>&1 || { cat "$OUT/wrk.txt" >&2; die "wrk failed"; }
sed 's/^/  /' "$OUT/wrk.txt" >&2

say "stopping the service (SIGTERM; the profiler writes its last interval)"
kill -TERM "$svc_pid"
for _ in $(seq 300); do kill -0 "$record_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$record_pid" 2>/dev/null && die "spanprof record did not finish within 30 s"
trap - EXIT
wait "$record_pid" || say "warning: spanprof record exited with status $?"

# The interval profiles (<service>-<pid>-<start>Z-NNNN.pb.gz); `record` also
# writes their merge, <service>-<pid>.pb.gz, which must not be counted twice.
mapfile -t profiles < <(find "$OUT/profiles" -name '*Z-[0-9][0-9][0-9][0-9].pb.gz' | sort)
[ ${#profiles[@]} -gt 0 ] || { cat "$OUT/service.log" >&2; die "no profile in $OUT/profiles"; }
merged=$OUT/profiles/traced-service-$svc_pid.pb.gz
find "$OUT/profiles" -name '*Z-[0-9][0-9][0-9][0-9].links.jsonl' | sort | xargs -r cat > "$OUT/links.jsonl"

"$SPANPROF" flamegraph "${profiles[@]}" -o "$OUT/service.svg" \
  --title "traced-service: all CPU (${SECONDS_LOAD}s of wrk load, $HZ Hz)"
"$SPANPROF" spans -n 15 "${profiles[@]}" > "$OUT/spans.txt"
heaviest=$("$SPANPROF" spans --json -n 1 "${profiles[@]}" |
  sed -n 's/.*"span_id":"\([^"]*\)".*"span_name":"\([^"]*\)".*/\1 \2/p')
span_svg=
if [ -n "$heaviest" ]; then
  id=${heaviest%% *} name=${heaviest#* }
  span_svg=$OUT/span-$id.svg
  "$SPANPROF" flamegraph "${profiles[@]}" --tag "span_id=$id" -o "$span_svg" \
    --title "heaviest span $id ($name)"
fi
route_svgs=()
for route in /slow /checksum /render /fast; do
  f=$OUT/route-${route#/}.svg
  if "$SPANPROF" flamegraph "${profiles[@]}" --tag "span_name=$route" -o "$f" \
       --title "traced-service: all $route spans" 2>/dev/null; then
    route_svgs+=("$f")
  fi
done

echo
echo "Spans by CPU (heaviest first):"
sed 's/^/  /' "$OUT/spans.txt"
echo
echo "spanprof demo: wrote"
printf '  %-22s %s\n' "profiles:" "$OUT/profiles/ (${#profiles[@]} interval file(s))"
[ -f "$merged" ] && printf '  %-22s %s\n' "merged profile:" "$merged"
printf '  %-22s %s\n' "service flame graph:" "$OUT/service.svg"
[ -n "$span_svg" ] && printf '  %-22s %s\n' "heaviest span:" "$span_svg"
for f in "${route_svgs[@]}"; do printf '  %-22s %s\n' "endpoint flame graph:" "$f"; done
printf '  %-22s %s\n' "links (all intervals):" "$OUT/links.jsonl"
printf '  %-22s %s\n' "spans:" "$OUT/spans.txt"
printf '  %-22s %s\n' "load report:" "$OUT/wrk.txt"
echo "Open the .svg files in a browser. One span's flame graph:"
if [ -f "$merged" ]; then one=$merged; else one="$OUT/profiles/*Z-[0-9][0-9][0-9][0-9].pb.gz"; fi
echo "  $SPANPROF flamegraph $one --tag span_id=ID -o span.svg"
