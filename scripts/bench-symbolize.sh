#!/usr/bin/env bash
# Symbolizer throughput against eu-addr2line and binutils addr2line, on the
# same distinct addresses of a large real binary with debug info: libc.so.6
# with libc6-dbg (DWARF from /usr/lib/debug/.build-id, compressed sections).
#
#   scripts/bench-symbolize.sh [N]      (default N=5000; BUILD=build)
#
# Columns (median of 3 runs):
#   cold      N new addresses in a fresh process/symbolizer: open the file,
#             find and decompress the debug file, index, resolve;
#   warm      per address once the file is loaded, on E = 8N further
#             addresses never seen before: spanprof resolves them in the same
#             symbolizer after the first N; the addr2lines get (t(N + E) -
#             t(N)) / E, both runs one process each;
#   repeat    the first N again (spanprof's result cache; the addr2lines
#             have none, so their warm figure stands).
# All tools run with -f -i (function names, inlined frames). The last line
# compares spanprof's innermost line with binutils addr2line's (addr2line
# names the CU's main file for lines of #included code, so files differ more
# often than lines).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
N=${1:-5000}
for t in addr2line eu-addr2line nm python3 gcc; do
  command -v $t >/dev/null || { echo "bench-symbolize: $t missing; run scripts/install-deps.sh bench" >&2; exit 1; }
done
[ -f "$BUILD/libspanprof_core.a" ] || { echo "bench-symbolize: run 'make' first" >&2; exit 1; }

LIBC=$(readlink -f "$(ldd /bin/true | awk '/libc\.so/ { print $3 }')")
ID=$(eu-readelf -n "$LIBC" | awk '/Build ID/ { print $3 }')
DBG=/usr/lib/debug/.build-id/${ID:0:2}/${ID:2}.debug
[ -f "$DBG" ] || { echo "bench-symbolize: $DBG missing: install libc6-dbg (scripts/install-deps.sh bench)" >&2; exit 1; }

T=$(mktemp -d /tmp/bench-symbolize.XXXXXX)
trap 'rm -rf "$T"' EXIT
LIBS="$(pkg-config --libs libdw libelf libprotobuf-c zlib libcurl libunwind-generic) -ldl -pthread"
gcc -O2 -I"$ROOT" -I"$ROOT/profiler" -I"$ROOT/symbolizer" -I"$ROOT/include" -I"$BUILD/pprof-proto" \
  -o "$T/symtool" "$ROOT/tests/workloads/symtool.c" "$BUILD/libspanprof_core.a" $LIBS

# 2N distinct addresses inside functions, spread over the whole library.
nm -S --defined-only "$DBG" | python3 -c '
import random, sys
random.seed(42)
n = int(sys.argv[1]); out = set()
for line in sys.stdin:
    f = line.split()
    if len(f) != 4 or f[2] not in "tTwWiI": continue
    a, s = int(f[0], 16), int(f[1], 16)
    if s < 2: continue
    for _ in range(8): out.add(a + random.randrange(s))
out = sorted(out); random.shuffle(out)
assert len(out) >= 9 * n, "not enough addresses"
open(sys.argv[2], "w").write("".join("%x\n" % a for a in out[:n]))
open(sys.argv[3], "w").write("".join("%x\n" % a for a in out[n:9 * n]))
' "$N" "$T/A" "$T/E"
cat "$T/A" "$T/E" > "$T/AE"

now() { date +%s%N; }
median() { sort -g | sed -n 2p; }
secs() { # command... -> elapsed seconds
  local t0 t1; t0=$(now); "$@" > /dev/null; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }'
}

ours_cold=() ours_warm=() ours_rep=()
for _ in 1 2 3; do
  out=$("$T/symtool" bench "$LIBC" "$T/A" "$T/E")
  ours_cold+=("$(awk '$1 == "cold" { print $3 }' <<< "$out")")
  ours_warm+=("$(awk '$1 == "warm" { print $3 }' <<< "$out")")
  ours_rep+=("$(awk '$1 == "hits" { print $3 }' <<< "$out")")
