#!/usr/bin/env bash
# Where profiles go when the program moves or drops privileges:
#  - the default ./spanprof-out is resolved at start, so a daemon that does
#    chdir("/") still writes into the directory it was started in;
#  - a forked worker that drops privileges to nobody cannot write into the
#    root-owned 0755 directory: its files go to $TMPDIR/spanprof-<uid>
#    (mode 0700), and SPANPROF_LOG=1 says so in one line.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
require_file "$LIBSPANPROF"
require_cmd go
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to drop privileges"; exit 77; }

workload drop_priv
uid=$(id -u nobody) gid=$(id -g nobody)
# nobody must reach its TMPDIR (T itself may sit in a root-only 0700 test
# directory); the output directory stays root's 0755.
NOBODY_TMP=$(mktemp -d /tmp/spanprof-output-dir.XXXXXX) || fail "mktemp"
trap 'rm -rf "$NOBODY_TMP"' EXIT
chmod 0755 "$NOBODY_TMP"
mkdir -m 1777 "$NOBODY_TMP/tmp"
mkdir "$T/cwd"

(cd "$T/cwd" && env LD_PRELOAD="$LIBSPANPROF" TMPDIR="$NOBODY_TMP/tmp" SPANPROF_LOG=1 SPANPROF_HZ=997 \
  "$T/drop_priv" "$uid" "$gid" 1) > "$T/run.log" 2>&1 || { cat "$T/run.log"; fail "workload failed"; }
cat "$T/run.log"
ppid=$(sed -n 's/^parent \([0-9]*\) ok$/\1/p' "$T/run.log")
cpid=$(sed -n 's/^child \([0-9]*\) ok$/\1/p' "$T/run.log")
[ -n "$ppid" ] && [ -n "$cpid" ] || fail "the workload did not report both pids"

pf=$(find "$T/cwd/spanprof-out" -name "drop_priv-$ppid-*.pb.gz" 2>/dev/null | head -1)
check "chdir(\"/\"): the parent's profile is in the start directory's spanprof-out" [ -n "$pf" ]
check "chdir(\"/\"): it holds parent_work" bash -c "go tool pprof -top '$pf' 2>/dev/null | grep -qw parent_work"

fb="$NOBODY_TMP/tmp/spanprof-$uid"
cf=$(find "$fb" -name "drop_priv-$cpid-*.pb.gz" 2>/dev/null | head -1)
check "setuid(nobody): the child's profile is in \$TMPDIR/spanprof-$uid" [ -n "$cf" ]
check "setuid(nobody): it holds child_work" bash -c "go tool pprof -top '$cf' 2>/dev/null | grep -qw child_work"
check "setuid(nobody): the directory is nobody's, mode 0700" \
  [ "$(stat -c '%u %a' "$fb")" = "$uid 700" ]
n=$(grep -c "is not writable by uid $uid; profiles go to $fb" "$T/run.log")
check "setuid(nobody): SPANPROF_LOG=1 says where, once ($n)" [ "$n" -eq 1 ]
echo PASS
