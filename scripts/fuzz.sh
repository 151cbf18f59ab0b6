#!/usr/bin/env bash
# Fuzz the pprof reader (tests/fuzz/fuzz_pprof_decode.c) with libFuzzer.
#   BUILD=build FUZZ_SECONDS=60 scripts/fuzz.sh
# Env: FUZZ_SECONDS (default 60) run time; FUZZ_JOBS (default 1) parallel
# workers; FUZZ_UPDATE_CORPUS=1 merges what was found into the minimized
# corpus in tests/fuzz/corpus (keep it small; it is replayed by make test).
# New inputs and crash artifacts go to $BUILD/fuzz/, never into the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
OUT=$BUILD/fuzz
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz.sh: $CC not found (apt-get install clang)" >&2; exit 1; }
mkdir -p "$OUT/proto" "$OUT/corpus" "$OUT/artifacts"

# Generated code straight from the proto, so this works without `make`.
protoc-c --proto_path=pprof-proto --c_out="$OUT/proto" pprof-proto/profile.proto
SRCS="profiler/base/error.c profiler/model/profile.c profiler/model/pprof_read.c profiler/model/pprof_write.c
      $OUT/proto/profile.pb-c.c tests/fuzz/fuzz_pprof_decode.c"
# shellcheck disable=SC2086
"$CC" -g -O1 -std=gnu11 -D_GNU_SOURCE -Iprofiler -I"$OUT/proto" \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
  -o "$OUT/fuzz_pprof_decode" $SRCS $(pkg-config --cflags --libs libprotobuf-c zlib)

# The first directory receives new inputs; the committed corpus is read only.
PAR=()
# -jobs spawns workers that log to ./fuzz-N.log: keep those under $OUT.
[ "$FUZZ_JOBS" -gt 1 ] && PAR=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
set +e
(cd "$OUT" && ./fuzz_pprof_decode -max_total_time="$FUZZ_SECONDS" -max_len=16384 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 "${PAR[@]}" \
  -artifact_prefix=artifacts/ corpus "$OLDPWD/tests/fuzz/corpus")
rc=$?
set -e
if [ "$FUZZ_JOBS" -gt 1 ]; then tail -n 8 "$OUT"/fuzz-*.log; fi

if [ "${FUZZ_UPDATE_CORPUS:-0}" = 1 ] && [ $rc -eq 0 ]; then
  rm -rf "$OUT/merged" && mkdir -p "$OUT/merged"
  "$OUT/fuzz_pprof_decode" -merge=1 -max_len=16384 "$OUT/merged" tests/fuzz/corpus "$OUT/corpus"
  rm -f tests/fuzz/corpus/*
  cp "$OUT/merged"/* tests/fuzz/corpus/
  echo "corpus: $(ls tests/fuzz/corpus | wc -l) files, $(du -sk tests/fuzz/corpus | cut -f1) KB"
fi
[ $rc -eq 0 ] || echo "fuzz.sh: crash found; inputs are in $OUT/artifacts/" >&2
exit $rc
