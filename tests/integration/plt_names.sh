#!/usr/bin/env bash
# PLT stubs have no ELF symbol; the nearest one below is the sizeless _init,
# so samples in a stub read "_init". The symbolizer must name every stub
# "sym@plt" like objdump/perf do, for lazy-binding .plt (-z lazy) and for
# IBT's .plt.sec (-fcf-protection -z ibtplt), at the entry and inside it.
# (.plt.got stubs, for functions also used by address, are not named yet.)
source "$(dirname "$0")/../lib.sh"
require_cmd objdump
cd "$T" || exit 1
test_prog "$BUILD" workloads symtool
# app_lazy (-z lazy) and app_ibt (-fcf-protection=full -z lazy -z ibtplt):
# cpu_split.c, built by make.
for tag in lazy ibt; do
  test_prog "$BUILD" workloads "app_$tag"
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
