#!/usr/bin/env bash
# PLT stubs have no ELF symbol; the nearest one below is the sizeless _init,
# so samples in a stub read "_init". The symbolizer must name every stub
# "sym@plt" like objdump/perf do, for lazy-binding .plt (-z lazy) and for
# IBT's .plt.sec (-fcf-protection -z ibtplt), at the entry and inside it.
# (.plt.got stubs, for functions also used by address, are not named yet.)
source "$(dirname "$0")/../lib.sh"
for t in gcc objdump; do command -v $t >/dev/null || fail "$t not installed (binutils, gcc)"; done
[ -f "$BUILD/libspanprof_core.a" ] || fail "build first: $BUILD/libspanprof_core.a is missing"
LIBS="$(pkg-config --libs libdw libelf libprotobuf-c zlib libcurl libunwind-generic) -lstdc++ -ldl -lrt -pthread"
cd "$T" || exit 1
# shellcheck disable=SC2086
gcc -O1 -g -std=gnu11 -D_GNU_SOURCE -I"$ROOT/profiler" -I"$ROOT/symbolizer" -I"$ROOT/include" \
  -I"$BUILD/pprof-proto" -o symtool "$ROOT/tests/workloads/symtool.c" "$BUILD/libspanprof_core.a" \
  $LIBS || fail "build symtool"
for variant in "lazy:-Wl,-z,lazy" "ibt:-fcf-protection=full -Wl,-z,lazy -Wl,-z,ibtplt"; do
  tag=${variant%%:*} flags=${variant#*:}
  # shellcheck disable=SC2086
  gcc -O2 -g $flags -o "app_$tag" "$ROOT/tests/workloads/cpu_split.c" -ldl || fail "build app_$tag"
  objdump -d -j .plt -j .plt.sec "app_$tag" | sed -n 's/^\([0-9a-f]*\) <\(.*@plt\)>:$/\1 \2/p' > "plt_$tag.txt"
  n=$(wc -l < "plt_$tag.txt")
  check "$tag: objdump lists PLT stubs ($n)" [ "$n" -ge 2 ]
  while read -r addr name; do
    for delta in 0 4; do
      v=$(printf '%x' $((0x$addr + delta)))
      off=$(./symtool vaddr "app_$tag" "$v")
      got=$(./symtool resolve "app_$tag" "$off" | cut -f3)
      [ "$got" = "$name" ] || fail "$tag: 0x$v resolves to '$got', objdump says $name"
    done
  done < "plt_$tag.txt"
  echo "ok: $tag: all $n stubs named sym@plt as objdump names them"
done
echo "all plt_names checks passed"
