#!/usr/bin/env bash
# Symbolizer on purpose-built binaries: a known call chain with always-inline
# frames through a shared library and libc's qsort; the same binary stripped
# (--strip-debug, --strip-all, and without exported symbols); separate debug
# files found by .gnu_debuglink (CRC/build-id checked) and by
# .build-id/xx/rest.debug; a missing binary resolved from its debug file;
# network debuginfod never used; C++ demangling. Runs with the normal and the
# ASan/UBSan core library.
source "$(dirname "$0")/../lib.sh"
W=$ROOT/tests/workloads
require_cmd strip objcopy eu-readelf

# ---- workloads -------------------------------------------------------------
# Built by make: chain and chain_nodyn (with and without -rdynamic) load
# libchain.so from their own directory (rpath $ORIGIN), here $T; cxx is C++.
cd "$T" || exit 1
for p in libchain.so chain chain_nodyn cxx; do test_prog "$BUILD" workloads "$p"; done
./cxx > cxx.frames || fail "run demangle"
./chain > chain.frames || fail "run inline_chain"
./chain_nodyn > nodyn.frames || fail "run inline_chain (no -rdynamic)"

L() { grep -nE "@L:$1( |$)" "$W/$2" | head -1 | cut -d: -f1; }  # line of a marker
off() { awk -v i="$2" '$2 == i { print $4 }' "$1"; }        # frame i's file offset
path() { awk -v i="$2" '$2 == i { print $3 }' "$1"; }
nth() { awk -v p="$2" -v k="$3" '$3 == p && ++n == k { print $4 }' "$1"; } # k-th frame in p

# symtool output -> one line per offset: "func@file:line < caller@file:line"
# ("[sym]" marks a symbol-table-only name, "-" nothing known).
chains() {
  awk -F'\t' '{
    k = $1; if (!(k in s)) { ord[n++] = k; s[k] = "" }
    if ($2 == "-") { s[k] = "-"; next }
    f = $5; sub(/.*\//, "", f)
    item = $3 "@" f ":" $6 ($8 == "1" ? "[sym]" : "")
    s[k] = s[k] == "" ? item : s[k] " < " item
  } END { for (i = 0; i < n; i++) print s[ord[i]] }'
}
expect() { # description expected actual
  if [ "$2" = "$3" ]; then echo "ok: $1"; else fail "$1: expected '$2', got '$3'"; fi
}

C=inline_chain.c CL=inline_chain_lib.c
F0="chain_leaf@$C:$(L leaf $C)"
F1="chain_inl_b@$C:$(L inl_b $C) < chain_mid@$C:$(L mid $C)"
F2="chain_inl_a@$C:$(L inl_a $C) < chain_top@$C:$(L top $C)"
F3="chain_lib_cmp@$CL:$(L lib_cmp $CL)"
[ "$(path chain.frames 0)" = "$T/chain" ] || fail "frame 0 is not in the workload: $(head -1 chain.frames)"
[ "$(path chain.frames 3)" = "$T/libchain.so" ] || fail "frame 3 is not in libchain.so"

