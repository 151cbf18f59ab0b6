#!/usr/bin/env bash
# Bad configuration: malformed URL or unknown scheme give one clear line at
# start-up and no exporter; a bad tag is dropped with a line, the rest kept; an unreachable host gives one line
# naming it (plus the shutdown summary). In every case the host program
# keeps running, finishes its work and exits normally, within the deadline.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

build_receiver
build_push

run() { # run NAME expected-substring env...
  local name=$1 want=$2; shift 2
  env "$@" "$PUSH" --intervals 3 --period-ms 10 --deadline-ms 1000 >"$T/$name.out" 2>"$T/$name.err"
  local rc=$?
  cat "$T/$name.err"
  [ "$rc" = 0 ] || fail "$name: host exited $rc"
  grep -q "host still running: 3 intervals done" "$T/$name.out" || fail "$name: host did not finish"
  grep -q -- "$want" "$T/$name.err" || fail "$name: no line with '$want'"
}

one_line() { # refused at start-up: exactly one line, no exporter
  run "$@"
  [ "$(wc -l <"$T/$1.err")" = 1 ] || fail "$1: $(wc -l <"$T/$1.err") lines"
  grep -q "^spanprof: Pyroscope upload disabled: " "$T/$1.err" || fail "$1: line lacks the prefix"
  grep -q "^exporter " "$T/$1.out" && fail "$1: an exporter was started"
  echo "ok: $1"
}

one_line no_scheme "has no scheme: write http://pyro.example:4040" \
  PYROSCOPE_SERVER_ADDRESS=pyro.example:4040
one_line unknown_scheme "unknown scheme 'ftp'" PYROSCOPE_SERVER_ADDRESS=ftp://pyro.example/
one_line no_host "is not a valid URL" PYROSCOPE_SERVER_ADDRESS=http://
one_line bad_port "is not a valid URL" PYROSCOPE_SERVER_ADDRESS=http://pyro.example:99999
# A bad tag is dropped with one line; the upload goes on with the others.
start_receiver "$T/tags.r"
run tag_dropped "PYROSCOPE_TAGS: 'team' is not key=value (write e.g. env=prod,region=eu); dropped" \
  PYROSCOPE_SERVER_ADDRESS="http://$RECV_ADDR" PYROSCOPE_TAGS=env=prod,team,my-key=1,zone=a
stop_receiver
check "tag_dropped: one line per bad tag, then the exit summary" [ "$(wc -l <"$T/tag_dropped.err")" = 3 ]
check "tag_dropped: the bad key named" grep -q "key 'my-key' may only use letters" "$T/tag_dropped.err"
check "tag_dropped: 3 profiles uploaded with the good tags" \
  [ "$(index "$T/tags.r" "sorted(set((len(idx), e['labels']['env'], e['labels']['zone'], 'team' in e['labels']) for e in idx))")" = "(3, 'prod', 'a', False)" ]
one_line secret_url "unknown scheme" PYROSCOPE_SERVER_ADDRESS=gopher://bob:pw-SECRET@pyro.example
check "credentials in a bad URL are not printed" bash -c "! grep -q SECRET '$T/secret_url.err'"

unreachable() { # NAME URL: started, one failure line naming the host, bounded exit
  run "$1" "failed (" PYROSCOPE_SERVER_ADDRESS="$2" SPANPROF_PYROSCOPE_CONNECT_TIMEOUT_MS=500 \
    SPANPROF_PYROSCOPE_RETRY_BASE_MS=100 SPANPROF_PYROSCOPE_RETRY_MAX_MS=200
  [ "$(grep -c 'failed (' "$T/$1.err")" = 1 ] || fail "$1: failure reported more than once"
  [ "$(wc -l <"$T/$1.err")" -le 2 ] || fail "$1: more than the failure and the shutdown summary"
  grep -q "at exit: 0 profiles sent to $2, 0 failed, 3 dropped; 3 not uploaded within the 1000 ms shutdown deadline: dropped" "$T/$1.err" ||
    fail "$1: no shutdown summary"
  [ "$(stat_of "$T/$1.out" shutdown_ms)" -le 2000 ] || fail "$1: shutdown took $(stat_of "$T/$1.out" shutdown_ms) ms"
  echo "ok: $1"
}
unreachable unresolvable http://no-such-host.invalid:4040
grep -q "no-such-host.invalid" "$T/unresolvable.err" || fail "unresolvable: host not named"
unreachable refused "http://127.0.0.1:$(free_port)"
echo PASS
