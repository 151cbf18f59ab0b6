#!/usr/bin/env bash
# The test receiver against the reference's accept/reject tables
# (shared/reference/pyroscope-api.md 8.1 and 8.2): same status for the same
# request, derived labels as the server derives them. Bodies are built here
# byte by byte, so the receiver's decisions do not depend on spanprof's
# encoder.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/receiver/receiver_lib.sh"

build_receiver
mkdir -p "$T/b"
# Hand-made pprof bodies (protobuf wire format written out by hand).
python3 - "$T/b" <<'EOF'
import gzip, os, sys, time
out = sys.argv[1]

def varint(n):
    n &= (1 << 64) - 1
    b = bytearray()
    while True:
        c = n & 0x7f
        n >>= 7
        if n:
            b.append(c | 0x80)
        else:
            b.append(c)
            return bytes(b)

def field(num, wt, payload):
    return varint(num << 3 | wt) + payload

def ln(num, data):
    return field(num, 2, varint(len(data)) + data)

def vi(num, n):
    return field(num, 0, varint(n))

def packed(num, xs):
    return ln(num, b"".join(varint(x) for x in xs))

def profile(types=(("cpu", "nanoseconds"),), values=((10000000,),), strings_extra=(),
            labels=(), t=None, func_id=1, str0="", bad_utf8=False, n_samples=1, comment=None):
    strings = [str0]
    def s(x):
        if x not in strings:
            strings.append(x)
        return strings.index(x)
    b = b""
    for ty, un in types:
        b += ln(1, vi(1, s(ty)) + vi(2, s(un)))
    fn = s("main")
    labs = b"".join(ln(3, vi(1, s(k)) + vi(2, s(v))) for k, v in labels)
    for i in range(n_samples):
        vals = values[i % len(values)]
        b += ln(2, packed(1, [1]) + packed(2, vals) + labs)
    b += ln(4, vi(1, 1) + vi(3, 0x1000) + ln(4, vi(1, func_id) + vi(2, 3)))
    b += ln(5, vi(1, func_id) + vi(2, fn) + vi(3, fn))
    for x in strings_extra:
        s(x)
    if comment is not None:
        s(comment)
    tab = [x.encode() for x in strings]
    if bad_utf8:
        tab.append(b"bad\xff")
    for x in tab:
        b += ln(6, x)
    b += vi(9, t if t is not None else time.time_ns() - 15 * 10**9)
    return b

def w(name, data, gz=True):
    open(os.path.join(out, name), "wb").write(gzip.compress(data) if gz else data)

cpu = profile(types=(("samples", "count"), ("cpu", "nanoseconds")), values=((1, 10000000),),
              labels=(("span_id", "00f067aa0ba902b7"),))
w("cpu.pb.gz", cpu)
w("cpu.pb", cpu, gz=False)
w("mem.pb.gz", profile(types=(("alloc_objects", "count"), ("alloc_space", "bytes"),
                              ("inuse_objects", "count"), ("inuse_space", "bytes")),
                       values=((1, 4096, 1, 4096),)))
w("empty.pb", b"", gz=False)
w("garbage", b"\xff\xff\xff", gz=False)
w("old.pb.gz", profile(t=time.time_ns() - 2 * 3600 * 10**9))
w("future.pb.gz", profile(t=time.time_ns() + 20 * 60 * 10**9))
w("zero_time.pb.gz", profile(t=0))
w("big.pb.gz", profile(comment="x" * (4 * 1024 * 1024 + 10)))
w("samples.pb.gz", profile(n_samples=16001, values=tuple((i + 1,) for i in range(16001))))
w("samples_ok.pb.gz", profile(n_samples=16000, values=tuple((i + 1,) for i in range(16000))))
w("labels.pb.gz", profile(labels=tuple(("k%d" % i, "v") for i in range(101))))
w("dash.pb.gz", profile(types=(("alloc-space", "bytes"),), values=((1,),)))
w("func0.pb.gz", profile(func_id=0))
w("str0.pb.gz", profile(str0="x"))
w("utf8.pb.gz", profile(bad_utf8=True))
w("values.pb.gz", profile(types=(("samples", "count"), ("cpu", "nanoseconds")), values=((1,),)))
w("series.pb.gz", profile(labels=tuple(("l%d" % i, "v") for i in range(26))))  # 4 + 26 = 30
w("series31.pb.gz", profile(labels=tuple(("l%d" % i, "v") for i in range(27))))
EOF

start_receiver "$T/r"
B=$T/b
post() { # post EXPECTED QUERY FILE [curl args...]; CT= overrides the Content-Type
  local want=$1 q=$2 f=$3; shift 3
  local got
  got=$(curl -s -o "$T/resp" -w '%{http_code}' -X POST "http://$RECV_ADDR/ingest?$q" \
    -H "Content-Type: ${CT:-application/octet-stream}" --data-binary "@$f" "$@")
  [ "$got" = "$want" ] || fail "POST ?$q $(basename "$f") $*: HTTP $got, want $want ($(cat "$T/resp"))"
  echo "ok: $want for ?$q $(basename "$f")"
}
now=$(date +%s)

# 8.1 must accept
post 200 "name=checkout%7Benv%3Dprod%2Chost%3Dnode-1%7D&from=$now&until=$now&format=pprof&spyName=spanprof&sampleRate=100" "$B/cpu.pb.gz"
check "labels derived as the server does" [ "$(index "$T/r" "sorted(idx[-1]['labels'].items())")" = \
  "('__delta__', 'false') ('__name__', 'process_cpu') ('env', 'prod') ('host', 'node-1') ('pyroscope_spy', 'spanprof') ('service_name', 'checkout')" ]
