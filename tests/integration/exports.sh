#!/usr/bin/env bash
# libspanprof.so exports exactly its public API (include/spanprof.h) and the
# libc/pthread entry points it interposes, nothing else: an exported internal
# sp_* symbol could be bound by, or bind to, a host's own symbol of that name.
# Checked with `nm -D --defined-only` on the normal and the ASan/UBSan build.
source "$(dirname "$0")/../lib.sh"
require_cmd nm
require_file "$LIBSPANPROF" "$ASAN_BUILD/libspanprof.so"

# The allow-list, written out (not derived from the sources, so that an
# accidental export cannot add itself to it).
API="spanprof_span_set spanprof_span_set_traceparent spanprof_traceparent_parse
     spanprof_span_clear spanprof_span_push spanprof_span_pop spanprof_span_get
     spanprof_start spanprof_stop"
INTERPOSED="pthread_create pthread_exit dlclose
            execve execv execvp execvpe execveat fexecve execl execlp execle
            sigaction siginterrupt signal signalfd sigprocmask pthread_sigmask
            malloc calloc realloc reallocarray free posix_memalign aligned_alloc memalign
            valloc pvalloc"
printf '%s\n' $API $INTERPOSED | sort -u > "$T/allowed"

# Every function the header declares is in the allow-list (the list is
# complete for the API as documented).
sed -n 's/^SPANPROF_API [^(]*[ *]\([a-z_]*\)(.*/\1/p' "$ROOT/include/spanprof.h" | sort -u > "$T/header"
[ -s "$T/header" ] || fail "no SPANPROF_API declarations found in include/spanprof.h"
extra=$(comm -23 "$T/header" "$T/allowed")
check "every function of include/spanprof.h is allowed$([ -n "$extra" ] && echo ": missing $extra")" \
  [ -z "$extra" ]

for lib in "$LIBSPANPROF" "$ASAN_BUILD/libspanprof.so"; do
  tag=$(basename "$(dirname "$lib")")
  nm -D --defined-only "$lib" > "$T/nm.txt" || fail "$tag: nm -D failed on $lib"
  # "ADDR TYPE NAME[@VERSION]"; 3 columns for every defined symbol.
  awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' "$T/nm.txt" | sort -u > "$T/exported"
  [ -s "$T/exported" ] || fail "$tag: nm -D lists no defined symbol: the check is broken"
  n_unexpected=$(comm -23 "$T/exported" "$T/allowed" | wc -l)
  unexpected=$(comm -23 "$T/exported" "$T/allowed" | head -20 | paste -sd' ')
  [ "$n_unexpected" -gt 20 ] && unexpected="$n_unexpected, first 20: $unexpected"
  missing=$(comm -13 "$T/exported" "$T/allowed" | paste -sd' ')
  check "$tag: nothing exported beyond the allow-list${unexpected:+ (unexpected: $unexpected)}" \
    [ -z "$unexpected" ]
  check "$tag: every allowed symbol is exported${missing:+ (missing: $missing)}" [ -z "$missing" ]
  echo "$tag: $(wc -l < "$T/exported") exported symbols"
done
