# Helpers for the capture tests (sourced after lib.sh).
# shellcheck shell=bash

# A missing build or tool is a failure, not a skip (lib.sh).
need_built() { require_file "$SPANPROF" "$LIBSPANPROF"; }
need_go() { require_cmd go; }

# Workloads (tests/workloads/NAME.c, built by make with the flags the
# Makefile gives them: optimised, no frame pointers) copied into $T/NAME.
workload() { # name...
  local n
  for n in "$@"; do test_prog "$BUILD" workloads "$n"; done
}

# within LOW HIGH VALUE
within() { awk -v v="$3" -v lo="$1" -v hi="$2" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# Flat share (percent of all CPU) of function FUNC, by go tool pprof -top.
flat_share() { # func profiles...
  local fn=$1; shift
  go tool pprof -sample_index=cpu -top -nodecount=1000 "$@" 2>/dev/null |
    awk -v f="$fn" '$6 == f { gsub(/%/, "", $2); print $2; found = 1; exit }
                    END { if (!found) print 0 }'
}

# Percent of samples (by count) whose stack, as go tool pprof -traces
# prints it, contains a frame named FUNC.
traces_reaching() { # func profiles...
  local fn=$1; shift
  go tool pprof -sample_index=samples -traces "$@" 2>/dev/null | awk -v f="$fn" '
    function flush() { if (have) { tot += v; if (hit) ok += v } have = 0; hit = 0 }
    /^-----------\+/ { flush(); next }
    /^ +[0-9]+ +[^ ]/ && !have { v = $1; have = 1; if ($2 == f) hit = 1; next }
    have && $1 == f { hit = 1 }
    END { flush(); if (tot) printf "%.2f\n", 100 * ok / tot; else print 0 }'
}

# Total samples (count) in the profiles.
sample_count() {
  go tool pprof -sample_index=samples -traces "$@" 2>/dev/null | awk '
    /^-----------\+/ { have = 0; next }
    /^ +[0-9]+ +[^ ]/ && !have { tot += $1; have = 1 }
    END { print tot + 0 }'
}

# Interval profiles in DIR (not the merged one record writes).
interval_files() { find "$1" -name '*-*-*T*Z-*.pb.gz' ! -name '*.heap.pb.gz' | sort; }

# Cumulative share (percent of all CPU) of samples with FUNC on the stack.
cum_share() { # func profiles...
  local fn=$1; shift
  go tool pprof -sample_index=cpu -top -cum -nodecount=1000 "$@" 2>/dev/null |
    awk -v f="$fn" '$6 == f { gsub(/%/, "", $5); print $5; found = 1; exit }
                    END { if (!found) print 0 }'
}

# Run ARGS with the ASan/UBSan build of the library preloaded (after the ASan
# runtime) at 1 kHz, output into LOG; leaks and the first error are fatal.
asan_run() { # log args...
  local log=$1 lib=$ASAN_BUILD/libspanprof.so libasan
  shift
  libasan=$(cc -print-file-name=libasan.so)
  require_file "$lib" "$libasan"
  timeout 120 env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 SPANPROF_HZ=1000 SPANPROF_QUIET=1 \
    SPANPROF_OUTPUT="$T/asan" LD_PRELOAD="$libasan $lib" "$@" > "$log" 2>&1
}
