#!/usr/bin/env bash
# Programs nobody here wrote, each run plainly and under `spanprof record`:
# exit code, stdout and stderr must be identical, every profile must be
# readable by go tool pprof, and the share of [truncated] stacks is printed
# per program (and must stay under TRUNC_MAX percent for C programs; node's
# JIT frames and Go's assembly functions, such as crypto/sha256.block, carry
# no unwind information, so their share is printed, not bounded).
# python3 (threads), perl, a bash loop of subshells, make -j2 of a small C
# project, git, sqlite3, redis-server under redis-benchmark, a Go net/http
# service, node.
source "$(dirname "$0")/../lib.sh"
source "$ROOT/tests/capture_lib.sh"
need_built
require_cmd go python3 perl git make sqlite3 redis-server redis-benchmark redis-cli node
TRUNC_MAX=${TRUNC_MAX:-5}
cd "$T" || exit 1

(cd "$ROOT/tests/go/nethttp" && go build -o "$T/httpsvc" main.go) ||
  fail "cannot build tests/go/nethttp"

# A small C project for make: 12 files, one main.
mkdir -p proj
for i in $(seq 1 12); do
  printf 'int f%d(int x) { int s = 0; for (int i = 0; i < x; i++) s += i %% %d; return s; }\n' "$i" "$((i + 2))" >proj/f$i.c
done
{ for i in $(seq 1 12); do echo "int f$i(int);"; done
  echo '#include <stdio.h>'
  echo 'int main(void) { long s = 0;'
  for i in $(seq 1 12); do echo "  s += f$i(1000);"; done
  echo '  printf("%ld\n", s); return 0; }'; } >proj/main.c
{ printf 'OBJS = main.o'; for i in $(seq 1 12); do printf ' f%d.o' "$i"; done; echo
  printf 'app: $(OBJS)\n\tcc -o $@ $(OBJS)\n%%.o: %%.c\n\tcc -O2 -g -c $< -o $@\n'; } >proj/Makefile

PY_THREADS='
import threading, hashlib
out = [None] * 4
def work(i):
    h = b"%d" % i
    for _ in range(200000): h = hashlib.sha256(h).digest()
    out[i] = h.hex()[:16]
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(" ".join(out))'
PERL_WORK='my %h; for my $i (1..1500000) { $h{$i % 1000} += $i * 3; } my $s = 0; $s += $h{$_} for keys %h; print "$s\n"; warn "done\n";'
SQL='WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000)
SELECT count(*), sum(x % 7), max(x) FROM c;'
NODE_WORK='let s = 0; for (let i = 0; i < 3e7; i++) { s = (s + i * i) % 1000003; } console.log(s);'
GIT_ENV='export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" HOME=$PWD GIT_CONFIG_NOSYSTEM=1'

declare -A SNIPPET=(
  [python3]="python3 -c '$PY_THREADS'"
  [perl]="perl -e '$PERL_WORK'"
  [bash]='for i in $(seq 1 300); do (echo $((i * i)) >/dev/null); x=$(echo $i); done; echo loop done $x'
  [make]='cp -r ../../proj p && make -s -j2 -C p && ./p/app'
  [git]="$GIT_ENV"'; git init -q -b main r && cd r && for i in $(seq 1 30); do seq 1 $((i * 500)) >f$i; git add f$i; git commit -q -m "c$i"; done && git log --format="%h %s" | head -3 && git gc -q && git count-objects -v | grep -c .'
  [sqlite3]="sqlite3 :memory: '$SQL'"
  [go]='../../httpsvc 8000'
  [node]="node -e '$NODE_WORK'"
)
ORDER="python3 perl bash make git sqlite3 go node"

run_one() { # name mode(plain|rec)
  local name=$1 mode=$2 dir="$T/$1.$2"
  rm -rf "$dir"; mkdir -p "$dir/w"
  local start end
  start=$(date +%s%N)
  if [ "$mode" = plain ]; then
    (cd "$dir/w" && bash -c "${SNIPPET[$name]}") >"$dir/stdout" 2>"$dir/stderr"
  else
    # 1 s intervals: a Go program ends with a raw exit_group, which no
    # library code sees, so only intervals already written survive it
    # (until samples are drained from outside the process).
    (cd "$dir/w" && SPANPROF_UPLOAD_INTERVAL=1 "$SPANPROF" record -q -o "$dir/out" -- bash -c "${SNIPPET[$name]}") \
      >"$dir/stdout" 2>"$dir/stderr"
  fi
  echo $? >"$dir/rc"
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 )) >"$dir/ms"
}

