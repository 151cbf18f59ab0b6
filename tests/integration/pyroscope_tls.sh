#!/usr/bin/env bash
# HTTPS: the test receiver behind a certificate signed by a CA generated
# here. Upload works with SPANPROF_PYROSCOPE_CA_FILE pointing at that CA; it
# is refused (one line with advice, nothing sent) without it or with another
# CA; SPANPROF_PYROSCOPE_INSECURE=1 turns verification off, with a warning.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"
require_cmd openssl

build_receiver
build_push

# CA, a server certificate for 127.0.0.1/localhost, and an unrelated CA.
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
# shellcheck disable=SC2086
{
  openssl req -x509 $ec -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=spanprof test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign &&
  openssl req $ec -keyout "$T/srv.key" -out "$T/srv.csr" -subj "/CN=localhost" &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$T/ext" &&
  openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -out "$T/srv.pem" -days 2 -extfile "$T/ext" &&
  openssl req -x509 $ec -keyout "$T/other.key" -out "$T/other.pem" -days 2 -subj "/CN=other CA" \
    -addext basicConstraints=critical,CA:TRUE
} >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log"; fail "openssl could not make the certificates"; }

start_receiver "$T/r" -tls-cert "$T/srv.pem" -tls-key "$T/srv.key"
export PYROSCOPE_SERVER_ADDRESS="https://$RECV_ADDR"
export SPANPROF_PYROSCOPE_RETRY_BASE_MS=100 SPANPROF_PYROSCOPE_RETRY_MAX_MS=200
count() { index "$T/r" 'len(idx)' 2>/dev/null || echo 0; }

# 1. verified with the CA file
SPANPROF_PYROSCOPE_CA_FILE="$T/ca.pem" "$PUSH" --intervals 2 --period-ms 20 >"$T/ok.out" 2>"$T/ok.err" ||
  fail "push exited $?"
cat "$T/ok.out" "$T/ok.err"
check "uploaded over HTTPS with the CA file" [ "$(stat_of "$T/ok.out" sent) $(count)" = "2 2" ]
check "quiet when all is well: only the line at exit" \
  [ "$(sed 's/^spanprof\[[0-9]*\]: //' "$T/ok.err")" = "pyroscope: at exit: 2 profiles sent to $(sed -n 's/^exporter server=\([^ ]*\).*/\1/p' "$T/ok.out"), 0 failed, 0 dropped" ]

# 2. not verifiable: system CAs only, then an unrelated CA
for how in system other; do
  extra=()
  [ "$how" = other ] && extra=(SPANPROF_PYROSCOPE_CA_FILE="$T/other.pem")
  env "${extra[@]}" "$PUSH" --intervals 2 --period-ms 20 --deadline-ms 800 >"$T/$how.out" 2>"$T/$how.err" ||
    fail "push exited $?"
  cat "$T/$how.err"
  check "$how CAs: nothing sent" [ "$(stat_of "$T/$how.out" sent) $(count)" = "0 2" ]
  check "$how CAs: one line with the advice" \
    [ "$(grep -c 'certificate not trusted: set SPANPROF_PYROSCOPE_CA_FILE' "$T/$how.err")" = 1 ]
done

# 3. verification off on purpose
SPANPROF_PYROSCOPE_INSECURE=1 "$PUSH" --intervals 2 --period-ms 20 >"$T/insecure.out" 2>"$T/insecure.err" ||
  fail "push exited $?"
cat "$T/insecure.err"
check "insecure: uploaded" [ "$(stat_of "$T/insecure.out" sent) $(count)" = "2 4" ]
check "insecure: warned once" [ "$(grep -c 'certificate is NOT verified' "$T/insecure.err")" = 1 ]
stop_receiver
echo PASS
