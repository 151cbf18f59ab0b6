#!/usr/bin/env bash
# Only the consumer's own uid (or root) may register with it: the socket
# peer's credentials (SO_PEERCRED) are checked; others run unprofiled.
# `spanprof record` runs a command that writes its SPANPROF_CONSUMER, waits,
# then burns 0.5 s itself (tree_uid_burn, so that record writes files);
# meanwhile, with that address and the library preloaded:
#  - a program of the same uid (owner_uid_burn, 1 s) is profiled: the control
#    (its profile may be in record's directory or in its own SPANPROF_OUTPUT:
#    which one, for a process from outside record's tree, is not specified);
#  - the same program as uid 65534 (setpriv; nobody_uid_burn, 1 s): rc 0 and
#    stdout as a plain run, libspanprof.so mapped in it, nobody_uid_burn in
#    no profile anywhere (record's directory, its own SPANPROF_OUTPUT and
#    TMPDIR, both writable by it), no consumer of uid 65534 started;
#  - no file record writes can be read by uid 65534 (a 0644 file in the same
#    place can: the check can tell).
# It all lives in a 0755 directory, since the test's own $T is 0700.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
source "$ROOT/tests/consumer_lib.sh"
need_built
need_go
require_cmd setpriv timeout pgrep

[ "$(id -u)" -eq 0 ] || fail "consumer_uid must run as root (it runs a program as uid 65534)"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# Not under SPANPROF_TEST_TMP: run.sh makes that 0700.
PUB=$(mktemp -d /tmp/consumer_uid.pub.XXXXXX) || fail "mktemp"
chmod 0755 "$PUB"
"${NOBODY[@]}" test -x "$PUB" || fail "uid 65534 cannot enter $PUB (a parent directory is closed to it)"
trap 'touch "$PUB/go"' EXIT   # let record's command end whatever happens

workload uid_burn
cp "$T/uid_burn" "$PUB/uid_burn" && chmod 0755 "$PUB/uid_burn" || fail "cannot copy uid_burn to $PUB"
NLIB=$LIBSPANPROF
if ! "${NOBODY[@]}" test -r "$LIBSPANPROF"; then
  NLIB=$PUB/libspanprof.so   # the build tree is closed to uid 65534: a copy
  cp "$LIBSPANPROF" "$NLIB" && chmod 0755 "$NLIB" || fail "cannot copy libspanprof.so to $PUB"
fi
mkdir -p "$PUB/nobody-out" "$PUB/nobody-tmp"
chown 65534:65534 "$PUB/nobody-out" "$PUB/nobody-tmp"
echo probe > "$PUB/probe" && chmod 0644 "$PUB/probe"
"${NOBODY[@]}" cat "$PUB/probe" > /dev/null || fail "uid 65534 cannot read a 0644 file in $PUB: the permission check could not tell"

(cd "$PUB" && "${NOBODY[@]}" ./uid_burn nobody 1) > "$T/plain.stdout" 2> "$T/plain.stderr" ||
  fail "uid_burn as uid 65534 fails without the profiler ($?)"
echo "ok: plain run as uid 65534: $(cat "$T/plain.stdout")"

env -u SPANPROF_CONSUMER timeout 300 "$SPANPROF" record -o "$PUB/out" -- \
  sh -c 'echo "$SPANPROF_CONSUMER" > "$0/addr"; while [ ! -e "$0/go" ]; do sleep 0.1; done; "$0/uid_burn" tree 0.5' "$PUB" \
  > "$T/rec.stdout" 2> "$T/rec.stderr" &
rec=$!
wait_file "$PUB/addr" 60 || fail "record's command did not start"
addr=$(cat "$PUB/addr")
echo "record's SPANPROF_CONSUMER: '$addr'"
expect "record gives its command SPANPROF_CONSUMER" [ -n "$addr" ]

if [ -n "$addr" ]; then
  (cd "$PUB" && env LD_PRELOAD="$LIBSPANPROF" SPANPROF_CONSUMER="$addr" SPANPROF_OUTPUT="$PUB/owner-out" \
     timeout 120 ./uid_burn owner 1) > "$T/owner.stdout" 2> "$T/owner.stderr"
  rc=$?
  echo "--- same uid: stderr:"; cat "$T/owner.stderr"
  expect "(same uid) the program ran (rc $rc)" [ $rc -eq 0 ]

  (cd "$PUB" && "${NOBODY[@]}" env LD_PRELOAD="$NLIB" SPANPROF_CONSUMER="$addr" \
     SPANPROF_OUTPUT="$PUB/nobody-out" TMPDIR="$PUB/nobody-tmp" timeout 120 ./uid_burn nobody 1) \
    > "$T/nobody.stdout" 2> "$T/nobody.stderr"
  rc=$?
  nc=$(pgrep -u 65534 -f 'spanprof consumer' | tr '\n' ' ')
  echo "--- uid 65534: stderr:"; cat "$T/nobody.stderr"
  expect "(uid 65534) the preload happened (libspanprof.so mapped)" grep -q '^libspanprof mapped: yes$' "$T/nobody.stderr"
  expect "(uid 65534) exit code as a plain run ($rc)" [ $rc -eq 0 ]
  expect "(uid 65534) stdout as a plain run ($(cat "$T/nobody.stdout"))" cmp -s "$T/plain.stdout" "$T/nobody.stdout"
  expect "(uid 65534) no consumer of its own started (${nc:-none})" [ -z "$nc" ]
