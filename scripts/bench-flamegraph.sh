#!/usr/bin/env bash
# Flame graph rendering benchmark: a synthetic C++-service CPU profile with
# 100,000 samples over 20,000 distinct stacks (tests/tools/render_profile.c),
# rendered by `spanprof flamegraph`, next to `spanprof folded` and the
# reference renderers that are installed: flamegraph.pl (fed our folded
# output), else `go tool pprof -svg` (needs graphviz; a call graph, not a
# flame graph, but the standard pprof -> SVG path).
#   BUILD=build scripts/bench-flamegraph.sh [SAMPLES [STACKS]]
# Prints best-of-3 wall and CPU times. Targets: < 1 s and < 5 MB for spanprof.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SAMPLES=${1:-100000}
STACKS=${2:-20000}
SPANPROF=$BUILD/spanprof
[ -x "$SPANPROF" ] || { echo "bench-flamegraph: build first (make)" >&2; exit 1; }
T=$(mktemp -d /tmp/bench-flamegraph.XXXXXX)
trap 'rm -rf "$T"' EXIT
export GO111MODULE=off GOCACHE=$T/gocache

# shellcheck disable=SC2046
cc -std=gnu11 -O2 -D_GNU_SOURCE -Iprofiler -Iinclude -o "$T/render_profile" \
  tests/tools/render_profile.c "$BUILD/libspanprof_core.a" $(pkg-config --libs libprotobuf-c zlib) -lpthread
"$T/render_profile" bench "$T/bench.pb.gz" "$SAMPLES" "$STACKS"

# best of 3 runs: "wall_ms cpu_ms" (cpu = user + sys, robust on a busy box);
# the command's stdout goes to $1
best_ms() { # outfile cmd...
  local out=$1 best= bcpu= r u s w c; shift
  for _ in 1 2 3; do
    TIMEFORMAT='%R %U %S'
    { time "$@" >"$out" 2>/dev/null; } 2>"$T/time"
    read -r r u s <"$T/time"
    w=$(awk -v x="$r" 'BEGIN { printf "%d", x * 1000 }')
    c=$(awk -v x="$u" -v y="$s" 'BEGIN { printf "%d", (x + y) * 1000 }')
    if [ -z "$best" ] || [ "$w" -lt "$best" ]; then best=$w bcpu=$c; fi
  done
  echo "$best $bcpu"
}
size_of() { stat -c %s "$1"; }
human() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.2f MB", b/1048576; else printf "%.1f kB", b/1024 }'; }

rows=()
fg_ms=$(best_ms "$T/fg.log" "$SPANPROF" flamegraph "$T/bench.pb.gz" -o "$T/bench.svg")
fg_wall=${fg_ms% *}
frames=$(sed -n 's/.*(\([0-9]*\) frames.*/\1/p' "$T/fg.log")
rows+=("spanprof flamegraph|$fg_ms|$(human "$(size_of "$T/bench.svg")")|$frames frames drawn")
fo_ms=$(best_ms "$T/bench.folded" "$SPANPROF" folded "$T/bench.pb.gz")
rows+=("spanprof folded|$fo_ms|$(human "$(size_of "$T/bench.folded")")|$(wc -l <"$T/bench.folded") stacks")
to_ms=$(best_ms "$T/bench.top" "$SPANPROF" top "$T/bench.pb.gz")
rows+=("spanprof top|$to_ms|$(human "$(size_of "$T/bench.top")")|all functions")

if command -v flamegraph.pl >/dev/null; then
  pl_ms=$(best_ms "$T/pl.svg" flamegraph.pl "$T/bench.folded")
  rows+=("flamegraph.pl (from folded)|$pl_ms|$(human "$(size_of "$T/pl.svg")")|reference")
elif command -v go >/dev/null && command -v dot >/dev/null; then
  go tool pprof -top "$T/bench.pb.gz" >/dev/null 2>&1 || true   # warm the build cache
  pp_ms=$(best_ms "$T/pprof.svg" go tool pprof -svg -symbolize=none "$T/bench.pb.gz")
  rows+=("go tool pprof -svg|$pp_ms|$(human "$(size_of "$T/pprof.svg")")|reference (call graph, 80 nodes)")
  pt_ms=$(best_ms "$T/pprof.top" go tool pprof -top -symbolize=none "$T/bench.pb.gz")
  rows+=("go tool pprof -top|$pt_ms|$(human "$(size_of "$T/pprof.top")")|reference for top")
else
  echo "(no flamegraph.pl, no go+graphviz: spanprof only)"
fi

echo "profile: $SAMPLES samples, $STACKS distinct stacks ($(human "$(size_of "$T/bench.pb.gz")") pprof)"
printf '%-30s %9s %9s %11s %7s  %s\n' tool wall cpu output "vs fg" note
for r in "${rows[@]}"; do
  IFS='|' read -r name ms size note <<<"$r"
  read -r wall cpu <<<"$ms"
  ratio=$(awk -v a="$wall" -v b="$fg_wall" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
  printf '%-30s %6s ms %6s ms %11s %7s  %s\n' "$name" "$wall" "$cpu" "$size" "$ratio" "$note"
done
echo "(best of 3; wall time on a loaded machine can exceed cpu time; load: $(cut -d' ' -f1-3 /proc/loadavg))"
