# Sourced by the Pyroscope integration tests (after tests/lib.sh): build the
# Go test receiver into $T (go build needs GOCACHE, set by lib.sh), copy the
# push tool that make built there, start/stop the receiver, read
# its index. The receiver is always stopped by its pid on exit.
# shellcheck shell=bash

require_cmd go python3
require_file "$BUILD/libspanprof_core.a"

# Never send test traffic through a proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
# Nothing from the caller's environment leaks into the exporter's config.
for v in $(env | sed -n 's/^\(PYROSCOPE_[A-Z_]*\|SPANPROF_PYROSCOPE_[A-Z_]*\|OTEL_[A-Z_]*\)=.*/\1/p'); do
  unset "$v"
done

# The library is silent unless asked (SPANPROF_LOG=1); these tests read its
# upload lines, so they ask.
export SPANPROF_LOG=1
RECV=$T/receiver
PUSH=$T/pyroscope_push
RECV_PID=
RECV_ADDR=

build_receiver() {
  (cd "$ROOT/tests/receiver" && GO111MODULE=off go build -o "$RECV" .) || fail "cannot build the test receiver"
}

# The push tool of the tree in $BUILD (pyroscope_sanitize.sh sets
# BUILD=$ASAN_BUILD: that tree's is built with its sanitizers).
build_push() {
  test_prog "$BUILD" tools pyroscope_push
}

# start_receiver DIR [receiver flags...]: sets RECV_PID and RECV_ADDR.
start_receiver() {
  local dir=$1; shift
  rm -f "$T/port"
  "$RECV" -dir "$dir" -port-file "$T/port" "$@" >>"$T/receiver.log" 2>&1 &
  RECV_PID=$!
  for _ in $(seq 100); do
    [ -s "$T/port" ] && break
    kill -0 "$RECV_PID" 2>/dev/null || { cat "$T/receiver.log" >&2; fail "receiver did not start"; }
    sleep 0.05
  done
  [ -s "$T/port" ] || fail "receiver did not report its port"
  RECV_ADDR=$(cat "$T/port")
}

stop_receiver() {
  if [ -n "$RECV_PID" ]; then
    kill "$RECV_PID" 2>/dev/null
    wait "$RECV_PID" 2>/dev/null
    RECV_PID=
  fi
}
trap stop_receiver EXIT

# A free local port: bind one, read it, release it.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# index DIR PYTHON-EXPR: evaluate with `idx` = the receiver's index (a list).
index() {
  python3 -c "import json,sys; idx=json.load(open(sys.argv[1]+'/index.json')); r=($2); print(r if not isinstance(r,(list,tuple)) else ' '.join(map(str,r)))" "$1"
}

control() { # control PATH (against the running receiver)
  curl -sk -X POST "${SCHEME:-http}://$RECV_ADDR$1"
}

# Column sums of the Samples section of `go tool pprof -raw`.
raw_totals() {
  go tool pprof -raw "$1" 2>/dev/null | awk '
    /^Samples:/ { s = 1; getline; n = NF; next }
    /^Locations/ { s = 0 }
    s && $1 ~ /^-?[0-9]+$/ { for (i = 1; i <= n; i++) { v = $i; sub(":", "", v); t[i] += v } }
    END { for (i = 1; i <= n; i++) printf "%s%.0f", (i > 1 ? " " : ""), t[i]; print "" }'
}

# Distinct label keys on samples, from `go tool pprof -raw`.
raw_label_keys() {
  go tool pprof -raw "$1" 2>/dev/null | awk '/^Samples:/ { s = 1 } /^Locations/ { s = 0 } s' |
    grep -o '[A-Za-z_][A-Za-z0-9_.]*:\[' | sed 's/:\[$//' | sort -u | paste -sd' '
}

stat_of() { # stat_of FILE KEY: a value from the tool's "stats" line
  sed -n "s/^stats .*\b$2=\([0-9]*\).*/\1/p" "$1"
}
