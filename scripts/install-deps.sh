#!/usr/bin/env bash
# Install exactly the Debian packages spanprof needs that are missing.
# Usage: scripts/install-deps.sh [build|test|bench|demo|render|all]...   (default: build)
# Idempotent and silent when everything is present. Needs root (or sudo) only
# when something is missing.
set -euo pipefail

build_pkgs=(gcc make pkg-config libunwind-dev libdw-dev libelf-dev libprotobuf-c-dev
            protobuf-c-compiler libcurl4-openssl-dev zlib1g-dev libcmocka-dev liblzma-dev)
# golang-go: `go tool pprof` is the independent reader of our profiles.
# libxml2-utils: xmllint checks the SVG. elfutils/binutils: eu-addr2line, strip.
# clang + libclang-rt-14-dev: the libFuzzer target and sanitizer runtime.
# openssl: certificates for the TLS upload test. wrk: load for the demo service test.
# g++: the C++ demangling test workload. chromium: the flame graph's zoom and
# search, checked in a real browser. The real-programs test runs programs
# nobody here wrote: perl, git, make, sqlite3, redis, node (and go, python3);
# node also for JIT frames (frame pointers, perf map). file: tells a Go
# binary is dynamically linked.
# libc6-dbg: libc's local symbols (start_thread, __libc_start_call_main), which
# the thread and symbolize tests name; Debian's libc6 ships only .dynsym.
test_pkgs=(golang-go libxml2-utils elfutils binutils g++ clang libclang-rt-14-dev openssl curl python3
           wrk libc6-dbg chromium perl git make sqlite3 redis-server redis-tools nodejs file
           libcap2-bin)
bench_pkgs=(google-perftools libgoogle-perftools-dev redis-server redis-tools wrk heaptrack
            linux-perf elfutils binutils)
render_pkgs=(chromium)
# `make demo`: wrk drives the traced demo service.
demo_pkgs=(wrk)

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(build)
wanted=()
for g in "${groups[@]}"; do
  case "$g" in
    build)  wanted+=("${build_pkgs[@]}") ;;
    test)   wanted+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench)  wanted+=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
    render) wanted+=("${render_pkgs[@]}") ;;
    demo)   wanted+=("${build_pkgs[@]}" "${demo_pkgs[@]}") ;;
    all)    wanted+=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}" "${render_pkgs[@]}"
                    "${demo_pkgs[@]}") ;;
    *) echo "install-deps.sh: unknown group '$g' (use build, test, bench, demo, render or all)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    case " ${missing[*]-} " in *" $p "*) ;; *) missing+=("$p") ;; esac
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing missing Debian packages: ${missing[*]}" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: not root and no sudo; install these yourself: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list makes apt-get install fail: refresh once.
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