fi
touch "$PUB/go"
wait $rec
rc=$?
echo "--- record stderr:"; cat "$T/rec.stderr"
expect "record exited 0 ($rc)" [ $rc -eq 0 ]

mapfile -t PROFILES < <(interval_files "$PUB/out")
tree=$(cum_ms tree_uid_burn "${PROFILES[@]}")
expect "record's own command is in its profile (tree_uid_burn $tree ms >= 250 of the 500 burnt)" within 250 1000000 "$tree" ||
  show_top "${PROFILES[@]}"
if [ -n "$addr" ]; then
  mapfile -t PROFILES < <(interval_files "$PUB/out"; interval_files "$PUB/owner-out")
  got=$(cum_ms owner_uid_burn "${PROFILES[@]}")
  expect "(same uid) owner_uid_burn is profiled ($got ms >= 500 of the 1000 burnt)" within 500 1000000 "$got" ||
    show_top "${PROFILES[@]}"
  mapfile -t all < <(find "$PUB/out" "$PUB/nobody-out" "$PUB/nobody-tmp" -name '*.pb.gz')
  hits=()
  for f in "${all[@]}"; do go tool pprof -raw "$f" 2>/dev/null | grep -q nobody_uid_burn && hits+=("$f"); done
  expect "(uid 65534) nobody_uid_burn is in none of the ${#all[@]} profiles written (in: ${hits[*]:-none})" [ ${#hits[@]} -eq 0 ]
  own=$(find "$PUB/nobody-out" "$PUB/nobody-tmp" -type f | tr '\n' ' ')
  expect "(uid 65534) it wrote no file of its own (${own:-none})" [ -z "$own" ]
fi

readable=()
nfiles=0
while IFS= read -r f; do
  nfiles=$((nfiles + 1))
  "${NOBODY[@]}" cat "$f" > /dev/null 2>&1 && readable+=("$f ($(stat -c %a "$f"))")
done < <(find "$PUB/out" -type f)
ls -laR "$PUB/out" | sed 's/^/    /'
expect "record wrote files ($nfiles)" [ $nfiles -gt 0 ]
expect "uid 65534 can read none of record's $nfiles files (readable: ${readable[*]:-none})" [ ${#readable[@]} -eq 0 ]
# Another user binds the host-wide agent's well-known name first: a root
# process that preloads the library must not hand it its memory (the
# listener's credentials are checked), and is profiled by its own consumer.
cat > "$PUB/squat.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind("\0spanprof-agent-0")
s.listen(8)
open(sys.argv[1], "w").write("listening\n")
s.settimeout(3)
got = 0
try:
    while True:
        c, _ = s.accept()
        c.settimeout(2)
        try:
            msg, anc, _, _ = c.recvmsg(64, socket.CMSG_SPACE(4 * 4))
            got += len(msg) + len(anc)
        except OSError:
            pass
        c.close()
except OSError:
    pass
open(sys.argv[1], "a").write("received %d\n" % got)
PY
chmod 0644 "$PUB/squat.py"
: > "$PUB/squat.log"; chown 65534:65534 "$PUB/squat.log"
"${NOBODY[@]}" /usr/bin/python3 "$PUB/squat.py" "$PUB/squat.log" &
squat=$!
for _ in $(seq 100); do grep -q listening "$PUB/squat.log" 2>/dev/null && break; sleep 0.05; done
grep -q listening "$PUB/squat.log" || fail "the squatting listener did not start"
env -u SPANPROF_CONSUMER SPANPROF_AGENT=1 LD_PRELOAD="$LIBSPANPROF" SPANPROF_OUTPUT="$T/squat-out" \
  "$T/uid_burn" owner 0.5 > /dev/null || fail "preloaded root program failed beside the squatter"
wait $squat
cat "$PUB/squat.log" | sed 's/^/    /'
expect "a listener of uid 65534 on @spanprof-agent-0 received nothing" grep -q 'received 0' "$PUB/squat.log"
for _ in $(seq 100); do ls "$T/squat-out"/*.pb.gz > /dev/null 2>&1 && break; sleep 0.1; done
expect "the root program was profiled by its own consumer" bash -c "ls '$T/squat-out'/*.pb.gz > /dev/null 2>&1"

expectations_met consumer_uid