# Separate debug files: a debuglink copy and a build-id tree.
ID=$(eu-readelf -n chain | awk '/Build ID/ { print $3 }')
[ ${#ID} -eq 40 ] || fail "no build-id in the workload"
objcopy --only-keep-debug chain chain.debug
mkdir -p flat bid/.build-id/"${ID:0:2}" wrong srv/buildid/"$ID" cache
objcopy --strip-all --add-gnu-debuglink=chain.debug chain chain.sep
mv chain.debug flat/chain.debug
cp flat/chain.debug bid/.build-id/"${ID:0:2}/${ID:2}.debug"
mkdir -p bincache/.build-id/"${ID:0:2}"
cp chain bincache/.build-id/"${ID:0:2}/${ID:2}"
objcopy --remove-section=.gnu_debuglink chain.sep chain.bidonly
# A file with the right debuglink name but another binary's contents.
objcopy --only-keep-debug libchain.so wrong/chain.debug
# What a debuginfod server would hand out: must never be fetched.
cp flat/chain.debug srv/buildid/"$ID"/debuginfo
strip --strip-debug -o chain.nodebug chain
strip --strip-all -o chain.stripped chain
strip --strip-all -o chain_nodyn.stripped chain_nodyn
export DEBUGINFOD_URLS="file://$T/srv" DEBUGINFOD_CACHE_PATH="$T/cache"

run_checks() { # symtool binary, label
  local tool=$1 tag=$2 o0 o1 o2 o3 libc_out got
  o0=$(off chain.frames 0) o1=$(off chain.frames 1) o2=$(off chain.frames 2) o3=$(off chain.frames 3)

  got=$("$tool" resolve chain "$o0" "$o1" "$o2" | chains | paste -sd'|')
  expect "$tag: chain with inlined frames" "$F0|$F1|$F2" "$got"
  expect "$tag: shared library" "$F3" "$("$tool" resolve libchain.so "$o3" | chains)"

  # libc frames between libchain.so's two frames: qsort's internals.
  libc_out=$(awk '$3 ~ /libc\.so/ { print $4 }' chain.frames | sort -u |
             xargs "$tool" resolve "$(awk '$3 ~ /libc\.so/ { print $3; exit }' chain.frames)")
  echo "$libc_out" | grep -q 'qsort' || fail "$tag: no qsort frame in libc: $libc_out"
  echo "ok: $tag: libc qsort frames"
  got=$("$tool" resolve libchain.so "$(nth chain.frames "$T/libchain.so" 2)" | chains)
  expect "$tag: caller of qsort" "chain_lib_sort@$CL:$(L lib_sort $CL)" "$got"
  got=$("$tool" resolve chain "$(nth chain.frames "$T/chain" 4)" | chains)
  expect "$tag: main" "main@$C:$(L main $C)" "$got"

  # Stripped: names from .symtab, then .dynsym (-rdynamic), then nothing.
  got=$("$tool" resolve chain.nodebug "$o0" "$o1" "$o2" | chains | paste -sd'|')
  expect "$tag: --strip-debug keeps .symtab names" \
    "chain_leaf@:0[sym]|chain_mid@:0[sym]|chain_top@:0[sym]" "$got"
  got=$("$tool" resolve chain.stripped "$o0" "$o1" "$o2" | chains | paste -sd'|')
  expect "$tag: --strip-all keeps .dynsym names" \
    "chain_leaf@:0[sym]|chain_mid@:0[sym]|chain_top@:0[sym]" "$got"
  got=$("$tool" resolve chain_nodyn.stripped "$(off nodyn.frames 0)" | chains)
  expect "$tag: no symbols at all: nothing (build-id + offset stay)" "-" "$got"

  # Separate debug info.
  got=$("$tool" resolve -d "$T/flat" chain.sep "$o0" "$o1" "$o2" | chains | paste -sd'|')
  expect "$tag: .gnu_debuglink in --debug-dir" "$F0|$F1|$F2" "$got"
  got=$("$tool" resolve chain.sep "$o1" | chains)
  expect "$tag: debuglink not found: .dynsym only, no debuginfod" "chain_mid@:0[sym]" "$got"
  got=$("$tool" resolve -d "$T/wrong" chain.sep "$o1" | chains)
  expect "$tag: debuglink to another file's debug info is rejected" "chain_mid@:0[sym]" "$got"
  got=$("$tool" resolve -d "$T/bid" chain.bidonly "$o0" "$o1" "$o2" | chains | paste -sd'|')
  expect "$tag: .build-id/xx/rest.debug" "$F0|$F1|$F2" "$got"
  got=$("$tool" resolve -d "$T/bincache" -b "$ID" "$T/gone/chain" "$o1" | chains)
  expect "$tag: binary gone, found as .build-id/xx/rest" "$F1" "$got"
  # A debug-only file cannot map file offsets: an honest miss, not a guess.
  for args in "" "-d $T/bid -b $ID"; do
    "$tool" resolve $args "$T/gone/chain" "$o1" >/dev/null 2>&1
    [ $? -eq 3 ] || fail "$tag: a missing binary ($args) must be an error"
  done
  echo "ok: $tag: missing binary is an error"

  # C++.
  local cxx0 cxx1
  cxx0=$(off cxx.frames 0) cxx1=$(off cxx.frames 1)
  got=$("$tool" resolve cxx "$cxx0" "$cxx1" | chains | paste -sd'|')
  expect "$tag: C++ demangled" \
    "long spanprof_test::twice<long>(long)@demangle.cpp:$(L twice demangle.cpp)|spanprof_test::Widget::spin(int)@demangle.cpp:$(L spin demangle.cpp)" \
    "$got"
  got=$("$tool" resolve cxx "$cxx1" | cut -f4)
  expect "$tag: C++ system_name stays mangled" "_ZN13spanprof_test6Widget4spinEi" "$got"
  got=$("$tool" resolve -N cxx "$cxx1" | cut -f3)
  expect "$tag: --no-demangle" "_ZN13spanprof_test6Widget4spinEi" "$got"
}

test_prog "$BUILD" workloads symtool
run_checks ./symtool normal
test_prog "$ASAN_BUILD" workloads symtool symtool-asan
ASAN_OPTIONS=detect_leaks=1 run_checks ./symtool-asan asan
[ -z "$(ls -A cache)" ] || fail "the debuginfod cache was used: $(ls -A cache)"
echo "ok: debuginfod never consulted"
rm -rf "$T"
