#!/usr/bin/env bash
# A program that gains privileges at exec (here a file capability, run by
# nobody: the kernel sets AT_SECURE) does not take spanprof's configuration
# from the environment, which is its unprivileged caller's (sp_getenv is
# secure_getenv): with SPANPROF_LOG=1 the same program logs when started
# plainly and stays silent with the capability, and profiles either way.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
require_cmd setcap setpriv
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to set a file capability and become nobody"; exit 77; }

# nobody must reach the programs and the output (T may sit in a root-only
# 0700 test directory).
D=$(mktemp -d /tmp/spanprof-secure-env.XXXXXX) || fail "mktemp"
trap 'rm -rf "$D"' EXIT
chmod 0755 "$D"
workload api_start
cp "$T/api_start" "$D/plain" && cp "$T/api_start" "$D/capped" || fail "copy api_start"
setcap cap_net_bind_service+ep "$D/capped" || fail "setcap on $D/capped"
mkdir -m 1777 "$D/out"

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
for p in plain capped; do
  as_nobody env -u LD_PRELOAD SPANPROF_LOG=1 "$D/$p" "$D/out/$p" > "$T/$p.log" 2>&1 ||
    { cat "$T/$p.log"; fail "$p: api_start failed"; }
  check "$p: the program's own checks passed" grep -q '^api ok$' "$T/$p.log"
  check "$p: profiles written" bash -c "ls '$D/out/$p' | grep -q '\.pb\.gz$'"
done
check "plain: SPANPROF_LOG=1 from the environment is honoured" grep -q '^spanprof\[' "$T/plain.log"
check "capped (AT_SECURE): the environment is ignored, no log line" \
  bash -c "! grep -q '^spanprof\[' '$T/capped.log'"