check "span_id is not a series label" [ "$(index "$T/r" "idx[-1]['span_id_samples']")" = 1 ]
post 200 "name=checkout&from=${now}000000000&format=pprof" "$B/cpu.pb"
printf -- '--B\r\nContent-Disposition: form-data; name="profile"; filename="profile.pprof"\r\nContent-Type: application/octet-stream\r\n\r\n' >"$T/mp"
cat "$B/cpu.pb" >>"$T/mp"
printf -- '\r\n--B\r\nContent-Disposition: form-data; name="sample_type_config"; filename="sample_type_config.json"\r\nContent-Type: application/octet-stream\r\n\r\n{"cpu":{"units":"samples","aggregation":"sum","display-name":"cpu","sampled":true}}\r\n--B--\r\n' >>"$T/mp"
CT="multipart/form-data; boundary=B" post 200 "name=checkout&spyName=spanprof&sampleRate=100&units=samples&aggregationType=sum" "$T/mp"
check "multipart stored as pprof" [ "$(index "$T/r" "idx[-1]['format'], idx[-1]['labels']['__name__']")" = "multipart process_cpu" ]
post 200 "name=app&format=pprof" "$B/mem.pb.gz"
check "memory profile is __name__=memory" [ "$(index "$T/r" "idx[-1]['labels']['__name__']")" = memory ]
post 200 "name=app%7B%7D&format=pprof" "$B/cpu.pb.gz"
post 200 "name=my-svc%2Fapi.v2%7Botel.scope.name%3Dx%2Fy%2Ck%3Da%3Db%7D&format=pprof" "$B/cpu.pb.gz"
check "value may hold '='" [ "$(index "$T/r" "idx[-1]['labels']['k'], idx[-1]['service_name']")" = "a=b my-svc/api.v2" ]
post 200 "name=app%7Bk%7D&format=pprof" "$B/cpu.pb.gz"      # key without '=' dropped
post 200 "name=app&format=pprof" "$B/empty.pb"
check "empty body accepted, nothing ingested" [ "$(index "$T/r" "idx[-1]['ingested']")" = False ]
post 200 "name=app&format=pprof" "$B/cpu.pb.gz" -H 'X-Scope-OrgID: whoever' -H 'Authorization: Bearer x'
post 200 "name=app&format=pprof" "$B/zero_time.pb.gz"
post 200 "name=app&format=pprof" "$B/samples_ok.pb.gz"
post 200 "name=app&format=pprof" "$B/series.pb.gz"

# 8.2 must reject
got=$(curl -s -o /dev/null -w '%{http_code}' "http://$RECV_ADDR/ingest?name=app")
check "GET is 405" [ "$got" = 405 ]
post 400 "format=pprof" "$B/cpu.pb.gz"
grep -q '"code":"invalid_argument","message":"name: service name is required"' "$T/resp" || fail "400 body: $(cat "$T/resp")"
post 400 "name=&format=pprof" "$B/cpu.pb.gz"
post 400 "name=my%20app&format=pprof" "$B/cpu.pb.gz"
post 400 "name=app:1&format=pprof" "$B/cpu.pb.gz"
post 400 "name=app%7Bbad-key%3Dv%7D&format=pprof" "$B/cpu.pb.gz"
post 400 "name=app%7B%3Dv%7D&format=pprof" "$B/cpu.pb.gz"
post 400 "name=a;b&format=pprof" "$B/cpu.pb.gz"              # Go drops a raw ';' pair
post 422 "name=app&format=pprof" "$T/mp"
post 422 "name=app&format=pprof" "$B/garbage"
CT="multipart/form-data" post 422 "name=app" "$T/mp"
post 422 "name=app&format=pprof" "$B/old.pb.gz"
grep -q 'outside of ingestion window' "$T/resp" || fail "window message: $(cat "$T/resp")"
post 422 "name=app&format=pprof" "$B/future.pb.gz"
post 422 "name=app&format=pprof" "$B/big.pb.gz"
post 422 "name=app&format=pprof" "$B/samples.pb.gz"
post 422 "name=app&format=pprof" "$B/labels.pb.gz"
post 422 "name=app&format=pprof" "$B/dash.pb.gz"
post 422 "name=app&format=pprof" "$B/func0.pb.gz"
post 422 "name=app&format=pprof" "$B/str0.pb.gz"
post 422 "name=app&format=pprof" "$B/utf8.pb.gz"
grep -q 'invalid utf8 string hex' "$T/resp" || fail "utf8 message: $(cat "$T/resp")"
post 422 "name=app&format=pprof" "$B/values.pb.gz"
post 422 "name=app&format=pprof" "$B/series31.pb.gz"
printf -- '--B\r\nContent-Disposition: form-data; name="prev_profile"; filename="p"\r\n\r\nxx\r\n--B--\r\n' >"$T/prev"
post 422 "name=app" "$T/prev"
printf -- '--B\r\nContent-Disposition: form-data; name="sample_type_config"; filename="c"\r\n\r\n{not json\r\n--B--\r\n' >"$T/cfg"
post 422 "name=app" "$T/cfg"
stop_receiver

# multitenancy and body limit; then the rate limit (a profile over the burst)
start_receiver "$T/r2" -multitenancy -body-limit 100
post 401 "name=app&format=pprof" "$B/cpu.pb.gz"
grep -q '"code":"unauthenticated","message":"no org id"' "$T/resp" || fail "401 body: $(cat "$T/resp")"
post 413 "name=app&format=pprof" "$B/mem.pb.gz" -H 'X-Scope-OrgID: t1'
stop_receiver
start_receiver "$T/r3" -burst-bytes 100
post 429 "name=app&format=pprof" "$B/cpu.pb.gz"
grep -q '"code":"resource_exhausted"' "$T/resp" || fail "429 body: $(cat "$T/resp")"
stop_receiver
echo PASS
