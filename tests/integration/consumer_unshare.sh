#!/usr/bin/env bash
# The profiled process stays single-threaded, so what needs that still works:
# unshare(CLONE_NEWUSER) fails with EINVAL in a multi-threaded process (the
# library's own worker thread made `unshare --user` fail: "unshare failed:
# Invalid argument", rc 1). `unshare --user --map-root-user id` gives the
# same exit code and stdout under `spanprof record` and preloaded standalone
# as plainly. Where user namespaces are refused to everybody (a container
# without the permission), the plain run fails with EPERM: then the profiled
# runs must fail the same way, with the same message, and not with EINVAL,
# which is what a second thread gives.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
source "$ROOT/tests/consumer_lib.sh"
need_built
require_cmd unshare timeout id

CMD=(unshare --user --map-root-user id)
timeout 60 "${CMD[@]}" > "$T/plain.stdout" 2> "$T/plain.stderr"
prc=$?
if [ $prc -ne 0 ]; then
  cat "$T/plain.stderr"
  echo "note: plain '${CMD[*]}' fails here (rc $prc; user.max_user_namespaces=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null)): comparing the failure instead"
  grep -q 'Invalid argument' "$T/plain.stderr" &&
    fail "the plain run fails with EINVAL itself: it cannot tell a threaded process apart"
else
  grep -q '^uid=0(' "$T/plain.stdout" || fail "plain '${CMD[*]}' did not map root: $(cat "$T/plain.stdout")"
  echo "ok: plain: rc 0, $(cat "$T/plain.stdout")"
fi

judge() { # name rc
  echo "--- $1 stderr:"; cat "$T/$1.stderr"
  expect "($1) exit code as plain ($2, plain $prc)" [ "$2" -eq $prc ]
  expect "($1) stdout as plain ($(cat "$T/$1.stdout"))" cmp -s "$T/plain.stdout" "$T/$1.stdout"
  expect "($1) not refused as a threaded process (EINVAL)" bash -c "! grep -q 'Invalid argument' '$T/$1.stderr'"
  [ $prc -eq 0 ] || expect "($1) the same failure as plain" cmp -s "$T/plain.stderr" "$T/$1.stderr"
}

env -u SPANPROF_CONSUMER timeout 120 "$SPANPROF" record -q -o "$T/rec" -- "${CMD[@]}" \
  > "$T/record.stdout" 2> "$T/record.stderr"
judge record $?

"${STANDALONE[@]}" SPANPROF_OUTPUT="$T/sa" timeout 120 "${CMD[@]}" > "$T/standalone.stdout" 2> "$T/standalone.stderr"
judge standalone $?
expectations_met consumer_unshare
