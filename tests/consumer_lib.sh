# Helpers for the consumer tests (issue 11: a thin capture library, samples
# drained by a separate consumer process). Sourced after lib.sh and
# capture_lib.sh.
# shellcheck shell=bash

# Cumulative CPU (ms) of the samples with FUNC anywhere on their stack,
# by go tool pprof; 0 when FUNC is absent.
cum_ms() { # func profiles...
  local fn=$1; shift
  go tool pprof -sample_index=cpu -top -cum -unit=ms -nodecount=100000 "$@" 2>/dev/null |
    awk -v f="$fn" '$6 == f { v = $4; sub(/ms$/, "", v); print v + 0; found = 1; exit }
                    END { if (!found) print 0 }'
}

# The diagnosis printed with a failed CPU check: the heaviest functions.
show_top() { go tool pprof -sample_index=cpu -top -cum -unit=ms -nodecount=25 "$@" 2>&1 | sed 's/^/    /'; }

# at_least_pct GOT WANT PCT: GOT >= PCT% of WANT (decimals allowed).
at_least_pct() { awk -v g="$1" -v w="$2" -v p="$3" 'BEGIN { exit !(w > 0 && g >= w * p / 100) }'; }

# CPU seconds (user + system) of a live process, from /proc/PID/stat.
proc_cpu_s() { # pid
  local stat tck
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  tck=$(getconf CLK_TCK)
  # After the ") " that closes comm (which may hold spaces): state is $1,
  # utime $12, stime $13 (fields 3, 14, 15 of proc(5)).
  awk -v t="$tck" '{ print ($12 + $13) / t }' <<< "${stat##*) }"
}

# Processes titled "spanprof consumer" of this uid, running this build's
# spanprof binary (other builds' consumers may run on the same machine; the
# executable also rules out a shell whose command line holds the words).
consumer_pids() {
  local c exe want
  want=$(readlink -f "$SPANPROF")
  for c in $(pgrep -u "$(id -u)" -f 'spanprof consumer'); do
    exe=$(readlink -f "/proc/$c/exe" 2>/dev/null) || continue
    [ "$exe" = "$want" ] && echo "$c"
  done
}

# Inodes of the shared memory objects (memfd, /dev/shm, SysV, deleted files)
# a process maps: the rings a host shares with its consumer.
shm_inodes() { # pid
  awk '$5 != 0 && ($6 ~ /^\/memfd:/ || $6 ~ /^\/dev\/shm\// || $6 ~ /^\/SYSV/ || $NF == "(deleted)") { print $4 ":" $5 }' \
    "/proc/$1/maps" 2>/dev/null | sort -u
}

# Inodes of the Unix sockets whose other end PID holds.
socket_peers() { # pid
  local mine
  mine=$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n' | sort -u)
  [ -n "$mine" ] || return 0
  ss -xa 2>/dev/null | awk 'NR > 1 { print $(NF - 2), $NF }' |
    awk 'NR == FNR { m[$1] = 1; next } ($1 in m) && $2 != 0 { print $2 }' <(echo "$mine") - | sort -u
}
socket_inodes() { find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n' | sort -u; }

start_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'; }

# The consumer serving host PID, printed; nonzero when there is none (yet).
# Tied to PID by a shared-memory object both map, a Unix socket connecting
# them, or HINT (e.g. the test's directory) in its command line or
# environment; failing those, the only consumer of this build started after
# PID (a warning says so). Never a guess among several: a test that kills
# the consumer must not kill someone else's.
consumer_of() { # pid [hint]
  local host=$1 hint=${2:-} c mine peers hs cands=() late=()
  mapfile -t cands < <(consumer_pids)
  [ ${#cands[@]} -gt 0 ] || return 1
  mine=$(shm_inodes "$host")
  peers=$(socket_peers "$host")
  for c in "${cands[@]}"; do
    if [ -n "$mine" ] && [ -n "$(comm -12 <(echo "$mine") <(shm_inodes "$c"))" ]; then echo "$c"; return 0; fi
    if [ -n "$peers" ] && [ -n "$(comm -12 <(echo "$peers") <(socket_inodes "$c"))" ]; then echo "$c"; return 0; fi
    if [ -n "$hint" ] && { tr '\0' '\n' < "/proc/$c/cmdline" 2>/dev/null | grep -qF -- "$hint" ||
                           tr '\0' '\n' < "/proc/$c/environ" 2>/dev/null | grep -qF -- "$hint"; }; then
      echo "$c"; return 0
    fi
  done
  hs=$(start_ticks "$host")
  [ -n "$hs" ] || return 1
  for c in "${cands[@]}"; do [ "$(start_ticks "$c")" -ge "$hs" ] 2>/dev/null && late+=("$c"); done
  if [ ${#late[@]} -eq 1 ]; then
    echo "warning: consumer ${late[0]} is tied to $host only by being the one started after it" >&2
    echo "${late[0]}"; return 0
  fi
  return 1
}

# Wait up to SECS for the consumer of PID to appear; prints it.
wait_consumer_of() { # pid secs [hint]
  local c
  for _ in $(seq $(( $2 * 10 ))); do
    if c=$(consumer_of "$1" "${3:-}"); then echo "$c"; return 0; fi
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

# Wait up to SECS for a process that is not our child to go away.
wait_gone() { # pid secs
  for _ in $(seq $(( $2 * 10 ))); do
    [ -d "/proc/$1" ] || return 0
    # A zombie is gone for our purpose (its parent reaps it).
    [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] && return 0
    sleep 0.1
  done
  return 1
}

wait_file() { # file secs: until FILE exists and is not empty
  for _ in $(seq $(( $2 * 10 ))); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}

# Standalone mode: the preloaded library starts its own consumer; never one
# found through an inherited address. An array, not a function, so that
# "${STANDALONE[@]}" CMD & gives CMD's own pid in $!.
# shellcheck disable=SC2034
STANDALONE=(env -u SPANPROF_CONSUMER LD_PRELOAD="$LIBSPANPROF")

# After a standalone host ended: wait for its consumer CPID to finish
# writing and exit by itself, then take the interval files in DIR (PROFILES).
# Nonzero, with the reason on stderr, when either does not happen.
standalone_done() { # cpid dir
  local cpid=$1 dir=$2
  if ! wait_gone "$cpid" 60; then
    echo "the consumer ($cpid) is still running 60 s after its last process ended" >&2
    return 1
  fi
  mapfile -t PROFILES < <(interval_files "$dir" 2>/dev/null)
  if [ ${#PROFILES[@]} -eq 0 ]; then
    echo "no interval profile under $dir:" >&2; find "$dir" -ls 2>&1 | head -20 >&2
    return 1
  fi
}

# expect DESCRIPTION COMMAND...: like check, but a failure is counted and the
# test goes on, so one run shows every property that does not hold;
# expectations_met ends the test.
EXPECT_FAILED=()
expect() {
  local what=$1; shift
  if "$@"; then echo "ok: $what"; return 0; fi
  echo "FAIL: $what" >&2; EXPECT_FAILED+=("$what"); return 1
}
expectations_met() { # test name
  if [ ${#EXPECT_FAILED[@]} -gt 0 ]; then
    printf '  failed: %s\n' "${EXPECT_FAILED[@]}" >&2
    fail "$1: ${#EXPECT_FAILED[@]} check(s) failed"
  fi
  echo "$1: all checks passed"
}
