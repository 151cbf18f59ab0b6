#!/usr/bin/env bash
# pprof layer throughput on a 20,000-stack profile (~310k locations):
# spanprof encode/decode vs `go tool pprof -proto` (Go's pprof package:
# parse + re-encode, the same job as `pprof_tool copy`).
#   BUILD=build scripts/bench-pprof.sh [STACKS] [ITERS]
# Needs `make` first; go (golang-go) for the reference column.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${1:-20000}
ITERS=${2:-3}
T=$(mktemp -d /tmp/bench-pprof.XXXXXX)
trap 'rm -rf "$T"' EXIT
export GOCACHE=${GOCACHE:-$T/gocache} GO111MODULE=off
[ -f "$BUILD/libspanprof_core.a" ] || { echo "run make first" >&2; exit 1; }
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -D_GNU_SOURCE -Iprofiler -I"$BUILD/pprof-proto" -o "$T/pprof_tool" \
  tests/tools/pprof_tool.c "$BUILD/libspanprof_core.a" \
  $(pkg-config --cflags --libs libprotobuf-c zlib) -ldl -pthread

ms() { # best wall time in ms of ITERS runs of a command
  local best=999999999 s e d i
  for ((i = 0; i < ITERS; i++)); do
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    d=$(((e - s) / 1000000)); ((d < best)) && best=$d
  done
  echo "$best"
}

line=$("$T/pprof_tool" bench "$N" "$ITERS")
get() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$line"; }
"$T/pprof_tool" big "$T/big.pb.gz" "$N"
sp_copy=$(ms "$T/pprof_tool" copy "$T/big.pb.gz" "$T/copy.pb.gz")
printf '%-44s %12s\n' "profile: $N stacks" "$(get gzip_bytes) B gz / $(get raw_bytes) B raw"
printf '%-44s %10s ms\n' "spanprof build (interning)" "$(get build_ms)"
printf '%-44s %10s ms\n' "spanprof encode (protobuf-c + gzip level 1)" "$(get encode_gzip_ms)"
printf '%-44s %10s ms\n' "spanprof encode (raw protobuf)" "$(get encode_raw_ms)"
printf '%-44s %10s ms\n' "spanprof decode (gunzip + unpack + validate)" "$(get decode_gzip_ms)"
printf '%-44s %10s ms\n' "spanprof read+write file (pprof_tool copy)" "$sp_copy"
if command -v go >/dev/null; then
  go tool pprof -symbolize=none -proto "$T/big.pb.gz" >/dev/null 2>&1 # warm the tool build cache
  go_copy=$(ms sh -c "go tool pprof -symbolize=none -proto '$T/big.pb.gz' > '$T/go.pb.gz'")
  printf '%-44s %10s ms\n' "go tool pprof -symbolize=none -proto" "$go_copy"
  awk -v a="$sp_copy" -v b="$go_copy" 'BEGIN { printf "%-44s %10.2fx\n", "ratio spanprof / go tool pprof (lower is better)", a / b }'
fi
