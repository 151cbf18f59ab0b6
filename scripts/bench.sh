#!/usr/bin/env bash
# `make bench`: every scripts/bench-*.sh in turn, each printing its own table
# with spanprof side by side with the reference tool, as ratios.
#   BUILD=build scripts/bench.sh [NAME...]     e.g. scripts/bench.sh cpu symbolize
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in scripts/bench-*.sh; do n=${f#scripts/bench-}; names+=("${n%.sh}"); done
fi
status=0
for n in "${names[@]}"; do
  f=scripts/bench-$n.sh
  [ -f "$f" ] || { echo "bench: no $f" >&2; status=2; continue; }
  echo "================ bench: $n ================"
  bash "$f" || { echo "bench-$n failed (exit $?)"; status=1; }
  echo
done
exit $status