done
oc=$(printf '%s\n' "${ours_cold[@]}" | median)
ow=$(printf '%s\n' "${ours_warm[@]}" | median)
orp=$(printf '%s\n' "${ours_rep[@]}" | median)

tool_times() { # tool args -> "cold warm_total" medians
  local c=() w=()
  for _ in 1 2 3; do
    c+=("$(secs "$@" -e "$LIBC" < "$T/A")")
    w+=("$(secs "$@" -e "$LIBC" < "$T/AE")")
  done
  echo "$(printf '%s\n' "${c[@]}" | median) $(printf '%s\n' "${w[@]}" | median)"
}
read -r ec ew <<< "$(tool_times eu-addr2line -f -i)"
read -r bc bw <<< "$(tool_times addr2line -f -i)"

# Agreement of the innermost file:line with binutils addr2line.
"$T/symtool" vaddr "$LIBC" $(cat "$T/A") > "$T/A.off"
"$T/symtool" resolve "$LIBC" $(cat "$T/A.off") > "$T/ours.txt"
addr2line -a -f -i -e "$LIBC" < "$T/A" > "$T/binutils.txt"
agree=$(python3 - "$T/A" "$T/A.off" "$T/ours.txt" "$T/binutils.txt" <<'EOF'
import os, sys
addrs = open(sys.argv[1]).read().split(); offs = open(sys.argv[2]).read().split()
ours = {}
for line in open(sys.argv[3]):
    f = line.rstrip("\n").split("\t")
    if len(f) > 5 and f[1] == "0" and f[4]:
        ours[int(f[0], 16)] = "%s:%s" % (os.path.basename(f[4]), f[5])
theirs, cur = {}, None
for line in open(sys.argv[4]):
    line = line.strip()
    if line.startswith("0x"):
        cur = int(line, 16); continue
    if cur is not None and cur not in theirs and ":" in line and not line.startswith("??"):
        fl, _, ln = line.rpartition(":")
        theirs[cur] = "%s:%s" % (os.path.basename(fl), ln.split()[0])
pairs = [(ours.get(int(o, 16), ""), theirs[int(a, 16)]) for a, o in zip(addrs, offs) if int(a, 16) in theirs]
lines = sum(1 for x, y in pairs if x.rpartition(":")[2] == y.rpartition(":")[2])
files = sum(1 for x, y in pairs if x == y)
print("same line %.1f%%, same file:line %.1f%% (of %d with lines)" % (100.0 * lines / max(len(pairs), 1), 100.0 * files / max(len(pairs), 1), len(pairs)))
EOF
)

python3 - "$N" "$oc" "$ow" "$orp" "$ec" "$ew" "$bc" "$bw" "$agree" "$LIBC" <<'EOF'
import sys
n = int(sys.argv[1]); oc, ow, orp, ec, ew, bc, bw = map(float, sys.argv[2:9])
agree, libc = sys.argv[9], sys.argv[10]
e = 8 * n
e_warm = max(ew - ec, 1e-9) / e; b_warm = max(bw - bc, 1e-9) / e
rows = [
    ("spanprof", oc, n / oc, e / ow, n / orp),
    ("eu-addr2line -f -i", ec, n / ec, 1 / e_warm, None),
    ("addr2line -f -i", bc, n / bc, 1 / b_warm, None),
]
print("symbolizer benchmark: %d distinct addresses in %s (+ libc6-dbg)" % (n, libc))
print("%-20s %12s %12s %14s %14s %14s" % ("tool", "cold (s)", "cold addr/s", "warm addr/s", "repeat addr/s", "spanprof warm x"))
ours_warm = e / ow
for name, c, cps, wps, rps in rows:
    ratio = "" if name == "spanprof" else "%.1fx" % (ours_warm / wps)
    print("%-20s %12.3f %12.0f %14.0f %14s %14s" % (name, c, cps, wps, "%.0f" % rps if rps else "-", ratio))
print("spanprof repeat vs addr2line warm: %.0fx; cold %d addresses: %.3f s (target < 1 s)" % ((n / orp) / (1 / b_warm), n, oc))
print("innermost frame vs binutils addr2line: %s" % agree)
EOF
