# Sourced by scripts/bench-*.sh (not itself a benchmark: bench.sh runs
# bench-*.sh only): what several of them read from /proc.

# Median of the numbers on stdin, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# gperftools' libprofiler.so, or nothing.
gperf_lib() {
  ls /usr/lib/x86_64-linux-gnu/libprofiler.so.0 /usr/lib/x86_64-linux-gnu/libprofiler.so 2>/dev/null | head -1
}

# Pid of the detached `spanprof consumer` that the library preloaded into
# HOST started: its socket address names the host's pid
# (@spanprof-UID-PID-RANDOM). Waits up to 5 s; prints nothing if none.
consumer_of() { # host_pid
  local f tries=50
  while [ $tries -gt 0 ]; do
    # One grep, not a process per /proc entry: the host's busy threads may
    # leave this shell little CPU. The bracket keeps grep's own argv out.
    f=$(grep -l -a -e "@spanprof-$(id -u)-$1-[0-9a-f]" /proc/[0-9]*/cmdline 2>/dev/null | head -1)
    [ -n "$f" ] && { f=${f#/proc/}; echo "${f%/cmdline}"; return 0; }
    sleep 0.1; tries=$((tries - 1))
  done
}

# CPU nanoseconds of all of PID's live threads (schedstat: finer than the
# clock ticks of /proc/PID/stat, which a 10 s window of a consumer at a few
# ms per second would count in a handful of ticks).
cpu_ns() { # pid
  local f a s=0
  for f in /proc/"$1"/task/*/schedstat; do
    read -r a _ < "$f" 2>/dev/null && s=$((s + a))
  done
  echo $s
}

# A field of /proc/PID/smaps_rollup in KiB (Rss counts the shared pages
# too, such as the ring arena's memfd; Pss splits them among the mappers).
rollup_kb() { # pid field
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null
}

# Rss in KiB of PID's mappings of the spanprof arena memfd (its rings).
arena_kb() { # pid
  awk '/^[0-9a-f]+-[0-9a-f]+ / { a = ($0 ~ /memfd:spanprof /) } a && $1 == "Rss:" { s += $2 }
       END { print s + 0 }' "/proc/$1/smaps" 2>/dev/null
}
