#!/usr/bin/env bash
# Build traced-service (no Makefile needed): examples/traced-service/build.sh [OUT_DIR]
# Writes OUT_DIR/traced-service (default: this directory). Plain -O2 -g; the
# spanprof calls are weak, so the binary runs with or without libspanprof.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -I"$here/../../include" -pthread \
  -o "$out/traced-service" "$here/service.c"
echo "$out/traced-service"