# Checks of one profiled run against its plain twin; prints the truncated share.
compare() { # name
  local name=$1 p="$T/$1.plain" r="$T/$1.rec" f n trunc total
  for what in rc stdout stderr; do
    cmp -s "$p/$what" "$r/$what" ||
      fail "$name: $what differs under record: $(diff "$p/$what" "$r/$what" | head -5)"
  done
  n=0
  while IFS= read -r f; do
    go tool pprof -raw "$f" >/dev/null 2>"$T/pprof.err" ||
      fail "$name: go tool pprof cannot read $f: $(head -2 "$T/pprof.err")"
    n=$((n + 1))
  done < <(find "$r/out" -name '*.pb.gz')
  [ "$n" -gt 0 ] || fail "$name: no profile written"
  mapfile -t all < <(find "$r/out" -name '*.pb.gz')
  total=$(sample_count "${all[@]}")
  trunc=$(traces_reaching '[truncated]' "${all[@]}")
  printf 'ok: %-8s rc %s, stdout and stderr identical, %d profiles, %s samples, %s%% truncated, %s ms vs %s ms plain\n' \
    "$name" "$(cat "$p/rc")" "$n" "$total" "$trunc" "$(cat "$r/ms")" "$(cat "$p/ms")"
  [ "$total" -gt 0 ] || fail "$name: the profiles hold no sample"
  # Bounded only where there are samples enough for a share to mean
  # something (100+; make's 30 samples gave 2 truncated once).
  if [ "$name" != node ] && [ "$name" != go ] && [ "$total" -ge 100 ]; then
    within 0 "$TRUNC_MAX" "$trunc" || fail "$name: $trunc% of stacks truncated (max $TRUNC_MAX%)"
  fi
}

for name in $ORDER; do
  run_one "$name" plain
  run_one "$name" rec
  compare "$name"
done

# redis-server under redis-benchmark: the server's exit code and its log
# (without pid and time stamps) are the same with and without the profiler.
redis_pair() { # mode
  local mode=$1 dir="$T/redis.$1" port pid
  rm -rf "$dir"; mkdir -p "$dir/w"
  port=$(( 20000 + RANDOM % 20000 ))
  local args=(--port "$port" --save "" --appendonly no --loglevel warning --dir "$dir/w")
  if [ "$mode" = plain ]; then
    redis-server "${args[@]}" >"$dir/log" 2>&1 &
  else
    "$SPANPROF" record -q -o "$dir/out" -- redis-server "${args[@]}" >"$dir/log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-benchmark -p "$port" -q -n 40000 -c 8 -t set,get,lpush >"$dir/bench" 2>&1 ||
    fail "redis ($mode): redis-benchmark failed: $(tail -2 "$dir/bench")"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
  wait "$pid"; echo $? >"$dir/rc"
  sed -E 's/^[0-9]+:[A-Z] [0-9]+ [A-Za-z]+ [0-9]+ [0-9:.]+ //; s/pid=[0-9]+/pid=N/' "$dir/log" >"$dir/log.norm"
}
redis_pair plain
redis_pair rec
cmp -s "$T/redis.plain/rc" "$T/redis.rec/rc" || fail "redis: exit code $(cat "$T/redis.rec/rc") under record, $(cat "$T/redis.plain/rc") plain"
cmp -s "$T/redis.plain/log.norm" "$T/redis.rec/log.norm" ||
  fail "redis: log differs under record: $(diff "$T/redis.plain/log.norm" "$T/redis.rec/log.norm" | head -5)"
mapfile -t all < <(find "$T/redis.rec/out" -name '*.pb.gz')
[ ${#all[@]} -gt 0 ] || fail "redis: no profile written"
for f in "${all[@]}"; do go tool pprof -raw "$f" >/dev/null 2>&1 || fail "redis: unreadable $f"; done
trunc=$(traces_reaching '[truncated]' "${all[@]}")
echo "ok: redis    rc $(cat "$T/redis.rec/rc"), log identical, $(sample_count "${all[@]}") samples, $trunc% truncated; $(grep -o 'GET: [0-9.]* requests per second' "$T/redis.rec/bench") vs $(grep -o '[0-9.]* requests per second' "$T/redis.plain/bench" | sed -n 2p) plain"
within 0 "$TRUNC_MAX" "$trunc" || fail "redis: $trunc% of stacks truncated (max $TRUNC_MAX%)"
echo "real_programs: all checks passed"
