#!/usr/bin/env bash
# The profiled process stays single-threaded, so what needs that still works:
# unshare(CLONE_NEWUSER) fails with EINVAL in a multi-threaded process (the
# library's own worker thread made `unshare --user` fail: "unshare failed:
# Invalid argument", rc 1). `unshare --user --map-root-user id` gives the
# same exit code and stdout under `spanprof record` and preloaded standalone
# as plainly. If the plain run fails (user namespaces refused here), the
# test fails and says so: it would prove nothing.
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
  fail "plain '${CMD[*]}' fails here (rc $prc; user.max_user_namespaces=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null), kernel.unprivileged_userns_clone=$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo n/a)): this machine must allow user namespaces for the test to mean anything"
fi
grep -q '^uid=0(' "$T/plain.stdout" || fail "plain '${CMD[*]}' did not map root: $(cat "$T/plain.stdout")"
echo "ok: plain: rc 0, $(cat "$T/plain.stdout")"

judge() { # name rc
  echo "--- $1 stderr:"; cat "$T/$1.stderr"
  expect "($1) exit code as plain ($2, plain $prc)" [ "$2" -eq $prc ]
  expect "($1) stdout as plain ($(cat "$T/$1.stdout"))" cmp -s "$T/plain.stdout" "$T/$1.stdout"
}

env -u SPANPROF_CONSUMER timeout 120 "$SPANPROF" record -q -o "$T/rec" -- "${CMD[@]}" \
  > "$T/record.stdout" 2> "$T/record.stderr"
judge record $?

"${STANDALONE[@]}" SPANPROF_OUTPUT="$T/sa" timeout 120 "${CMD[@]}" > "$T/standalone.stdout" 2> "$T/standalone.stderr"
judge standalone $?
expectations_met consumer_unshare
