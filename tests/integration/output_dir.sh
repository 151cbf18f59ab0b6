#!/usr/bin/env bash
# Where profiles go when the program moves or drops privileges:
#  - the default ./spanprof-out is resolved at start, so a daemon that does
#    chdir("/") still writes into the directory it was started in;
#  - a forked worker that drops privileges to nobody keeps its profile: the
#    consumer (root's, as the worker registered before dropping them) writes
#    it into the same directory, mode 0600, which nobody cannot read.
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

cf=$(find "$T/cwd/spanprof-out" -name "drop_priv-$cpid-*.pb.gz" 2>/dev/null | head -1)
check "setuid(nobody): the child's profile is in the start directory's spanprof-out" [ -n "$cf" ]
check "setuid(nobody): it holds child_work" bash -c "go tool pprof -top '$cf' 2>/dev/null | grep -qw child_work"
check "setuid(nobody): the file is mode 0600 (uid $(stat -c %u "$cf" 2>/dev/null))" \
  [ "$(stat -c '%a' "$cf" 2>/dev/null)" = 600 ]
check "setuid(nobody): nobody cannot read it" \
  bash -c "! setpriv --reuid=$uid --regid=$gid --clear-groups cat '$cf' >/dev/null 2>&1"
echo PASS
